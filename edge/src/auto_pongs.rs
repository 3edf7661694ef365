//! Pongs answered by workerd itself. With hibernation, every client's pong (`3`) would wake
//! its object once per ping interval, per socket. Instead workerd answers it with a noop (`6`)
//! and records when; the object reads that time at its next alarm or wake-up to tell a live
//! client from a dead one.

use std::cell::Cell;

use wasm_bindgen::prelude::*;
use worker::{Result, State, WebSocket, WebSocketRequestResponsePair};

#[wasm_bindgen]
extern "C" {
    /// The Durable Object state seen through the one method workers-rs does not bind.
    type AutoResponseState;

    /// `ctx.getWebSocketAutoResponseTimestamp(ws)`: when workerd last answered this socket
    /// automatically.
    #[wasm_bindgen(method, js_name = getWebSocketAutoResponseTimestamp)]
    fn get_websocket_auto_response_timestamp(this: &AutoResponseState, ws: &web_sys::WebSocket)
        -> Option<js_sys::Date>;
}

/// The client's pong, and the noop workerd answers it with without waking the object.
const PONG: &str = "3";
const NOOP: &str = "6";

/// Whether workerd answers this object's pongs, and when it last did for each WebSocket.
pub(crate) struct AutoPongs {
    enabled: Cell<bool>,
}

impl AutoPongs {
    /// Pongs reach the object, until [`AutoPongs::enable`].
    pub(crate) fn off() -> Self {
        AutoPongs { enabled: Cell::new(false) }
    }

    /// Lets workerd answer the pongs of the object of `state`.
    pub(crate) fn enable(&self, state: &State) -> Result<()> {
        state.set_websocket_auto_response(&WebSocketRequestResponsePair::new(PONG, NOOP)?);
        self.enabled.set(true);
        Ok(())
    }

    /// Whether workerd answers pongs: only then can an object be evicted between a ping and
    /// its pong's deadline.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.get()
    }

    /// When workerd last answered a pong of `ws` by itself, if it answers them.
    pub(crate) fn answered_at(&self, state: &State, ws: &WebSocket) -> Option<u64> {
        if !self.enabled() {
            return None;
        }
        let raw: &AutoResponseState = state.as_raw().unchecked_ref();
        raw.get_websocket_auto_response_timestamp(ws.as_ref()).map(|at| at.get_time() as u64)
    }

    /// When the client of `ws`, accepted at `accepted_at`, was last known alive, if workerd
    /// answers pongs (without them pongs reach the object and nothing here knows): its last
    /// pong workerd answered, or else its acceptance.
    pub(crate) fn last_heard(&self, state: &State, ws: &WebSocket, accepted_at: Option<u64>) -> Option<u64> {
        [self.answered_at(state, ws), accepted_at].into_iter().flatten().max().filter(|_| self.enabled())
    }
}

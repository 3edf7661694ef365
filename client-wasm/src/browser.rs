//! The browser side of the driver: the transports (`fetch` long-polling, `WebSocket`s) the
//! manager's [`ClientTransmit`]s ask for, the one timer, and the browser's callbacks, which
//! all enter through one export, [`Driver::callback`](crate::Driver::callback), called with a
//! numeric tag.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, WebSocket};

use crate::events::{prior_websocket_success_read, run};
use crate::host::Host;
use crate::{now, Driver, Inner, OPT_TIMESTAMP_POLLING, OPT_TIMESTAMP_WEBSOCKET};
use wasmio_protocol::engine::{ClientTransmit, Frame, TransportId};
// Kinds of the tagged callback (tag = transport id * CB_KINDS + kind); the host gives a
// WebSocket's four events the tags from CB_WS_OPEN to CB_WS_CLOSE (`Host::web_socket`).
const CB_WS_OPEN: u64 = 0;
const CB_WS_MESSAGE: u64 = 1;
const CB_WS_ERROR: u64 = 2;
const CB_WS_CLOSE: u64 = 3;
const CB_GET_TEXT: u64 = 4;
const CB_GET_FAILED: u64 = 5;
const CB_POST_DONE: u64 = 6;
const CB_POST_FAILED: u64 = 7;
const CB_TIMER: u64 = 8;
/// The tick after WebSocket writes, with no transport (its tag is the kind itself).
const CB_TICK: u64 = 9;
const CB_KINDS: u64 = 16;

/// A live transport of the manager.
pub(crate) enum Transport {
    /// A WebSocket.
    WebSocket(WebSocket),
    /// The polling requests of one transport: the controller aborts its GET.
    Polling(AbortController),
}

/// The browser called back: a WebSocket event, a fetch outcome or the timer.
pub(crate) fn on_callback(driver: &Driver, tag: u64, value: &JsValue) {
    let cell = &driver.inner;
    let id = TransportId((tag / CB_KINDS) as u32);
    let now = now();
    {
        let mut inner = cell.borrow_mut();
        let inner = &mut *inner;
        let m = prior_websocket_success_read(&mut inner.manager);
        match tag % CB_KINDS {
            CB_WS_OPEN => m.handle_websocket_open(id, now),
            // (the host hands text frames to `Driver::head_text` or `Driver::text`, binary ones
            // here as their buffer)
            CB_WS_MESSAGE => m.handle_websocket_frame(id, Frame::Binary(Uint8Array::new(value).to_vec()), now),
            // The host keeps the browser's details of a transport error (`Host::web_socket`,
            // `Host::request`) for the error the manager reports now.
            CB_WS_ERROR => m.handle_transport_error(id, "websocket error", now),
            CB_WS_CLOSE => {
                inner.transports.retain(|(t, _)| *t != id.0);
                m.handle_transport_closed(id, now);
            }
            CB_GET_TEXT => m.handle_poll_response(id, &value.as_string().unwrap_or_default(), now),
            CB_GET_FAILED => m.handle_transport_error(id, "xhr poll error", now),
            CB_POST_DONE => m.handle_post_done(id, now),
            CB_POST_FAILED => m.handle_post_failed(id, now),
            // The WebSocket is writable again: what the task queued after its first write goes.
            CB_TICK => {
                inner.tick_queued = false;
                m.handle_tick(now);
            }
            _ => {
                inner.timer = None;
                m.handle_timeout(now);
            }
        }
    }
    run(driver);
}

impl Inner {
    /// The browser object of transport `id` (a transport has its own id; there are at most two).
    pub(crate) fn transport(&self, id: u32) -> Option<&Transport> {
        self.transports.iter().find(|(t, _)| *t == id).map(|(_, t)| t)
    }

    /// Removes and returns the browser object of transport `id`.
    pub(crate) fn take_transport(&mut self, id: u32) -> Option<Transport> {
        let i = self.transports.iter().position(|(t, _)| *t == id)?;
        Some(self.transports.swap_remove(i).1)
    }

    /// A `t` query parameter: base-36 time plus a counter, unique per request.
    pub(crate) fn stamp(&mut self) -> String {
        self.stamps = self.stamps.wrapping_add(1);
        let mut stamp = String::from("&");
        stamp.push_str(&self.timestamp_param);
        stamp.push('=');
        push_digits(&mut stamp, now(), 36);
        stamp.push('.');
        push_digits(&mut stamp, self.stamps.into(), 10);
        stamp
    }

    pub(crate) fn url(&mut self, host: &Host, websocket: bool, query: &str) -> String {
        if !query.as_bytes().split(|&b| b == b'&').any(|param| param.starts_with(b"sid=")) {
            // A handshake: the query as the application has it now.
            self.query = host.query();
        }
        let (base, flag) =
            if websocket { (&self.ws_base, OPT_TIMESTAMP_WEBSOCKET) } else { (&self.http_base, OPT_TIMESTAMP_POLLING) };
        let mut url = base.clone();
        url.push('?');
        url.push_str(&self.query);
        url.push_str(query);
        if self.options & flag != 0 {
            url.push_str(&self.stamp());
        }
        url
    }

    pub(crate) fn perform(&mut self, host: &Host, transmit: ClientTransmit) {
        match transmit {
            ClientTransmit::PollGet { id, query } => {
                let url = self.url(host, false, &query);
                let controller = host.request(&url, None, tag(id, CB_GET_TEXT));
                match self.transports.iter_mut().find(|(t, _)| *t == id.0) {
                    Some((_, transport)) => *transport = Transport::Polling(controller),
                    None => self.transports.push((id.0, Transport::Polling(controller))),
                }
            }
            ClientTransmit::PollPost { id, query, body } => {
                let url = self.url(host, false, &query);
                host.request(&url, Some(&body), tag(id, CB_POST_DONE));
            }
            ClientTransmit::OpenWebSocket { id, query } => {
                let url = self.url(host, true, &query);
                match host.web_socket(&url, id.0, tag(id, CB_WS_OPEN)) {
                    Ok(ws) => self.transports.push((id.0, Transport::WebSocket(ws))),
                    // Reported at the next tick, once the application's call that opened it returned.
                    Err(_) => self.manager.handle_websocket_refused(id),
                }
            }
            ClientTransmit::WebSocket { id, frame } => {
                if let Some(Transport::WebSocket(ws)) = self.transport(id.0) {
                    // A socket closing under us is reported by its `close` event.
                    let _ = match frame {
                        Frame::Text(text) => ws.send_with_str(&text),
                        Frame::Binary(bytes) => ws.send_with_u8_array(&bytes),
                    };
                }
            }
            ClientTransmit::Close { id } => match self.take_transport(id.0) {
                Some(Transport::WebSocket(ws)) => host.close_web_socket(&ws),
                // Only the GET is aborted: a POST in flight (the `close` packet) completes.
                Some(Transport::Polling(controller)) => controller.abort(),
                None => {}
            },
        }
    }

    /// Sets `setTimeout` for the manager's next deadline, if it changed, and queues the
    /// microtask after a WebSocket write (engine.io-client's WebSocket is writable again on
    /// the next tick: what is emitted meanwhile goes out then, in one batch, and a volatile
    /// emit is dropped).
    pub(crate) fn schedule(&mut self, host: &Host) {
        if self.manager.wants_tick() && !self.tick_queued {
            self.tick_queued = true;
            host.microtask(CB_TICK as f64);
        }
        let deadline = self.manager.poll_timeout();
        if self.timer.as_ref().map(|(at, _)| *at) == deadline {
            return;
        }
        if let Some((_, handle)) = self.timer.take() {
            host.clear_timeout(&handle);
        }
        if let Some(at) = deadline {
            let delay = at.saturating_sub(now()).min(i32::MAX as u64) as f64;
            let handle = host.set_timeout(CB_TIMER as f64, delay);
            self.timer = Some((at, handle));
        }
    }
}

/// Appends the digits of `n` in base `radix` (up to 36, lower case), as JavaScript's
/// `n.toString(radix)` writes them.
fn push_digits(out: &mut String, n: u64, radix: u64) {
    if n >= radix {
        push_digits(out, n / radix, radix);
    }
    out.push(char::from(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % radix) as usize]));
}

/// The tag of callback `kind` of transport `id` (see [`CB_KINDS`]).
fn tag(id: TransportId, kind: u64) -> f64 {
    (u64::from(id.0) * CB_KINDS + kind) as f64
}

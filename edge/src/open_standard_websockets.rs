//! The standard (not hibernatable) WebSockets open in this isolate (strict heartbeats), closed
//! when a panic ends the wasm instance.
//!
//! A panic (a handler's bug) traps the wasm instance; the deployment's glue builds a new one,
//! and each object starts again from its storage, as after an eviction. A hibernatable
//! WebSocket's events reach the new instance, so its session goes on from its snapshot. A
//! standard WebSocket's events are delivered to closures of the dead instance, which throw:
//! its connection stayed open, its messages went nowhere, and its client noticed only when
//! its heartbeat timed out (up to `pingInterval + pingTimeout`, 45 s by default). So a panic
//! closes every standard WebSocket of the isolate first (1011, "server error"), and their
//! clients reconnect at once (and recover, where recovery is on).

use std::cell::RefCell;
use std::sync::Once;

use rustc_hash::FxHashMap;
use worker::WebSocket;

thread_local! {
    /// The open standard WebSockets, by a number of their own.
    static OPEN: RefCell<(u64, FxHashMap<u64, WebSocket>)> = RefCell::new((0, FxHashMap::default()));
}

/// The close code and reason a panic closes the WebSockets with (as the reference's "server
/// error").
const PANIC_CLOSE: (u16, &str) = (1011, "server error");

/// A standard WebSocket of this isolate, open until it is dropped.
pub(crate) struct OpenStandardWebSocket(u64);

impl OpenStandardWebSocket {
    /// Counts `ws` among the open standard WebSockets, until the returned value is dropped.
    pub(crate) fn new(ws: &WebSocket) -> Self {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                close_all();
                previous(info);
            }));
        });
        OPEN.with(|open| {
            let (next, sockets) = &mut *open.borrow_mut();
            *next += 1;
            sockets.insert(*next, ws.clone());
            OpenStandardWebSocket(*next)
        })
    }
}

impl Drop for OpenStandardWebSocket {
    fn drop(&mut self) {
        OPEN.with(|open| open.borrow_mut().1.remove(&self.0));
    }
}

/// Closes every open standard WebSocket (in the panic hook: the instance is about to trap).
fn close_all() {
    OPEN.with(|open| {
        // A panic while the set is being changed leaves it as it is: nothing else can be done.
        let Ok(open) = open.try_borrow() else { return };
        for ws in open.1.values() {
            // A socket its peer closed already refuses; the others close.
            if let Err(error) = ws.close(Some(PANIC_CLOSE.0), Some(PANIC_CLOSE.1)) {
                worker::console_error!("a WebSocket could not be closed after a panic: {error}");
            }
        }
    });
}

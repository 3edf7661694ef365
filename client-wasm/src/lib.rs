//! wasmio-client: the browser driver of the wasmio protocol core.
//!
//! A [`Driver`] owns one [`wasmio_protocol::client::Manager`] (socket.io-client's `Manager`
//! with its namespace sockets) and moves bytes and time for it: it performs the
//! [`ClientTransmit`](wasmio_protocol::engine::ClientTransmit)s with `fetch` long-polling
//! and `WebSocket`s (binary type `arraybuffer`; `browser.rs`), runs the manager's single timer with `setTimeout`, reads the clock with
//! `Date.now()` and draws the reconnection jitter from `Math.random()`. Every protocol
//! decision stays in the core.
//!
//! The JavaScript side (the `wasmio` npm package in `pkg/`) gives a *host* object whose
//! `event(kind, socket, a, b, bins, n)` method receives every event, one call per event (see
//! [`Driver::new`] for the codes; `events.rs`). Event data crosses the boundary as JSON text plus an array
//! of `ArrayBuffer` attachments: the JavaScript side does `JSON.stringify`/`JSON.parse` and
//! swaps binary values for `{"_placeholder":true,"num":n}` markers, so no JSON library ships
//! in the wasm and an emit costs one call.
//!
//! Callbacks from the browser (WebSocket events, fetch results, the timer) all enter through
//! one export, [`Driver::callback`], which the host calls with a numeric tag (transport and
//! kind): no Rust closure crosses to JavaScript, none is created or freed per request.

mod browser;
mod events;
mod host;

/// The heap allocator: lol_alloc's free list, far smaller than dlmalloc.
// SAFETY: wasm32-unknown-unknown without threads is single-threaded, as the browser runs us.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

use std::cell::RefCell;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use wasmio_protocol::client::{
    AckHandle, AckMode, Auth, DisconnectReason, EmitOptions, EventShortcut, Manager, ManagerConfig, ReadyState,
    SetAside, SocketId, SocketOptions, UnreadPayload,
};
use wasmio_protocol::engine::{ClientConfig, ClientSession, Data, TransportId, TransportKind};
use wasmio_protocol::socket::{decode_text, DecodeError, DEFAULT_MAX_ATTACHMENTS};

use browser::{on_callback, Transport};
use events::{prior_websocket_success_read, run, utf16_len};
pub use host::Host;

// Option flags of `Driver::new`.
const OPT_UPGRADE: u32 = 1;
const OPT_REMEMBER_UPGRADE: u32 = 2;
const OPT_TRY_ALL_TRANSPORTS: u32 = 4;
const OPT_RECONNECTION: u32 = 8;
const OPT_TIMESTAMP_POLLING: u32 = 32;
const OPT_TIMESTAMP_WEBSOCKET: u32 = 64;

// Emit flags of `Driver::emit`.
const EMIT_VOLATILE: u32 = 1;
const EMIT_ACK: u32 = 2;
const EMIT_ACK_WITH_ERROR: u32 = 4;
const EMIT_NO_COMPRESS: u32 = 8;

struct Inner {
    manager: Manager,
    /// `http(s)://host:port/path/`.
    http_base: String,
    /// `ws(s)://host:port/path/`.
    ws_base: String,
    /// The user's `query` (from [`Host::query`] at each handshake), encoded, ending with `&`
    /// when not empty.
    query: String,
    timestamp_param: String,
    options: u32,
    transports: Vec<(u32, Transport)>,
    /// The pending `setTimeout`: its deadline and handle.
    timer: Option<(u64, JsValue)>,
    /// A microtask is queued to tell the manager the task that wrote to its WebSocket is over.
    tick_queued: bool,
    /// Makes timestamps unique within one millisecond.
    stamps: u32,
    /// The WebSocket text frame being handled in whole ([`Driver::text`]): the events whose
    /// JSON ends it reach the page as the rest of the page's own string (`host.frameEvent`).
    frame: Option<String>,
    /// The shortcut for received events the page holds ([`Host::route`]), as
    /// [`Manager::event_shortcut`] gave it last.
    shortcut: Option<EventShortcut>,
}

/// The driver of one Socket.IO manager (one server connection, many namespaces).
#[wasm_bindgen]
pub struct Driver {
    inner: RefCell<Inner>,
    /// Outside the `RefCell`: the host is called while the state is borrowed, and while it
    /// is not (handing events over), with no handle of its own made per call.
    host: Host,
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// A JS number as an optional count/duration: negative, NaN or infinite is `None`.
fn optional(value: f64) -> Option<u64> {
    (value.is_finite() && value >= 0.0).then_some(value as u64)
}

fn to_attachments(bins: Option<Array>) -> Vec<Vec<u8>> {
    let mut attachments = Vec::new();
    if let Some(bins) = bins {
        for i in 0..bins.length() {
            attachments.push(bins.get(i).unchecked_into::<Uint8Array>().to_vec());
        }
    }
    attachments
}

fn to_buffers(attachments: &[Vec<u8>]) -> Option<Array> {
    if attachments.is_empty() {
        return None;
    }
    let buffers = Array::new();
    for a in attachments {
        buffers.push(&Uint8Array::from(&a[..]).buffer());
    }
    Some(buffers)
}

/// The transports of a list given as the bits under a leading 1, in order: `0` polling, `1`
/// websocket (`0b101`: polling then websocket; the page maps the names it knows, skipping
/// others). A number rather than names: no string crossing and no name matching in wasm.
fn transport_list(bits: u32) -> Vec<TransportKind> {
    let mut list = Vec::new();
    let mut i = 31 - bits.max(1).leading_zeros();
    while i > 0 {
        i -= 1;
        list.push(if bits >> i & 1 == 0 { TransportKind::Polling } else { TransportKind::WebSocket });
    }
    list
}

fn ack_number(handle: AckHandle) -> f64 {
    match handle {
        AckHandle::Id(id) => (id * 2) as f64,
        AckHandle::Queued(seq) => (seq * 2 + 1) as f64,
    }
}

#[wasm_bindgen]
impl Driver {
    /// A closed manager; `host.event(kind, socket, a, b, bins, n)` receives its events:
    ///
    /// - manager: 0 `open`, 1 `error(a)`, 2 `ping`, 3 `close(a, b)`, 4 `reconnect(n)`,
    ///   5 `reconnect_attempt(n)`, 6 `reconnect_error(a)`, 7 `reconnect_failed`,
    ///   8 the engine's `upgrade(a)`, 9 the engine's `packet` (`n` 0: type `a`, text `b` or
    ///   binary `bins`), `packetCreate` (`n` 1, the same), `drain` (`n` 2), `upgrading`
    ///   (`n` 3, transport `a`), 30 the manager's `packet` (type in `socket`, namespace `a`,
    ///   JSON data `b`, `bins`, id `n` or -1): 9 and 30 only after [`Driver::control`] 4;
    /// - socket `socket`: 10 `connect`, 11 `connect_error(a, data JSON b)` (`a` the message,
    ///   or with `n` 1 the server's `message` as JSON),
    ///   12 `disconnect(a, b)`, 13 an event (JSON array `a`, `bins`, ack id `n` or -1),
    ///   14 an ack answer (JSON array `a`, `bins`, handle `n`), 15 the same for a callback
    ///   taking an error first, 16 an ack error (message `a`, handle `n`), 18 the auth
    ///   function must be called, 19 an ack callback taking
    ///   no error was dropped (handle `n`), 20 an event received before the socket connected
    ///   (JSON array `a`, `bins`), in order, each time [`Driver::control`] 15 asks, 21 an
    ///   emit of the `retries` queue, each time [`Driver::control`] 16 asks.
    ///
    /// `host.query()` gives the user's encoded query at each handshake; `host.setTimeout` and
    /// `host.clearTimeout` are the manager's timers (`useNativeTimers`). `http_base`/`ws_base`
    /// end with the engine path;
    /// `transports` lists them as bits under a leading 1 (`0` polling, `1` websocket); `options` holds the flags (1 upgrade,
    /// 2 rememberUpgrade, 4 tryAllTransports, 8 reconnection, 32 timestamp polling requests,
    /// 64 timestamp WebSocket requests); negative or infinite numbers mean "none" (`Infinity`
    /// attempts, `timeout: false`). `host.webSocket` opens the WebSockets and `host.request`
    /// sends the polling requests, with the application's options for them.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        host: Host,
        http_base: String,
        ws_base: String,
        transports: u32,
        options: u32,
        reconnection_attempts: f64,
        reconnection_delay: f64,
        reconnection_delay_max: f64,
        randomization_factor: f64,
        timeout: f64,
        timestamp_param: String,
    ) -> Driver {
        let engine = ClientConfig {
            transports: transport_list(transports),
            upgrade: options & OPT_UPGRADE != 0,
            remember_upgrade: options & OPT_REMEMBER_UPGRADE != 0,
            try_all_transports: options & OPT_TRY_ALL_TRANSPORTS != 0,
        };
        let config = ManagerConfig {
            engine,
            reconnection: options & OPT_RECONNECTION != 0,
            reconnection_attempts: optional(reconnection_attempts).map(|n| n.min(u32::MAX as u64) as u32),
            reconnection_delay: optional(reconnection_delay).unwrap_or(1000),
            reconnection_delay_max: optional(reconnection_delay_max).unwrap_or(5000),
            randomization_factor,
            timeout: optional(timeout),
            // The page writes and parses every payload (JSON.stringify, JSON.parse): the
            // only scans of it.
            application_json: true,
        };
        let inner = RefCell::new(Inner {
            manager: Manager::new(config, js_sys::Math::random),
            http_base,
            ws_base,
            query: String::new(),
            timestamp_param,
            options,
            transports: Vec::new(),
            timer: None,
            tick_queued: false,
            stamps: 0,
            frame: None,
            shortcut: None,
        });
        Driver { inner, host }
    }

    /// The browser called back what the driver asked the host for, with the tag it gave: a
    /// WebSocket's `open`, binary `message` (`value` its `ArrayBuffer`), `error` or `close`
    /// (`host.webSocket`), a polling request's outcome (`value` a GET's response text;
    /// `host.request`), the timer (`host.setTimeout`) or the tick after WebSocket writes
    /// (`host.microtask`).
    pub fn callback(&self, tag: f64, value: &JsValue) {
        on_callback(self, tag as u64, value);
    }

    /// What the page asks, one export for all (`arg` a socket for 6 to 8, a value from 9 on):
    /// 0 `manager.open()`, 1 `manager._close()` (for good, no reconnection), 2 `engine.close()`
    /// (`forced close`: the manager reconnects unless reconnection is off), 3 the page went
    /// `offline` (`transport close`, "network connection lost"), 4 report packets from now on
    /// (events 9 and 30, once a `packet`, `packetCreate` or `drain` listener is added), 5 the
    /// data just handed to the host is unusable, its JSON (`arg` 0) or a binary one's
    /// placeholders (`arg` 1: "illegal attachments"); the connection closes with "parse error",
    /// 6 `socket.connect()`, 7 `socket.disconnect()`, 8 `socket.sendBuffer = []`, 15 read
    /// `socket.receiveBuffer` (event 20 per event held, nothing else happens), 16 read the
    /// private `socket._queue` (event 21 per emit of the `retries` queue, in order: JSON array
    /// `a`, `bins`, `n` its `tryCount` times 2, plus 1 while it is `pending`); a manager
    /// option set to `arg`: 9 `reconnection(v)` (0 or 1), 10 `reconnectionAttempts(v)`
    /// (`Infinity` for no limit), 11 `reconnectionDelay(v)`, 12 `reconnectionDelayMax(v)`,
    /// 13 `randomizationFactor(v)`, 14 `timeout(v)` (negative for `false`); 17
    /// `manager.opts.transports` as it is now, for the next connection (bits, as
    /// [`Driver::new`] takes them); 18 the page is being left with `closeOnBeforeunload`
    /// (the transports close silently).
    pub fn control(&self, op: u32, arg: f64) {
        let socket = SocketId(arg as u32);
        match op {
            4 => {
                let mut inner = self.inner.borrow_mut();
                inner.manager.report_packets(true);
                inner.publish_shortcut(&self.host);
            }
            8 => self.inner.borrow_mut().manager.clear_send_buffer(socket),
            15 => {
                if let Some(s) = self.inner.borrow().manager.get_socket(socket) {
                    for (data, attachments) in s.receive_buffer() {
                        self.host.event(20, socket.0, Some(data), None, to_buffers(attachments), 0.0);
                    }
                }
            }
            16 => {
                if let Some(s) = self.inner.borrow().manager.get_socket(socket) {
                    for (data, attachments, try_count, pending) in s.retry_queue() {
                        let n = f64::from(try_count) * 2.0 + f64::from(u8::from(pending));
                        self.host.event(21, socket.0, Some(data), None, to_buffers(attachments), n);
                    }
                }
            }
            9..=14 => self.set_option(op, arg),
            17 => self.inner.borrow_mut().manager.set_transports(transport_list(arg as u32)),
            _ => self.with(|m, now| match op {
                0 => m.open(now),
                1 => m.close(now),
                2 => m.close_engine(DisconnectReason::ForcedClose, None, now),
                3 => m.close_engine(DisconnectReason::TransportClose, Some("network connection lost".to_owned()), now),
                5 => {
                    let error =
                        if socket.0 == 1 { DecodeError::IllegalPlaceholder } else { DecodeError::InvalidPayload };
                    m.handle_invalid_payload(error, now)
                }
                6 => m.connect_socket(socket, now),
                18 => m.close_transports_silently(now),
                _ => m.disconnect_socket(socket, now),
            }),
        }
    }

    /// `manager.socket(nsp, opts)`: the id of the namespace's socket (created if needed). Its
    /// `auth` is asked of the host at each CONNECT (event 18, answered with
    /// [`Driver::provide_auth`]): `socket.auth` may change between connections.
    pub fn socket(&self, nsp: &str, retries: f64, ack_timeout: f64) -> u32 {
        let options = SocketOptions {
            auth: Auth::Callback,
            retries: optional(retries).map_or(0, |n| n.min(u32::MAX as u64) as u32),
            ack_timeout: optional(ack_timeout),
        };
        self.inner.borrow_mut().manager.socket(nsp, options).0
    }

    /// `socket.emit(...)`: `data` is `[name, ...args]` as JSON text, `bins` the attachments
    /// (`Uint8Array`s) its placeholders point at; `flags`: 1 volatile, 2 with an ack callback,
    /// 4 the callback takes an error first, 8 no compression; `timeout` in ms or negative.
    /// Returns the ack handle (reported back with events 14-16), or -1. The page refuses a
    /// reserved event name before (it throws, as socket.io-client does), so the core's refusal
    /// is never the answer.
    pub fn emit(&self, socket: u32, data: &str, bins: Option<Array>, flags: u32, timeout: f64) -> f64 {
        let ack = if flags & EMIT_ACK_WITH_ERROR != 0 {
            AckMode::WithError
        } else if flags & EMIT_ACK != 0 {
            AckMode::Callback
        } else {
            AckMode::None
        };
        let options = EmitOptions {
            volatile: flags & EMIT_VOLATILE != 0,
            compress: flags & EMIT_NO_COMPRESS == 0,
            timeout: optional(timeout),
            ack,
        };
        let attachments = to_attachments(bins);
        // The core refuses only data the page never sends: a reserved name (refused first),
        // an unknown socket, data that is not `JSON.stringify` of `[name, ...args]`.
        let result = self.with(|m, now| m.emit(SocketId(socket), data, attachments, options, now));
        result.ok().flatten().map_or(-1.0, ack_number)
    }

    /// Answers the server's event `ack_id` with `args`, a JSON array text, and its attachments.
    pub fn send_ack(&self, socket: u32, ack_id: f64, args: &str, bins: Option<Array>) {
        let attachments = to_attachments(bins);
        // The only possible errors are data the JavaScript side never builds (it sends
        // `JSON.stringify` of an array): nothing to report.
        let _ = self.with(|m, now| m.send_ack(SocketId(socket), ack_id as u64, args, attachments, now));
    }

    /// A message or packet the page hands over as it is, which socket.io's and socket.io-client's
    /// test suites use. With `socket` -1, `manager.engine.emit("data", data)`: a message handed
    /// to the manager as if its engine had received it; -2, `manager.engine.write(data)`: a
    /// message written on the engine; the message is `text`, or without text the first of
    /// `bins` (binary). Else `socket.onpacket(packet)`: `text` is the packet as its text frame
    /// is written, `bins` its attachments. Returns false when that text is not a Socket.IO
    /// packet with as many attachments (nothing happens).
    pub fn inject(&self, socket: f64, text: Option<String>, bins: Option<Array>) -> bool {
        let attachments = to_attachments(bins);
        if socket < 0.0 {
            let data =
                text.map_or_else(|| Data::Binary(attachments.into_iter().next().unwrap_or_default()), Data::Text);
            self.with(|m, now| match socket < -1.0 {
                true => m.write_engine_data(data, now),
                false => m.handle_engine_data(data, now),
            });
            return true;
        }
        match decode_text(text.as_deref().unwrap_or_default(), DEFAULT_MAX_ATTACHMENTS) {
            Ok((mut packet, expected)) if expected == attachments.len() => {
                packet.attachments = attachments;
                self.with(|m, now| m.handle_socket_packet(SocketId(socket as u32), packet, now));
                true
            }
            _ => false,
        }
    }

    /// The recovery offset of the last event the page handed to socket `socket` by the
    /// shortcut (`host.route`; its last argument, when a string), which the core did not
    /// read; reported by the socket's disconnection (event 12) at the latest.
    pub fn offset(&self, socket: u32, offset: String) {
        self.inner.borrow_mut().manager.handle_event_offset(SocketId(socket), offset);
    }

    /// What the `auth` function gave (JSON text), after event 18.
    pub fn provide_auth(&self, socket: u32, auth: Option<String>) {
        self.with(|m, now| m.provide_auth(SocketId(socket), auth.as_deref(), now));
    }

    /// A name the page reads: 0 the engine's transport (`engine.transport.name`), 1 the
    /// engine's session id (`engine.id`, once open), 2 socket `socket`'s `id` while connected.
    /// `undefined` when there is none; the string is read from the wasm memory (no copy made).
    pub fn name(&self, what: u32, socket: u32) -> JsValue {
        let inner = self.inner.borrow();
        let m = &inner.manager;
        let name = match what {
            0 => m.engine().and_then(|e| e.transport()).map(|t| t.as_str()),
            1 => m.engine().and_then(|e| e.handshake()).map(|h| h.sid.as_str()),
            _ => m.get_socket(SocketId(socket)).and_then(|s| s.id()),
        };
        name.map_or(JsValue::UNDEFINED, JsValue::from_str)
    }

    /// The manager's `_readyState` (0 closed, 1 opening, 2 open), plus 4 while reconnecting,
    /// 128 while its engine's transport is writable (a volatile emit goes out, not dropped),
    /// and socket `socket`'s state: 8 connected, 16 active, 32 recovered, 64 `recovered` is
    /// `undefined` (its server gave no `pid`). One export for all.
    pub fn state(&self, socket: u32) -> u32 {
        let inner = self.inner.borrow();
        let m = &inner.manager;
        let ready = match m.ready_state() {
            ReadyState::Closed => 0,
            ReadyState::Opening => 1,
            ReadyState::Open => 2,
        };
        let socket = m.get_socket(SocketId(socket)).map_or(0, |s| {
            let recovered = s.recovered().map_or(64, |r| u32::from(r) << 5);
            u32::from(s.connected()) << 3 | u32::from(s.active()) << 4 | recovered
        });
        let writable = m.engine().is_some_and(ClientSession::is_writable);
        ready | u32::from(m.is_reconnecting()) << 2 | u32::from(writable) << 7 | socket
    }

    /// A text frame of WebSocket transport `id`, given by its start up to its first `[`
    /// (`head`): an event's or an ack answer's JSON begins there. If the core routes the frame
    /// from that start alone, its data reaches the page as the rest of the frame the page
    /// holds (`host.frameEvent`), never copied into the wasm nor a JavaScript value kept by
    /// the wasm, and this returns true; false: nothing changed, the page hands the frame whole
    /// to [`Driver::text`].
    pub fn head_text(&self, id: u32, head: &str) -> bool {
        let routed = self.inner.borrow_mut().manager.handle_websocket_head(TransportId(id), head);
        let Some(unread) = routed else { return false };
        let (kind, socket, n) = match unread {
            UnreadPayload::Event { socket, ack_id } => (13, socket, ack_id.map_or(-1.0, |id| id as f64)),
            UnreadPayload::AckResponse { socket, handle, with_error } => {
                (14 + u32::from(with_error), socket, ack_number(handle))
            }
        };
        self.host.frame_event(kind, socket.0, utf16_len(head), n);
        run(self);
        true
    }

    /// A text frame of WebSocket transport `id`, whole (see [`Driver::head_text`]), `now`
    /// `Date.now()`. The events whose JSON ends it reach the page as the rest of the frame the
    /// page holds (`host.frameEvent`).
    pub fn text(&self, id: u32, text: String, now: f64) {
        {
            let mut inner = self.inner.borrow_mut();
            inner.manager.handle_websocket_text(TransportId(id), &text, now as u64);
            inner.frame = Some(text);
        }
        run(self);
        self.inner.borrow_mut().frame = None;
    }

    /// Sets a manager option ([`Driver::control`] 9 to 14) to `value`.
    fn set_option(&self, op: u32, value: f64) {
        let m = &mut self.inner.borrow_mut().manager;
        match op {
            9 => m.set_reconnection(value != 0.0),
            10 => m.set_reconnection_attempts(optional(value).map(|n| n.min(u32::MAX as u64) as u32)),
            11 => m.set_reconnection_delay(optional(value).unwrap_or(0)),
            12 => m.set_reconnection_delay_max(optional(value).unwrap_or(u64::MAX / 4)),
            13 => m.set_randomization_factor(value),
            _ => m.set_timeout(optional(value)),
        }
    }

    /// A call of the page: `f` given the manager and the time, then what follows from it done.
    /// Made by a listener while an event is handed over, its own events reach the page within
    /// it, as socket.io-client emits them; the events still waiting from before come after.
    fn with<R>(&self, f: impl FnOnce(&mut Manager, u64) -> R) -> R {
        let set_aside = self.inner.borrow_mut().manager.begin_nested_input();
        let result = f(prior_websocket_success_read(&mut self.inner.borrow_mut().manager), now());
        self.finish(set_aside);
        result
    }

    /// After a call of the page ([`Driver::with`], one copy for all its callers).
    #[inline(never)]
    fn finish(&self, set_aside: SetAside) {
        run(self);
        self.inner.borrow_mut().manager.end_nested_input(set_aside);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_numbers() {
        assert_eq!(optional(-1.0), None);
        assert_eq!(optional(f64::INFINITY), None);
        assert_eq!(optional(f64::NAN), None);
        assert_eq!(optional(250.0), Some(250));
    }

    #[test]
    fn transport_lists_keep_their_order_and_skip_unknown_digits() {
        assert_eq!(transport_list(0b110), [TransportKind::WebSocket, TransportKind::Polling]);
        assert_eq!(transport_list(0b101), [TransportKind::Polling, TransportKind::WebSocket]);
        assert_eq!(transport_list(1), []);
    }

    #[test]
    fn ack_handles_are_distinct_numbers() {
        assert_eq!(ack_number(AckHandle::Id(3)), 6.0);
        assert_eq!(ack_number(AckHandle::Queued(3)), 7.0);
    }
}

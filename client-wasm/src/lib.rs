//! wasmio-client: the browser driver of the wasmio protocol core.
//!
//! A [`Driver`] owns one [`wasmio_protocol::client::Manager`] (socket.io-client's `Manager`
//! with its namespace sockets) and moves bytes and time for it: it performs the
//! [`ClientTransmit`]s with `fetch` long-polling and `WebSocket`s (binary type
//! `arraybuffer`), runs the manager's single timer with `setTimeout`, reads the clock with
//! `Date.now()` and draws the reconnection jitter from `Math.random()`. Every protocol
//! decision stays in the core.
//!
//! The JavaScript side (the `wasmio` npm package in `pkg/`) gives a *host* object whose
//! `event(kind, socket, a, b, bins, n)` method receives every event, one call per event (see
//! [`Driver::new`] for the codes). Event data crosses the boundary as JSON text plus an array
//! of `ArrayBuffer` attachments: the JavaScript side does `JSON.stringify`/`JSON.parse` and
//! swaps binary values for `{"_placeholder":true,"num":n}` markers, so no JSON library ships
//! in the wasm and an emit costs one call.
//!
//! Callbacks from the browser (WebSocket events, fetch results, the timer) all enter through
//! one Rust closure, bound per use with a numeric tag (`Function.prototype.bind`), so no
//! closure is created or freed per request.

/// The heap allocator: lol_alloc's free list, far smaller than dlmalloc.
// SAFETY: wasm32-unknown-unknown without threads is single-threaded, as the browser runs us.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    AbortController, AbortSignal, BinaryType, MessageEvent, RequestCredentials, RequestInit, Response, WebSocket,
};

use wasmio_protocol::client::{
    AckHandle, AckMode, Auth, DisconnectReason, EmitOptions, ErrorMessage, Event, Manager, ManagerConfig, ManagerEvent,
    ReadyState, SocketEvent, SocketId, SocketOptions, UnreadPayload,
};
use wasmio_protocol::engine::{ClientConfig, ClientTransmit, Data, Frame, TransportId, TransportKind};

#[wasm_bindgen]
extern "C" {
    /// The JavaScript object that receives the driver's events (see [`Driver::new`]).
    pub type Host;

    #[wasm_bindgen(method)]
    fn event(this: &Host, kind: u32, socket: u32, a: Option<&str>, b: Option<&str>, bins: Option<Array>, n: f64);

    /// An event 13, 14 or 15 without attachments whose JSON text is the WebSocket text frame
    /// just received from UTF-16 offset `start` on (`frame.slice(start)`): the text stays the
    /// JavaScript string it arrived as, never copied out of the wasm memory.
    #[wasm_bindgen(method, js_name = frameEvent)]
    fn frame_event(this: &Host, kind: u32, socket: u32, frame: &JsValue, start: u32, n: f64);

    /// Has WebSocket `ws` of transport `id` hand its text frames to [`Driver::text`] with
    /// their start up to the first `[` and the time, and anything else to `other` (the tagged
    /// callback): a received event then costs no `MessageEvent` read, no clock call from wasm,
    /// and no copy of its data into wasm.
    #[wasm_bindgen(method)]
    fn listen(this: &Host, ws: &WebSocket, id: u32, other: &Callback);

    /// The browser's details of the transport error handled next (engine.io-client's
    /// `TransportError` `description` and `context`): the HTTP status (0 when the request
    /// failed) and the response or failure of a polling request; a WebSocket's error event.
    #[wasm_bindgen(method, js_name = transportError)]
    fn transport_error(this: &Host, description: &JsValue, context: &JsValue);

    /// The user's `query` as it is now (`manager.opts.query`, which the application may change
    /// between connections), encoded, ending with `&` when not empty.
    #[wasm_bindgen(method)]
    fn query(this: &Host) -> String;

    /// A JavaScript function (only `bind` is needed).
    type Callback;

    #[wasm_bindgen(method, js_name = bind)]
    fn bind(this: &Callback, this_arg: &JsValue, tag: f64) -> Callback;

    /// A promise (only `then` is needed).
    type Thenable;

    #[wasm_bindgen(method, js_name = then)]
    fn then(this: &Thenable, ok: &Callback, err: &Callback) -> Thenable;

    #[wasm_bindgen(js_name = fetch)]
    fn fetch(url: &str, init: &RequestInit) -> Thenable;

    /// The manager's `setTimeout`: with `useNativeTimers`, the browser's own as the module
    /// found it (fake timers installed later do not reach it); else the global one as the
    /// manager was created, as engine.io-client binds its timer functions.
    #[wasm_bindgen(method, js_name = setTimeout)]
    fn set_timeout(this: &Host, handler: &Callback, ms: f64) -> JsValue;

    /// The `clearTimeout` of the same origin as [`Host::set_timeout`].
    #[wasm_bindgen(method, js_name = clearTimeout)]
    fn clear_timeout(this: &Host, handle: &JsValue);

    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(handler: &Callback);
}

// Kinds of the tagged callback (tag = transport id * CB_KINDS + kind).
const CB_WS_OPEN: u64 = 0;
const CB_WS_MESSAGE: u64 = 1;
const CB_WS_ERROR: u64 = 2;
const CB_WS_CLOSE: u64 = 3;
const CB_GET_RESPONSE: u64 = 4;
const CB_GET_TEXT: u64 = 5;
const CB_GET_FAILED: u64 = 6;
const CB_POST_RESPONSE: u64 = 7;
const CB_POST_FAILED: u64 = 8;
const CB_TIMER: u64 = 9;
/// The tick after WebSocket writes: bound once, with no transport (its tag is the kind itself).
const CB_TICK: u64 = 10;
const CB_KINDS: u64 = 16;

// Option flags of `Driver::new`.
const OPT_UPGRADE: u32 = 1;
const OPT_REMEMBER_UPGRADE: u32 = 2;
const OPT_TRY_ALL_TRANSPORTS: u32 = 4;
const OPT_RECONNECTION: u32 = 8;
const OPT_WITH_CREDENTIALS: u32 = 16;
const OPT_TIMESTAMP_POLLING: u32 = 32;
const OPT_TIMESTAMP_WEBSOCKET: u32 = 64;

// Emit flags of `Driver::emit`.
const EMIT_VOLATILE: u32 = 1;
const EMIT_ACK: u32 = 2;
const EMIT_ACK_WITH_ERROR: u32 = 4;
const EMIT_NO_COMPRESS: u32 = 8;

/// A live transport of the manager.
enum Transport {
    /// A WebSocket.
    WebSocket(WebSocket),
    /// The polling requests of one transport: the controller aborts its GET.
    Polling(AbortController),
}

struct Inner {
    manager: Manager,
    host: Host,
    /// `http(s)://host:port/path/`.
    http_base: String,
    /// `ws(s)://host:port/path/`.
    ws_base: String,
    /// The user's `query` (from [`Host::query`] at each handshake), encoded, ending with `&`
    /// when not empty.
    query: String,
    timestamp_param: String,
    options: u32,
    headers: JsValue,
    /// WebSocket subprotocols (`protocols`: a string or an array of them), or undefined.
    protocols: JsValue,
    /// `requestTimeout` of polling requests, ms.
    request_timeout: Option<u64>,
    transports: Vec<(u32, Transport)>,
    /// The single entry point of browser callbacks.
    callback: Callback,
    /// The pending `setTimeout`: its deadline and handle.
    timer: Option<(u64, JsValue)>,
    /// The callback bound for the tick ([`CB_TICK`]), made once: queued after WebSocket writes.
    tick: Callback,
    /// A microtask is queued to tell the manager the task that wrote to its WebSocket is over.
    tick_queued: bool,
    /// Events are being handed to the host: nested calls leave new events to that loop.
    dispatching: bool,
    /// Makes timestamps unique within one millisecond.
    stamps: u32,
    /// The WebSocket text frame being handled in whole: the JavaScript string and its copy.
    frame: Option<(JsValue, String)>,
}

/// The driver of one Socket.IO manager (one server connection, many namespaces).
#[wasm_bindgen]
pub struct Driver {
    inner: Rc<RefCell<Inner>>,
}

/// Whether a WebSocket worked for the last engine of any manager of the page: it is global in
/// engine.io-client (`priorWebsocketSuccess`), so that with `rememberUpgrade` a new manager
/// starts on a WebSocket once one worked. Each manager reads it before an input and leaves
/// its own outcome after.
static PRIOR_WEBSOCKET_SUCCESS: AtomicBool = AtomicBool::new(false);

fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// A JS number as an optional count/duration: negative, NaN or infinite is `None`.
fn optional(value: f64) -> Option<u64> {
    (value.is_finite() && value >= 0.0).then_some(value as u64)
}

fn to_attachments(bins: Option<Array>) -> Vec<Vec<u8>> {
    bins.map(|bins| bins.iter().map(|b| b.unchecked_into::<Uint8Array>().to_vec()).collect()).unwrap_or_default()
}

fn to_buffers(attachments: &[Vec<u8>]) -> Option<Array> {
    (!attachments.is_empty()).then(|| attachments.iter().map(|a| Uint8Array::from(&a[..]).buffer()).collect())
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
    ///   no error was dropped (handle `n`).
    ///
    /// `host.query()` gives the user's encoded query at each handshake; `host.setTimeout` and
    /// `host.clearTimeout` are the manager's timers (`useNativeTimers`). `http_base`/`ws_base`
    /// end with the engine path;
    /// `transports` is a comma-separated list; `options` holds the flags (1 upgrade,
    /// 2 rememberUpgrade, 4 tryAllTransports, 8 reconnection, 16 withCredentials,
    /// 32 timestamp polling requests, 64 timestamp WebSocket requests); negative or infinite
    /// numbers mean "none" (`Infinity` attempts, `timeout: false`); `headers` is the
    /// `extraHeaders` object for polling requests; `protocols` the WebSocket subprotocols (a
    /// string or an array); `request_timeout` aborts a polling request after that many ms.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        host: Host,
        http_base: String,
        ws_base: String,
        transports: &str,
        options: u32,
        reconnection_attempts: f64,
        reconnection_delay: f64,
        reconnection_delay_max: f64,
        randomization_factor: f64,
        timeout: f64,
        timestamp_param: String,
        headers: JsValue,
        protocols: JsValue,
        request_timeout: f64,
    ) -> Driver {
        let engine = ClientConfig {
            transports: transports.split(',').filter_map(TransportKind::from_name).collect(),
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
        let inner = Rc::new_cyclic(|weak: &Weak<RefCell<Inner>>| {
            let weak = weak.clone();
            let closure = Closure::<dyn FnMut(f64, JsValue)>::new(move |tag: f64, value: JsValue| {
                if let Some(inner) = weak.upgrade() {
                    on_callback(&inner, tag as u64, value);
                }
            });
            let callback: Callback = closure.into_js_value().unchecked_into();
            let tick = callback.bind(&JsValue::NULL, CB_TICK as f64);
            RefCell::new(Inner {
                manager: Manager::new(config, js_sys::Math::random),
                host,
                http_base,
                ws_base,
                query: String::new(),
                timestamp_param,
                options,
                headers,
                protocols,
                request_timeout: optional(request_timeout),
                transports: Vec::new(),
                callback,
                timer: None,
                tick,
                tick_queued: false,
                dispatching: false,
                stamps: 0,
                frame: None,
            })
        });
        Driver { inner }
    }

    /// What the page asks, one export for all (`socket` for 6 to 8): 0 `manager.open()`,
    /// 1 `manager._close()` (for good, no reconnection), 2 `engine.close()` (`forced close`:
    /// the manager reconnects unless reconnection is off), 3 the page went `offline`
    /// (`transport close`, "network connection lost"), 4 report packets from now on (events
    /// 9 and 30, once a `packet`, `packetCreate` or `drain` listener is added), 5 the JSON
    /// just handed to the host does not parse (the connection closes with "parse error"),
    /// 6 `socket.connect()`, 7 `socket.disconnect()`, 8 `socket.sendBuffer = []`.
    pub fn control(&self, op: u32, socket: u32) {
        let socket = SocketId(socket);
        match op {
            4 => self.inner.borrow_mut().manager.report_packets(true),
            8 => self.inner.borrow_mut().manager.clear_send_buffer(socket),
            _ => self.with(|m, now| match op {
                0 => m.open(now),
                1 => m.close(now),
                2 => m.close_engine(DisconnectReason::ForcedClose, None, now),
                3 => m.close_engine(DisconnectReason::TransportClose, Some("network connection lost".to_owned()), now),
                5 => m.handle_invalid_payload(now),
                6 => m.connect_socket(socket, now),
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
    /// Returns the ack handle (reported back with events 14-16), or -1. Throws for a
    /// reserved event name.
    pub fn emit(&self, socket: u32, data: &str, bins: Option<Array>, flags: u32, timeout: f64) -> Result<f64, JsError> {
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
        let result = self.with(|m, now| m.emit(SocketId(socket), data, attachments, options, now));
        match result {
            Ok(handle) => Ok(handle.map_or(-1.0, ack_number)),
            Err(error) => Err(JsError::new(&error.message())),
        }
    }

    /// Answers the server's event `ack_id` with `args`, a JSON array text, and its attachments.
    pub fn send_ack(&self, socket: u32, ack_id: f64, args: &str, bins: Option<Array>) {
        let attachments = to_attachments(bins);
        // The only possible errors are data the JavaScript side never builds (it sends
        // `JSON.stringify` of an array): nothing to report.
        let _ = self.with(|m, now| m.send_ack(SocketId(socket), ack_id as u64, args, attachments, now));
    }

    /// What the `auth` function gave (JSON text), after event 18.
    pub fn provide_auth(&self, socket: u32, auth: Option<String>) {
        self.with(|m, now| m.provide_auth(SocketId(socket), auth.as_deref(), now));
    }

    /// `socket.receiveBuffer`: `[JSON text, attachments or undefined]` per event received
    /// before the socket connected.
    pub fn receive_buffer(&self, socket: u32) -> Array {
        let inner = self.inner.borrow();
        let Some(s) = inner.manager.get_socket(SocketId(socket)) else { return Array::new() };
        s.receive_buffer()
            .map(|(data, attachments)| {
                let bins = to_buffers(attachments).map_or(JsValue::UNDEFINED, JsValue::from);
                JsValue::from(Array::of2(&JsValue::from_str(data), &bins))
            })
            .collect()
    }

    /// Changes a manager option: 0 `reconnection(v)` (0 or 1), 1 `reconnectionAttempts(v)`
    /// (`Infinity` for no limit), 2 `reconnectionDelay(v)`, 3 `reconnectionDelayMax(v)`,
    /// 4 `randomizationFactor(v)`, 5 `timeout(v)` (negative for `false`).
    pub fn set_option(&self, option: u32, value: f64) {
        let m = &mut self.inner.borrow_mut().manager;
        match option {
            0 => m.set_reconnection(value != 0.0),
            1 => m.set_reconnection_attempts(optional(value).map(|n| n.min(u32::MAX as u64) as u32)),
            2 => m.set_reconnection_delay(optional(value).unwrap_or(0)),
            3 => m.set_reconnection_delay_max(optional(value).unwrap_or(u64::MAX / 4)),
            4 => m.set_randomization_factor(value),
            _ => m.set_timeout(optional(value)),
        }
    }

    /// A name the page reads: 0 the engine's transport (`engine.transport.name`), 1 the
    /// engine's session id (`engine.id`, once open), 2 socket `socket`'s `id` while connected.
    pub fn name(&self, what: u32, socket: u32) -> Option<String> {
        let inner = self.inner.borrow();
        let m = &inner.manager;
        match what {
            0 => m.engine().and_then(|e| e.transport()).map(|t| t.as_str().to_owned()),
            1 => m.engine().and_then(|e| e.handshake()).map(|h| h.sid.clone()),
            _ => m.get_socket(SocketId(socket)).and_then(|s| s.id().map(str::to_owned)),
        }
    }

    /// The socket's state bits: 1 connected, 2 active, 4 recovered.
    pub fn socket_state(&self, socket: u32) -> u32 {
        let inner = self.inner.borrow();
        inner
            .manager
            .get_socket(SocketId(socket))
            .map_or(0, |s| u32::from(s.connected()) | u32::from(s.active()) << 1 | u32::from(s.recovered()) << 2)
    }

    /// The manager's `_readyState`: 0 closed, 1 opening, 2 open; plus 4 while reconnecting.
    pub fn state(&self) -> u32 {
        let inner = self.inner.borrow();
        let state = match inner.manager.ready_state() {
            ReadyState::Closed => 0,
            ReadyState::Opening => 1,
            ReadyState::Open => 2,
        };
        state | u32::from(inner.manager.is_reconnecting()) << 2
    }

    /// A text frame of WebSocket transport `id` (see `host.listen`): `frame` is the JavaScript
    /// string, `head` its start up to the first `[` (empty when there is none), `now`
    /// `Date.now()`. An event or ack answer the core routes from `head` alone reaches the page
    /// as the rest of `frame` (`host.frameEvent`), its data never copied into the wasm; any
    /// other frame is copied in whole, and the events whose JSON ends it go the same way.
    pub fn text(&self, id: u32, frame: JsValue, head: &str, now: f64) {
        let routed = self.inner.borrow_mut().manager.handle_websocket_head(TransportId(id), head);
        let Some(unread) = routed else {
            let text = frame.as_string().unwrap_or_default();
            {
                let mut inner = self.inner.borrow_mut();
                inner.manager.handle_websocket_text(TransportId(id), &text, now as u64);
                inner.frame = Some((frame, text));
            }
            run(&self.inner);
            self.inner.borrow_mut().frame = None;
            return;
        };
        let (kind, socket, n) = match unread {
            UnreadPayload::Event { socket, ack_id } => (13, socket, ack_id.map_or(-1.0, |id| id as f64)),
            UnreadPayload::AckResponse { socket, handle, with_error } => {
                (14 + u32::from(with_error), socket, ack_number(handle))
            }
        };
        // As `run` hands an event over: what the page's listeners cause waits for the loop.
        let host: Host = {
            let mut inner = self.inner.borrow_mut();
            inner.dispatching = true;
            inner.host.clone().unchecked_into()
        };
        host.frame_event(kind, socket.0, &frame, utf16_len(head), n);
        self.inner.borrow_mut().dispatching = false;
        run(&self.inner);
    }

    fn with<R>(&self, f: impl FnOnce(&mut Manager, u64) -> R) -> R {
        let result = f(prior_websocket_success_read(&mut self.inner.borrow_mut().manager), now());
        run(&self.inner);
        result
    }
}

/// The browser called back: a WebSocket event, a fetch outcome or the timer.
fn on_callback(rc: &Rc<RefCell<Inner>>, tag: u64, value: JsValue) {
    if tag == CB_TICK {
        // Nothing follows from it but a WebSocket writable again: no clock, nothing to run.
        let mut inner = rc.borrow_mut();
        inner.tick_queued = false;
        inner.manager.handle_tick();
        return;
    }
    let id = TransportId((tag / CB_KINDS) as u32);
    let now = now();
    {
        let mut inner = rc.borrow_mut();
        let inner = &mut *inner;
        let m = prior_websocket_success_read(&mut inner.manager);
        match tag % CB_KINDS {
            CB_WS_OPEN => m.handle_websocket_open(id, now),
            // (text frames come through `Driver::text`)
            CB_WS_MESSAGE => {
                let data = value.unchecked_into::<MessageEvent>().data();
                m.handle_websocket_frame(id, Frame::Binary(Uint8Array::new(&data).to_vec()), now);
            }
            CB_WS_ERROR => {
                inner.host.transport_error(&value, &JsValue::UNDEFINED);
                m.handle_transport_error(id, "websocket error", now);
            }
            CB_WS_CLOSE => {
                inner.transports.retain(|(t, _)| *t != id.0);
                m.handle_transport_closed(id, now);
            }
            CB_GET_RESPONSE => {
                let response: Response = value.unchecked_into();
                match response.ok().then(|| response.text().ok()).flatten() {
                    Some(text) => {
                        let text: Thenable = text.unchecked_into();
                        let ok = inner.callback.bind(&JsValue::NULL, (tag - CB_GET_RESPONSE + CB_GET_TEXT) as f64);
                        let err = inner.callback.bind(&JsValue::NULL, (tag - CB_GET_RESPONSE + CB_GET_FAILED) as f64);
                        text.then(&ok, &err);
                    }
                    None => {
                        inner.host.transport_error(&response.status().into(), &response);
                        m.handle_transport_error(id, "xhr poll error", now);
                    }
                }
            }
            CB_GET_TEXT => m.handle_poll_response(id, &value.as_string().unwrap_or_default(), now),
            CB_GET_FAILED => {
                inner.host.transport_error(&0.into(), &value);
                m.handle_transport_error(id, "xhr poll error", now);
            }
            CB_POST_RESPONSE if value.unchecked_ref::<Response>().ok() => m.handle_post_done(id, now),
            CB_POST_RESPONSE => {
                inner.host.transport_error(&value.unchecked_ref::<Response>().status().into(), &value);
                m.handle_transport_error(id, "xhr post error", now);
            }
            CB_POST_FAILED => {
                inner.host.transport_error(&0.into(), &value);
                m.handle_transport_error(id, "xhr post error", now);
            }
            _ => {
                inner.timer = None;
                m.handle_timeout(now);
            }
        }
    }
    run(rc);
    rc.borrow_mut().frame = None;
}

/// Performs what the manager asks, hands its events to the host, and sets the timer.
/// Events go first, as socket.io-client emits them before any I/O they lead to: a
/// `reconnect_attempt` listener changes the query before the attempt's handshake is sent.
fn run(rc: &Rc<RefCell<Inner>>) {
    loop {
        let mut inner = rc.borrow_mut();
        if !inner.dispatching {
            if let Some(event) = inner.manager.poll_event() {
                inner.dispatching = true;
                let host: Host = inner.host.clone().unchecked_into();
                let frame = inner.frame.take();
                drop(inner);
                dispatch(&host, event, frame.as_ref());
                let mut inner = rc.borrow_mut();
                inner.dispatching = false;
                inner.frame = frame;
                continue;
            }
        }
        let Some(transmit) = inner.manager.poll_transmit() else { break };
        inner.perform(transmit);
    }
    let mut inner = rc.borrow_mut();
    PRIOR_WEBSOCKET_SUCCESS.store(inner.manager.prior_websocket_success(), Ordering::Relaxed);
    inner.schedule();
}

/// `m`, told the page's [`PRIOR_WEBSOCKET_SUCCESS`] (which [`run`] updates after each input)
/// before an input that may open an engine: a call of the page, or a timer (a reconnection).
/// A received frame never opens one.
fn prior_websocket_success_read(m: &mut Manager) -> &mut Manager {
    m.set_prior_websocket_success(PRIOR_WEBSOCKET_SUCCESS.load(Ordering::Relaxed));
    m
}

/// The length in UTF-16 units (JavaScript's `length`) of `text`.
fn utf16_len(text: &str) -> u32 {
    text.bytes().map(|b| u32::from(b & 0xc0 != 0x80) + u32::from(b >= 0xf0)).sum()
}

/// Hands an event to the host: JSON text that is the end of the WebSocket frame being handled
/// goes as that part of the frame's own string ([`Host::frame_event`]), anything else copied.
fn dispatch(host: &Host, event: Event, frame: Option<&(JsValue, String)>) {
    if let (Some((js_frame, text)), Event::Socket { socket, event }) = (frame, &event) {
        // Where `data` starts when it ends the frame.
        let start = |data: &str| {
            (!data.is_empty() && text.ends_with(data)).then(|| utf16_len(&text[..text.len() - data.len()]))
        };
        match event {
            SocketEvent::Event { data, attachments, ack_id } if attachments.is_empty() => {
                if let Some(start) = start(data) {
                    return host.frame_event(13, socket.0, js_frame, start, ack_id.map_or(-1.0, |id| id as f64));
                }
            }
            SocketEvent::AckResponse { handle, args, attachments, with_error } if attachments.is_empty() => {
                if let Some(start) = start(args) {
                    let kind = 14 + u32::from(*with_error);
                    return host.frame_event(kind, socket.0, js_frame, start, ack_number(*handle));
                }
            }
            _ => {}
        }
    }
    let (kind, socket, a, b, bins, n): (u32, u32, Option<&str>, Option<&str>, Option<Array>, f64) = match &event {
        Event::Manager(event) => match event {
            ManagerEvent::Open => (0, 0, None, None, None, 0.0),
            ManagerEvent::Error(error) => (1, 0, Some(error.message()), None, None, 0.0),
            ManagerEvent::Ping => (2, 0, None, None, None, 0.0),
            ManagerEvent::Close { reason, description } => {
                (3, 0, Some(reason.as_str()), description.as_deref(), None, 0.0)
            }
            ManagerEvent::Reconnect(attempt) => (4, 0, None, None, None, (*attempt).into()),
            ManagerEvent::ReconnectAttempt(attempt) => (5, 0, None, None, None, (*attempt).into()),
            ManagerEvent::ReconnectError(error) => (6, 0, Some(error.message()), None, None, 0.0),
            ManagerEvent::ReconnectFailed => (7, 0, None, None, None, 0.0),
            ManagerEvent::Upgrade(kind) => (8, 0, Some(kind.as_str()), None, None, 0.0),
            ManagerEvent::EnginePacket { created, packet } => {
                let (text, bins) = match &packet.data {
                    Data::Text(text) => (Some(text.as_str()), None),
                    Data::Binary(bytes) => (None, Some(Array::of1(&Uint8Array::from(&bytes[..]).buffer()))),
                };
                (9, 0, Some(packet.kind.name()), text, bins, f64::from(u8::from(*created)))
            }
            ManagerEvent::Drain => (9, 0, None, None, None, 2.0),
            ManagerEvent::Upgrading => (9, 0, Some(TransportKind::WebSocket.as_str()), None, None, 3.0),
            ManagerEvent::Packet(packet) => {
                let id = packet.id.map_or(-1.0, |id| id as f64);
                (30, packet.kind as u32, Some(&packet.nsp), packet.data.as_deref(), to_buffers(&packet.attachments), id)
            }
        },
        Event::Socket { socket, event } => {
            let s = socket.0;
            match event {
                SocketEvent::Connect => (10, s, None, None, None, 0.0),
                SocketEvent::ConnectError { message, data } => {
                    let (message, json) = match message {
                        ErrorMessage::Text(text) => (text, 0.0),
                        ErrorMessage::Json(raw) => (raw, 1.0),
                    };
                    (11, s, Some(message.as_str()), data.as_deref(), None, json)
                }
                SocketEvent::Disconnect { reason, description } => {
                    (12, s, Some(reason.as_str()), description.as_deref(), None, 0.0)
                }
                SocketEvent::Event { data, attachments, ack_id } => {
                    (13, s, Some(data.as_str()), None, to_buffers(attachments), ack_id.map_or(-1.0, |id| id as f64))
                }
                SocketEvent::AckResponse { handle, args, attachments, with_error } => (
                    14 + u32::from(*with_error),
                    s,
                    Some(args.as_str()),
                    None,
                    to_buffers(attachments),
                    ack_number(*handle),
                ),
                SocketEvent::AckError { handle, error } => {
                    (16, s, Some(error.message()), None, None, ack_number(*handle))
                }
                SocketEvent::AuthRequest => (18, s, None, None, None, 0.0),
                SocketEvent::AckDropped { handle } => (19, s, None, None, None, ack_number(*handle)),
            }
        }
    };
    host.event(kind, socket, a, b, bins, n);
}

impl Inner {
    /// The browser object of transport `id` (a transport has its own id; there are at most two).
    fn transport(&self, id: u32) -> Option<&Transport> {
        self.transports.iter().find(|(t, _)| *t == id).map(|(_, t)| t)
    }

    /// Removes and returns the browser object of transport `id`.
    fn take_transport(&mut self, id: u32) -> Option<Transport> {
        let i = self.transports.iter().position(|(t, _)| *t == id)?;
        Some(self.transports.swap_remove(i).1)
    }

    /// A `t` query parameter: base-36 time plus a counter, unique per request.
    fn stamp(&mut self) -> String {
        self.stamps = self.stamps.wrapping_add(1);
        let mut stamp = ["&", &self.timestamp_param, "="].concat();
        push_digits(&mut stamp, now(), 36);
        stamp.push('.');
        push_digits(&mut stamp, self.stamps.into(), 10);
        stamp
    }

    fn url(&mut self, websocket: bool, query: &str) -> String {
        if !query.split('&').any(|param| param.starts_with("sid=")) {
            // A handshake: the query as the application has it now.
            self.query = self.host.query();
        }
        let (base, flag) =
            if websocket { (&self.ws_base, OPT_TIMESTAMP_WEBSOCKET) } else { (&self.http_base, OPT_TIMESTAMP_POLLING) };
        let mut url = [base, "?", &self.query, query].concat();
        if self.options & flag != 0 {
            url.push_str(&self.stamp());
        }
        url
    }

    fn request(&self, method: &str) -> RequestInit {
        let init = RequestInit::new();
        init.set_method(method);
        if self.options & OPT_WITH_CREDENTIALS != 0 {
            init.set_credentials(RequestCredentials::Include);
        }
        if !self.headers.is_undefined() {
            init.set_headers(&self.headers);
        }
        if let Some(ms) = self.request_timeout {
            init.set_signal(Some(&AbortSignal::timeout_with_f64(ms as f64)));
        }
        init
    }

    /// The signal of a polling GET: its transport's controller, and `requestTimeout`.
    fn get_signal(&self, controller: &AbortController) -> AbortSignal {
        match self.request_timeout {
            Some(ms) => AbortSignal::any(&Array::of2(&controller.signal(), &AbortSignal::timeout_with_f64(ms as f64))),
            None => controller.signal(),
        }
    }

    fn bound(&self, id: TransportId, kind: u64) -> Callback {
        self.callback.bind(&JsValue::NULL, (u64::from(id.0) * CB_KINDS + kind) as f64)
    }

    fn perform(&mut self, transmit: ClientTransmit) {
        match transmit {
            ClientTransmit::PollGet { id, query } => {
                let url = self.url(false, &query);
                let init = self.request("GET");
                let controller = match self.transport(id.0) {
                    Some(Transport::Polling(controller)) => controller.clone(),
                    _ => {
                        let Ok(controller) = AbortController::new() else {
                            return self.manager.handle_transport_error(id, "xhr poll error", now());
                        };
                        self.transports.push((id.0, Transport::Polling(controller.clone())));
                        controller
                    }
                };
                init.set_signal(Some(&self.get_signal(&controller)));
                fetch(&url, &init).then(&self.bound(id, CB_GET_RESPONSE), &self.bound(id, CB_GET_FAILED));
            }
            ClientTransmit::PollPost { id, query, body } => {
                let url = self.url(false, &query);
                let init = self.request("POST");
                init.set_body(&JsValue::from_str(&body));
                fetch(&url, &init).then(&self.bound(id, CB_POST_RESPONSE), &self.bound(id, CB_POST_FAILED));
            }
            ClientTransmit::OpenWebSocket { id, query } => {
                let url = self.url(true, &query);
                let opened = match (self.protocols.as_string(), self.protocols.is_undefined()) {
                    (Some(protocol), _) => WebSocket::new_with_str(&url, &protocol),
                    (None, true) => WebSocket::new(&url),
                    (None, false) => WebSocket::new_with_str_sequence(&url, &self.protocols),
                };
                match opened {
                    Ok(ws) => {
                        ws.set_binary_type(BinaryType::Arraybuffer);
                        ws.set_onopen(Some(self.bound(id, CB_WS_OPEN).unchecked_ref()));
                        self.host.listen(&ws, id.0, &self.bound(id, CB_WS_MESSAGE));
                        ws.set_onerror(Some(self.bound(id, CB_WS_ERROR).unchecked_ref()));
                        ws.set_onclose(Some(self.bound(id, CB_WS_CLOSE).unchecked_ref()));
                        self.transports.push((id.0, Transport::WebSocket(ws)));
                    }
                    Err(error) => {
                        self.host.transport_error(&error, &JsValue::UNDEFINED);
                        self.manager.handle_transport_error(id, "websocket error", now());
                    }
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
                Some(Transport::WebSocket(ws)) => {
                    ws.set_onopen(None);
                    ws.set_onmessage(None);
                    ws.set_onerror(None);
                    ws.set_onclose(None);
                    let _ = ws.close();
                }
                // Only the GET is aborted: a POST in flight (the `close` packet) completes.
                Some(Transport::Polling(controller)) => controller.abort(),
                None => {}
            },
        }
    }

    /// Sets `setTimeout` for the manager's next deadline, if it changed, and queues the
    /// microtask after a WebSocket write (engine.io-client's WebSocket is writable again on
    /// the next tick: a volatile emit made meanwhile is dropped).
    fn schedule(&mut self) {
        if self.manager.wants_tick() && !self.tick_queued {
            self.tick_queued = true;
            queue_microtask(&self.tick);
        }
        let deadline = self.manager.poll_timeout();
        if self.timer.as_ref().map(|(at, _)| *at) == deadline {
            return;
        }
        if let Some((_, handle)) = self.timer.take() {
            self.host.clear_timeout(&handle);
        }
        if let Some(at) = deadline {
            let delay = at.saturating_sub(now()).min(i32::MAX as u64) as f64;
            let handle = self.host.set_timeout(&self.bound(TransportId(0), CB_TIMER), delay);
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
    fn ack_handles_are_distinct_numbers() {
        assert_eq!(ack_number(AckHandle::Id(3)), 6.0);
        assert_eq!(ack_number(AckHandle::Queued(3)), 7.0);
    }
}

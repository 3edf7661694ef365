//! The JavaScript the driver calls: the page's host object (its events, timers and query),
//! and the few browser functions web-sys does not bind as the driver uses them.

use js_sys::Array;
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, WebSocket};

#[cfg(doc)]
use crate::Driver;

#[wasm_bindgen]
extern "C" {
    /// The JavaScript object that receives the driver's events (see [`Driver::new`]).
    pub type Host;

    #[wasm_bindgen(method)]
    pub(crate) fn event(
        this: &Host,
        kind: u32,
        socket: u32,
        a: Option<&str>,
        b: Option<&str>,
        bins: Option<Array>,
        n: f64,
    );

    /// An event 13, 14 or 15 without attachments whose JSON text is the WebSocket text frame
    /// being handled ([`Driver::head_text`], [`Driver::text`]) from UTF-16 offset `start` on:
    /// the page slices the string it holds, never copied out of the wasm memory.
    #[wasm_bindgen(method, js_name = frameEvent)]
    pub(crate) fn frame_event(this: &Host, kind: u32, socket: u32, start: u32, n: f64);

    /// The manager's shortcut for received events changed ([`Manager::event_shortcut`]): it
    /// now holds for WebSocket transport `transport` (-1: none) and the sockets whose bits
    /// are set in `sockets` (bit `i` for socket `i`). A text frame of that transport made of
    /// such a socket's head (`42`, or `42/chat,`), then JSON data starting with `[`, is an
    /// event of that socket without ack id, which the page hands to the socket without
    /// calling the driver; the page keeps the last argument of the last such event of a
    /// socket, when a string (its recovery offset), and reports it by the socket's
    /// disconnection ([`Driver::offset`]), unless an event the driver handed to the socket
    /// since had one (the core read it).
    ///
    /// [`Manager::event_shortcut`]: wasmio_protocol::client::Manager::event_shortcut
    #[wasm_bindgen(method)]
    pub(crate) fn route(this: &Host, transport: f64, sockets: u32);

    /// A new WebSocket of transport `id` to `url` (binary type `arraybuffer`), offering the
    /// application's subprotocols as engine.io-client does; throws as the constructor does.
    /// Its text frames the shortcut does not take ([`Host::route`]) go to
    /// [`Driver::head_text`] as their start up to the first `[` (a received event then costs
    /// no `MessageEvent` read, no clock read and no copy of its data into wasm), and whole to
    /// [`Driver::text`] when the core needs more; its `open`, binary
    /// `message`, `error` and `close` events to [`Driver::callback`] with the tags `tag` + 0,
    /// 1, 2 and 3. The host keeps the details of a failure (the constructor's exception, the
    /// `error` event) for the `TransportError` the manager reports next, as engine.io-client's
    /// `description`.
    #[wasm_bindgen(method, catch, js_name = webSocket)]
    pub(crate) fn web_socket(this: &Host, url: &str, id: u32, tag: f64) -> Result<WebSocket, JsValue>;

    /// Closes a WebSocket whose events are no longer wanted (its handlers removed first).
    #[wasm_bindgen(method, js_name = closeWebSocket)]
    pub(crate) fn close_web_socket(this: &Host, ws: &WebSocket);

    /// A polling request to `url`: a POST of `body`, or a GET (`body` none); with the
    /// application's `withCredentials`, `extraHeaders` and `requestTimeout`, as
    /// engine.io-client's fetch transport sends it. Once the server answered 2xx,
    /// [`Driver::callback`] gets `tag` (a GET's with the response text); otherwise `tag` + 1,
    /// and the host keeps the details for the `TransportError` the manager reports next
    /// (`description` the HTTP status, 0 when the request failed; `context` the response or
    /// the failure). A GET's
    /// `AbortController` is returned, to abort it when its transport closes (a POST's is
    /// undefined: it always completes).
    #[wasm_bindgen(method)]
    pub(crate) fn request(this: &Host, url: &str, body: Option<&str>, tag: f64) -> AbortController;

    /// The user's `query` as it is now (`manager.opts.query`, which the application may change
    /// between connections), encoded, ending with `&` when not empty.
    #[wasm_bindgen(method)]
    pub(crate) fn query(this: &Host) -> String;

    /// The manager's `setTimeout`: with `useNativeTimers`, the browser's own as the module
    /// found it (fake timers installed later do not reach it); else the global one as the
    /// manager was created, as engine.io-client binds its timer functions. It calls
    /// [`Driver::callback`] with `tag` after `ms`.
    #[wasm_bindgen(method, js_name = setTimeout)]
    pub(crate) fn set_timeout(this: &Host, tag: f64, ms: f64) -> JsValue;

    /// The `clearTimeout` of the same origin as [`Host::set_timeout`].
    #[wasm_bindgen(method, js_name = clearTimeout)]
    pub(crate) fn clear_timeout(this: &Host, handle: &JsValue);

    /// Calls [`Driver::callback`] with `tag` in a microtask (`queueMicrotask`).
    #[wasm_bindgen(method)]
    pub(crate) fn microtask(this: &Host, tag: f64);
}

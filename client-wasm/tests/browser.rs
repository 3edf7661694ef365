//! The browser driver in headless Chromium (`make test-wasm`): real `WebSocket`s and
//! `fetch`es to 127.0.0.1, the real `setTimeout`, `Date.now()` and `Math.random()`.
//!
//! Each test drives a [`Driver`] through its public wasm-bindgen API the way `pkg/src/client.js`
//! does and records what the host object receives, with the time of arrival:
//!
//! - port 2 of 127.0.0.1 refuses connections (nothing listens there, and Chromium does not
//!   block it as an unsafe port), so every WebSocket/fetch to it fails for real;
//! - the connect-timeout test needs a peer that accepts TCP connections and never answers:
//!   `make test-wasm` starts one and passes its port as `WASMIO_SILENT_PORT` at build time.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use wasmio_client::{Driver, Host};

wasm_bindgen_test_configure!(run_in_browser);

/// Refuses connections (see the module docs).
const REFUSED: &str = "127.0.0.1:2";

// Event kinds of `Driver::new`.
const OPEN: u32 = 0;
const ERROR: u32 = 1;
const CLOSE: u32 = 3;
const RECONNECT_ATTEMPT: u32 = 5;
const RECONNECT_ERROR: u32 = 6;
const RECONNECT_FAILED: u32 = 7;
const CONNECT: u32 = 10;
const CONNECT_ERROR: u32 = 11;

// Option flags of `Driver::new`.
const OPT_UPGRADE: u32 = 1;
const OPT_RECONNECTION: u32 = 8;
const OPT_TIMESTAMP_POLLING: u32 = 32;

// Transport lists of `Driver::new` (bits under a leading 1: 0 polling, 1 websocket).
const WEBSOCKET: u32 = 0b11;
const POLLING_THEN_WEBSOCKET: u32 = 0b101;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;
}

/// One call of `host.event(kind, socket, a, b, bins, n)`, with `Date.now()` at arrival.
#[derive(Debug, Clone, PartialEq)]
struct Ev {
    at: f64,
    kind: u32,
    socket: u32,
    a: Option<String>,
    b: Option<String>,
    n: f64,
}

/// A host object whose `event` method records every call.
struct Recorder {
    events: Rc<RefCell<Vec<Ev>>>,
    _closure: Closure<dyn FnMut(u32, u32, JsValue, JsValue, JsValue, f64)>,
    host: JsValue,
}

impl Recorder {
    fn new() -> Recorder {
        let events = Rc::new(RefCell::new(Vec::new()));
        let log = events.clone();
        let closure = Closure::<dyn FnMut(u32, u32, JsValue, JsValue, JsValue, f64)>::new(
            move |kind, socket, a: JsValue, b: JsValue, _bins, n| {
                log.borrow_mut().push(Ev {
                    at: js_sys::Date::now(),
                    kind,
                    socket,
                    a: a.as_string(),
                    b: b.as_string(),
                    n,
                });
            },
        );
        let host = js_sys::Object::new();
        js_sys::Reflect::set(&host, &"event".into(), closure.as_ref()).unwrap();
        // No user query (`host.query()` is read at each handshake).
        let query = js_sys::Function::new_no_args("return ''");
        js_sys::Reflect::set(&host, &"query".into(), &query).unwrap();
        // WebSockets and polling requests as the shim makes them (pkg/src/client.js), without
        // the application's options, keeping a failure's details on the host (`details`); what
        // the driver asked for comes back to `Driver::callback` through `host.cb` (set by
        // `driver`), every WebSocket message too, as binary frames are (the shim sends text
        // frames to `Driver::head_text` or `Driver::text`; no message reaches these tests'
        // WebSockets, refused or silent).
        let web_socket = js_sys::Function::new_with_args(
            "url, id, tag",
            "const ws = new WebSocket(url); ws.binaryType = 'arraybuffer'; \
             ws.onopen = (e) => this.cb(tag, e); ws.onmessage = (e) => this.cb(tag + 1, e.data); \
             ws.onerror = (e) => { this.details = { description: e }; this.cb(tag + 2, e); }; \
             ws.onclose = (e) => this.cb(tag + 3, e); return ws;",
        );
        js_sys::Reflect::set(&host, &"webSocket".into(), &web_socket).unwrap();
        let close = js_sys::Function::new_with_args(
            "ws",
            "ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null; ws.close();",
        );
        js_sys::Reflect::set(&host, &"closeWebSocket".into(), &close).unwrap();
        let request = js_sys::Function::new_with_args(
            "url, body, tag",
            "const controller = body == null ? new AbortController() : undefined; \
             fetch(url, { method: body == null ? 'GET' : 'POST', body, signal: controller?.signal }) \
             .then((res) => (res.ok ? body == null && res.text() : Promise.reject(res))) \
             .then((text) => this.cb(tag, text), (e) => { this.details = e instanceof Response \
               ? { description: e.status, context: e } : { description: 0, context: e }; this.cb(tag + 1, e); }); \
             return controller;",
        );
        js_sys::Reflect::set(&host, &"request".into(), &request).unwrap();
        // The manager's timers: the browser's.
        let set = js_sys::Function::new_with_args("tag, ms", "return setTimeout(() => this.cb(tag), ms);");
        js_sys::Reflect::set(&host, &"setTimeout".into(), &set).unwrap();
        let clear = js_sys::Function::new_with_args("handle", "clearTimeout(handle);");
        js_sys::Reflect::set(&host, &"clearTimeout".into(), &clear).unwrap();
        let microtask = js_sys::Function::new_with_args("tag", "queueMicrotask(() => this.cb(tag));");
        js_sys::Reflect::set(&host, &"microtask".into(), &microtask).unwrap();
        Recorder { events, _closure: closure, host: host.into() }
    }

    /// The `description` the host kept with the last transport error.
    fn error_description(&self) -> JsValue {
        let details = js_sys::Reflect::get(&self.host, &"details".into()).unwrap();
        js_sys::Reflect::get(&details, &"description".into()).unwrap()
    }

    fn host(&self) -> Host {
        self.host.clone().unchecked_into()
    }

    fn events(&self) -> Vec<Ev> {
        self.events.borrow().clone()
    }

    fn of(&self, kind: u32) -> Vec<Ev> {
        self.events().into_iter().filter(|e| e.kind == kind).collect()
    }

    /// Waits (yielding to the browser) until an event of `kind` arrived, at most `ms`.
    async fn until(&self, kind: u32, ms: f64) -> Ev {
        let start = js_sys::Date::now();
        loop {
            if let Some(e) = self.of(kind).into_iter().next() {
                return e;
            }
            assert!(js_sys::Date::now() - start < ms, "no event {kind} within {ms} ms; got {:?}", self.events());
            sleep(10).await;
        }
    }
}

/// Resolves after `ms` through the browser's `setTimeout`.
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    JsFuture::from(promise).await.unwrap();
}

/// A driver for `http://{addr}/socket.io/` as `pkg/src/client.js` builds it, called back
/// through `host.cb` (what the shim's `call` does).
fn driver(
    host: Host,
    addr: &str,
    transports: u32,
    options: u32,
    attempts: f64,
    delay: f64,
    max: f64,
    jitter: f64,
    timeout: f64,
) -> Rc<Driver> {
    // (the extern type dereferences to its `JsValue`, which stays with the test to set `cb` on)
    let host_object: JsValue = host.clone();
    let driver = Rc::new(Driver::new(
        host,
        format!("http://{addr}/socket.io/"),
        format!("ws://{addr}/socket.io/"),
        transports,
        options,
        attempts,
        delay,
        max,
        jitter,
        timeout,
        "t".into(),
    ));
    let weak = Rc::downgrade(&driver);
    let callback = Closure::<dyn FnMut(f64, JsValue)>::new(move |tag, value| {
        if let Some(driver) = weak.upgrade() {
            driver.callback(tag, &value);
        }
    });
    js_sys::Reflect::set(&host_object, &"cb".into(), &callback.into_js_value()).unwrap();
    driver
}

/// A refused WebSocket: the manager's `error("websocket error")` and the namespace's
/// `connect_error` with the same message, long before the 20 s connect timeout; without
/// reconnection nothing more happens and the manager is closed.
#[wasm_bindgen_test]
async fn refused_websocket_reports_error_and_connect_error() {
    let rec = Recorder::new();
    let d = driver(rec.host(), REFUSED, WEBSOCKET, OPT_UPGRADE, f64::INFINITY, 1000.0, 5000.0, 0.5, 20000.0);
    let nsp = d.socket("/", -1.0, -1.0);
    let start = js_sys::Date::now();
    d.control(6, nsp.into());
    assert_eq!(d.state(0) & 3, 1, "opening right after connect()");
    let error = rec.until(ERROR, 5000.0).await;
    assert_eq!(error.a.as_deref(), Some("websocket error"));
    assert!(error.at - start < 5000.0, "error after {} ms", error.at - start);
    // The WebSocket's error event, as engine.io-client's TransportError `description`.
    assert!(rec.error_description().is_instance_of::<web_sys::Event>(), "{:?}", rec.error_description());
    let connect_error = rec.of(CONNECT_ERROR);
    assert_eq!(connect_error.len(), 1, "{:?}", rec.events());
    assert_eq!((connect_error[0].socket, connect_error[0].a.as_deref()), (nsp, Some("websocket error")));
    sleep(1500).await;
    let kinds: Vec<u32> = rec.events().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [CONNECT_ERROR, ERROR], "{:?}", rec.events());
    assert_eq!(d.state(0) & 7, 0, "closed, not reconnecting");
    assert_eq!(d.state(nsp) & 8, 0, "not connected");
    assert!(d.name(2, nsp).is_undefined());
}

/// A refused long-polling handshake (`fetch` rejects): `error("xhr poll error")`.
#[wasm_bindgen_test]
async fn refused_polling_reports_xhr_poll_error() {
    let rec = Recorder::new();
    let d = driver(
        rec.host(),
        REFUSED,
        POLLING_THEN_WEBSOCKET,
        OPT_UPGRADE | OPT_TIMESTAMP_POLLING,
        0.0,
        1000.0,
        5000.0,
        0.5,
        20000.0,
    );
    d.control(0, 0.0);
    let error = rec.until(ERROR, 5000.0).await;
    assert_eq!(error.a.as_deref(), Some("xhr poll error"));
    // No HTTP status: the request failed.
    assert_eq!(rec.error_description().as_f64(), Some(0.0));
    sleep(300).await;
    assert!(rec.of(OPEN).is_empty() && rec.of(RECONNECT_ATTEMPT).is_empty(), "{:?}", rec.events());
    assert_eq!(d.state(0) & 7, 0);
}

/// Reconnection without jitter: attempts 1..=4 start `delay * 2^k` ms (capped at the
/// maximum) after the previous failure, each failure is a `reconnect_error`, the last one
/// also `reconnect_failed`, and nothing more.
#[wasm_bindgen_test]
async fn reconnection_attempts_follow_the_configured_delays() {
    let rec = Recorder::new();
    let d = driver(rec.host(), REFUSED, WEBSOCKET, OPT_UPGRADE | OPT_RECONNECTION, 4.0, 150.0, 400.0, 0.0, 20000.0);
    let start = js_sys::Date::now();
    d.control(0, 0.0);
    rec.until(RECONNECT_FAILED, 8000.0).await;
    sleep(50).await;
    let total = js_sys::Date::now() - start;
    let events = rec.events();
    let kinds: Vec<u32> = events.iter().map(|e| e.kind).collect();
    #[rustfmt::skip]
    let expected = [
        ERROR,
        RECONNECT_ATTEMPT, ERROR, RECONNECT_ERROR,
        RECONNECT_ATTEMPT, ERROR, RECONNECT_ERROR,
        RECONNECT_ATTEMPT, ERROR, RECONNECT_ERROR,
        // As in socket.io-client: the last failure schedules nothing and reports
        // `reconnect_failed` before that attempt's `reconnect_error`.
        RECONNECT_ATTEMPT, ERROR, RECONNECT_FAILED, RECONNECT_ERROR,
    ];
    assert_eq!(kinds, expected, "{events:?}");
    let attempts: Vec<f64> = rec.of(RECONNECT_ATTEMPT).iter().map(|e| e.n).collect();
    assert_eq!(attempts, [1.0, 2.0, 3.0, 4.0]);
    for e in rec.of(RECONNECT_ERROR) {
        assert_eq!(e.a.as_deref(), Some("websocket error"));
    }
    // The gap between each failure and the next attempt is the backoff delay.
    let failures = rec.of(ERROR);
    let attempts = rec.of(RECONNECT_ATTEMPT);
    for (i, (failure, attempt)) in failures.iter().zip(&attempts).enumerate() {
        let expected = [150.0, 300.0, 400.0, 400.0][i];
        let gap = attempt.at - failure.at;
        assert!(
            gap >= expected - 5.0 && gap < expected + 250.0,
            "attempt {}: {gap} ms after the failure, expected {expected}",
            i + 1
        );
    }
    assert!(total >= 1250.0, "four delays took {total} ms");
    sleep(900).await;
    assert_eq!(rec.events().len(), expected.len(), "nothing after reconnect_failed: {:?}", rec.events());
    assert_eq!(d.state(0) & 7, 0);
}

/// With `randomizationFactor` 0.5 each delay stays within ±50% of the backoff, and the
/// setters change the delays of a live manager.
#[wasm_bindgen_test]
async fn reconnection_jitter_and_setters() {
    let rec = Recorder::new();
    let d = driver(rec.host(), REFUSED, WEBSOCKET, OPT_UPGRADE | OPT_RECONNECTION, 1.0, 5000.0, 5000.0, 0.0, 20000.0);
    d.control(10, 3.0);
    d.control(11, 200.0);
    d.control(12, 10000.0);
    d.control(13, 0.5);
    d.control(0, 0.0);
    rec.until(RECONNECT_FAILED, 8000.0).await;
    let failures = rec.of(ERROR);
    let attempts = rec.of(RECONNECT_ATTEMPT);
    assert_eq!(attempts.len(), 3, "{:?}", rec.events());
    for (i, (failure, attempt)) in failures.iter().zip(&attempts).enumerate() {
        let base = 200.0 * f64::from(1 << i);
        let gap = attempt.at - failure.at;
        assert!(gap >= base * 0.5 - 5.0 && gap < base * 1.5 + 250.0, "attempt {}: {gap} ms, backoff {base}", i + 1);
    }
}

/// `close()` during the reconnection delay: `close("forced close")`, no further attempt.
#[wasm_bindgen_test]
async fn close_cancels_the_pending_reconnection() {
    let rec = Recorder::new();
    let d = driver(
        rec.host(),
        REFUSED,
        WEBSOCKET,
        OPT_UPGRADE | OPT_RECONNECTION,
        f64::INFINITY,
        600.0,
        600.0,
        0.0,
        20000.0,
    );
    d.control(0, 0.0);
    rec.until(ERROR, 5000.0).await;
    assert_eq!(d.state(0) & 4, 4, "reconnecting after the failure");
    d.control(1, 0.0);
    sleep(1200).await;
    assert!(rec.of(RECONNECT_ATTEMPT).is_empty(), "{:?}", rec.events());
    let closes = rec.of(CLOSE);
    assert!(closes.iter().all(|c| c.a.as_deref() == Some("forced close")), "{:?}", rec.events());
    assert_eq!(d.state(0) & 7, 0);
}

/// The connect timeout fires through `setTimeout` when the peer accepts the TCP connection
/// and never answers: `connect_error("timeout")` and `error("timeout")` at `timeout` ms,
/// then the reconnection attempt after its delay.
#[wasm_bindgen_test]
async fn connect_timeout_fires_against_a_silent_peer() {
    let port = option_env!("WASMIO_SILENT_PORT")
        .expect("build with WASMIO_SILENT_PORT set to a port that accepts and never answers (make test-wasm does)");
    let rec = Recorder::new();
    let d = driver(
        rec.host(),
        &format!("127.0.0.1:{port}"),
        WEBSOCKET,
        OPT_UPGRADE | OPT_RECONNECTION,
        1.0,
        300.0,
        300.0,
        0.0,
        700.0,
    );
    let nsp = d.socket("/", -1.0, -1.0);
    let start = js_sys::Date::now();
    d.control(6, nsp.into());
    let error = rec.until(ERROR, 5000.0).await;
    assert_eq!(error.a.as_deref(), Some("timeout"), "{:?}", rec.events());
    let elapsed = error.at - start;
    assert!((695.0..1200.0).contains(&elapsed), "timeout after {elapsed} ms, expected 700");
    let connect_error = rec.of(CONNECT_ERROR);
    assert_eq!(connect_error.first().and_then(|e| e.a.as_deref()), Some("timeout"), "{:?}", rec.events());
    let attempt = rec.until(RECONNECT_ATTEMPT, 3000.0).await;
    let gap = attempt.at - error.at;
    assert!((295.0..800.0).contains(&gap), "attempt {gap} ms after the timeout, expected 300");
    let failed = rec.until(RECONNECT_FAILED, 5000.0).await;
    let second = rec.of(ERROR);
    assert_eq!(second.len(), 2, "{:?}", rec.events());
    assert_eq!(second[1].a.as_deref(), Some("timeout"));
    let elapsed = second[1].at - attempt.at;
    assert!((695.0..1200.0).contains(&elapsed), "second timeout after {elapsed} ms");
    assert!(failed.at >= second[1].at);
    assert!(rec.of(OPEN).is_empty() && rec.of(CONNECT).is_empty());
    assert_eq!(d.state(0) & 7, 0);
}

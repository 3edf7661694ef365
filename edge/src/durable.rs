//! The Durable Object glue shared by the objects: each object's state lives behind an `Rc`,
//! so that WebSockets accepted without hibernation (strict heartbeats,
//! `HeartbeatMode::Strict`) can deliver their events to the same handlers as
//! hibernatable ones, from a task that outlives the event that accepted them.
//!
//! workerd releases the connection of a WebSocket the object closes only when the close
//! happens in that socket's own event, or when the socket is not hibernatable. A server
//! that must close dead peers on time from its alarm, as the protocol asks, therefore uses
//! standard WebSockets; the object then stays in memory while they are open.

use std::future::Future;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use futures_util::StreamExt;
use std::panic::AssertUnwindSafe;
use worker::wasm_bindgen_futures;

use wasm_bindgen::{JsCast, JsValue};
use worker::{Error, Response, Result, WebSocket, WebSocketIncomingMessage, WebsocketEvent};

use crate::engine_host::EngineHost;
use crate::open_standard_websockets::OpenStandardWebSocket;

/// The state and handlers of an object served by an `EngineHost`: the methods of
/// [`worker::DurableObject`], which `hosted_durable_object!` declares for it.
#[allow(async_fn_in_trait)] // single-threaded: no Send bound is wanted
pub trait Hosted: 'static {
    /// Called once the state is behind its `Rc` (an object may keep a weak reference to it).
    fn started(self: &Rc<Self>) {}
    /// The object's Engine.IO host.
    fn host(&self) -> &EngineHost;
    /// An HTTP request reached the object: the runtime's request and response types (a polling
    /// request is read and answered without workers-rs's conversions, see `EngineHost::fetch`).
    async fn fetch(&self, req: web_sys::Request) -> Result<web_sys::Response>;
    /// The object's alarm fired.
    async fn alarm(&self) -> Result<Response>;
    /// A message arrived on one of the object's WebSockets.
    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()>;
    /// The peer closed one of the object's WebSockets.
    async fn websocket_close(&self, ws: WebSocket, code: usize, reason: String, was_clean: bool) -> Result<()>;
    /// One of the object's WebSockets failed.
    async fn websocket_error(&self, ws: WebSocket, error: Error) -> Result<()>;
}

/// Declares the Durable Object class `$outer` whose state is the [`Hosted`] `$inner`, made by
/// `$new` (a function of the object's `worker::State` and `worker::Env`). The class's methods
/// are the ones workerd calls; each hands its arguments to the functions below, which convert
/// them (a WebSocket message is measured before it is copied into wasm memory).
#[macro_export]
macro_rules! hosted_durable_object {
    ($(#[$meta:meta])* $outer:ident => $inner:ty, $new:expr) => {
        $(#[$meta])*
        #[::worker::wasm_bindgen::prelude::wasm_bindgen(wasm_bindgen = ::worker::wasm_bindgen)]
        pub struct $outer {
            inner: ::std::rc::Rc<$inner>,
        }

        impl ::worker::has_durable_object_attribute for $outer {}

        #[::worker::wasm_bindgen::prelude::wasm_bindgen(
            wasm_bindgen = ::worker::wasm_bindgen,
            wasm_bindgen_futures = ::worker::wasm_bindgen_futures,
            js_sys = ::worker::js_sys
        )]
        impl $outer {
            /// A new instance of the object.
            #[wasm_bindgen(constructor)]
            pub fn new(state: ::worker::worker_sys::DurableObjectState, env: ::worker::Env) -> Self {
                let make: fn(::worker::State, ::worker::Env) -> $inner = $new;
                $outer { inner: $crate::durable::start(make(::worker::State::from(state), env)) }
            }

            /// An HTTP request reached the object.
            #[wasm_bindgen(js_name = fetch)]
            pub fn fetch(&self, req: ::worker::worker_sys::web_sys::Request) -> ::worker::wasm_bindgen::JsValue {
                let inner = self.inner.clone();
                $crate::durable::now_or_promise(async move { $crate::durable::fetch(&*inner, req).await })
            }

            /// The object's alarm fired.
            #[wasm_bindgen(js_name = alarm)]
            pub fn alarm(&self) -> ::worker::wasm_bindgen::JsValue {
                let inner = self.inner.clone();
                $crate::durable::now_or_promise(async move { $crate::durable::alarm(&*inner).await })
            }

            /// A message arrived on a hibernatable WebSocket.
            #[wasm_bindgen(js_name = webSocketMessage)]
            pub fn websocket_message(
                &self,
                ws: ::worker::worker_sys::web_sys::WebSocket,
                message: ::worker::wasm_bindgen::JsValue,
            ) -> ::worker::wasm_bindgen::JsValue {
                let inner = self.inner.clone();
                $crate::durable::now_or_promise(async move {
                    $crate::durable::websocket_message(&*inner, ws, message).await
                })
            }

            /// The peer closed a hibernatable WebSocket.
            #[wasm_bindgen(js_name = webSocketClose)]
            pub fn websocket_close(
                &self,
                ws: ::worker::worker_sys::web_sys::WebSocket,
                code: usize,
                reason: String,
                was_clean: bool,
            ) -> ::worker::wasm_bindgen::JsValue {
                let inner = self.inner.clone();
                $crate::durable::now_or_promise(async move {
                    $crate::durable::websocket_close(&*inner, ws, code, reason, was_clean).await
                })
            }

            /// A hibernatable WebSocket failed.
            #[wasm_bindgen(js_name = webSocketError)]
            pub fn websocket_error(
                &self,
                ws: ::worker::worker_sys::web_sys::WebSocket,
                error: ::worker::wasm_bindgen::JsValue,
            ) -> ::worker::wasm_bindgen::JsValue {
                let inner = self.inner.clone();
                $crate::durable::now_or_promise(async move {
                    $crate::durable::websocket_error(&*inner, ws, error).await
                })
            }
        }
    };
}

/// What a handler of an object ends with: its value, or the error workerd is to see.
pub type Export = std::result::Result<JsValue, JsValue>;

/// Runs a handler to its end at once when it waits for nothing (a message that needs no
/// storage read or write, no alarm, no other object: the usual case), returning its value as
/// workerd allows a handler to; otherwise the handler goes on as a promise, which workerd
/// awaits. An `async` export would pay a promise, a microtask and two closure calls for every
/// event (measured in docs/ARCHITECTURE.md). An error is returned as a rejected promise, which
/// workerd takes as it takes a throw: the export returns one JavaScript value, where a
/// `Result` would return three, which wasm-bindgen's glue reads from an array made per call.
pub fn now_or_promise(handler: impl Future<Output = Export> + 'static) -> JsValue {
    let mut handler = Box::pin(handler);
    match handler.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(value)) => value,
        Poll::Ready(Err(error)) => js_sys::Promise::reject(&error).into(),
        // Polled again by the executor at once, with its waker: whatever the handler waits
        // for wakes that one (a future uses the waker of its latest poll).
        Poll::Pending => wasm_bindgen_futures::future_to_promise(handler).into(),
    }
}

/// `fetch`: the object's answer to a request.
pub async fn fetch<T: Hosted>(object: &T, req: web_sys::Request) -> Export {
    Ok(AssertUnwindSafe(object.fetch(req)).await?.into())
}

/// `alarm`.
pub async fn alarm<T: Hosted>(object: &T) -> Export {
    let response = AssertUnwindSafe(object.alarm()).await?;
    Ok(web_sys::Response::from(response).into())
}

/// `webSocketMessage`: a message longer than `MAX_PAYLOAD` is refused as the reference's `ws`
/// does (close 1009), before it is copied into wasm memory (workerd hands over up to 32 MiB).
pub async fn websocket_message<T: Hosted>(object: &T, ws: web_sys::WebSocket, message: JsValue) -> Export {
    let ws = WebSocket::from(ws);
    if too_big(&message, object.host().config().engine.max_payload) {
        AssertUnwindSafe(refuse_too_big(object, ws)).await?;
        return Ok(JsValue::NULL);
    }
    let message = match message.as_string() {
        Some(text) => WebSocketIncomingMessage::String(text),
        None => WebSocketIncomingMessage::Binary(js_sys::Uint8Array::new(&message).to_vec()),
    };
    AssertUnwindSafe(object.websocket_message(ws, message)).await?;
    Ok(JsValue::NULL)
}

/// `webSocketClose`.
pub async fn websocket_close<T: Hosted>(
    object: &T,
    ws: web_sys::WebSocket,
    code: usize,
    reason: String,
    was_clean: bool,
) -> Export {
    AssertUnwindSafe(object.websocket_close(ws.into(), code, reason, was_clean)).await?;
    Ok(JsValue::NULL)
}

/// `webSocketError`.
pub async fn websocket_error<T: Hosted>(object: &T, ws: web_sys::WebSocket, error: JsValue) -> Export {
    AssertUnwindSafe(object.websocket_error(ws.into(), error.into())).await?;
    Ok(JsValue::NULL)
}

/// Closes a WebSocket whose message was too big (1009, as the reference's `ws`); the object
/// learns that it failed.
async fn refuse_too_big<T: Hosted>(object: &T, ws: WebSocket) -> Result<()> {
    crate::websocket_sessions::close_for_good(&ws, 1009, "message too big");
    object.websocket_error(ws, Error::RustError("message too big".into())).await
}

/// Puts an object's state behind an `Rc` and lets its host deliver the events of standard
/// WebSockets to it.
pub fn start<T: Hosted>(object: T) -> Rc<T> {
    let object = Rc::new(object);
    object.started();
    let weak = Rc::downgrade(&object);
    object.host().deliver_standard_websocket_events(move |ws| deliver_events(weak.clone(), ws));
    object
}

/// Feeds the events of a standard WebSocket to the object's handlers, one after another,
/// until it closes (or the object is gone); a panic meanwhile closes it.
fn deliver_events<T: Hosted>(object: Weak<T>, ws: WebSocket) {
    worker::wasm_bindgen_futures::spawn_local(async move {
        // Closed by a panic, as long as it is open (see `open_standard_websockets`).
        let _open = OpenStandardWebSocket::new(&ws);
        let mut events = match ws.events() {
            Ok(events) => events,
            Err(error) => return worker::console_error!("a WebSocket's events cannot be read: {error}"),
        };
        while let Some(event) = events.next().await {
            let Some(object) = object.upgrade() else { return };
            let handled = match event {
                Ok(WebsocketEvent::Message(message))
                    if too_big(&AsRef::<web_sys::MessageEvent>::as_ref(&message).data(), max_payload(&*object)) =>
                {
                    refuse_too_big(&*object, ws.clone()).await
                }
                Ok(WebsocketEvent::Message(message)) => {
                    let message = match message.text() {
                        Some(text) => WebSocketIncomingMessage::String(text),
                        None => WebSocketIncomingMessage::Binary(message.bytes().unwrap_or_default()),
                    };
                    object.websocket_message(ws.clone(), message).await
                }
                Ok(WebsocketEvent::Close(close)) => {
                    let code = close.code() as usize;
                    object.websocket_close(ws.clone(), code, close.reason(), close.was_clean()).await
                }
                Err(error) => object.websocket_error(ws.clone(), error).await,
            };
            if let Err(error) = handled {
                worker::console_error!("a WebSocket event failed: {error}");
            }
        }
    });
}

fn max_payload<T: Hosted>(object: &T) -> u64 {
    object.host().config().engine.max_payload
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// A WebSocket message's data: a string or an `ArrayBuffer`.
    type MessageData;

    /// A string's length (in UTF-16 units); none for an `ArrayBuffer`. One call out of wasm
    /// tells a text message and its length.
    #[wasm_bindgen(method, getter)]
    fn length(this: &MessageData) -> Option<u32>;
}

/// Whether a message is longer than `max_payload` bytes, told from its JS value (a string's
/// UTF-8 length is at least its length in UTF-16 units).
fn too_big(data: &JsValue, max_payload: u64) -> bool {
    let size = match data.unchecked_ref::<MessageData>().length() {
        Some(length) => length,
        None => data.dyn_ref::<js_sys::ArrayBuffer>().map_or(0, js_sys::ArrayBuffer::byte_length),
    };
    u64::from(size) > max_payload
}

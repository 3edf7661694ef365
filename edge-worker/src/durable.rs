//! The Durable Object glue shared by the objects: each object's state lives behind an `Rc`,
//! so that WebSockets accepted without hibernation (strict heartbeats,
//! [`crate::config::HeartbeatMode::Strict`]) can deliver their events to the same handlers as
//! hibernatable ones, from a task that outlives the event that accepted them.
//!
//! workerd releases the connection of a WebSocket the object closes only when the close
//! happens in that socket's own event, or when the socket is not hibernatable. A server
//! that must close dead peers on time from its alarm, as the protocol asks, therefore uses
//! standard WebSockets; the object then stays in memory while they are open.

use std::rc::{Rc, Weak};

use futures_util::StreamExt;
use wasm_bindgen::JsCast;
use worker::{Env, Error, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage, WebsocketEvent};

use crate::engine_host::EngineHost;

/// The state and handlers of an object served by an [`EngineHost`]: the methods of
/// [`worker::DurableObject`], which [`hosted_durable_object`] declares for it.
#[allow(async_fn_in_trait)] // single-threaded: no Send bound is wanted
pub trait Hosted: 'static {
    /// The object's state when workerd creates an instance.
    fn new(state: State, env: Env) -> Self;
    /// The object's Engine.IO host.
    fn host(&self) -> &EngineHost;
    /// An HTTP request reached the object.
    async fn fetch(&self, req: Request) -> Result<Response>;
    /// The object's alarm fired.
    async fn alarm(&self) -> Result<Response>;
    /// A message arrived on one of the object's WebSockets.
    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()>;
    /// The peer closed one of the object's WebSockets.
    async fn websocket_close(&self, ws: WebSocket, code: usize, reason: String, was_clean: bool) -> Result<()>;
    /// One of the object's WebSockets failed.
    async fn websocket_error(&self, ws: WebSocket, error: Error) -> Result<()>;
}

/// Declares the Durable Object class `$outer` whose state is the [`Hosted`] `$inner`.
macro_rules! hosted_durable_object {
    ($(#[$meta:meta])* $outer:ident => $inner:ty) => {
        $(#[$meta])*
        #[worker::durable_object]
        pub struct $outer {
            inner: std::rc::Rc<$inner>,
        }

        impl worker::DurableObject for $outer {
            // The handlers are `Hosted`'s, called on the shared state.
            fn new(state: worker::State, env: worker::Env) -> Self {
                $outer { inner: $crate::durable::start(<$inner as $crate::durable::Hosted>::new(state, env)) }
            }

            async fn fetch(&self, req: worker::Request) -> worker::Result<worker::Response> {
                self.inner.fetch(req).await
            }

            async fn alarm(&self) -> worker::Result<worker::Response> {
                self.inner.alarm().await
            }

            async fn websocket_message(
                &self,
                ws: worker::WebSocket,
                message: worker::WebSocketIncomingMessage,
            ) -> worker::Result<()> {
                self.inner.websocket_message(ws, message).await
            }

            async fn websocket_close(
                &self,
                ws: worker::WebSocket,
                code: usize,
                reason: String,
                was_clean: bool,
            ) -> worker::Result<()> {
                self.inner.websocket_close(ws, code, reason, was_clean).await
            }

            async fn websocket_error(&self, ws: worker::WebSocket, error: worker::Error) -> worker::Result<()> {
                self.inner.websocket_error(ws, error).await
            }
        }
    };
}
pub(crate) use hosted_durable_object;

/// Puts an object's state behind an `Rc` and lets its host deliver the events of standard
/// WebSockets to it.
pub fn start<T: Hosted>(object: T) -> Rc<T> {
    let object = Rc::new(object);
    let weak = Rc::downgrade(&object);
    object.host().deliver_standard_websocket_events(move |ws| deliver_events(weak.clone(), ws));
    object
}

/// Feeds the events of a standard WebSocket to the object's handlers, one after another,
/// until it closes (or the object is gone).
fn deliver_events<T: Hosted>(object: Weak<T>, ws: WebSocket) {
    worker::wasm_bindgen_futures::spawn_local(async move {
        let mut events = match ws.events() {
            Ok(events) => events,
            Err(error) => return worker::console_error!("a WebSocket's events cannot be read: {error}"),
        };
        while let Some(event) = events.next().await {
            let Some(object) = object.upgrade() else { return };
            let handled = match event {
                Ok(WebsocketEvent::Message(message))
                    if too_big(&message, object.host().config().engine.max_payload) =>
                {
                    // As the reference's `ws`, before the message is copied into wasm memory.
                    if let Err(error) = ws.close(Some(1009), Some("message too big")) {
                        worker::console_error!("a WebSocket with a message too big could not be closed: {error}");
                    }
                    object.websocket_error(ws.clone(), Error::RustError("message too big".into())).await
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

/// Whether a message is longer than `max_payload` bytes, told from its JS value (a string's
/// UTF-8 length is at least its length in UTF-16 units).
fn too_big(message: &worker::MessageEvent, max_payload: u64) -> bool {
    let data = AsRef::<web_sys::MessageEvent>::as_ref(message).data();
    let size = match data.dyn_ref::<js_sys::JsString>() {
        Some(text) => text.length(),
        None => data.dyn_ref::<js_sys::ArrayBuffer>().map_or(0, js_sys::ArrayBuffer::byte_length),
    };
    u64::from(size) > max_payload
}

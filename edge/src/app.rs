//! The Rust server API: what an application declares, namespace by namespace.
//!
//! Handlers are declared up front, not registered inside a connection callback, because a
//! Durable Object forgets everything between events when it hibernates: the [`App`] is built
//! again by the object's constructor, so every handler exists again after a wake-up.
//!
//! ```
//! use wasmio_edge::app::{App, ConnectError};
//!
//! #[derive(serde::Deserialize)]
//! struct Token {
//!     token: String,
//! }
//!
//! let app = App::new().namespace("/", |ns| {
//!     ns.use_connect(|handshake| match handshake.auth::<Token>() {
//!         Ok(auth) if auth.token == "secret" => Ok(()),
//!         _ => Err(ConnectError::new("not authorized").with_data(serde_json::json!({"retry": false}))),
//!     })
//!     .on("chat message", |socket, text: String| {
//!         let id = socket.id().to_owned();
//!         Ok(socket.io().emit("chat message", &serde_json::json!({ "id": id, "text": text }))?)
//!     })
//!     // A tuple takes every argument: `socket.emit("move", 3, 4)`.
//!     .on("move", |socket, (x, y): (i32, i32)| Ok(socket.ack(&(x + y))?))
//! });
//! # drop(app);
//! ```

use std::rc::Rc;

use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasmio_protocol::server::LostSockets;
pub use wasmio_protocol::server::{AckError, ApiError};

pub use crate::args::{Args, Bytes};
use crate::context::{ConnectContext, ConnectFuture, Context, HandlerFuture};
pub use crate::local_io::LocalIo;
pub use crate::relays::Relay;

mod socket;
pub use socket::{Operator, Socket};

/// Everything a deployment serves: namespaces and their handlers, and server options.
#[derive(Default)]
pub struct App {
    namespaces: Vec<Namespace>,
    /// `connectionStateRecovery.maxDisconnectionDuration`, when recovery is on.
    pub(crate) recovery_ms: Option<u64>,
    /// `connectTimeout`, when not the default.
    pub(crate) connect_timeout_ms: Option<u64>,
}

enum Matcher {
    Name(String),
    Dynamic(Rc<dyn Fn(&str) -> bool>),
}

type ConnectMiddleware = Rc<dyn Fn(&mut Handshake) -> Result<(), ConnectError>>;
type ConnectionHandler = Rc<dyn Fn(&mut Socket) -> HandlerResult>;
type EventHandler = Rc<dyn Fn(&mut Socket, Args) -> HandlerResult>;
type EventMiddleware = Rc<dyn Fn(&mut Socket, &str, &Args) -> Result<(), EventError>>;
type DisconnectHandler = Rc<dyn Fn(&mut Socket, &str) -> HandlerResult>;
type DisconnectingHandler = Rc<dyn Fn(&mut Socket, &Leaving) -> HandlerResult>;
type AckHandler = Rc<dyn Fn(&mut Socket, Result<Args, AckError>) -> HandlerResult>;
type AsyncEventHandler = Rc<dyn Fn(Context, Args) -> HandlerFuture>;
pub(crate) type AsyncDisconnectHandler = Rc<dyn Fn(Context, String) -> HandlerFuture>;
pub(crate) type AsyncConnectMiddleware = Rc<dyn Fn(ConnectContext) -> ConnectFuture>;
pub(crate) type ServerSideHandler = Rc<dyn Fn(&mut LocalIo, Args) -> Result<serde_json::Value, HandlerError>>;

/// How an event is handled.
#[derive(Clone)]
pub(crate) enum EventHandling {
    /// At once, with the socket.
    Now(EventHandler),
    /// By a future the object awaits before the event ends.
    Awaited(AsyncEventHandler),
}

/// What a handler returns. An error is logged and, for an event whose client awaits an
/// acknowledgement, answers it with `{"error": message}`; the object goes on.
pub type HandlerResult = Result<(), HandlerError>;

/// Why a handler failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HandlerError {
    /// The handler refused the event (or its arguments did not deserialize).
    #[error("{}", .0.message)]
    Event(EventError),
    /// A server operation failed: the socket is gone, a reserved event name, state too large.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The object went away while an async handler awaited.
    #[error("the object went away during the handler")]
    ObjectGone,
    /// A binding of the Worker failed (KV, D1, storage, ...).
    #[error("{0}")]
    Binding(String),
    /// An operation over the deployment's objects failed ([`crate::EmitError`]).
    #[error("{0}")]
    Cluster(String),
}

impl From<crate::EmitError> for HandlerError {
    fn from(error: crate::EmitError) -> Self {
        HandlerError::Cluster(error.to_string())
    }
}

impl From<worker::Error> for HandlerError {
    fn from(error: worker::Error) -> Self {
        HandlerError::Binding(error.to_string())
    }
}

impl From<worker::KvError> for HandlerError {
    fn from(error: worker::KvError) -> Self {
        HandlerError::Binding(error.to_string())
    }
}

impl From<EventError> for HandlerError {
    fn from(error: EventError) -> Self {
        HandlerError::Event(error)
    }
}

/// The event names socket.io reserves besides `disconnect` (which [`Namespace::on`] takes as
/// socket.io's disconnect listener): a client never sends them.
const RESERVED_EVENTS: [&str; 6] =
    ["connect", "connect_error", "connection", "disconnecting", "newListener", "removeListener"];

/// One namespace (or family of dynamic namespaces) and its handlers.
pub struct Namespace {
    matcher: Matcher,
    connect: Vec<ConnectMiddleware>,
    connect_async: Vec<AsyncConnectMiddleware>,
    connection: Vec<ConnectionHandler>,
    /// By event name (FxHash: the names are the application's own; a client's only looks up).
    events: FxHashMap<String, EventHandling>,
    event_middlewares: Vec<EventMiddleware>,
    disconnecting: Vec<DisconnectingHandler>,
    disconnect: Vec<DisconnectHandler>,
    disconnect_async: Vec<AsyncDisconnectHandler>,
    acks: FxHashMap<String, AckHandler>,
    server_side: FxHashMap<String, ServerSideHandler>,
    rate_limit: Option<RateLimit>,
}

/// Refuses a connection: the client's `connect_error` gets `message` and `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// `err.message` on the client.
    pub message: String,
    /// `err.data` on the client.
    pub data: Option<serde_json::Value>,
}

impl ConnectError {
    /// An error with this message and no data.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError { message: message.into(), data: None }
    }

    /// Adds `err.data`.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// Refuses one event (per-event middleware, type mismatch): the event is dropped and, if
/// the client awaits an acknowledgement, it is answered `{"error": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// What went wrong.
    pub message: String,
}

impl EventError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        EventError { message: message.into() }
    }
}

/// A token bucket on a namespace's incoming events: `burst` events at once, refilled at
/// `per_second`, one bucket per [`RateKey`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Bucket size.
    pub burst: f64,
    /// Tokens added per second.
    pub per_second: f64,
    /// Disconnect a socket that goes over the limit (otherwise its extra events are dropped
    /// and counted, and an ack they await is answered `{"error": "rate limit exceeded"}`).
    pub disconnect: bool,
    /// Whose events share a bucket.
    pub key: RateKey,
}

/// Whose events share a rate-limit bucket. A bucket that stays short for longer than an idle
/// object lives is kept in storage: hibernation or a restart does not refill it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKey {
    /// Each socket has its own (a reconnection, with a new socket id, starts a new one).
    Socket,
    /// Every socket from one client address (`CF-Connecting-IP`) on this object: reconnecting
    /// or opening more sockets does not refill it.
    Address,
    /// Every socket whose `socket.data` has this member with the same value (a user id set by
    /// a connect middleware); a socket without it has its own.
    DataMember(&'static str),
}

/// The connection being decided, as connection middlewares see it.
pub struct Handshake<'a> {
    /// The namespace asked for.
    pub nsp: &'a str,
    /// `handshake.auth`, JSON object text.
    pub auth: &'a str,
    /// `handshake.query`, JSON object text.
    pub query: &'a str,
    /// `handshake.headers`, JSON object text: the request's headers but the WebSocket
    /// upgrade's and the credentials, within 4 KiB (they travel with the session's snapshot);
    /// the `Cookie` and `Authorization` headers are given to connect middlewares apart.
    pub headers: &'a str,
    /// `handshake.address`.
    pub address: &'a str,
    /// The handshake's `Cookie` header, kept while the session lives (through evictions, in
    /// storage), for the CONNECTs that come later; absent when longer than 4 KB.
    pub cookie: Option<&'a str>,
    /// The handshake's `Authorization` header, kept as `cookie` is.
    pub authorization: Option<&'a str>,
    pub(crate) data: Option<String>,
}

impl Handshake<'_> {
    /// `handshake.auth` as a typed value.
    pub fn auth<T: DeserializeOwned>(&self) -> Result<T, ConnectError> {
        crate::js_json::parse(self.auth).map_err(|e| ConnectError::new(format!("invalid auth: {e}")))
    }

    /// Sets `socket.data` for the socket being connected.
    pub fn set_data<T: Serialize>(&mut self, data: &T) -> Result<(), ConnectError> {
        let json = serde_json::to_string(data).map_err(|e| ConnectError::new(e.to_string()))?;
        self.data = Some(json);
        Ok(())
    }
}

/// What a `disconnecting` handler sees of the socket that is leaving.
pub struct Leaving<'l> {
    /// Why it leaves (`transport close`, `client namespace disconnect`, ...).
    pub reason: &'l str,
    /// The rooms it was in, its own id included.
    pub rooms: &'l [String],
    /// Its `socket.data`, JSON text.
    pub data: &'l str,
}

impl Leaving<'_> {
    /// `socket.data` as a typed value.
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self.data).ok()
    }
}

impl App {
    /// An application with no namespace yet.
    pub fn new() -> Self {
        App::default()
    }

    /// Declares the namespace `name` (`io.of(name)`).
    pub fn namespace(mut self, name: impl Into<String>, build: impl FnOnce(Namespace) -> Namespace) -> Self {
        self.namespaces.push(build(Namespace::new(Matcher::Name(name.into()))));
        self
    }

    /// Declares dynamic namespaces: every name `matches` accepts (`io.of(regex or fn)`).
    pub fn dynamic_namespace(
        mut self,
        matches: impl Fn(&str) -> bool + 'static,
        build: impl FnOnce(Namespace) -> Namespace,
    ) -> Self {
        self.namespaces.push(build(Namespace::new(Matcher::Dynamic(Rc::new(matches)))));
        self
    }

    /// Turns on connection state recovery for disconnections shorter than `max_ms`.
    pub fn connection_state_recovery(mut self, max_ms: u64) -> Self {
        self.recovery_ms = Some(max_ms);
        self
    }

    /// Sets `connectTimeout`.
    pub fn connect_timeout(mut self, ms: u64) -> Self {
        self.connect_timeout_ms = Some(ms);
        self
    }

    /// The static namespace names.
    pub(crate) fn static_names(&self) -> Vec<String> {
        self.namespaces
            .iter()
            .filter_map(|ns| match &ns.matcher {
                Matcher::Name(name) => Some(name.clone()),
                Matcher::Dynamic(_) => None,
            })
            .collect()
    }

    /// Whether dynamic namespaces are declared.
    pub(crate) fn has_dynamic(&self) -> bool {
        self.namespaces.iter().any(|ns| matches!(ns.matcher, Matcher::Dynamic(_)))
    }

    /// The namespaces with `disconnecting` or `disconnect` handlers: only their sockets, lost
    /// with an instance's memory, are worth announcing to the next one (each costs a storage
    /// write at every connection and room change).
    pub(crate) fn lost_sockets_announced(&self) -> LostSockets {
        let mut names = Vec::new();
        let mut dynamic = false;
        for ns in self.namespaces.iter().filter(|ns| ns.has_disconnection_handlers()) {
            match &ns.matcher {
                Matcher::Name(name) => names.push(name.clone()),
                Matcher::Dynamic(_) => dynamic = true,
            }
        }
        LostSockets::Namespaces { names, dynamic }
    }

    /// The declaration serving namespace `nsp`.
    pub(crate) fn find(&self, nsp: &str) -> Option<&Namespace> {
        self.namespaces
            .iter()
            .find(|ns| matches!(&ns.matcher, Matcher::Name(name) if name == nsp))
            .or_else(|| self.namespaces.iter().find(|ns| matches!(&ns.matcher, Matcher::Dynamic(f) if f(nsp))))
    }
}

impl Namespace {
    fn new(matcher: Matcher) -> Self {
        Namespace {
            matcher,
            connect: Vec::new(),
            connect_async: Vec::new(),
            connection: Vec::new(),
            events: FxHashMap::default(),
            event_middlewares: Vec::new(),
            disconnecting: Vec::new(),
            disconnect: Vec::new(),
            disconnect_async: Vec::new(),
            acks: FxHashMap::default(),
            server_side: FxHashMap::default(),
            rate_limit: None,
        }
    }

    /// Adds a connection middleware (`namespace.use`): run in order; the first error refuses
    /// the connection with `connect_error`.
    pub fn use_connect(mut self, middleware: impl Fn(&mut Handshake) -> Result<(), ConnectError> + 'static) -> Self {
        self.connect.push(Rc::new(middleware));
        self
    }

    /// Adds an async connection middleware, run after the others: it may await the Worker's
    /// bindings (a token in KV, a user in D1); an error refuses the connection with
    /// `connect_error`.
    ///
    /// ```
    /// # use wasmio_edge::app::{App, ConnectError};
    /// # #[derive(serde::Deserialize)]
    /// # struct Token { token: String }
    /// App::new().namespace("/", |ns| {
    ///     ns.use_connect_async(|handshake| async move {
    ///         let token = handshake.auth::<Token>()?.token;
    ///         let kv = handshake.env().kv("TOKENS").map_err(|e| ConnectError::new(e.to_string()))?;
    ///         match kv.get(&token).text().await {
    ///             Ok(Some(user)) => handshake.set_data(&user), // socket.data
    ///             _ => Err(ConnectError::new("not authorized")),
    ///         }
    ///     })
    /// });
    /// ```
    pub fn use_connect_async<F, Fut>(mut self, middleware: F) -> Self
    where
        F: Fn(ConnectContext) -> Fut + 'static,
        Fut: std::future::Future<Output = Result<(), ConnectError>> + 'static,
    {
        self.connect_async.push(Rc::new(move |context| -> ConnectFuture { Box::pin(middleware(context)) }));
        self
    }

    /// Adds a `connection` handler.
    pub fn on_connection(mut self, handler: impl Fn(&mut Socket) -> HandlerResult + 'static) -> Self {
        self.connection.push(Rc::new(handler));
        self
    }

    /// Handles `event` whose arguments deserialize to `T`: every argument for a tuple (missing
    /// ones `null`), the first one for any other type ([`Args::typed`]); [`Bytes`] read binary
    /// attachments. A mismatch is refused with an [`EventError`] (acknowledged with
    /// `{"error": ...}` when the client awaits one).
    ///
    /// `"disconnect"` is socket.io's `socket.on("disconnect", (reason) => ...)`: the handler
    /// runs when the socket disconnects, its one argument the reason ([`Namespace::on_disconnect`]).
    ///
    /// # Panics
    ///
    /// On another name socket.io reserves (`connect`, `connection`, `connect_error`,
    /// `disconnecting`, `newListener`, `removeListener`: no client sends them, so the handler
    /// would never run), and on an event that already has a handler here (socket.io would
    /// run both; one would be dropped here): mistakes in building the app, reported when it
    /// is built, as a router reports overlapping routes.
    pub fn on<T: DeserializeOwned + 'static>(
        self,
        event: &str,
        handler: impl Fn(&mut Socket, T) -> HandlerResult + 'static,
    ) -> Self {
        self.on_args(event, move |socket, args| handler(socket, args.typed::<T>()?))
    }

    /// Handles `event` with its raw arguments (`"disconnect"` and panics: as [`Namespace::on`]).
    pub fn on_args(mut self, event: &str, handler: impl Fn(&mut Socket, Args) -> HandlerResult + 'static) -> Self {
        if event == "disconnect" {
            return self.on_disconnect(move |socket, reason| handler(socket, Args::one(reason)?));
        }
        self.add_event(event, EventHandling::Now(Rc::new(handler)));
        self
    }

    /// Registers the handling of `event` (see the panics of [`Namespace::on`]).
    fn add_event(&mut self, event: &str, handling: EventHandling) {
        assert!(
            !RESERVED_EVENTS.contains(&event),
            "`{event}` is an event name socket.io reserves, which no client sends: its handler would never run \
             (a connection is handled by on_connection, a disconnection by on_disconnecting or on(\"disconnect\"))"
        );
        let replaced = self.events.insert(event.to_owned(), handling);
        assert!(replaced.is_none(), "the event `{event}` has two handlers in one namespace: keep one");
    }

    /// Handles `event`, whose arguments deserialize to `T` (as for [`Namespace::on`], with its
    /// `"disconnect"` and its panics), with an async handler: it gets a [`Context`] (the
    /// Worker's bindings, storage, the socket, the deployment's other objects) and may await.
    ///
    /// ```
    /// # use wasmio_edge::app::App;
    /// App::new().namespace("/", |ns| {
    ///     ns.on_async("remember", |ctx, note: String| async move {
    ///         ctx.env().kv("NOTES")?.put(ctx.id(), note)?.execute().await?;
    ///         Ok(ctx.socket(|socket| socket.ack(&"kept"))??)
    ///     })
    ///     .on_async("who", |ctx, room: String| async move {
    ///         let members = ctx.io()?.to(&room).fetch_sockets().await?; // on every object
    ///         let ids: Vec<String> = members.into_iter().map(|s| s.id).collect();
    ///         Ok(ctx.socket(|socket| socket.ack(&ids))??)
    ///     })
    /// });
    /// ```
    pub fn on_async<T, F, Fut>(mut self, event: &str, handler: F) -> Self
    where
        T: DeserializeOwned + 'static,
        F: Fn(Context, T) -> Fut + 'static,
        Fut: std::future::Future<Output = HandlerResult> + 'static,
    {
        let handler = Rc::new(handler);
        if event == "disconnect" {
            return self.on_disconnect_async(move |context, reason| {
                let handler = handler.clone();
                async move { handler(context, Args::one(&reason)?.typed::<T>()?).await }
            });
        }
        let run = move |context: Context, args: Args| -> HandlerFuture {
            let handler = handler.clone();
            Box::pin(async move { handler(context, args.typed::<T>()?).await })
        };
        self.add_event(event, EventHandling::Awaited(Rc::new(run)));
        self
    }

    /// Adds a per-event middleware (`socket.use`): an error drops the event.
    pub fn use_event(
        mut self,
        middleware: impl Fn(&mut Socket, &str, &Args) -> Result<(), EventError> + 'static,
    ) -> Self {
        self.event_middlewares.push(Rc::new(middleware));
        self
    }

    /// Adds a `disconnecting` handler: the socket is leaving, and [`Leaving`] still shows its
    /// rooms and data ("user X left room Y" presence). Emits to its rooms reach the others.
    pub fn on_disconnecting(mut self, handler: impl Fn(&mut Socket, &Leaving) -> HandlerResult + 'static) -> Self {
        self.disconnecting.push(Rc::new(handler));
        self
    }

    /// Adds an async `disconnect` handler: it receives a [`Context`] (the socket is gone, but
    /// its rooms can still be reached through [`Socket::to`]) and the reason, and may await.
    pub fn on_disconnect_async<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Context, String) -> Fut + 'static,
        Fut: std::future::Future<Output = HandlerResult> + 'static,
    {
        self.disconnect_async
            .push(Rc::new(move |context, reason| -> HandlerFuture { Box::pin(handler(context, reason)) }));
        self
    }

    /// Adds a `disconnect` handler; it receives the reason.
    pub fn on_disconnect(mut self, handler: impl Fn(&mut Socket, &str) -> HandlerResult + 'static) -> Self {
        self.disconnect.push(Rc::new(handler));
        self
    }

    /// Declares the acknowledgement handler `name` for [`Socket::emit_with_ack`]: it gets the
    /// client's answer, or [`AckError::Timeout`].
    pub fn on_ack(
        mut self,
        name: &str,
        handler: impl Fn(&mut Socket, Result<Args, AckError>) -> HandlerResult + 'static,
    ) -> Self {
        self.acks.insert(name.to_owned(), Rc::new(handler));
        self
    }

    /// Handles `event` sent by [`crate::Emitter::server_side_emit`] (socket.io's
    /// `io.on(event)` for `serverSideEmit`): the handler runs on each object with its own
    /// sockets ([`LocalIo`]), and what it returns is that object's answer.
    ///
    /// ```
    /// # use wasmio_edge::app::App;
    /// App::new().namespace("/", |ns| {
    ///     // Each object counts its own sockets ...
    ///     ns.on_server_side("census", |local, _args| Ok(serde_json::json!(local.sockets(None).len())))
    ///         // ... and a handler adds up the other objects' answers.
    ///         .on_async("census", |ctx, _: ()| async move {
    ///             let counts = ctx.io()?.server_side_emit("census", &()).await?;
    ///             let others: u64 = counts.iter().filter_map(|c| c.as_u64()).sum();
    ///             Ok(ctx.socket(|socket| socket.ack(&others))??)
    ///         })
    /// });
    /// ```
    pub fn on_server_side(
        mut self,
        event: &str,
        handler: impl Fn(&mut LocalIo, Args) -> Result<serde_json::Value, HandlerError> + 'static,
    ) -> Self {
        self.server_side.insert(event.to_owned(), Rc::new(handler));
        self
    }

    /// Limits the event rate of each socket.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    pub(crate) fn connect_middlewares(&self) -> &[ConnectMiddleware] {
        &self.connect
    }

    fn has_disconnection_handlers(&self) -> bool {
        !(self.disconnecting.is_empty() && self.disconnect.is_empty() && self.disconnect_async.is_empty())
    }

    pub(crate) fn disconnecting_handlers(&self) -> &[DisconnectingHandler] {
        &self.disconnecting
    }

    pub(crate) fn async_disconnect_handlers(&self) -> &[AsyncDisconnectHandler] {
        &self.disconnect_async
    }

    pub(crate) fn async_connect_middlewares(&self) -> &[AsyncConnectMiddleware] {
        &self.connect_async
    }

    pub(crate) fn connection_handlers(&self) -> &[ConnectionHandler] {
        &self.connection
    }

    pub(crate) fn event_handler(&self, event: &str) -> Option<&EventHandling> {
        self.events.get(event)
    }

    pub(crate) fn event_middlewares(&self) -> &[EventMiddleware] {
        &self.event_middlewares
    }

    pub(crate) fn disconnect_handlers(&self) -> &[DisconnectHandler] {
        &self.disconnect
    }

    pub(crate) fn ack_handler(&self, name: &str) -> Option<&AckHandler> {
        self.acks.get(name)
    }

    pub(crate) fn server_side_handler(&self, event: &str) -> Option<&ServerSideHandler> {
        self.server_side.get(event)
    }

    pub(crate) fn limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_disconnect_as_socket_io_writes_it_is_the_disconnect_handler() {
        let ns = App::new().namespace("/", |ns| ns.on("disconnect", |_, _reason: String| Ok(())));
        let ns = ns.find("/").expect("the namespace");
        assert_eq!((ns.disconnect.len(), ns.events.len()), (1, 0));
        let ns = App::new().namespace("/", |ns| ns.on_async("disconnect", |_, _reason: String| async { Ok(()) }));
        let ns = ns.find("/").expect("the namespace");
        assert_eq!((ns.disconnect_async.len(), ns.events.len()), (1, 0));
    }

    #[test]
    #[should_panic(expected = "`connection` is an event name socket.io reserves")]
    fn a_handler_of_an_event_no_client_sends_is_refused_when_the_app_is_built() {
        App::new().namespace("/", |ns| ns.on_args("connection", |_, _| Ok(())));
    }

    #[test]
    #[should_panic(expected = "the event `chat` has two handlers in one namespace")]
    fn a_second_handler_of_one_event_is_refused_when_the_app_is_built() {
        App::new().namespace("/", |ns| ns.on_args("chat", |_, _| Ok(())).on("chat", |_, _text: String| Ok(())));
    }
}

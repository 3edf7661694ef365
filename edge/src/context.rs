//! Async handlers: a handler that awaits (a KV lookup, a D1 query, a Queue send) gets a
//! [`Context`] instead of a borrowed socket. The Socket.IO object queues the handler's future
//! and awaits it before the event that started it ends (its effects are persisted with that
//! event's); each socket operation after an await reaches the object's state again, so no
//! borrow of it is held across an await, and no state lives only in the future: what must
//! outlive an eviction goes to `socket.data`, storage, or the Worker's bindings.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::Env;

use crate::app::{ConnectError, HandlerError, HandlerResult, Handshake, Socket};
use crate::socketio_object::SocketIoServer;
use crate::Emitter;

/// A handler's future, queued by the object.
pub(crate) type Task = Pin<Box<dyn Future<Output = ()>>>;

/// The async handlers' futures an event queued, started by its `SocketIoServer::settle` and
/// not awaited by it.
#[derive(Default)]
pub(crate) struct Tasks {
    queue: RefCell<Vec<Task>>,
}

impl Tasks {
    /// Queues a future.
    pub(crate) fn push(&self, task: Task) {
        self.queue.borrow_mut().push(task);
    }

    /// Whether no future is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.borrow().is_empty()
    }

    /// The queued futures, in the order their events came.
    pub(crate) fn take(&self) -> Vec<Task> {
        std::mem::take(&mut *self.queue.borrow_mut())
    }
}

/// What an async handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = HandlerResult>>>;

/// The context of an async event handler: the Worker's bindings, the object's storage, and
/// its socket, reached again for each operation.
#[derive(Clone)]
pub struct Context {
    pub(crate) object: Weak<SocketIoServer>,
    pub(crate) env: Env,
    pub(crate) sid: String,
    pub(crate) nsp: String,
    /// The acknowledgement the client awaits, until it is answered.
    pub(crate) ack: Rc<Cell<Option<u64>>>,
    /// For a socket that left (an async `disconnect` handler's), its `socket.data` as it was.
    pub(crate) departed_data: Option<String>,
}

impl Context {
    /// The Worker's bindings: KV, D1, R2, Queues, secrets, service bindings.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The Durable Object's own storage.
    pub fn storage(&self) -> Result<worker::Storage, HandlerError> {
        Ok(self.object()?.storage())
    }

    /// The socket id.
    pub fn id(&self) -> &str {
        &self.sid
    }

    /// Runs `f` on the socket (emit, join, ack, data, broadcasts): what it does is delivered
    /// at once. Fails when the object went away meanwhile. In a `disconnect` handler the
    /// socket is gone, and its data is what it was.
    pub fn socket<R>(&self, f: impl FnOnce(&mut Socket) -> R) -> Result<R, HandlerError> {
        let object = self.object()?;
        Ok(object.with_socket(&self.sid, &self.nsp, &self.ack, self.departed_data.clone(), f))
    }

    /// `io.of(<this namespace>)` over the whole deployment: broadcasts and socket.io's adapter
    /// operations (`fetch_sockets`, `sockets_join`, `emit_with_ack`, `server_side_emit`, ...)
    /// reaching the sockets of every object ([`Emitter`]).
    pub fn io(&self) -> Result<Emitter<'_>, HandlerError> {
        Ok(Emitter::within(&self.env, self.object()?, &self.nsp))
    }

    fn object(&self) -> Result<Rc<SocketIoServer>, HandlerError> {
        self.object.upgrade().ok_or(HandlerError::ObjectGone)
    }
}

/// The task of an async handler's `future` for `context`: an error is logged and answers the
/// client's acknowledgement, if it awaits one and the handler did not answer it.
pub(crate) fn task(context: &Context, name: String, future: HandlerFuture) -> Task {
    let (object, sid, nsp, ack) =
        (context.object.clone(), context.sid.clone(), context.nsp.clone(), context.ack.clone());
    Box::pin(async move {
        let Err(error) = future.await else { return };
        worker::console_warn!("the handler of {name:?} in {nsp} failed: {error}");
        if let Some(object) = object.upgrade() {
            object.with_socket(&sid, &nsp, &ack, None, |socket| socket.refuse(&error.to_string()));
        }
    })
}

/// What an async connection middleware returns.
pub type ConnectFuture = Pin<Box<dyn Future<Output = Result<(), ConnectError>>>>;

/// The handshake as an async connection middleware sees it, with the Worker's bindings.
#[derive(Clone)]
pub struct ConnectContext {
    env: Env,
    /// The namespace asked for.
    pub nsp: String,
    /// `handshake.auth`, JSON object text.
    pub auth: String,
    /// `handshake.query`, JSON object text.
    pub query: String,
    /// `handshake.headers`, JSON object text: the request's headers but the WebSocket
    /// upgrade's and the credentials, within 4 KiB (they travel with the session's snapshot);
    /// the `Cookie` and `Authorization` headers are given to connect middlewares apart.
    pub headers: String,
    /// `handshake.address`.
    pub address: String,
    /// The handshake's `Cookie` header (see [`Handshake::cookie`]).
    pub cookie: Option<String>,
    /// The handshake's `Authorization` header.
    pub authorization: Option<String>,
    data: Rc<RefCell<Option<String>>>,
}

impl ConnectContext {
    pub(crate) fn of(handshake: &Handshake, env: &Env) -> Self {
        ConnectContext {
            env: env.clone(),
            nsp: handshake.nsp.to_owned(),
            auth: handshake.auth.to_owned(),
            query: handshake.query.to_owned(),
            headers: handshake.headers.to_owned(),
            address: handshake.address.to_owned(),
            cookie: handshake.cookie.map(str::to_owned),
            authorization: handshake.authorization.map(str::to_owned),
            data: Rc::new(RefCell::new(handshake.data.clone())),
        }
    }

    /// The Worker's bindings: KV, D1, secrets, service bindings.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// `handshake.auth` as a typed value.
    pub fn auth<T: DeserializeOwned>(&self) -> Result<T, ConnectError> {
        crate::js_json::parse(&self.auth).map_err(|e| ConnectError::new(format!("invalid auth: {e}")))
    }

    /// Sets `socket.data` for the socket being connected.
    pub fn set_data<T: Serialize>(&self, data: &T) -> Result<(), ConnectError> {
        let json = serde_json::to_string(data).map_err(|e| ConnectError::new(e.to_string()))?;
        *self.data.borrow_mut() = Some(json);
        Ok(())
    }

    pub(crate) fn take_data(&self) -> Option<String> {
        self.data.borrow_mut().take()
    }
}

//! The socket handlers are given ([`Socket`]) and its broadcast selections ([`Operator`]).

use std::cell::RefCell;

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasmio_protocol::server::{ApiError, Broadcast, Server, SocketInfo};

use crate::args::Args;
use crate::awaited_acks::AwaitedAcks;
use crate::engine_host::EngineHost;
use crate::relays::Relay;

/// A connected socket, as handlers see it (socket.io's `socket`).
pub struct Socket<'a> {
    pub(crate) server: &'a mut Server,
    pub(crate) sid: String,
    pub(crate) nsp: String,
    pub(crate) ack: Option<u64>,
    pub(crate) now_ms: u64,
    /// Broadcasts the other Durable Objects must deliver too (all but `local` ones).
    pub(crate) relays: &'a RefCell<Vec<Relay>>,
    /// The Engine.IO sessions, for `volatile` (which skips those that cannot take a message).
    pub(crate) host: &'a EngineHost,
    /// Acknowledgements awaited from clients: (socket id, ack id) -> the handler's name.
    pub(crate) awaited_acks: &'a RefCell<AwaitedAcks>,
    /// For a socket that left (a `disconnect` handler's), its `socket.data` as it was.
    pub(crate) departed_data: Option<String>,
}

impl<'a> Socket<'a> {
    /// `socket.id`.
    pub fn id(&self) -> &str {
        &self.sid
    }

    /// The namespace name.
    pub fn nsp(&self) -> &str {
        &self.nsp
    }

    /// `socket.handshake`, rooms and data, as stored.
    pub fn info(&self) -> Option<SocketInfo> {
        self.server.socket(&self.sid)
    }

    /// `socket.emit(event, ...args)`, the arguments `value` stands for ([`Args::of`]: each
    /// element of a tuple, none for `()`, else `value` alone).
    pub fn emit<T: Serialize + ?Sized>(&mut self, event: &str, value: &T) -> Result<(), ApiError> {
        self.emit_args(event, Args::of(value)?)
    }

    /// `socket.emit(event, ...args)` with raw arguments. Refused for a reserved event name or
    /// a socket that is gone.
    pub fn emit_args(&mut self, event: &str, args: Args) -> Result<(), ApiError> {
        self.server.emit(&self.sid, event, &args.json, args.attachments, self.now_ms)
    }

    /// `socket.timeout(ms).emit(event, value, callback)`: the client's answer (or the timeout)
    /// goes to the namespace's acknowledgement handler `on_ack` (declared with
    /// [`Namespace::on_ack`](super::Namespace::on_ack), so that it exists after a wake-up). The link between the emit and
    /// the handler is kept in storage too: an answer that arrives after the object was evicted
    /// or restarted still reaches it.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &mut self,
        event: &str,
        value: &T,
        timeout_ms: u64,
        on_ack: &str,
    ) -> Result<(), ApiError> {
        self.emit_args_with_ack(event, Args::of(value)?, timeout_ms, on_ack)
    }

    /// [`Socket::emit_with_ack`] with raw arguments (none, several, binary):
    /// `socket.timeout(ms).emit(event, ...args, callback)`.
    pub fn emit_args_with_ack(
        &mut self,
        event: &str,
        args: Args,
        timeout_ms: u64,
        on_ack: &str,
    ) -> Result<(), ApiError> {
        let id =
            self.server.emit_with_ack(&self.sid, event, &args.json, args.attachments, Some(timeout_ms), self.now_ms)?;
        self.awaited_acks.borrow_mut().insert(&self.sid, id, on_ack);
        Ok(())
    }

    /// Whether the client awaits an acknowledgement of the current event.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Answers the current event's acknowledgement with the arguments `value` stands for
    /// ([`Args::of`]), once; later calls, and calls for an event without one, do nothing.
    pub fn ack<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ApiError> {
        self.ack_args(Args::of(value)?)
    }

    /// Answers the current event's acknowledgement with raw arguments.
    pub fn ack_args(&mut self, args: Args) -> Result<(), ApiError> {
        match self.ack.take() {
            Some(id) => self.server.ack(&self.sid, id, &args.json, args.attachments),
            None => Ok(()),
        }
    }

    /// `socket.join(room)`. A room named after another socket's id is refused
    /// ([`ApiError::RoomIsSocketId`]): its member would receive that socket's private emits.
    pub fn join(&mut self, room: &str) -> Result<(), ApiError> {
        self.server.join(&self.sid, [room])
    }

    /// `socket.leave(room)`.
    pub fn leave(&mut self, room: &str) -> Result<(), ApiError> {
        self.server.leave(&self.sid, room)
    }

    /// `socket.data` as a typed value (in a `disconnect` handler too, as it was).
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        match self.server.socket(&self.sid) {
            Some(info) => serde_json::from_str(&info.data).ok(),
            None => serde_json::from_str(self.departed_data.as_deref()?).ok(),
        }
    }

    /// Sets `socket.data` (it survives hibernation): refused when it could not be kept
    /// ([`ApiError::StateTooLarge`]: the session's snapshot has a size limit).
    pub fn set_data<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ApiError> {
        let json = serde_json::to_string(value).map_err(|_| ApiError::InvalidJson)?;
        self.server.set_data(&self.sid, &json)
    }

    /// `socket.broadcast`: every socket of the namespace but this one.
    pub fn broadcast(&mut self) -> Operator<'_, 'a> {
        let op = Broadcast::new(self.nsp.clone()).except(self.sid.clone());
        Operator { socket: self, op }
    }

    /// `socket.to(room)`: the sockets in `room` but this one.
    pub fn to(&mut self, room: &str) -> Operator<'_, 'a> {
        self.broadcast().to(room)
    }

    /// `io.of(nsp)`: every socket of the namespace, this one included.
    pub fn io(&mut self) -> Operator<'_, 'a> {
        let op = Broadcast::new(self.nsp.clone());
        Operator { socket: self, op }
    }

    /// `socket.disconnect(close)`.
    pub fn disconnect(&mut self, close: bool) -> Result<(), ApiError> {
        self.server.disconnect(&self.sid, close, self.now_ms)
    }

    /// Refuses the current event: answers `{"error": message}` if an ack is awaited.
    pub(crate) fn refuse(&mut self, message: &str) {
        if let Err(error) = self.ack(&serde_json::json!({ "error": message })) {
            worker::console_warn!("the refusal of an event of socket {} was not sent: {error}", self.sid);
        }
    }
}

/// A broadcast selection (socket.io's `BroadcastOperator`).
pub struct Operator<'s, 'a> {
    socket: &'s mut Socket<'a>,
    op: Broadcast,
}

impl Operator<'_, '_> {
    /// Adds a room to reach.
    pub fn to(mut self, room: &str) -> Self {
        self.op = self.op.to(room);
        self
    }

    /// Adds a room to skip.
    pub fn except(mut self, room: &str) -> Self {
        self.op = self.op.except(room);
        self
    }

    /// Skips sockets that cannot take a message right now.
    pub fn volatile(mut self) -> Self {
        self.op = self.op.volatile();
        self
    }

    /// Only this Durable Object's sockets.
    pub fn local(mut self) -> Self {
        self.op = self.op.local();
        self
    }

    /// Emits `event` with the arguments `value` stands for ([`Args::of`]), encoded once for
    /// every recipient.
    pub fn emit<T: Serialize + ?Sized>(self, event: &str, value: &T) -> Result<(), ApiError> {
        self.emit_args(event, Args::of(value)?)
    }

    /// Emits `event` with raw arguments: to this object's sockets now, and (unless `local`)
    /// to the other objects' sockets once the handler returns. Refused for a reserved event
    /// name or arguments that are not a JSON array.
    pub fn emit_args(self, event: &str, args: Args) -> Result<(), ApiError> {
        let now = self.socket.now_ms;
        if self.op.volatile {
            for (session, writable) in self.socket.host.writability() {
                self.socket.server.set_writable(&session, writable);
            }
        }
        let relay = (!self.op.local).then(|| Relay {
            nsp: self.op.nsp.clone(),
            rooms: self.op.rooms.iter().cloned().collect(),
            except: self.op.except.iter().cloned().collect(),
            volatile: self.op.volatile,
            event: event.to_owned(),
            args: args.json.clone(),
            attachments: Relay::encode_attachments(&args.attachments),
            ..Relay::default()
        });
        let delivery = self.socket.server.broadcast(&self.op, event, &args.json, args.attachments, now)?;
        if let Some(relay) = relay {
            self.socket.relays.borrow_mut().push(Relay { logged: delivery.logged, ..relay });
        }
        Ok(())
    }

    /// Makes every selected socket join `room`.
    pub fn sockets_join(self, room: &str) {
        self.socket.server.sockets_join(&self.op, &[room]);
    }
}

//! The Socket.IO client, sans-IO: socket.io-client 4.8's `Manager` and `Socket` logic.
//!
//! A [`Manager`] owns one Engine.IO [`ClientSession`](crate::engine::ClientSession) at a time
//! (a new one per connection attempt) and multiplexes namespace [`Socket`]s over it, addressed
//! by [`SocketId`]. The driver (the wasm client, a test) moves bytes and time:
//!
//! - engine inputs go to the manager's `handle_*` methods (transport ids as the manager gave
//!   them in [`ClientTransmit`](crate::engine::ClientTransmit)s), with `now_ms`;
//! - application calls ([`Manager::open`], [`Manager::socket`], [`Manager::connect_socket`],
//!   [`Manager::emit`], [`Manager::send_ack`], [`Manager::disconnect_socket`]) take `now_ms` too;
//! - [`Manager::poll_transmit`] says what to do on the network, [`Manager::poll_event`] what
//!   the application sees ([`Event`]), [`Manager::poll_timeout`] when to call
//!   [`Manager::handle_timeout`].
//!
//! Event data stays JSON text (the driver's `JSON.stringify`/`JSON.parse`), binary
//! attachments travel beside it with `{"_placeholder":true,"num":n}` markers. Randomness for
//! the reconnection jitter comes from a function the driver installs (`Math.random`).

mod backoff;
mod json_util;
mod manager;
mod socket;

pub use backoff::Backoff;
pub use manager::{Manager, ManagerConfig, ReadyState, SetAside};
pub use socket::{AckHandle, AckMode, Auth, EmitOptions, Socket, SocketId, SocketOptions};

use std::borrow::Cow;

use crate::engine::{CloseReason, TransportId, TransportKind};

/// Why a socket or the manager closed, with socket.io-client's reason strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The server disconnected the socket (a DISCONNECT packet): no reconnection.
    IoServerDisconnect,
    /// The application disconnected the socket.
    IoClientDisconnect,
    /// The server missed its heartbeat.
    PingTimeout,
    /// The connection was closed.
    TransportClose,
    /// The connection failed.
    TransportError,
    /// The server sent a packet that could not be decoded.
    ParseError,
    /// The manager was closed on purpose (last socket gone, or [`Manager::close`]).
    ForcedClose,
    /// The server is shutting down.
    ServerShuttingDown,
}

impl DisconnectReason {
    /// The reason string socket.io-client passes to `disconnect`/`close` listeners.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::IoServerDisconnect => "io server disconnect",
            DisconnectReason::IoClientDisconnect => "io client disconnect",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ServerShuttingDown => "server shutting down",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::ForcedClose => DisconnectReason::ForcedClose,
            CloseReason::ServerShuttingDown => DisconnectReason::ServerShuttingDown,
        }
    }
}

/// A connection failure, as the manager's `error` / `reconnect_error` events and the
/// sockets' `connect_error` carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagerError {
    /// The engine did not open within the manager's `timeout`.
    Timeout,
    /// The engine failed; the text is its description (e.g. "xhr poll error").
    Transport(String),
}

impl ManagerError {
    /// socket.io-client's message (what [`std::fmt::Display`] writes).
    pub fn message(&self) -> &str {
        match self {
            ManagerError::Timeout => "timeout",
            ManagerError::Transport(description) => description,
        }
    }
}

/// Why an acknowledgement callback gets an error instead of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    /// No answer within the emit's `timeout` / the socket's `ackTimeout`.
    Timeout,
    /// The socket disconnected before the answer (only for callbacks taking an error).
    Disconnected,
}

impl AckError {
    /// socket.io-client's message (what [`std::fmt::Display`] writes).
    pub fn message(&self) -> &'static str {
        match self {
            AckError::Timeout => "operation has timed out",
            AckError::Disconnected => "socket has been disconnected",
        }
    }
}

/// Why an emit or an ack was refused (socket.io-client throws for the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmitError {
    /// The event name is one of the reserved ones (`connect`, `disconnect`, ...).
    ReservedEvent(String),
    /// The data is not a JSON array (with the event name first, for an emit).
    InvalidData,
    /// No socket has this id.
    UnknownSocket,
}

impl EmitError {
    /// The message a JavaScript caller gets thrown (what [`std::fmt::Display`] writes).
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            EmitError::ReservedEvent(name) => crate::concat(&["\"", name, "\" is a reserved event name"]).into(),
            EmitError::InvalidData => "the data must be the JSON text of a non-empty array".into(),
            EmitError::UnknownSocket => "unknown socket".into(),
        }
    }
}

error_from_message!(ManagerError, AckError, EmitError);

/// What the manager itself reports (socket.io-client's `Manager` events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagerEvent {
    /// `open`: the engine opened.
    Open,
    /// `error`: the engine failed to open, or failed while open.
    Error(ManagerError),
    /// `ping`: the server pinged.
    Ping,
    /// `close(reason, description)`: the engine closed.
    Close {
        /// Why.
        reason: DisconnectReason,
        /// Details, when there are any.
        description: Option<String>,
    },
    /// `reconnect(attempt)`: a reconnection attempt succeeded.
    Reconnect(u32),
    /// `reconnect_attempt(attempt)`: a reconnection attempt starts.
    ReconnectAttempt(u32),
    /// `reconnect_error(err)`: a reconnection attempt failed.
    ReconnectError(ManagerError),
    /// `reconnect_failed`: `reconnectionAttempts` attempts failed; the manager gives up.
    ReconnectFailed,
    /// The engine's `upgrade` event (`manager.engine.on("upgrade")`).
    Upgrade(TransportKind),
    /// The engine's `upgrading` event: a WebSocket probe answered, the upgrade starts.
    Upgrading,
    /// The engine's `packet` (received) or `packetCreate` (`created`) event; reported only
    /// after [`Manager::report_packets`].
    EnginePacket {
        /// Created to be sent, else received.
        created: bool,
        /// The Engine.IO packet.
        packet: crate::engine::Packet,
    },
    /// The engine's `drain`: its write buffer was written out (with packets reported).
    Drain,
    /// The manager's `packet`: a Socket.IO packet received and decoded (with packets
    /// reported).
    Packet(crate::socket::Packet),
}

/// The message of a `connect_error`'s `Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorMessage {
    /// The client's own text: `"timeout"`, a transport's error, the v2 server notice; empty
    /// when the server's error had no `message`.
    Text(String),
    /// The `message` of the server's CONNECT_ERROR as raw JSON. `err.message` is what
    /// `new Error(value)` makes of the value: `String(value)` (a string unquoted, `5` as "5",
    /// an object as "[object Object]"), which JavaScript prints.
    Json(String),
}

/// An EVENT or ACK routed from its header alone ([`Manager::handle_websocket_head`]): its JSON
/// data is the rest of the frame, which the driver holds and the application parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreadPayload {
    /// An event for `socket` (as [`SocketEvent::Event`], data not read).
    Event {
        /// The socket it is for.
        socket: SocketId,
        /// The id to answer with, if the server waits for an answer.
        ack_id: Option<u64>,
    },
    /// The answer to an ack (as [`SocketEvent::AckResponse`], data not read).
    AckResponse {
        /// The socket it is for.
        socket: SocketId,
        /// The callback it answers.
        handle: AckHandle,
        /// The callback takes an error (or `null`) first.
        with_error: bool,
    },
}

/// The manager's shortcut for received events ([`Manager::event_shortcut`]): on WebSocket
/// `websocket`, the events without ack id of the sockets in `sockets` may reach the
/// application without the manager. Such an event's frame starts with its socket's *head*,
/// the reference encoder's header for it: `42` for the namespace `/`, else `42`, the
/// namespace and `,` (`42/chat,`); its JSON data follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventShortcut {
    /// The WebSocket transport whose text frames it is for.
    pub websocket: TransportId,
    /// Bit `i` set for socket `SocketId(i)` (a socket past the 32nd is left to the manager).
    pub sockets: u32,
}

/// What one namespace socket reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    /// `connect`: the server accepted the namespace connection.
    Connect,
    /// `connect_error(err)`: the connection failed or the server refused it.
    ConnectError {
        /// `err.message`.
        message: ErrorMessage,
        /// `err.data` as JSON text, when the server's CONNECT_ERROR had some.
        data: Option<String>,
    },
    /// `disconnect(reason, description)`.
    Disconnect {
        /// Why.
        reason: DisconnectReason,
        /// Details, when there are any.
        description: Option<String>,
    },
    /// An event from the server: call the listeners with the array elements.
    Event {
        /// `[name, ...args]` as JSON text, placeholders where attachments go.
        data: String,
        /// The binary attachments.
        attachments: Vec<Vec<u8>>,
        /// The server waits for an answer: pass a callback that calls [`Manager::send_ack`]
        /// with this id (once).
        ack_id: Option<u64>,
    },
    /// The answer to an emit with an acknowledgement.
    AckResponse {
        /// Which emit.
        handle: AckHandle,
        /// The callback arguments as JSON array text.
        args: String,
        /// Their binary attachments.
        attachments: Vec<Vec<u8>>,
        /// The callback takes an error first: call it as `cb(null, ...args)`.
        with_error: bool,
    },
    /// An acknowledgement callback must be called with `new Error(error.to_string())`.
    AckError {
        /// Which emit.
        handle: AckHandle,
        /// Why.
        error: AckError,
    },
    /// An acknowledgement callback that takes no error was dropped (its socket disconnected
    /// before the answer came): forget it, do not call it.
    AckDropped {
        /// Which emit.
        handle: AckHandle,
    },
    /// The socket's `auth` is a function: call it and pass what it gives to
    /// [`Manager::provide_auth`].
    AuthRequest,
}

/// Anything the manager reports, in the order socket.io-client would emit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An event of the manager (`socket.io.on(...)`).
    Manager(ManagerEvent),
    /// An event of one socket.
    Socket {
        /// Which socket.
        socket: SocketId,
        /// What happened.
        event: SocketEvent,
    },
}

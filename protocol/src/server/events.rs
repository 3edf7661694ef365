//! What the driver and the core exchange: transmits, events, the answers and errors of the
//! socket API, and the descriptions of sockets and of what changed.

use super::*;

/// Why a socket left its namespace, named as socket.io names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// `socket.disconnect()` on the server.
    ServerNamespaceDisconnect,
    /// The client sent DISCONNECT for the namespace.
    ClientNamespaceDisconnect,
    /// The server is shutting down ([`Server::shutdown`]).
    ServerShuttingDown,
    /// No pong in time.
    PingTimeout,
    /// The transport was closed.
    TransportClose,
    /// The transport failed.
    TransportError,
    /// Undecodable Engine.IO data.
    ParseError,
    /// The Engine.IO session was closed on purpose (e.g. after an invalid Socket.IO packet).
    ForcedClose,
    /// The server closed the client (invalid state, `connectTimeout`, `disconnect(true)`).
    ForcedServerClose,
}

impl DisconnectReason {
    /// The reason string socket.io uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerShuttingDown => "server shutting down",
            Self::PingTimeout => "ping timeout",
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::ParseError => "parse error",
            Self::ForcedClose => "forced close",
            Self::ForcedServerClose => "forced server close",
        }
    }

    /// Whether connection state recovery keeps the session (`RECOVERABLE_DISCONNECT_REASONS`).
    pub fn is_recoverable(self) -> bool {
        !matches!(self, Self::ServerNamespaceDisconnect | Self::ClientNamespaceDisconnect | Self::ParseError)
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportClose => Self::TransportClose,
            CloseReason::TransportError => Self::TransportError,
            CloseReason::PingTimeout => Self::PingTimeout,
            CloseReason::ParseError => Self::ParseError,
            CloseReason::ForcedClose => Self::ForcedClose,
            CloseReason::ServerShuttingDown => Self::ServerShuttingDown,
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Socket.IO packet encoded once: the text frame, then its attachments as binary frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPacket {
    /// The text part (what `socket.io-parser` encodes; Engine.IO adds its `4`).
    pub text: String,
    /// The binary attachments, in order.
    pub attachments: Vec<Vec<u8>>,
}

impl EncodedPacket {
    pub(super) fn new(packet: &Packet) -> Self {
        EncodedPacket { text: packet.encode(), attachments: packet.attachments.clone() }
    }

    /// The Engine.IO messages to send, in order.
    pub fn to_engine_data(&self) -> Vec<Data> {
        let mut out = Vec::with_capacity(1 + self.attachments.len());
        out.push(Data::Text(self.text.clone()));
        out.extend(self.attachments.iter().cloned().map(Data::Binary));
        out
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Send this packet on each of these Engine.IO sessions.
    Packet {
        /// Engine.IO session ids.
        sessions: Vec<String>,
        /// The packet, encoded once for all of them.
        packet: Rc<EncodedPacket>,
    },
    /// Close this Engine.IO session (the sockets on it are already disconnected).
    Close {
        /// Engine.IO session id.
        session: String,
    },
}

/// A CONNECT waiting for the driver's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Engine.IO session id.
    pub session: String,
    /// The namespace asked for.
    pub nsp: String,
    /// The CONNECT payload (`auth`), a JSON object text (`{}` when absent).
    pub auth: String,
    /// The namespace does not exist yet: run the dynamic namespace predicates first and call
    /// [`Server::refuse_namespace`] if none matches.
    pub check_namespace: bool,
    /// Run the namespace middlewares (false for a recovered session with `skipMiddlewares`).
    pub run_middlewares: bool,
    /// The session would be recovered (`socket.recovered`): the socket id, pid, rooms and data
    /// come from the previous session.
    pub recovered: bool,
    /// The CONNECT asks to recover a session this server does not hold: another server may
    /// (see [`Server::import_recovery`]).
    pub recover_from: Option<RecoveryRef>,
}

/// The driver's acceptance of a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Accept {
    /// The new socket id (ignored for a recovered session, which keeps its id).
    pub sid: String,
    /// The new recovery session id; required when recovery is enabled (ignored for a recovered
    /// session, which keeps its id: the client tells a recovery by the same pid).
    pub pid: Option<String>,
    /// `socket.data` as set by the middlewares, a JSON text (`{}`, or the recovered data, when
    /// `None`).
    pub data: Option<String>,
}

/// An acknowledgement's answer: the arguments as a JSON array text, and attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckData {
    /// For [`Event::Ack`], all the arguments (a JSON array); for [`Event::BroadcastAck`], the
    /// first argument of one client's answer (what the reference collects).
    pub args: String,
    /// Binary attachments referenced by placeholders in `args`.
    pub attachments: Vec<Vec<u8>>,
}

/// Why an acknowledgement did not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The timeout given to the emit elapsed.
    #[error("operation has timed out")]
    Timeout,
}

/// An incoming EVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The socket id.
    pub sid: String,
    /// The namespace.
    pub nsp: String,
    /// The event name (a number name comes as its JSON text).
    pub name: String,
    /// The arguments after the name, a JSON array text.
    pub args: String,
    /// Binary attachments referenced by placeholders in `args`.
    pub attachments: Vec<Vec<u8>>,
    /// The ack id when the client awaits an answer: call [`Server::ack`] with it.
    pub ack: Option<u64>,
}

/// What the application sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A client asks to join a namespace: decide with [`Server::accept_connect`],
    /// [`Server::reject_connect`] or [`Server::refuse_namespace`].
    ConnectRequest(ConnectRequest),
    /// A socket joined its namespace (`connection`).
    Connection {
        /// Engine.IO session id.
        session: String,
        /// The namespace.
        nsp: String,
        /// The socket id.
        sid: String,
        /// Whether its previous session was recovered (`socket.recovered`).
        recovered: bool,
    },
    /// An event from a client.
    Message(Message),
    /// The answer to [`Server::emit_with_ack`], or its timeout.
    Ack {
        /// The socket id the emit went to.
        sid: String,
        /// The ack id returned by the emit.
        id: u64,
        /// The answer.
        result: Result<AckData, AckError>,
    },
    /// The end of [`Server::broadcast_with_ack`]: every recipient answered, or the timeout hit.
    BroadcastAck {
        /// The id returned by the broadcast.
        id: u64,
        /// `Some(Timeout)` if not every recipient answered in time.
        error: Option<AckError>,
        /// The answers collected, in arrival order.
        responses: Vec<AckData>,
    },
    /// A socket is leaving (`disconnecting`); `rooms` are the rooms it was in.
    Disconnecting {
        /// Engine.IO session id (empty for a socket lost with an earlier instance, see
        /// [`Server::adopt_orphans`]).
        session: String,
        /// The namespace.
        nsp: String,
        /// The socket id.
        sid: String,
        /// Why.
        reason: DisconnectReason,
        /// The rooms it was still in, its own included.
        rooms: Vec<String>,
        /// Its `socket.data`, JSON text.
        data: String,
    },
    /// A socket left (`disconnect`); `data` is what its `socket.data` was, which socket.io's
    /// `disconnect` listeners still read.
    Disconnect {
        /// Engine.IO session id (empty for a socket lost with an earlier instance, see
        /// [`Server::adopt_orphans`]).
        session: String,
        /// The namespace.
        nsp: String,
        /// The socket id.
        sid: String,
        /// Why.
        reason: DisconnectReason,
        /// Its `socket.data`, JSON text.
        data: String,
    },
    /// The socket's `error` event: its client sent a packet that could not be decoded (the
    /// session is closed right after).
    Error {
        /// The socket id.
        sid: String,
        /// The decoder's message.
        message: String,
    },
}

/// Misuse of the server API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No open Engine.IO session has this id.
    #[error("unknown session")]
    UnknownSession,
    /// No connected socket has this id.
    #[error("unknown socket")]
    UnknownSocket,
    /// No CONNECT is waiting for a decision on this namespace of this session.
    #[error("no pending connect")]
    NoPendingConnect,
    /// Another socket already has this id.
    #[error("duplicate socket id")]
    DuplicateSocketId,
    /// Recovery is enabled and [`Accept::pid`] is missing.
    #[error("missing recovery pid")]
    MissingPid,
    /// The event name is reserved (`connect`, `disconnect`, ...).
    #[error("\"{0}\" is a reserved event name")]
    ReservedEvent(String),
    /// Arguments are not a JSON array text.
    #[error("arguments must be a JSON array")]
    InvalidArgs,
    /// A JSON text (data, auth, query, headers) is not valid JSON of the right kind.
    #[error("invalid JSON")]
    InvalidJson,
    /// Placeholders do not match the attachments.
    #[error("placeholders do not match the attachments")]
    InvalidAttachments,
    /// `socket.data` or rooms would make the session's snapshot larger than
    /// [`Config::max_snapshot_bytes`]: they could not be kept across hibernation.
    #[error("socket state of {len} bytes exceeds the limit of {max}")]
    StateTooLarge {
        /// The snapshot's length with it.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A new dynamic namespace would take the names in use on the object past their bound.
    #[error("too many namespaces in use")]
    TooManyNamespaces,
    /// The room is another socket's id: joining it would receive that socket's messages.
    #[error("room {0:?} is the id of another socket")]
    RoomIsSocketId(String),
}

/// Why a snapshot could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The snapshot would exceed [`Config::max_snapshot_bytes`].
    #[error("snapshot of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No such session.
    #[error("unknown session")]
    UnknownSession,
    /// The text is not JSON.
    #[error("invalid snapshot: {0}")]
    Invalid(JsonError),
    /// A field has the wrong type or is missing.
    #[error("invalid snapshot field: {0}")]
    Field(&'static str),
    /// The snapshot names a session or socket the server has already (a stale snapshot).
    #[error("session or socket {0:?} exists already")]
    Duplicate(String),
    /// The attachment refers to a stored snapshot that storage does not hold.
    #[error("the stored snapshot {0:?} is missing")]
    Missing(String),
}

/// A connected socket as `fetchSockets()` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketInfo {
    /// The socket id.
    pub sid: String,
    /// The namespace.
    pub nsp: String,
    /// Engine.IO session id.
    pub session: String,
    /// The recovery session id.
    pub pid: Option<String>,
    /// Its rooms, its own included.
    pub rooms: Vec<String>,
    /// `socket.data`, JSON text.
    pub data: String,
    /// `handshake.auth`, JSON object text.
    pub auth: String,
    /// `handshake.issued`, ms.
    pub issued: u64,
    /// `handshake.query`, `headers`, `address`.
    pub info: SessionInfo,
    /// Whether its previous session was recovered.
    pub recovered: bool,
}

/// Which snapshots changed, see [`Server::take_dirty`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dirty {
    /// Sessions whose [`Server::session_to_json`] changed (or that closed: delete theirs).
    pub sessions: Vec<String>,
    /// Whether [`Server::shared_to_json`] changed.
    pub shared: bool,
    /// The record of each connected socket whose id, rooms or data changed, by record key
    /// (its recovery id, or its socket id without recovery), to keep in storage; `None` once
    /// it disconnected (delete it). Kept with recovery on or
    /// [`super::Config::announce_lost_sockets`]. On a new instance, [`Server::adopt_orphans`]
    /// disconnects the sockets of these records that did not come back.
    pub live: Vec<(String, Option<String>)>,
}

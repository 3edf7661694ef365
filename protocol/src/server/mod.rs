//! The server side of Socket.IO v5 (namespaces, rooms, broadcasts, acknowledgements,
//! connection state recovery), sans-IO, following the `socket.io` 4.8 server and the
//! `socket.io-adapter` in-memory adapter.
//!
//! # How it fits with Engine.IO
//!
//! [`Server`] does not own the Engine.IO sessions: the driver (a Durable Object, a test) keeps
//! one [`crate::engine::ServerSession`] per Engine.IO session and feeds this core what they
//! report, keyed by the Engine.IO session id (a socket.io "client"):
//!
//! - a session is established → [`Server::handle_open`] (starts `connectTimeout`);
//! - [`crate::engine::ServerEvent::Message`] → [`Server::handle_message`];
//! - [`crate::engine::ServerEvent::Closed`] → [`Server::handle_close`];
//! - whenever [`Server::poll_timeout`] is due → [`Server::handle_timeout`].
//!
//! It polls [`Server::poll_transmit`]: [`Transmit::Packet`] hands out one encoded packet
//! ([`EncodedPacket`]: a text frame and its binary attachments, encoded once) with the sessions
//! to send it on — the driver calls `ServerSession::send` with each frame, the `Rc` is shared by
//! every recipient of a broadcast; [`Transmit::Close`] asks it to close an Engine.IO session
//! (`ServerSession::close(CloseReason::ForcedClose)`). The core has already run the socket-level
//! consequences of a close it asked for: the `Closed` event the engine reports afterwards is
//! ignored. [`Server::poll_event`] yields what the application sees ([`Event`]): connection
//! requests to run middlewares on, connections, events, acknowledgements, disconnections.
//!
//! # Decisions the driver makes
//!
//! Namespace predicates (regexes, callbacks) and middlewares live in the driver. A CONNECT
//! yields [`Event::ConnectRequest`]; the driver answers with [`Server::accept_connect`] (with
//! the socket id and recovery pid it generated, and the `socket.data` its middlewares set),
//! [`Server::reject_connect`] (middleware error: `message` and `data`) or
//! [`Server::refuse_namespace`] (no dynamic namespace matches). Ids are never generated here.
//!
//! # Hibernation
//!
//! Memory may be dropped between any two calls. The state is two kinds of JSON text:
//!
//! - [`Server::session_to_json`]: one Engine.IO session with its sockets (namespace, socket id,
//!   pid, rooms, `data`, auth, handshake info, ack counter, pending connects, a partly received
//!   binary packet). Meant for the WebSocket attachment, whose limit in workerd is 2 KiB: the
//!   snapshot fails with [`SnapshotError::TooLarge`] beyond [`Config::max_snapshot_bytes`]
//!   (2048 by default) — keep `data`, auth and the headers passed in [`SessionInfo`] small.
//!   [`Server::take_dirty`] tells which sessions changed since it was last called, and
//!   [`Server::take_writes`] turns that into the writes the driver carries out.
//! - [`Server::shared_to_json`]: what spans sessions, for Durable Object storage: the recovery
//!   log (sent packets with their offsets), disconnected sessions awaiting recovery, pending
//!   acknowledgements with their deadlines, broadcast acknowledgements being collected, and the
//!   dynamic namespaces created so far.
//!
//! [`Server::restore`] rebuilds everything (room index included) from those texts; a restored
//! server behaves as the original would have.
//!
//! # Differences from the reference
//!
//! - Iteration orders are sorted (socket ids, room names) instead of insertion orders, so a
//!   restored server sends in the same order as the original.
//! - Ack ids are counted per socket (the reference counts per namespace); a broadcast takes an
//!   id unused by all its recipients. Clients cannot tell the difference.
//! - Offsets of the recovery log are `<emitted at, hex>-<sequence, hex>`, not `yeast()` ids.
//! - A second CONNECT to a namespace whose connection is still pending is ignored.

mod holdings;
mod json;
mod offsets;
mod recovery;
mod snapshot;
mod stored;
mod timers;
mod writes;

use recovery::live_record;
pub use recovery::RecoveryRef;
use stored::StoredShared;
pub use stored::{ACK_PREFIX, LOG_PREFIX, PERSISTED_PREFIX};
use timers::{Timer, Timers};
pub use writes::{Unpersisted, Write, LIVE_PREFIX, SHARED_KEY};

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use crate::engine::{CloseReason, Data};
use crate::json::{check_placeholders, write_string, JsonError, Kind};
use crate::socket::{decode_text, DecodeError, Packet, PacketType, RESERVED_EVENTS};

use json::{array_inner, first_element, is_json_of, string_member};

/// `connectTimeout` default: 45 s.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 45_000;
/// Room kept in a session's snapshot for a socket's fixed fields (ids, pid, counters, its
/// connect position) beside its namespace, auth and data.
const SOCKET_SNAPSHOT_RESERVE: usize = 256;

/// The WebSocket attachment limit of workerd, the default [`Config::max_snapshot_bytes`].
pub const DEFAULT_MAX_SNAPSHOT_BYTES: usize = 2048;
/// The message of a timed-out acknowledgement.
pub const TIMEOUT_MESSAGE: &str = "operation has timed out";

/// Server settings (socket.io's option names in the docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `connectTimeout`: ms an Engine.IO session has to join a namespace before it is closed.
    pub connect_timeout_ms: u64,
    /// `connectionStateRecovery`; `None` disables it.
    pub recovery: Option<RecoveryConfig>,
    /// Namespaces that always exist (`io.of(name)` with a string); `/` is always there.
    pub namespaces: Vec<String>,
    /// Whether dynamic namespaces exist (`io.of(regex or fn)`): unknown names are then asked
    /// to the driver through [`ConnectRequest::check_namespace`]; otherwise they are refused
    /// with "Invalid namespace" at once.
    pub dynamic_namespaces: bool,
    /// Largest session snapshot [`Server::session_to_json`] produces.
    pub max_snapshot_bytes: usize,
    /// socket.io-parser's `maxAttachments` for incoming packets.
    pub max_attachments: usize,
    /// Most bytes of attachments one incoming packet may carry in all (default 1 MB, one
    /// `maxHttpBufferSize`): what a session holds while a packet is reassembled. The
    /// reference bounds each attachment only.
    pub max_attachment_bytes: usize,
    /// How long a binary packet may wait for its attachments (default 30 s): past it the
    /// session is closed (its sockets get `error` "attachments not received in time"), so no
    /// session holds a partial packet for ever. The reference has no such bound.
    pub attachment_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            recovery: None,
            namespaces: vec!["/".into()],
            dynamic_namespaces: false,
            max_snapshot_bytes: DEFAULT_MAX_SNAPSHOT_BYTES,
            max_attachments: crate::socket::DEFAULT_MAX_ATTACHMENTS,
            max_attachment_bytes: 1_000_000,
            attachment_timeout_ms: 30_000,
        }
    }
}

/// The `error` a socket gets when its packet's attachments did not arrive in time.
pub const ATTACHMENT_TIMEOUT: &str = "attachments not received in time";

/// `connectionStateRecovery` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// `maxDisconnectionDuration`, ms (default 2 minutes).
    pub max_disconnection_duration_ms: u64,
    /// `skipMiddlewares` (default true): a recovered socket connects without middlewares.
    pub skip_middlewares: bool,
    /// Most packets the log keeps (oldest dropped first); the reference has no such bound.
    pub max_log_len: usize,
    /// Most bytes of packets (data and attachments) the log keeps, oldest dropped first
    /// (default 1 MB): the log travels in one storage value, which workerd caps at 2 MB.
    pub max_log_bytes: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration_ms: 120_000,
            skip_middlewares: true,
            max_log_len: 1000,
            max_log_bytes: 1_000_000,
        }
    }
}

/// What socket.io's `handshake` takes from the Engine.IO request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The query parameters, a JSON object text.
    pub query: String,
    /// The request headers the application needs, a JSON object text.
    pub headers: String,
    /// The remote address.
    pub address: String,
}

impl Default for SessionInfo {
    fn default() -> Self {
        SessionInfo { query: "{}".into(), headers: "{}".into(), address: String::new() }
    }
}

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
    fn new(packet: &Packet) -> Self {
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
        /// Engine.IO session id.
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
    /// A socket left (`disconnect`).
    Disconnect {
        /// Engine.IO session id.
        session: String,
        /// The namespace.
        nsp: String,
        /// The socket id.
        sid: String,
        /// Why.
        reason: DisconnectReason,
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
}

/// A selection of sockets in one namespace (socket.io's `BroadcastOperator`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Broadcast {
    /// The namespace.
    pub nsp: String,
    /// Send to the sockets in any of these rooms (all sockets when empty).
    pub rooms: BTreeSet<String>,
    /// Leave out the sockets in any of these rooms.
    pub except: BTreeSet<String>,
    /// Skip sockets whose transport is not writable ([`Server::set_writable`]); not logged
    /// for recovery.
    pub volatile: bool,
    /// Only the sockets of this server: a driver relaying broadcasts to other Durable Objects
    /// must not relay this one. The core itself only knows local sockets.
    pub local: bool,
    /// A broadcast another server logged, relayed here with the (origin, sequence) it was
    /// logged under there ([`Delivery::logged`]): logged here under the same, and applied once.
    pub relayed: Option<(String, u64)>,
}

impl Broadcast {
    /// All sockets of namespace `nsp`.
    pub fn new(nsp: impl Into<String>) -> Self {
        Broadcast { nsp: nsp.into(), ..Default::default() }
    }

    /// A broadcast another server logged under (`origin`, `seq`), relayed here.
    pub fn relayed(mut self, origin: impl Into<String>, seq: u64) -> Self {
        self.relayed = Some((origin.into(), seq));
        self
    }

    /// `to(room)` / `in(room)`: add a target room.
    pub fn to(mut self, room: impl Into<String>) -> Self {
        self.rooms.insert(room.into());
        self
    }

    /// `except(room)`: add an excluded room.
    pub fn except(mut self, room: impl Into<String>) -> Self {
        self.except.insert(room.into());
        self
    }

    /// The `volatile` flag.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// The `local` flag.
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }
}

/// Who a broadcast went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The socket ids selected (volatile skips included, as the reference counts them).
    pub sids: Vec<String>,
    /// The Engine.IO sessions the packet is written to.
    pub sessions: Vec<String>,
    /// The packet, encoded once; `None` when nobody was selected.
    pub packet: Option<Rc<EncodedPacket>>,
    /// The (origin, sequence) the broadcast was logged under for recovery, to relay with it.
    pub logged: Option<(String, u64)>,
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
    /// With recovery on, the record of each connected socket whose id, rooms or data changed,
    /// by recovery id, to keep in storage; `None` once it disconnected (delete it). After a
    /// restart, [`Server::adopt_orphans`] makes the sockets of these records recoverable.
    pub live: Vec<(String, Option<String>)>,
}

// ---- state ----

#[derive(Debug, Clone, PartialEq, Eq)]
struct SessionState {
    info: SessionInfo,
    writable: bool,
    /// namespace -> socket id
    sockets: BTreeMap<String, String>,
    /// namespace -> auth of a CONNECT awaiting the driver
    pending: BTreeMap<String, String>,
    connect_deadline: Option<u64>,
    /// A binary packet awaiting attachments, with the announced count.
    partial: Option<(Packet, usize)>,
    /// When the partial packet's attachments are due ([`Config::attachment_timeout_ms`]).
    partial_deadline: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SocketState {
    session: String,
    nsp: String,
    pid: Option<String>,
    /// Rooms, its own id included.
    rooms: BTreeSet<String>,
    data: String,
    auth: String,
    issued: u64,
    next_ack: u64,
    recovered: bool,
    /// With recovery on, the log position when it connected: the offset a reconnection that
    /// received no broadcast (so has no offset to send) recovers from. `None` in snapshots
    /// written before it was kept.
    since: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Namespace {
    sockets: BTreeSet<String>,
    rooms: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LogEntry {
    /// Its place in the log of this server, for ever (its storage key, see `stored.rs`).
    key: u64,
    /// The offset the recipients got: the log's position as a vector of the last sequence of
    /// each origin (see `offsets.rs`).
    offset: String,
    /// The server that logged the broadcast first, and its sequence there.
    origin: String,
    seq: u64,
    nsp: String,
    rooms: Vec<String>,
    except: Vec<String>,
    data: String,
    attachments: Vec<Vec<u8>>,
    emitted_at: u64,
}

impl LogEntry {
    /// What it weighs in the log: its packet's data and attachments.
    fn size(&self) -> usize {
        self.data.len() + self.attachments.iter().map(Vec::len).sum::<usize>()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Persisted {
    sid: String,
    nsp: String,
    rooms: Vec<String>,
    data: String,
    disconnected_at: u64,
    /// The socket's `since` (see `SocketState`).
    since: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingAck {
    deadline: Option<u64>,
    broadcast: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Collect {
    expected: usize,
    responses: Vec<AckData>,
    deadline: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Shared {
    next_offset: u64,
    log: VecDeque<LogEntry>,
    /// pid -> disconnected session
    persisted: BTreeMap<String, Persisted>,
    /// (socket id, ack id) -> pending
    acks: BTreeMap<(String, u64), PendingAck>,
    collects: BTreeMap<u64, Collect>,
    next_broadcast: u64,
    dynamic: BTreeSet<String>,
    /// pid -> (the server a session was exported to, when): a later reconnection that asks
    /// here is sent on there.
    moved: BTreeMap<String, (String, u64)>,
    /// The last sequence logged here from each origin (the position the next offset names).
    seen: BTreeMap<String, u64>,
    /// What the log weighs ([`LogEntry::size`] summed): kept up to date, not persisted.
    log_bytes: usize,
    /// The key of the last entry logged ([`LogEntry::key`]).
    next_log_key: u64,
}

/// A restored session for a CONNECT carrying `pid` and `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Restored {
    sid: String,
    pid: String,
    rooms: Vec<String>,
    data: String,
    missed: Vec<(String, Vec<Vec<u8>>)>,
    /// The persisted session's `since` (see `SocketState`).
    since: Option<String>,
}

/// The Socket.IO server core: every namespace, socket and room of one server (one Durable
/// Object), driven as the module documentation describes.
#[derive(Debug)]
pub struct Server {
    config: Config,
    sessions: BTreeMap<String, SessionState>,
    sockets: BTreeMap<String, SocketState>,
    nsps: BTreeMap<String, Namespace>,
    shared: Shared,
    /// What storage holds of `shared`.
    stored: StoredShared,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    encodes: u64,
    dirty: BTreeSet<String>,
    shared_dirty: bool,
    /// This server's name among the servers that relay broadcasts to each other: the origin
    /// of what it logs ([`Server::set_origin`]).
    origin: String,
    /// Sockets whose live record changed, by recovery id: their socket id.
    live_dirty: BTreeMap<String, String>,
    /// Sessions exported by other servers for pending CONNECTs, by (Engine.IO session,
    /// namespace): never persisted, they are used within the event that imported them.
    imports: BTreeMap<(String, String), Restored>,
    /// Every deadline of the state above, by time.
    timers: Timers,
}

impl Server {
    /// An empty server.
    pub fn new(config: Config) -> Self {
        Server {
            config,
            sessions: BTreeMap::new(),
            sockets: BTreeMap::new(),
            nsps: BTreeMap::new(),
            shared: Shared::default(),
            stored: StoredShared::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            encodes: 0,
            dirty: BTreeSet::new(),
            shared_dirty: false,
            origin: String::new(),
            live_dirty: BTreeMap::new(),
            imports: BTreeMap::new(),
            timers: Timers::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ---- inputs ----

    /// An Engine.IO session is open: it has `connectTimeout` to join a namespace. Refused
    /// ([`ApiError::StateTooLarge`]) when its query and headers leave no room in its snapshot
    /// for a socket.
    pub fn handle_open(&mut self, session: &str, info: SessionInfo, now_ms: u64) -> Result<(), ApiError> {
        if !is_json_of(&info.query, Kind::Object) || !is_json_of(&info.headers, Kind::Object) {
            return Err(ApiError::InvalidJson);
        }
        self.sessions.insert(
            session.to_owned(),
            SessionState {
                info,
                writable: true,
                sockets: BTreeMap::new(),
                pending: BTreeMap::new(),
                connect_deadline: Some(now_ms + self.config.connect_timeout_ms),
                partial: None,
                partial_deadline: None,
            },
        );
        // The handshake's query and headers travel in the session's snapshot, with room left
        // for a socket: a session that could not be kept across hibernation is refused now.
        let used = self.session_to_json(session).map_or(usize::MAX, |snapshot| snapshot.len());
        if used.saturating_add(SOCKET_SNAPSHOT_RESERVE) > self.config.max_snapshot_bytes {
            self.sessions.remove(session);
            return Err(ApiError::StateTooLarge { len: used, max: self.config.max_snapshot_bytes });
        }
        self.timers.set(Timer::Connect(session.to_owned()), now_ms + self.config.connect_timeout_ms);
        self.dirty.insert(session.to_owned());
        Ok(())
    }

    /// Whether the session's transport can take a packet now (`transport.writable`): volatile
    /// packets skip sessions set to false. Defaults to true.
    pub fn set_writable(&mut self, session: &str, writable: bool) {
        if let Some(s) = self.sessions.get_mut(session) {
            if s.writable != writable {
                s.writable = writable;
                self.dirty.insert(session.to_owned());
            }
        }
    }

    /// An Engine.IO message arrived on `session`. Unknown sessions are ignored.
    pub fn handle_message(&mut self, session: &str, data: Data, now_ms: u64) {
        let (max, max_bytes) = (self.config.max_attachments, self.config.max_attachment_bytes);
        let Some(s) = self.sessions.get_mut(session) else { return };
        // A packet still waiting for its attachments is part of the session's snapshot.
        let mut partial_changed = s.partial.is_some();
        let decoded = match data {
            Data::Text(text) => {
                if s.partial.is_some() {
                    Err(DecodeError::UnexpectedText)
                } else {
                    match decode_text(&text, max) {
                        Ok((packet, 0)) => Ok(Some(packet)),
                        Ok((packet, expected)) => {
                            s.partial = Some((packet, expected));
                            s.partial_deadline = Some(now_ms + self.config.attachment_timeout_ms);
                            partial_changed = true;
                            Ok(None)
                        }
                        Err(e) => Err(e),
                    }
                }
            }
            Data::Binary(bytes) => match s.partial.as_mut() {
                None => Err(DecodeError::UnexpectedBinary),
                Some((packet, _))
                    if packet.attachments.iter().map(Vec::len).sum::<usize>() + bytes.len() > max_bytes =>
                {
                    s.partial = None;
                    Err(DecodeError::AttachmentsTooLarge)
                }
                Some((packet, expected)) => {
                    packet.attachments.push(bytes);
                    if packet.attachments.len() < *expected {
                        Ok(None)
                    } else {
                        let (packet, expected) = s.partial.take().expect("partial");
                        match packet.data.as_deref().map(|d| check_placeholders(d, expected)) {
                            Some(Err(())) => Err(DecodeError::IllegalPlaceholder),
                            _ => Ok(Some(packet)),
                        }
                    }
                }
            },
        };
        if partial_changed {
            match (&s.partial, s.partial_deadline) {
                (Some(_), Some(at)) => self.timers.set(Timer::Reassembly(session.to_owned()), at),
                _ => self.timers.cancel(&Timer::Reassembly(session.to_owned())),
            }
            self.dirty.insert(session.to_owned());
        }
        match decoded {
            Ok(None) => {}
            Ok(Some(packet)) => self.on_packet(session, packet, now_ms),
            Err(error) => self.fail_session(session, &error.to_string(), now_ms),
        }
    }

    /// client.onerror: every socket of the session gets `error`, then the connection is
    /// closed, which Engine.IO reports as "forced close".
    fn fail_session(&mut self, session: &str, message: &str, now_ms: u64) {
        let sids: Vec<String> = self.sessions[session].sockets.values().cloned().collect();
        for sid in sids {
            self.events.push_back(Event::Error { sid, message: message.to_owned() });
        }
        self.close_session(session, DisconnectReason::ForcedClose, now_ms);
    }

    /// The Engine.IO session upgraded to WebSocket: its snapshot must be written where the
    /// driver keeps WebSocket sessions (so [`Server::take_dirty`] lists it).
    pub fn handle_upgrade(&mut self, session: &str) {
        if self.sessions.contains_key(session) {
            self.dirty.insert(session.to_owned());
        }
    }

    /// The Engine.IO session closed (the reason the engine reported). Its sockets disconnect
    /// with the same reason. Sessions the core closed itself are ignored.
    pub fn handle_close(&mut self, session: &str, reason: CloseReason, now_ms: u64) {
        if self.sessions.contains_key(session) {
            self.remove_session(session, reason.into(), now_ms);
        }
    }

    /// Time passed: connect timeouts, ack timeouts, pruning of the recovery state. Only the
    /// timers that are due are visited.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        for timer in self.timers.take_due(now_ms) {
            match timer {
                Timer::Connect(id) => {
                    let Some(s) = self.sessions.get_mut(&id) else { continue };
                    if s.connect_deadline.is_none_or(|d| d > now_ms) {
                        continue;
                    }
                    s.connect_deadline = None;
                    self.dirty.insert(id.clone());
                    if s.sockets.is_empty() {
                        self.close_session(&id, DisconnectReason::ForcedServerClose, now_ms);
                    }
                }
                Timer::Reassembly(id) => {
                    let due = |s: &SessionState| s.partial.is_some() && s.partial_deadline.is_some_and(|d| d <= now_ms);
                    if self.sessions.get(&id).is_some_and(due) {
                        self.fail_session(&id, ATTACHMENT_TIMEOUT, now_ms);
                    }
                }
                Timer::Ack(sid, id) => {
                    let key = (sid, id);
                    let due = |a: &PendingAck| a.broadcast.is_none() && a.deadline.is_some_and(|d| d <= now_ms);
                    if !self.shared.acks.get(&key).is_some_and(due) {
                        continue;
                    }
                    self.shared.acks.remove(&key);
                    self.shared_dirty = true;
                    self.events.push_back(Event::Ack { sid: key.0, id: key.1, result: Err(AckError::Timeout) });
                }
                Timer::Collect(id) => {
                    if self.shared.collects.get(&id).is_none_or(|c| c.deadline > now_ms) {
                        continue;
                    }
                    let collect = self.shared.collects.remove(&id).expect("collect");
                    self.shared.acks.retain(|_, a| a.broadcast != Some(id));
                    self.shared_dirty = true;
                    self.events.push_back(Event::BroadcastAck {
                        id,
                        error: Some(AckError::Timeout),
                        responses: collect.responses,
                    });
                }
            }
        }
        self.prune(now_ms);
    }

    /// Shuts the server down (`io.close()`): every socket disconnects with "server shutting
    /// down", every session is closed.
    pub fn shutdown(&mut self, now_ms: u64) {
        let ids: Vec<String> = self.sessions.keys().cloned().collect();
        for id in ids {
            self.close_session(&id, DisconnectReason::ServerShuttingDown, now_ms);
        }
    }

    // ---- connect decisions ----

    /// Accepts a pending CONNECT: the socket joins the namespace (and its own room), CONNECT
    /// `{"sid":..,"pid":..}` is sent (after the missed packets of a recovered session).
    pub fn accept_connect(&mut self, session: &str, nsp: &str, accept: Accept, now_ms: u64) -> Result<(), ApiError> {
        if let Some(data) = &accept.data {
            if crate::json::validate(data).is_err() {
                return Err(ApiError::InvalidJson);
            }
        }
        let s = self.sessions.get(session).ok_or(ApiError::UnknownSession)?;
        let auth = s.pending.get(nsp).ok_or(ApiError::NoPendingConnect)?.clone();
        let restored = self.try_restore(session, nsp, &auth, now_ms);
        self.imports.remove(&(session.to_owned(), nsp.to_owned()));
        if restored.is_none() {
            if self.sockets.contains_key(&accept.sid) {
                return Err(ApiError::DuplicateSocketId);
            }
            if self.config.recovery.is_some() && accept.pid.is_none() {
                return Err(ApiError::MissingPid);
            }
        }
        self.sessions.get_mut(session).expect("session").pending.remove(nsp);
        if !self.is_known(nsp) && self.shared.dynamic.insert(nsp.to_owned()) {
            self.shared_dirty = true;
        }
        match restored {
            Some(r) => self.do_connect(session, nsp, auth, r, accept.data, true, now_ms),
            None => {
                let fresh = Restored {
                    sid: accept.sid,
                    pid: accept.pid.unwrap_or_default(),
                    rooms: Vec::new(),
                    data: "{}".into(),
                    missed: Vec::new(),
                    since: None,
                };
                self.do_connect(session, nsp, auth, fresh, accept.data, false, now_ms)
            }
        }
        Ok(())
    }

    /// Refuses a pending CONNECT as a middleware error does: CONNECT_ERROR
    /// `{"message":..,"data":..}` (`data` omitted when `None`).
    pub fn reject_connect(
        &mut self,
        session: &str,
        nsp: &str,
        message: &str,
        data: Option<&str>,
    ) -> Result<(), ApiError> {
        if data.is_some_and(|d| crate::json::validate(d).is_err()) {
            return Err(ApiError::InvalidJson);
        }
        let s = self.sessions.get_mut(session).ok_or(ApiError::UnknownSession)?;
        s.pending.remove(nsp).ok_or(ApiError::NoPendingConnect)?;
        self.dirty.insert(session.to_owned());
        self.imports.remove(&(session.to_owned(), nsp.to_owned()));
        let mut body = String::from("{\"message\":");
        write_string(&mut body, message);
        if let Some(data) = data {
            body.push_str(",\"data\":");
            body.push_str(data);
        }
        body.push('}');
        self.connect_error(session, nsp, body);
        Ok(())
    }

    /// Refuses a pending CONNECT to a namespace no dynamic predicate matched: CONNECT_ERROR
    /// `{"message":"Invalid namespace"}`.
    pub fn refuse_namespace(&mut self, session: &str, nsp: &str) -> Result<(), ApiError> {
        let s = self.sessions.get_mut(session).ok_or(ApiError::UnknownSession)?;
        s.pending.remove(nsp).ok_or(ApiError::NoPendingConnect)?;
        self.dirty.insert(session.to_owned());
        self.connect_error(session, nsp, "{\"message\":\"Invalid namespace\"}".into());
        Ok(())
    }

    // ---- sockets ----

    /// `socket.emit(event, ...args)`: `args` is a JSON array text, placeholders referring to
    /// `attachments`. With recovery enabled it is logged with an offset, as the reference
    /// routes it through the adapter.
    pub fn emit(
        &mut self,
        sid: &str,
        event: &str,
        args: &str,
        attachments: Vec<Vec<u8>>,
        now_ms: u64,
    ) -> Result<Option<Rc<EncodedPacket>>, ApiError> {
        let nsp = self.socket_state(sid)?.nsp.clone();
        // The socket's own room has no other member: `join` refuses rooms named after a
        // socket, connected or recoverable.
        let op = Broadcast::new(nsp).to(sid);
        Ok(self.broadcast(&op, event, args, attachments, now_ms)?.packet)
    }

    /// `socket.timeout(ms).emitWithAck(event, ...args)` (no timeout when `None`): returns the ack
    /// id; the answer comes as [`Event::Ack`].
    pub fn emit_with_ack(
        &mut self,
        sid: &str,
        event: &str,
        args: &str,
        attachments: Vec<Vec<u8>>,
        timeout_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<u64, ApiError> {
        let socket = self.socket_state(sid)?;
        let (nsp, session, id) = (socket.nsp.clone(), socket.session.clone(), socket.next_ack);
        let data = build_data(event, args, &attachments, None)?;
        let packet = Packet { kind: PacketType::Event, nsp, id: Some(id), data: Some(data), attachments };
        self.socket_mut(sid).next_ack = id + 1;
        let deadline = timeout_ms.map(|t| now_ms + t);
        self.shared.acks.insert((sid.to_owned(), id), PendingAck { deadline, broadcast: None });
        if let Some(at) = deadline {
            self.timers.set(Timer::Ack(sid.to_owned(), id), at);
        }
        self.shared_dirty = true;
        let encoded = self.encode(&packet);
        self.transmits.push_back(Transmit::Packet { sessions: vec![session], packet: encoded });
        Ok(id)
    }

    /// Answers the client's EVENT that carried ack id `id` ([`Message::ack`]).
    pub fn ack(&mut self, sid: &str, id: u64, args: &str, attachments: Vec<Vec<u8>>) -> Result<(), ApiError> {
        check_args(args, &attachments)?;
        let socket = self.socket_state(sid)?;
        let packet = Packet {
            kind: PacketType::Ack,
            nsp: socket.nsp.clone(),
            id: Some(id),
            data: Some(args.to_owned()),
            attachments,
        };
        let session = socket.session.clone();
        self.send_packet(&session, &packet);
        Ok(())
    }

    /// `socket.join(rooms)`.
    /// A room named after another socket's id (connected, or disconnected and recoverable)
    /// is refused, and nothing is joined then: its member would receive that socket's private
    /// emits, which travel through its own room. So are rooms that would make the session's
    /// snapshot too large to keep across hibernation ([`ApiError::StateTooLarge`]): this
    /// bounds the rooms per socket and their names.
    pub fn join<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, sid: &str, rooms: I) -> Result<(), ApiError> {
        let socket = self.socket_state(sid)?;
        let session = socket.session.clone();
        let mut added: Vec<String> = rooms.into_iter().map(Into::into).filter(|r| !socket.rooms.contains(r)).collect();
        added.dedup();
        let is_socket =
            |room: &String| self.sockets.contains_key(room) || self.shared.persisted.values().any(|p| p.sid == *room);
        if let Some(room) = added.iter().find(|room| *room != sid && is_socket(room)) {
            return Err(ApiError::RoomIsSocketId(room.clone()));
        }
        for room in &added {
            self.add_room(sid, room.clone());
        }
        // Rooms travel in the session's snapshot: a join it could not keep is refused whole.
        if let Err(SnapshotError::TooLarge { len, max }) = self.session_to_json(&session) {
            for room in &added {
                self.del_room(sid, room);
            }
            return Err(ApiError::StateTooLarge { len, max });
        }
        Ok(())
    }

    /// `socket.leave(room)`.
    pub fn leave(&mut self, sid: &str, room: &str) -> Result<(), ApiError> {
        self.socket_state(sid)?;
        self.del_room(sid, room);
        Ok(())
    }

    /// Sets `socket.data` (a JSON text).
    pub fn set_data(&mut self, sid: &str, data: &str) -> Result<(), ApiError> {
        if crate::json::validate(data).is_err() {
            return Err(ApiError::InvalidJson);
        }
        let session = self.socket_state(sid)?.session.clone();
        let old = std::mem::replace(&mut self.socket_mut(sid).data, data.to_owned());
        // `data` travels in the session's snapshot: refused if it could not be kept.
        if let Err(SnapshotError::TooLarge { len, max }) = self.session_to_json(&session) {
            self.socket_mut(sid).data = old;
            return Err(ApiError::StateTooLarge { len, max });
        }
        self.note_live(sid);
        Ok(())
    }

    /// `socket.disconnect(close)`: DISCONNECT is sent and the socket leaves with "server
    /// namespace disconnect"; with `close`, every socket of its session does and the Engine.IO
    /// session is closed.
    pub fn disconnect(&mut self, sid: &str, close: bool, now_ms: u64) -> Result<(), ApiError> {
        let socket = self.socket_state(sid)?;
        if close {
            let session = socket.session.clone();
            let sids: Vec<String> = self.sessions[&session].sockets.values().cloned().collect();
            for sid in sids {
                self.server_disconnect(&sid, now_ms);
            }
            self.close_session(&session, DisconnectReason::ForcedServerClose, now_ms);
        } else {
            self.server_disconnect(sid, now_ms);
        }
        Ok(())
    }

    /// A socket's `broadcast` operator: its namespace, every socket but itself.
    pub fn socket_broadcast(&self, sid: &str) -> Result<Broadcast, ApiError> {
        Ok(Broadcast::new(self.socket_state(sid)?.nsp.clone()).except(sid))
    }

    /// A connected socket.
    pub fn socket(&self, sid: &str) -> Option<SocketInfo> {
        self.sockets.get(sid).map(|s| self.info(sid, s))
    }

    /// The socket ids connected on an Engine.IO session, by namespace.
    pub fn session_sockets(&self, session: &str) -> Option<BTreeMap<String, String>> {
        self.sessions.get(session).map(|s| s.sockets.clone())
    }

    /// What the handshake request of an Engine.IO session told (query, headers, address).
    pub fn session_info(&self, session: &str) -> Option<SessionInfo> {
        self.sessions.get(session).map(|s| s.info.clone())
    }

    /// Whether an Engine.IO session is known (open, not closed by the core).
    pub fn has_session(&self, session: &str) -> bool {
        self.sessions.contains_key(session)
    }

    /// How many packets were encoded so far (a broadcast counts once).
    pub fn encode_count(&self) -> u64 {
        self.encodes
    }

    // ---- broadcast operator ----

    /// `io.of(nsp).to(..).except(..).emit(event, ...args)`: encodes once, queues one
    /// [`Transmit::Packet`] for all recipients, logs it for recovery (event without ack, not
    /// volatile) with its offset appended as the last argument.
    pub fn broadcast(
        &mut self,
        op: &Broadcast,
        event: &str,
        args: &str,
        attachments: Vec<Vec<u8>>,
        now_ms: u64,
    ) -> Result<Delivery, ApiError> {
        check_event(event)?;
        check_args(args, &attachments)?;
        let logged = match (&op.relayed, self.config.recovery.is_some() && !op.volatile) {
            (_, false) => None,
            // A relay seen before (sent again): applied once.
            // (A sequence past the last one seen from its origin is new without a look at the log.)
            (Some((origin, seq)), true)
                if self.shared.seen.get(origin).is_some_and(|last| last >= seq)
                    && self.shared.log.iter().any(|e| e.seq == *seq && e.origin == *origin) =>
            {
                return Ok(Delivery { sids: Vec::new(), sessions: Vec::new(), packet: None, logged: None });
            }
            (Some(relayed), true) => Some(relayed.clone()),
            (None, true) => {
                self.shared.next_offset += 1;
                Some((self.origin.clone(), self.shared.next_offset))
            }
        };
        let offset = logged.as_ref().map(|(origin, seq)| {
            let last = self.shared.seen.entry(origin.clone()).or_default();
            *last = (*last).max(*seq);
            offsets::encode(&self.shared.seen)
        });
        let data = build_data(event, args, &attachments, offset.as_deref())?;
        if let (Some(offset), Some((origin, seq))) = (offset, logged.clone()) {
            self.shared.log_bytes += data.len() + attachments.iter().map(Vec::len).sum::<usize>();
            self.shared.next_log_key += 1;
            self.shared.log.push_back(LogEntry {
                key: self.shared.next_log_key,
                offset,
                origin,
                seq,
                nsp: op.nsp.clone(),
                rooms: op.rooms.iter().cloned().collect(),
                except: op.except.iter().cloned().collect(),
                data: data.clone(),
                attachments: attachments.clone(),
                emitted_at: now_ms,
            });
            self.shared_dirty = true;
            self.prune(now_ms);
        }
        let sids = self.select(op);
        let packet = Packet { kind: PacketType::Event, nsp: op.nsp.clone(), id: None, data: Some(data), attachments };
        Ok(Delivery { logged, ..self.deliver(op, sids, &packet) })
    }

    /// `...timeout(ms).emitWithAck(event, ...args)` on a selection: every recipient gets the
    /// same packet and ack id; [`Event::BroadcastAck`] comes when all answered or at the
    /// timeout. Returns the broadcast id and the delivery.
    pub fn broadcast_with_ack(
        &mut self,
        op: &Broadcast,
        event: &str,
        args: &str,
        attachments: Vec<Vec<u8>>,
        timeout_ms: u64,
        now_ms: u64,
    ) -> Result<(u64, Delivery), ApiError> {
        check_event(event)?;
        let data = build_data(event, args, &attachments, None)?;
        let sids = self.select(op);
        let ack_id = sids.iter().map(|sid| self.sockets[sid].next_ack).max().unwrap_or(0);
        let bid = self.shared.next_broadcast;
        self.shared.next_broadcast += 1;
        for sid in &sids {
            self.socket_mut(sid).next_ack = ack_id + 1;
            self.shared.acks.insert((sid.clone(), ack_id), PendingAck { deadline: None, broadcast: Some(bid) });
        }
        self.shared_dirty = true;
        let packet =
            Packet { kind: PacketType::Event, nsp: op.nsp.clone(), id: Some(ack_id), data: Some(data), attachments };
        let delivery = self.deliver(op, sids, &packet);
        if delivery.sids.is_empty() {
            self.events.push_back(Event::BroadcastAck { id: bid, error: None, responses: Vec::new() });
        } else {
            self.shared.collects.insert(
                bid,
                Collect { expected: delivery.sids.len(), responses: Vec::new(), deadline: now_ms + timeout_ms },
            );
            self.timers.set(Timer::Collect(bid), now_ms + timeout_ms);
        }
        Ok((bid, delivery))
    }

    /// `fetchSockets()` on a selection.
    pub fn fetch_sockets(&self, op: &Broadcast) -> Vec<SocketInfo> {
        self.select(op).iter().map(|sid| self.info(sid, &self.sockets[sid])).collect()
    }

    /// `socketsJoin(rooms)` on a selection.
    pub fn sockets_join(&mut self, op: &Broadcast, rooms: &[&str]) {
        for sid in self.select(op) {
            for room in rooms {
                self.add_room(&sid, (*room).to_owned());
            }
        }
    }

    /// `socketsLeave(rooms)` on a selection.
    pub fn sockets_leave(&mut self, op: &Broadcast, rooms: &[&str]) {
        for sid in self.select(op) {
            for room in rooms {
                self.del_room(&sid, room);
            }
        }
    }

    /// `disconnectSockets(close)` on a selection.
    pub fn disconnect_sockets(&mut self, op: &Broadcast, close: bool, now_ms: u64) {
        for sid in self.select(op) {
            if self.sockets.contains_key(&sid) {
                let _ = self.disconnect(&sid, close, now_ms);
            }
        }
    }

    // ---- outputs ----

    /// The next thing to write.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next thing the application sees.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Server::handle_timeout`] next (connect and ack deadlines).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.next()
    }

    /// Which snapshots changed since the last call.
    pub fn take_dirty(&mut self) -> Dirty {
        let live = std::mem::take(&mut self.live_dirty)
            .into_iter()
            .map(|(pid, sid)| {
                let record =
                    self.sockets.get(&sid).filter(|s| s.pid.as_ref() == Some(&pid)).map(|s| live_record(&pid, &sid, s));
                (pid, record)
            })
            .collect();
        Dirty {
            sessions: std::mem::take(&mut self.dirty).into_iter().collect(),
            shared: std::mem::replace(&mut self.shared_dirty, false),
            live,
        }
    }

    // ---- internals ----

    fn socket_state(&self, sid: &str) -> Result<&SocketState, ApiError> {
        self.sockets.get(sid).ok_or(ApiError::UnknownSocket)
    }

    fn socket_mut(&mut self, sid: &str) -> &mut SocketState {
        let socket = self.sockets.get_mut(sid).expect("socket");
        self.dirty.insert(socket.session.clone());
        socket
    }

    fn info(&self, sid: &str, s: &SocketState) -> SocketInfo {
        SocketInfo {
            sid: sid.to_owned(),
            nsp: s.nsp.clone(),
            session: s.session.clone(),
            pid: s.pid.clone(),
            rooms: s.rooms.iter().cloned().collect(),
            data: s.data.clone(),
            auth: s.auth.clone(),
            issued: s.issued,
            info: self.sessions.get(&s.session).map(|x| x.info.clone()).unwrap_or_default(),
            recovered: s.recovered,
        }
    }

    fn is_known(&self, nsp: &str) -> bool {
        nsp == "/" || self.config.namespaces.iter().any(|n| n == nsp) || self.shared.dynamic.contains(nsp)
    }

    fn encode(&mut self, packet: &Packet) -> Rc<EncodedPacket> {
        self.encodes += 1;
        Rc::new(EncodedPacket::new(packet))
    }

    fn send_packet(&mut self, session: &str, packet: &Packet) {
        let encoded = self.encode(packet);
        self.transmits.push_back(Transmit::Packet { sessions: vec![session.to_owned()], packet: encoded });
    }

    fn connect_error(&mut self, session: &str, nsp: &str, body: String) {
        let mut packet = Packet::new(PacketType::ConnectError, nsp);
        packet.data = Some(body);
        self.send_packet(session, &packet);
    }

    fn on_packet(&mut self, session: &str, packet: Packet, now_ms: u64) {
        let s = &self.sessions[session];
        match (s.sockets.get(&packet.nsp).cloned(), packet.kind) {
            (None, PacketType::Connect) => {
                if !s.pending.contains_key(&packet.nsp) {
                    let auth = packet.data.unwrap_or_else(|| "{}".into());
                    self.on_connect(session, packet.nsp, auth, now_ms);
                }
            }
            (Some(sid), kind) if kind != PacketType::Connect && kind != PacketType::ConnectError => {
                self.on_socket_packet(&sid, packet, now_ms)
            }
            // client.ondecoded "invalid state": client.close()
            _ => self.close_session(session, DisconnectReason::ForcedServerClose, now_ms),
        }
    }

    fn on_connect(&mut self, session: &str, nsp: String, auth: String, now_ms: u64) {
        let known = self.is_known(&nsp);
        if !known && !self.config.dynamic_namespaces {
            self.connect_error(session, &nsp, "{\"message\":\"Invalid namespace\"}".into());
            return;
        }
        // The socket's auth travels in its session's snapshot: one that could not be kept
        // across hibernation is refused now rather than lost at the next eviction.
        let used = self.session_to_json(session).map_or(usize::MAX, |snapshot| snapshot.len());
        let needed = used.saturating_add(auth.len() + nsp.len() + SOCKET_SNAPSHOT_RESERVE);
        if needed > self.config.max_snapshot_bytes {
            let mut body = String::from("{\"message\":\"auth too large\",\"data\":{\"limit\":");
            body.push_str(
                &self.config.max_snapshot_bytes.saturating_sub(used + nsp.len() + SOCKET_SNAPSHOT_RESERVE).to_string(),
            );
            body.push_str("}}");
            self.connect_error(session, &nsp, body);
            return;
        }
        if let Some(pid) = self.config.recovery.as_ref().and_then(|_| string_member(&auth, "pid")) {
            self.take_over(&pid, &nsp, session, now_ms);
        }
        let restorable = self.try_restore(session, &nsp, &auth, now_ms).is_some();
        let skip = self.config.recovery.as_ref().is_some_and(|r| r.skip_middlewares) && restorable;
        if known && skip {
            let restored = self.try_restore(session, &nsp, &auth, now_ms).expect("restorable");
            self.do_connect(session, &nsp, auth, restored, None, true, now_ms);
            return;
        }
        self.sessions.get_mut(session).expect("session").pending.insert(nsp.clone(), auth.clone());
        self.dirty.insert(session.to_owned());
        let recover_from = match (&self.config.recovery, restorable) {
            // A client that received no broadcast has no offset: the holder knows its since.
            (Some(_), false) => string_member(&auth, "pid")
                .map(|pid| RecoveryRef { pid, offset: string_member(&auth, "offset").unwrap_or_default() }),
            _ => None,
        };
        self.events.push_back(Event::ConnectRequest(ConnectRequest {
            session: session.to_owned(),
            nsp,
            auth,
            check_namespace: !known,
            run_middlewares: !skip,
            recovered: restorable,
            recover_from,
        }));
    }

    /// adapter.restoreSession: the session persisted for `auth.pid`, unexpired, with the
    /// packets sent after `auth.offset` that it should have received.
    /// A session exported by another server for this CONNECT counts too, with the packets
    /// it missed taken from this server's own log.
    /// Without `auth.offset` (a client that received no broadcast before it lost its
    /// connection), the packets missed since the socket connected.
    fn try_restore(&self, session: &str, nsp: &str, auth: &str, now_ms: u64) -> Option<Restored> {
        let offset = string_member(auth, "offset");
        if let Some(imported) = self.imports.get(&(session.to_owned(), nsp.to_owned())) {
            if self.sockets.contains_key(&imported.sid) {
                return None;
            }
            let offset = offset.or_else(|| imported.since.clone())?;
            let missed = self.missed_since(&offset, nsp, &imported.rooms)?;
            return Some(Restored { missed, ..imported.clone() });
        }
        let pid = string_member(auth, "pid")?;
        self.restorable(&pid, offset, nsp, now_ms)
    }

    /// The session persisted for `pid` in `nsp`, if unexpired and not connected again.
    fn persisted_for(&self, pid: &str, nsp: &str, now_ms: u64) -> Option<&Persisted> {
        let recovery = self.config.recovery.as_ref()?;
        let p = self.shared.persisted.get(pid)?;
        let live = p.nsp == nsp
            && p.disconnected_at + recovery.max_disconnection_duration_ms >= now_ms
            && !self.sockets.contains_key(&p.sid);
        live.then_some(p)
    }

    /// The session persisted for `pid` in `nsp`, unexpired, with the packets after `offset`
    /// (after its `since` without one).
    fn restorable(&self, pid: &str, offset: Option<String>, nsp: &str, now_ms: u64) -> Option<Restored> {
        let p = self.persisted_for(pid, nsp, now_ms)?;
        let offset = offset.or_else(|| p.since.clone())?;
        let missed = self.missed_since(&offset, nsp, &p.rooms)?;
        Some(Restored {
            sid: p.sid.clone(),
            pid: pid.to_owned(),
            rooms: p.rooms.clone(),
            data: p.data.clone(),
            missed,
            since: p.since.clone(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn do_connect(
        &mut self,
        session: &str,
        nsp: &str,
        auth: String,
        r: Restored,
        data: Option<String>,
        recovered: bool,
        now_ms: u64,
    ) {
        // the reference sends the missed packets from the Socket constructor, before CONNECT
        for (missed, attachments) in r.missed {
            let packet =
                Packet { kind: PacketType::Event, nsp: nsp.to_owned(), id: None, data: Some(missed), attachments };
            self.send_packet(session, &packet);
        }
        let pid = self.config.recovery.is_some().then_some(r.pid);
        self.sockets.insert(
            r.sid.clone(),
            SocketState {
                session: session.to_owned(),
                nsp: nsp.to_owned(),
                pid: pid.clone(),
                rooms: BTreeSet::new(),
                data: data.unwrap_or(r.data),
                auth,
                issued: now_ms,
                next_ack: 0,
                recovered,
                // It received every broadcast logged so far (a recovered socket through the
                // missed packets sent above).
                since: self.config.recovery.is_some().then(|| offsets::encode(&self.shared.seen)),
            },
        );
        self.nsps.entry(nsp.to_owned()).or_default().sockets.insert(r.sid.clone());
        self.note_live(&r.sid);
        for room in r.rooms {
            self.add_room(&r.sid, room);
        }
        self.add_room(&r.sid, r.sid.clone());
        let s = self.sessions.get_mut(session).expect("session");
        s.sockets.insert(nsp.to_owned(), r.sid.clone());
        s.connect_deadline = None;
        self.timers.cancel(&Timer::Connect(session.to_owned()));
        self.dirty.insert(session.to_owned());
        let mut body = String::from("{\"sid\":");
        write_string(&mut body, &r.sid);
        if let Some(pid) = &pid {
            body.push_str(",\"pid\":");
            write_string(&mut body, pid);
        }
        body.push('}');
        let mut packet = Packet::new(PacketType::Connect, nsp);
        packet.data = Some(body);
        self.send_packet(session, &packet);
        self.events.push_back(Event::Connection {
            session: session.to_owned(),
            nsp: nsp.to_owned(),
            sid: r.sid,
            recovered,
        });
    }

    fn on_socket_packet(&mut self, sid: &str, packet: Packet, now_ms: u64) {
        match packet.kind {
            PacketType::Event => {
                let name = packet.event_name().map(|n| n.into_owned()).unwrap_or_default();
                let args = packet.event_args().unwrap_or_else(|| "[]".into());
                self.events.push_back(Event::Message(Message {
                    sid: sid.to_owned(),
                    nsp: packet.nsp,
                    name,
                    args,
                    attachments: packet.attachments,
                    ack: packet.id,
                }));
            }
            PacketType::Ack => {
                let Some(id) = packet.id else { return };
                let Some(pending) = self.shared.acks.remove(&(sid.to_owned(), id)) else { return };
                self.timers.cancel(&Timer::Ack(sid.to_owned(), id));
                self.shared_dirty = true;
                let args = packet.data.unwrap_or_else(|| "[]".into());
                match pending.broadcast {
                    None => self.events.push_back(Event::Ack {
                        sid: sid.to_owned(),
                        id,
                        result: Ok(AckData { args, attachments: packet.attachments }),
                    }),
                    Some(bid) => {
                        let Some(collect) = self.shared.collects.get_mut(&bid) else { return };
                        collect.responses.push(AckData { args: first_element(&args), attachments: packet.attachments });
                        if collect.responses.len() == collect.expected {
                            let collect = self.shared.collects.remove(&bid).expect("collect");
                            self.timers.cancel(&Timer::Collect(bid));
                            self.events.push_back(Event::BroadcastAck {
                                id: bid,
                                error: None,
                                responses: collect.responses,
                            });
                        }
                    }
                }
            }
            PacketType::Disconnect => self.close_socket(sid, DisconnectReason::ClientNamespaceDisconnect, now_ms),
            _ => {}
        }
    }

    fn server_disconnect(&mut self, sid: &str, now_ms: u64) {
        let Some(socket) = self.sockets.get(sid) else { return };
        let (session, nsp) = (socket.session.clone(), socket.nsp.clone());
        self.send_packet(&session, &Packet::new(PacketType::Disconnect, nsp));
        self.close_socket(sid, DisconnectReason::ServerNamespaceDisconnect, now_ms);
    }

    /// socket._onclose: `disconnecting` (rooms visible), persist for recovery, leave, `disconnect`.
    fn close_socket(&mut self, sid: &str, reason: DisconnectReason, now_ms: u64) {
        let Some(socket) = self.sockets.get(sid).cloned() else { return };
        let rooms: Vec<String> = socket.rooms.iter().cloned().collect();
        self.events.push_back(Event::Disconnecting {
            session: socket.session.clone(),
            nsp: socket.nsp.clone(),
            sid: sid.to_owned(),
            reason,
            rooms: rooms.clone(),
            data: socket.data.clone(),
        });
        if let (Some(_), Some(pid), true) = (&self.config.recovery, &socket.pid, reason.is_recoverable()) {
            self.shared.persisted.insert(
                pid.clone(),
                Persisted {
                    sid: sid.to_owned(),
                    nsp: socket.nsp.clone(),
                    rooms,
                    data: socket.data.clone(),
                    disconnected_at: now_ms,
                    since: socket.since.clone(),
                },
            );
            self.shared_dirty = true;
        }
        for room in &socket.rooms {
            self.del_room(sid, room);
        }
        if let Some(n) = self.nsps.get_mut(&socket.nsp) {
            n.sockets.remove(sid);
            if n.sockets.is_empty() {
                self.nsps.remove(&socket.nsp);
                self.prune_dynamic();
            }
        }
        self.sockets.remove(sid);
        // acks without a timer can never complete; timers still fire, as in the reference
        let before = self.shared.acks.len();
        self.shared.acks.retain(|(s, _), a| s != sid || a.deadline.is_some() || a.broadcast.is_some());
        self.shared_dirty |= before != self.shared.acks.len();
        if let Some(s) = self.sessions.get_mut(&socket.session) {
            s.sockets.remove(&socket.nsp);
        }
        self.dirty.insert(socket.session.clone());
        self.events.push_back(Event::Disconnect {
            session: socket.session,
            nsp: socket.nsp,
            sid: sid.to_owned(),
            reason,
        });
    }

    /// The core closes the session: sockets disconnect with `reason`, the driver closes it.
    pub(super) fn close_session(&mut self, session: &str, reason: DisconnectReason, now_ms: u64) {
        self.transmits.push_back(Transmit::Close { session: session.to_owned() });
        self.remove_session(session, reason, now_ms);
    }

    fn remove_session(&mut self, session: &str, reason: DisconnectReason, now_ms: u64) {
        let Some(s) = self.sessions.get(session) else { return };
        let sids: Vec<String> = s.sockets.values().cloned().collect();
        for sid in sids {
            self.close_socket(&sid, reason, now_ms);
        }
        self.sessions.remove(session);
        self.timers.cancel(&Timer::Connect(session.to_owned()));
        self.dirty.insert(session.to_owned());
    }

    fn add_room(&mut self, sid: &str, room: String) {
        let socket = self.socket_mut(sid);
        if socket.rooms.insert(room.clone()) {
            let nsp = socket.nsp.clone();
            self.nsps.entry(nsp).or_default().rooms.entry(room).or_default().insert(sid.to_owned());
            self.note_live(sid);
        }
    }

    fn del_room(&mut self, sid: &str, room: &str) {
        self.note_live(sid);
        let socket = self.socket_mut(sid);
        socket.rooms.remove(room);
        let nsp = socket.nsp.clone();
        if let Some(n) = self.nsps.get_mut(&nsp) {
            if let Some(members) = n.rooms.get_mut(room) {
                members.remove(sid);
                if members.is_empty() {
                    n.rooms.remove(room);
                }
            }
        }
    }

    /// adapter.apply: the socket ids a selection reaches.
    fn select(&self, op: &Broadcast) -> Vec<String> {
        let Some(n) = self.nsps.get(&op.nsp) else { return Vec::new() };
        let except: BTreeSet<&String> = op.except.iter().filter_map(|r| n.rooms.get(r)).flatten().collect();
        if op.rooms.is_empty() {
            return n.sockets.iter().filter(|sid| !except.contains(sid)).cloned().collect();
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for room in &op.rooms {
            for sid in n.rooms.get(room).into_iter().flatten() {
                if !except.contains(sid) && seen.insert(sid) {
                    out.push(sid.clone());
                }
            }
        }
        out
    }

    fn deliver(&mut self, op: &Broadcast, sids: Vec<String>, packet: &Packet) -> Delivery {
        let sessions: Vec<String> = sids
            .iter()
            .map(|sid| &self.sockets[sid].session)
            .filter(|session| !op.volatile || self.sessions.get(*session).is_some_and(|s| s.writable))
            .cloned()
            .collect();
        if sids.is_empty() {
            return Delivery { sids, sessions, packet: None, logged: None };
        }
        let encoded = self.encode(packet);
        if !sessions.is_empty() {
            self.transmits.push_back(Transmit::Packet { sessions: sessions.clone(), packet: encoded.clone() });
        }
        Delivery { sids, sessions, packet: Some(encoded), logged: None }
    }

    /// Drops expired recovery state and keeps the log within its bound.
    /// Forgets the dynamic namespaces that no socket uses and no recoverable session names (a
    /// later CONNECT asks the application again): they would pile up in the shared state.
    fn prune_dynamic(&mut self) {
        let (nsps, persisted) = (&self.nsps, &self.shared.persisted);
        let before = self.shared.dynamic.len();
        self.shared.dynamic.retain(|name| nsps.contains_key(name) || persisted.values().any(|p| &p.nsp == name));
        self.shared_dirty |= before != self.shared.dynamic.len();
    }

    fn prune(&mut self, now_ms: u64) {
        let Some(recovery) = &self.config.recovery else { return };
        let threshold = now_ms.saturating_sub(recovery.max_disconnection_duration_ms);
        let before = (self.shared.persisted.len(), self.shared.log.len(), self.shared.moved.len());
        self.shared.persisted.retain(|_, p| p.disconnected_at >= threshold);
        self.shared.moved.retain(|_, (_, at)| *at >= threshold);
        while self.shared.log.front().is_some_and(|e| e.emitted_at < threshold)
            || self.shared.log.len() > recovery.max_log_len
            || self.shared.log_bytes > recovery.max_log_bytes
        {
            self.shared.log_bytes -= self.shared.log.pop_front().map_or(0, |e| e.size());
        }
        let after = (self.shared.persisted.len(), self.shared.log.len(), self.shared.moved.len());
        if after.0 != before.0 {
            self.prune_dynamic();
        }
        self.shared_dirty |= before != after;
    }
}

fn check_event(event: &str) -> Result<(), ApiError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(ApiError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}

fn check_args(args: &str, attachments: &[Vec<u8>]) -> Result<(), ApiError> {
    if !is_json_of(args, Kind::Array) {
        return Err(ApiError::InvalidArgs);
    }
    check_placeholders(args, attachments.len()).map_err(|()| ApiError::InvalidAttachments)
}

/// `[event, ...args, offset?]` as JSON text.
fn build_data(event: &str, args: &str, attachments: &[Vec<u8>], offset: Option<&str>) -> Result<String, ApiError> {
    check_event(event)?;
    check_args(args, attachments)?;
    let inner = array_inner(args);
    let mut out = String::with_capacity(event.len() + args.len() + 32);
    out.push('[');
    write_string(&mut out, event);
    if !inner.is_empty() {
        out.push(',');
        out.push_str(inner);
    }
    if let Some(offset) = offset {
        out.push(',');
        write_string(&mut out, offset);
    }
    out.push(']');
    Ok(out)
}

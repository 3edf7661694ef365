//! The server's settings: socket.io's options ([`Config`], [`RecoveryConfig`]) and what a
//! session's handshake carries ([`SessionInfo`]).

#[cfg(doc)]
use super::{ConnectRequest, Dirty, Server};

/// `connectTimeout` default: 45 s.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 45_000;

/// The WebSocket attachment limit of workerd, the default [`Config::max_inline_snapshot_bytes`].
pub const DEFAULT_MAX_INLINE_SNAPSHOT_BYTES: usize = 2048;

/// The default [`Config::max_snapshot_bytes`]: 64 KiB, room for identity-provider tokens in
/// `auth` and long queries (socket.io bounds them by `maxHttpBufferSize` only).
pub const DEFAULT_MAX_SNAPSHOT_BYTES: usize = 64 * 1024;

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
    /// Largest session snapshot [`Server::session_to_json`] produces (handshake, sockets,
    /// auth, rooms, `data`): what a session may hold and still survive an eviction.
    pub max_snapshot_bytes: usize,
    /// Largest snapshot kept with its session's WebSocket (workerd's attachment limit); a
    /// larger one goes to storage under [`super::SNAPSHOT_PREFIX`], a write at each change
    /// ([`Server::take_writes`]). A partly received binary packet's attachments are kept only
    /// within it.
    pub max_inline_snapshot_bytes: usize,
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
    /// The namespaces whose sockets, lost with the server's memory (a polling session when
    /// its object is evicted, every session in a restart), still get their `disconnecting`
    /// and `disconnect` events, from the next instance ([`Server::adopt_orphans`]): a record
    /// of each of their connected sockets is kept in storage for it ([`Dirty::live`]), a
    /// write at each connection and room change. Default: all; a driver names those with
    /// disconnection handlers. Recovery keeps the records of every namespace anyway.
    pub announce_lost_sockets: LostSockets,
}

/// Which namespaces [`Config::announce_lost_sockets`] covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostSockets {
    /// Every namespace.
    AllNamespaces,
    /// These static namespaces, and every dynamic one (a name not in
    /// [`Config::namespaces`]) if `dynamic`.
    Namespaces {
        /// Static namespace names.
        names: Vec<String>,
        /// Whether dynamic namespaces are covered.
        dynamic: bool,
    },
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            recovery: None,
            namespaces: vec!["/".into()],
            dynamic_namespaces: false,
            max_snapshot_bytes: DEFAULT_MAX_SNAPSHOT_BYTES,
            max_inline_snapshot_bytes: DEFAULT_MAX_INLINE_SNAPSHOT_BYTES,
            max_attachments: crate::socket::DEFAULT_MAX_ATTACHMENTS,
            max_attachment_bytes: 1_000_000,
            attachment_timeout_ms: 30_000,
            announce_lost_sockets: LostSockets::AllNamespaces,
        }
    }
}

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

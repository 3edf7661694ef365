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
//!   binary packet). Kept in the WebSocket attachment when it fits workerd's 2 KiB
//!   ([`Config::max_inline_snapshot_bytes`]), in storage otherwise; the snapshot fails with
//!   [`SnapshotError::TooLarge`] beyond [`Config::max_snapshot_bytes`] (64 KiB by default).
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

mod config;
mod connect;
mod events;
mod expiry;
mod handover;
mod json;
mod offsets;
mod reassembly;
mod recovery;
mod rooms;
mod snapshot;
mod snapshot_sizes;
mod sockets;
mod stored;
mod timers;
mod writes;

pub use config::{
    Config, LostSockets, RecoveryConfig, SessionInfo, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_INLINE_SNAPSHOT_BYTES,
    DEFAULT_MAX_SNAPSHOT_BYTES,
};
pub use events::{
    Accept, AckData, AckError, ApiError, ConnectRequest, Dirty, DisconnectReason, EncodedPacket, Event, Message,
    SnapshotError, SocketInfo, Transmit,
};
use handover::{Handed, HandoverFilters};
use offsets::PrunedEntries;
use reassembly::{AttachmentLimits, Reassembly};
use recovery::live_record;
pub use recovery::RecoveryRef;
pub use rooms::{Broadcast, Delivery};
use snapshot_sizes::SnapshotSizes;
use stored::StoredShared;
pub use stored::{ACK_PREFIX, LOG_PREFIX, PERSISTED_PREFIX};
use timers::{Timer, Timers};
pub use writes::{Unpersisted, Write, LIVE_PREFIX, SHARED_KEY, SNAPSHOT_PREFIX};

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use crate::engine::{CloseReason, Data};
use crate::json::{write_string, JsonError, Kind};
use crate::socket::{Packet, PacketType};

use json::{check_args, check_emit, event_data, first_element, is_json_of, string_member};

/// Room kept in a session's snapshot for a socket's fixed fields (ids, pid, counters, its
/// connect position) beside its namespace, auth and data.
const SOCKET_SNAPSHOT_RESERVE: usize = 256;

/// The longest name of a dynamic namespace: the names in use are kept in the object's shared
/// state, one storage value (a longer name is an "Invalid namespace").
const MAX_DYNAMIC_NAMESPACE_LEN: usize = 1024;

/// The most bytes of dynamic namespace names in use on one object: a client cannot grow the
/// shared state past what storage takes in one value (a new one past it is refused).
const MAX_DYNAMIC_NAMESPACE_BYTES: usize = 256 * 1024;

/// The message of a timed-out acknowledgement.
pub const TIMEOUT_MESSAGE: &str = "operation has timed out";
/// The `error` a socket gets when its packet's attachments did not arrive in time.
pub const ATTACHMENT_TIMEOUT: &str = "attachments not received in time";

/// How long a binary packet waits for its attachments before the session's snapshot keeps
/// them whatever their size (in storage, past the WebSocket attachment's limit): a slow upload
/// survives an eviction between two of its frames; a fast one costs no storage write.
pub const PARTIAL_KEPT_AFTER_MS: u64 = 2_000;

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
    /// A binary packet awaiting its attachments.
    reassembly: Reassembly,
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
    /// With recovery on, the log position before the first logged packet sent to it (its
    /// connection's while none was): the offset a reconnection that received no broadcast (so
    /// has no offset to send) recovers from. `None` in snapshots written before it was kept.
    since: Option<String>,
    /// No logged packet was sent to it yet: a reconnection without offset missed only what
    /// was logged after its disconnection. False in snapshots written before it was kept.
    awaits_logged: bool,
    /// Restored from a session another server handed over: the position up to which the
    /// other handed what it missed. Relays up to it still on their way here are not sent to
    /// it, and no later recovery sends it again what its log has up to it.
    handed_through: BTreeMap<String, u64>,
    /// The offset its CONNECT carried (a marker when it carried none), when it was recovered
    /// with no packet to send, or with packets it missed (then `since` is `None`: see
    /// `do_connect`), or not recovered: the client keeps that offset until a logged packet
    /// reaches it after its CONNECT, and a reconnection carrying it recovers from `since`. A
    /// recovered socket's may name sequences this log never reaches (the old holder's); a
    /// socket whose recovery was refused got the previous session's (socket.io-client keeps
    /// its last offset), which is older than anything this socket was sent: recovered from
    /// there, a log that took the session from another one found none of the broadcasts to
    /// its rooms where it was not sent them, and told the client it recovered (until
    /// 2026-12-07).
    connected_with: Option<String>,
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
    /// For a relayed broadcast, the origin's sequence relayed here before it, when the relay
    /// told ([`Broadcast::relayed_after`]): the sequences in between reached no socket here.
    after: Option<u64>,
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
    /// See [`SocketState::connected_with`].
    connected_with: Option<String>,
    /// See [`SocketState::handed_through`]: what the client was handed, kept with the session
    /// so that no later recovery sends it again.
    handed_through: BTreeMap<String, u64>,
    /// Taken from another server and not connected here since (its CONNECT was refused, or
    /// its connection closed first): what that server handed over with it. A recovery here
    /// sends it, then this log's past its position: this log was not sent the broadcasts to
    /// the session's rooms while the other held them (until 2026-12-07 the handed packets
    /// were dropped, and a recovery here found none of those, the client told it recovered).
    handed: Option<Handed>,
}

impl Persisted {
    /// The position a reconnection carrying `offset` recovers from: that offset, unless it is
    /// the one the socket connected with and it was sent nothing logged since
    /// ([`SocketState::connected_with`]); `since` without one.
    fn recovers_from(&self, offset: Option<String>) -> Option<String> {
        match offset {
            Some(offset) if self.connected_with.as_ref() != Some(&offset) => Some(offset),
            _ => self.since.clone(),
        }
    }
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
    /// pid -> where a session exported from here went: a later reconnection that asks here is
    /// sent on there.
    moved: BTreeMap<String, Moved>,
    /// The last sequence logged here from each origin (the position the next offset names).
    seen: BTreeMap<String, u64>,
    /// What the log weighs ([`LogEntry::size`] summed): kept up to date, not persisted.
    log_bytes: usize,
    /// The key of the last entry logged ([`LogEntry::key`]).
    next_log_key: u64,
}

/// Where the session of a pid went when another server took it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Moved {
    /// The server that took it.
    to: String,
    /// When (ms).
    at: u64,
    /// Its namespace and rooms when it left from here (none when that server only told this
    /// one, [`Server::note_moved`]): a room broadcast relayed here after it left, looked up
    /// before that server joined the room, is relayed there too ([`Delivery::moved_to`]).
    nsp: String,
    rooms: Vec<String>,
}

/// Packets a recovered socket missed: each one's data and attachments.
type Missed = Vec<(String, Vec<Vec<u8>>)>;

/// A restored session for a CONNECT carrying `pid` and `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Restored {
    sid: String,
    pid: String,
    rooms: Vec<String>,
    data: String,
    missed: Missed,
    /// See [`SocketState::handed_through`].
    handed_through: BTreeMap<String, u64>,
    /// How many of the missed packets, first, another server handed.
    handed: usize,
}

impl Restored {
    /// The session persisted for `pid`, with the packets it missed.
    fn of(pid: &str, p: &Persisted, missed: Missed) -> Self {
        Restored {
            sid: p.sid.clone(),
            pid: pid.to_owned(),
            rooms: p.rooms.clone(),
            data: p.data.clone(),
            missed,
            handed_through: p.handed_through.clone(),
            handed: 0,
        }
    }
}

/// A session another server exported for a pending CONNECT ([`Server::import_recovery`]).
#[derive(Debug, Clone)]
struct Import {
    pid: String,
    /// With what the exporting server's log found it missed ([`Persisted::handed`]).
    persisted: Persisted,
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
    /// Sockets whose live record changed, by record key ([`SocketState::live_key`]): their
    /// socket id.
    live_dirty: BTreeMap<String, String>,
    /// Sessions exported by other servers for pending CONNECTs, by (Engine.IO session,
    /// namespace): used within the event that imported them; one whose CONNECT is not
    /// accepted is kept as a session persisted here ([`Server::give_back_import`]).
    imports: BTreeMap<(String, String), Import>,
    /// Every deadline of the state above, by time.
    timers: Timers,
    /// See [`Server::rooms_version`].
    rooms_version: u64,
    /// Sessions whose snapshot storage holds (too large for their attachment).
    stored_snapshots: BTreeSet<String>,
    /// What each session's snapshot weighs, while known.
    sizes: SnapshotSizes,
    /// What the log remembers of the entries it pruned.
    pruned: PrunedEntries,
    /// How many sockets await their first logged packet ([`SocketState::awaits_logged`]): a
    /// broadcast looks among its recipients for them only while there are some.
    awaiting_logged: usize,
    /// The sockets waiting for relays of what was handed over with them.
    handover_filters: HandoverFilters,
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
            rooms_version: 0,
            stored_snapshots: BTreeSet::new(),
            sizes: SnapshotSizes::default(),
            pruned: PrunedEntries::default(),
            awaiting_logged: 0,
            handover_filters: HandoverFilters::default(),
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
                reassembly: Reassembly::default(),
            },
        );
        // The handshake's query and headers travel in the session's snapshot, with room left
        // for a socket: a session that could not be kept across hibernation is refused now.
        let used = self.snapshot_len(session);
        if used.saturating_add(SOCKET_SNAPSHOT_RESERVE) > self.config.max_snapshot_bytes {
            self.sessions.remove(session);
            self.sizes.forget(session);
            return Err(ApiError::StateTooLarge { len: used, max: self.config.max_snapshot_bytes });
        }
        self.timers.set(Timer::Connect(session.to_owned()), now_ms + self.config.connect_timeout_ms);
        self.resize(session, Some(used), 0, 0);
        Ok(())
    }

    /// Whether the session's transport can take a packet now (`transport.writable`): volatile
    /// packets skip sessions set to false. Defaults to true.
    pub fn set_writable(&mut self, session: &str, writable: bool) {
        if let Some(s) = self.sessions.get_mut(session) {
            if s.writable != writable {
                s.writable = writable;
                self.touch(session);
            }
        }
    }

    /// An Engine.IO message arrived on `session`. Unknown sessions are ignored.
    pub fn handle_message(&mut self, session: &str, data: Data, now_ms: u64) {
        let limits = AttachmentLimits { count: self.config.max_attachments, bytes: self.config.max_attachment_bytes };
        let Some(s) = self.sessions.get_mut(session) else { return };
        let was_pending = s.reassembly.is_pending();
        let decoded = s.reassembly.receive(data, limits, now_ms + self.config.attachment_timeout_ms);
        let started = !was_pending && s.reassembly.is_pending();
        if started {
            self.timers.set(Timer::KeepPartial(session.to_owned()), now_ms + PARTIAL_KEPT_AFTER_MS);
        }
        // A packet waiting for its attachments is part of the session's snapshot.
        if was_pending || started {
            match s.reassembly.deadline() {
                Some(at) => self.timers.set(Timer::Reassembly(session.to_owned()), at),
                None => {
                    self.timers.cancel(&Timer::Reassembly(session.to_owned()));
                    self.timers.cancel(&Timer::KeepPartial(session.to_owned()));
                }
            }
            self.touch(session);
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
            self.touch(session);
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
        let mut pruning = false;
        for timer in self.timers.take_due(now_ms) {
            match timer {
                Timer::Prune => pruning = true,
                Timer::Connect(id) => {
                    let Some(s) = self.sessions.get_mut(&id) else { continue };
                    if s.connect_deadline.is_none_or(|d| d > now_ms) {
                        continue;
                    }
                    s.connect_deadline = None;
                    let unused = s.sockets.is_empty();
                    self.touch(&id);
                    if unused {
                        self.close_session(&id, DisconnectReason::ForcedServerClose, now_ms);
                    }
                }
                Timer::KeepPartial(id) => {
                    if self.sessions.get_mut(&id).is_some_and(|s| s.reassembly.keep()) {
                        self.touch(&id);
                    }
                }
                Timer::Reassembly(id) => {
                    let due = |s: &SessionState| s.reassembly.deadline().is_some_and(|d| d <= now_ms);
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
        if let Some(oldest) = self.oldest_recovery_item().filter(|_| pruning) {
            self.prune_after(oldest);
        }
    }

    /// Shuts the server down (`io.close()`): every socket disconnects with "server shutting
    /// down", every session is closed.
    pub fn shutdown(&mut self, now_ms: u64) {
        let ids: Vec<String> = self.sessions.keys().cloned().collect();
        for id in ids {
            self.close_session(&id, DisconnectReason::ServerShuttingDown, now_ms);
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
            .map(|(key, sid)| {
                let record = self.sockets.get(&sid).filter(|s| s.live_key(&sid) == key).map(|s| live_record(&sid, s));
                (key, record)
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
        // `touch`, on the fields: the socket stays borrowed.
        self.dirty.insert(socket.session.clone());
        self.sizes.forget(&socket.session);
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
            // client.ondecoded "invalid state": client.close(), whose engine closes at once and
            // reports "forced close" before the client's own "forced server close" (socket.io
            // 4.8.4's sockets read "forced close", but behind a write still in flight).
            _ => self.close_session(session, DisconnectReason::ForcedClose, now_ms),
        }
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
        let imported: Vec<String> = self
            .imports
            .range((session.to_owned(), String::new())..)
            .take_while(|((s, _), _)| s == session)
            .map(|((_, nsp), _)| nsp.clone())
            .collect();
        for nsp in imported {
            self.give_back_import(session, &nsp);
        }
        self.timers.cancel(&Timer::Connect(session.to_owned()));
        self.touch(session);
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
}

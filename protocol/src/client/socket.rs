//! The state of one namespace socket; the [`Manager`](super::Manager) drives it.

use crate::socket::Packet;

/// Names a socket of a [`Manager`](super::Manager) (one per namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

/// The socket's `auth` option.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No auth: the CONNECT packet carries no data (unless recovering).
    #[default]
    None,
    /// An object, as its JSON text.
    Json(String),
    /// A function: the manager asks with [`SocketEvent::AuthRequest`](super::SocketEvent)
    /// each time it connects, the driver answers with
    /// [`Manager::provide_auth`](super::Manager::provide_auth).
    Callback,
}

/// Options of one socket (socket.io-client's `SocketOptions`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SocketOptions {
    /// `auth`.
    pub auth: Auth,
    /// `retries`: how many times an emit is retried until acknowledged (0: no queue).
    pub retries: u32,
    /// `ackTimeout`: default timeout in ms of acknowledgements.
    pub ack_timeout: Option<u64>,
}

/// The flags of one emit (`socket.volatile.timeout(ms).compress(false).emit(...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// No acknowledgement callback.
    None,
    /// A callback taking the answer's arguments (`emit(ev, ..., cb)`).
    Callback,
    /// A callback taking an error first (`emitWithAck`, or any callback with a timeout).
    WithError,
}

/// How to emit one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmitOptions {
    /// `volatile`: drop the event rather than buffer it when the connection is not writable.
    pub volatile: bool,
    /// `compress` (accepted for completeness; the browser decides).
    pub compress: bool,
    /// `timeout(ms)`: the acknowledgement fails with "operation has timed out" after it.
    pub timeout: Option<u64>,
    /// Whether an acknowledgement callback was given, and of which kind.
    pub ack: AckMode,
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions { volatile: false, compress: true, timeout: None, ack: AckMode::None }
    }
}

/// Names an acknowledgement callback the driver keeps for an emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckHandle {
    /// A direct emit: its packet's ack id.
    Id(u64),
    /// An emit through the `retries` queue: its sequence number in the queue.
    Queued(u64),
}

/// Who waits for an ack id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckTarget {
    /// The application's callback.
    User,
    /// The retry queue's callback for this packet.
    Queue(u64),
}

/// The registered acknowledgements of a socket by id (`this.acks`): a vector sorted by id
/// (ids only grow, so an insert appends), smaller in the browser client than a `BTreeMap`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AckTable(Vec<(u64, PendingAck)>);

impl AckTable {
    /// Registers `ack` under `id`, replacing one already there.
    pub(crate) fn insert(&mut self, id: u64, ack: PendingAck) {
        match self.find(id) {
            Ok(i) => self.0[i].1 = ack,
            Err(i) => self.0.insert(i, (id, ack)),
        }
    }

    /// The acknowledgement of `id`.
    pub(crate) fn get(&self, id: &u64) -> Option<&PendingAck> {
        let i = self.find(*id).ok()?;
        Some(&self.0[i].1)
    }

    /// Takes the acknowledgement of `id` out.
    pub(crate) fn remove(&mut self, id: &u64) -> Option<PendingAck> {
        let i = self.find(*id).ok()?;
        Some(self.0.remove(i).1)
    }

    /// Where `id` is (`Ok`), or where it would go (`Err`): one search for every use, which
    /// the browser client's wasm then holds once.
    fn find(&self, id: u64) -> Result<usize, usize> {
        self.0.binary_search_by_key(&id, |(k, _)| *k)
    }

    /// The acknowledgements, by increasing id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&u64, &PendingAck)> {
        self.0.iter().map(|(id, ack)| (id, ack))
    }
}

/// A registered acknowledgement (`this.acks[id]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingAck {
    pub(crate) target: AckTarget,
    /// `withError`: the callback takes an error (or `null`) first.
    pub(crate) with_error: bool,
    pub(crate) deadline: Option<u64>,
}

/// A packet of the `retries` queue (`_queue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueuedPacket {
    pub(crate) data: String,
    pub(crate) attachments: Vec<Vec<u8>>,
    pub(crate) options: EmitOptions,
    pub(crate) try_count: u32,
    pub(crate) pending: bool,
}

/// An event received before the socket connected (`receiveBuffer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    pub(crate) data: String,
    pub(crate) attachments: Vec<Vec<u8>>,
    pub(crate) ack_id: Option<u64>,
}

/// One namespace socket: its state as socket.io-client's `Socket` exposes it.
#[derive(Debug)]
pub struct Socket {
    pub(crate) nsp: String,
    pub(crate) auth: Auth,
    pub(crate) retries: u32,
    pub(crate) ack_timeout: Option<u64>,
    /// `subs` exists: listening to the manager.
    pub(crate) active: bool,
    pub(crate) connected: bool,
    /// `None` once connected to a server that gave no `pid` (no connection state recovery),
    /// where socket.io-client's `recovered` is `undefined` (`pid && this._pid === pid`).
    pub(crate) recovered: Option<bool>,
    pub(crate) sid: Option<String>,
    pub(crate) pid: Option<String>,
    pub(crate) last_offset: Option<String>,
    pub(crate) ids: u64,
    pub(crate) acks: AckTable,
    pub(crate) send_buffer: Vec<Packet>,
    pub(crate) receive_buffer: Vec<Received>,
    /// The events a recovering server replayed ahead of a CONNECT that never came, held for
    /// the next connection: delivered if it is a new session, dropped if it recovers (replayed
    /// again from the same offset).
    pub(crate) cut_replay: Vec<Received>,
    /// The `retries` queue (`_queue`) by sequence number, its head first.
    pub(crate) queued: Vec<(u64, QueuedPacket)>,
    pub(crate) queue_seq: u64,
}

impl Socket {
    pub(crate) fn new(nsp: String, options: SocketOptions) -> Self {
        Socket {
            nsp,
            auth: options.auth,
            retries: options.retries,
            ack_timeout: options.ack_timeout,
            active: false,
            connected: false,
            recovered: Some(false),
            sid: None,
            pid: None,
            last_offset: None,
            ids: 0,
            acks: AckTable::default(),
            send_buffer: Vec::new(),
            receive_buffer: Vec::new(),
            cut_replay: Vec::new(),
            queued: Vec::new(),
            queue_seq: 0,
        }
    }

    /// The namespace (`nsp`).
    pub fn nsp(&self) -> &str {
        &self.nsp
    }

    /// `id`: the session id the server gave at CONNECT, while connected.
    pub fn id(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// `connected`.
    pub fn connected(&self) -> bool {
        self.connected
    }

    /// `disconnected`.
    pub fn disconnected(&self) -> bool {
        !self.connected
    }

    /// `active`: connected, or trying to (will reconnect); false after an explicit disconnect
    /// by either side or a refused connection.
    pub fn active(&self) -> bool {
        self.active
    }

    /// `recovered`: whether the last connection restored the previous session (same `pid`);
    /// `None` (socket.io-client's `undefined`) when its server gave no `pid`.
    pub fn recovered(&self) -> Option<bool> {
        self.recovered
    }

    /// The connection-state-recovery session id (`_pid`), if the server gave one.
    pub fn pid(&self) -> Option<&str> {
        self.pid.as_deref()
    }

    /// The offset of the last received event (`_lastOffset`), sent back on reconnection.
    pub fn last_offset(&self) -> Option<&str> {
        self.last_offset.as_deref()
    }

    /// `auth`.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// How many packets wait in `sendBuffer` for the connection.
    pub fn send_buffer_len(&self) -> usize {
        self.send_buffer.len()
    }

    /// `receiveBuffer`: the events received on this connection before the socket connected,
    /// as (`[name, ...args]` JSON text, attachments), delivered when it connects.
    pub fn receive_buffer(&self) -> impl Iterator<Item = (&str, &[Vec<u8>])> {
        self.receive_buffer.iter().map(|r| (r.data.as_str(), r.attachments.as_slice()))
    }

    /// How many emits wait in the `retries` queue.
    pub fn queue_len(&self) -> usize {
        self.queued.len()
    }

    /// `_queue`: the emits of the `retries` queue in order, as (`[name, ...args]` JSON text,
    /// attachments, `tryCount`, `pending`).
    pub fn retry_queue(&self) -> impl Iterator<Item = (&str, &[Vec<u8>], u32, bool)> {
        self.queued.iter().map(|(_, p)| (p.data.as_str(), p.attachments.as_slice(), p.try_count, p.pending))
    }
}

impl SocketOptions {
    /// Options with this `auth` JSON object text.
    pub fn with_auth(auth: impl Into<String>) -> Self {
        SocketOptions { auth: Auth::Json(auth.into()), ..SocketOptions::default() }
    }
}

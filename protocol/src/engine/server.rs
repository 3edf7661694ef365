//! The server side of one Engine.IO v4 session, sans-IO.
//!
//! The driver (a Durable Object, a test) creates a [`ServerSession`] at the handshake and then
//! feeds it what arrives: poll GETs, POST bodies, WebSocket frames, transport closures, and
//! the time. It polls [`ServerSession::poll_transmit`] for what to write,
//! [`ServerSession::poll_event`] for what the application sees, and
//! [`ServerSession::poll_timeout`] for when to call [`ServerSession::handle_timeout`].
//! Behaviour follows the reference `engine.io` 6.6 server.

use std::collections::VecDeque;

use super::handshake::{Handshake, ServerError};
use super::packet::{decode_payload, Data, Frame, Packet, PacketType, SEPARATOR};
use super::session::{take_payload, CloseReason, TransportKind};

/// How long a poll may be held during an upgrade before a noop releases it (reference: 100 ms).
const UPGRADE_CHECK_MS: u64 = 100;

/// Settings of a server session (the reference server's option names in the docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `pingInterval`, ms between pings (default 25000).
    pub ping_interval: u64,
    /// `pingTimeout`, ms to wait for a pong (default 20000).
    pub ping_timeout: u64,
    /// `maxHttpBufferSize`, largest POST body or WebSocket message in bytes (default 1e6).
    pub max_payload: u64,
    /// `upgradeTimeout`, ms a probing WebSocket has to complete the upgrade (default 10000).
    pub upgrade_timeout: u64,
    /// Whether polling sessions may upgrade to WebSocket.
    pub allow_upgrades: bool,
    /// Most sessions one [`super::Endpoint`] holds: a handshake past it is refused (default
    /// 10,000, below workerd's 32,768 hibernatable WebSockets per Durable Object).
    pub max_sessions: usize,
    /// Most bytes a polling session keeps queued for a client that does not poll them
    /// (default 4 MB; four times as much for one that polled within the last
    /// [`POLLING_GRACE_MS`], which is catching up: a burst of large broadcasts between two
    /// of its polls): past it the session ends with a transport error, its client reconnects
    /// (and recovers what it missed, with connection state recovery).
    pub max_queued_bytes: u64,
    /// Most packets one POST body may carry (default 150,000). socket.io-client sends what was
    /// emitted during the previous POST (a loop of emits, what waited while it was offline)
    /// in bodies of at most `max_payload` bytes: its smallest event, `42[""]`, takes 7 bytes,
    /// so a body of 1 MB holds up to about 143,000 of them, and the default refuses none (the
    /// reference server counts nothing; a loop of 12,000 emits used to get 413 here, every
    /// one of them lost). Handling 50,000 echoes of one body took 0.6 s of the object.
    /// Past it the POST gets 413.
    pub max_packets_per_payload: usize,
    /// Most handshakes one client (its IP address at the edge) may make per minute on one
    /// [`super::Endpoint`] (default 120; 0: no limit). Past it the handshake is refused.
    pub max_handshakes_per_minute: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            ping_interval: 25_000,
            ping_timeout: 20_000,
            max_payload: 1_000_000,
            upgrade_timeout: 10_000,
            allow_upgrades: true,
            max_sessions: 10_000,
            max_queued_bytes: 4_000_000,
            max_packets_per_payload: 150_000,
            max_handshakes_per_minute: 120,
        }
    }
}

/// What the driver must write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTransmit {
    /// Answer the held poll GET with this payload (status 200, `text/plain`).
    PollResponse(String),
    /// Answer the held poll GET with this error: it arrived after the client paused polling
    /// for an upgrade that has now completed (the reference answers a GET after the upgrade
    /// with 400 too).
    PollRejected(ServerError),
    /// Send a frame on the session's WebSocket.
    WebSocket(Frame),
    /// Send a frame on the WebSocket being probed for an upgrade.
    Probe(Frame),
    /// Close the session's WebSocket (code 1000, or 1009 when a message was too big).
    CloseWebSocket {
        /// The WebSocket close code.
        code: u16,
        /// Why the session ended: the close frame's reason (`as_str`).
        reason: CloseReason,
    },
    /// Close the WebSocket that was being probed; the session goes on over polling.
    CloseProbe,
}

/// What the application sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A message from the client.
    Message(Data),
    /// A pong arrived: the client is alive.
    Heartbeat,
    /// The session moved from polling to WebSocket.
    Upgraded,
    /// The session is over; nothing more will be transmitted but what is already queued.
    Closed(CloseReason),
}

/// The answer to a poll GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// Answer now with this payload.
    Respond(String),
    /// Hold the request: a [`ServerTransmit::PollResponse`] will answer it.
    Hold,
    /// Answer with this error (and the session may have closed).
    Reject(ServerError),
}

/// Why a POST was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The body exceeds `maxHttpBufferSize`, or holds more packets than
    /// [`ServerConfig::max_packets_per_payload`]: answer 413; the session goes on.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The request is not acceptable for this session: answer with the error.
    #[error("{0}")]
    Rejected(ServerError),
}

impl PostError {
    /// The HTTP status to answer with.
    pub fn status(self) -> u16 {
        match self {
            PostError::PayloadTooLarge => 413,
            PostError::Rejected(error) => error.status(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    None,
    /// A WebSocket was opened for this session; waiting for `2probe`, then `5`.
    Probing {
        answered: bool,
        deadline: u64,
    },
}

/// How recently a polling client must have polled to count as catching up with its queue
/// (see [`ServerConfig::max_queued_bytes`]): a poll's round trip, with room for a slow network.
pub const POLLING_GRACE_MS: u64 = 5_000;

/// How many times `max_queued_bytes` a polling client that is catching up may fall behind.
const CATCHING_UP_FACTOR: u64 = 4;

/// The server side of one Engine.IO session.
#[derive(Debug)]
pub struct ServerSession {
    sid: String,
    config: ServerConfig,
    transport: TransportKind,
    upgrade: Upgrade,
    closed: bool,
    poll_held: bool,
    queue: VecDeque<Packet>,
    /// What the queued packets weigh in a polling payload.
    queued_bytes: u64,
    /// When the client last polled (or the session opened).
    polled_at: u64,
    next_ping_at: u64,
    pong_deadline: Option<u64>,
    /// During an answered probe, when to release a held poll with a noop.
    release_poll_at: Option<u64>,
    /// Whether the session's WebSocket takes binary frames (see
    /// [`ServerSession::send_binary_as_text`]).
    binary_frames: bool,
    transmits: VecDeque<ServerTransmit>,
    events: VecDeque<ServerEvent>,
}

impl ServerSession {
    /// Starts a session after a valid handshake request on `transport`; the `open` packet is
    /// the first thing it transmits (the handshake GET's body, or the first WebSocket frame).
    pub fn new(sid: impl Into<String>, transport: TransportKind, config: ServerConfig, now_ms: u64) -> Self {
        let sid = sid.into();
        let upgrades = if transport == TransportKind::Polling && config.allow_upgrades {
            vec![TransportKind::WebSocket.as_str().to_owned()]
        } else {
            Vec::new()
        };
        let handshake = Handshake {
            sid: sid.clone(),
            upgrades,
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
            max_payload: config.max_payload,
        };
        let mut session = ServerSession::fresh(sid, transport, config, now_ms);
        session.enqueue(Packet::text(PacketType::Open, handshake.to_json()));
        session
    }

    /// Rebuilds a session that was open over WebSocket, from its id alone (after the memory
    /// of a hibernated Durable Object was dropped).
    ///
    /// `last_heard_ms` is when the client was last known alive, if the runtime kept it: its
    /// last pong (workerd answers pongs itself for hibernatable WebSockets and keeps the
    /// time), or else when its WebSocket was accepted. The next ping is due one interval
    /// after that (the pong answered the last ping; a new WebSocket had its first ping one
    /// interval after it opened), or at once when the runtime kept nothing: the client's
    /// heartbeat deadline runs from the last ping it got, whose time was forgotten. So an
    /// instance woken by a message pings only when a ping is due.
    ///
    /// `pinged_at_ms` is when the previous instances last pinged their WebSocket sessions, if
    /// kept. Pings go out up to half an interval early (heartbeats share one alarm), so when
    /// that is after the next ping could go out, this client got it and has not answered: its
    /// pong is awaited until that ping's deadline (at once overdue when it passed), and the
    /// client is closed with "ping timeout" then, as the reference server closes it. Without a
    /// kept time, a client silent past `ping_interval + ping_timeout` plus half an interval
    /// (the slack of a shared alarm) is resumed overdue. Without either, an object evicted
    /// between each ping and its deadline would ping a dead peer forever.
    pub fn resume_websocket(
        sid: impl Into<String>,
        config: ServerConfig,
        now_ms: u64,
        last_heard_ms: Option<u64>,
        pinged_at_ms: Option<u64>,
    ) -> Self {
        let mut session = ServerSession::fresh(sid.into(), TransportKind::WebSocket, config, now_ms);
        let c = &session.config;
        // The ping after the client was last heard was due one interval later.
        let next_due = last_heard_ms.map(|heard| heard + c.ping_interval);
        session.next_ping_at = next_due.map_or(now_ms, |due| due.max(now_ms));
        if let Some(due) = next_due {
            let pinged = pinged_at_ms.filter(|&at| at + c.ping_interval / 2 >= due && at <= now_ms);
            if let Some(pinged_at) = pinged {
                session.pong_deadline = Some(pinged_at + c.ping_timeout);
            } else if now_ms >= due + c.ping_timeout + c.ping_interval / 2 {
                // It went out at most then: its deadline is gone, with the slack of a shared alarm.
                session.pong_deadline = Some(due + c.ping_timeout);
            }
        }
        session
    }

    fn fresh(sid: String, transport: TransportKind, config: ServerConfig, now_ms: u64) -> Self {
        ServerSession {
            sid,
            next_ping_at: now_ms + config.ping_interval,
            config,
            transport,
            upgrade: Upgrade::None,
            closed: false,
            poll_held: false,
            queue: VecDeque::new(),
            queued_bytes: 0,
            polled_at: now_ms,
            pong_deadline: None,
            release_poll_at: None,
            binary_frames: true,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The transport currently carrying the session.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether a message sent now would go out at once as one WebSocket text frame `4<text>`,
    /// with nothing queued before it: a driver sending the same message to many sessions may
    /// then write that frame itself, encoded once, instead of calling [`ServerSession::send`].
    pub fn writes_messages_directly(&self) -> bool {
        !self.closed && self.transport == TransportKind::WebSocket && self.transmits.is_empty()
    }

    /// When the unanswered ping went out, if a pong is awaited. A driver whose runtime answers
    /// pongs itself (workerd's WebSocket auto-response) compares this with the time of the
    /// last automatic answer and feeds a pong when that is later.
    pub fn awaiting_pong_since(&self) -> Option<u64> {
        self.pong_deadline.map(|deadline| deadline - self.config.ping_timeout)
    }

    /// Whether packets wait for a poll (after a close, the session must stay reachable until
    /// they went out).
    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Whether a WebSocket upgrade is in progress.
    pub fn is_upgrading(&self) -> bool {
        self.upgrade != Upgrade::None
    }

    /// The session's WebSocket, or the one opened to upgrade it, takes no binary frames: its
    /// request carried `b64` (socket.io-client's `forceBase64`). Binary packets then go to it
    /// as `b<base64>` text frames, their long-polling form, as engine.io sends them.
    pub fn send_binary_as_text(&mut self) {
        self.binary_frames = false;
    }

    /// Queues a message for the client at `now_ms`. A polling client too far behind (see
    /// [`ServerConfig::max_queued_bytes`]) would hold the object's memory: the session ends
    /// with a transport error, and the client reconnects.
    pub fn send(&mut self, data: Data, now_ms: u64) {
        if !self.closed {
            self.enqueue(Packet { kind: PacketType::Message, data });
            let catching_up = now_ms < self.polled_at + POLLING_GRACE_MS;
            let limit = self.config.max_queued_bytes * if catching_up { CATCHING_UP_FACTOR } else { 1 };
            if self.queued_bytes > limit {
                self.fail(CloseReason::TransportError);
            }
        }
    }

    /// Closes the session from the server side once what is queued has gone: over polling a
    /// `close` packet tells the client; a WebSocket is closed with code 1000 and the reason,
    /// with no `close` packet before it, as the reference's `ws` transport (a client reads a
    /// close frame alone as the end; python-engineio's, handed a `close` packet first, waited
    /// out a ping interval before it let go).
    pub fn close(&mut self, reason: CloseReason) {
        if self.closed {
            return;
        }
        if self.transport == TransportKind::WebSocket {
            self.transmits.push_back(ServerTransmit::CloseWebSocket { code: 1000, reason });
        } else {
            self.enqueue(Packet::bare(PacketType::Close));
        }
        self.finish(reason);
    }

    /// A poll GET arrived on this session.
    pub fn handle_poll(&mut self, now_ms: u64) -> PollOutcome {
        if self.transport != TransportKind::Polling {
            return PollOutcome::Reject(ServerError::BadRequest);
        }
        if self.poll_held {
            // The reference answers the second GET with 400 and closes the session.
            self.fail(CloseReason::TransportError);
            return PollOutcome::Reject(ServerError::BadRequest);
        }
        if self.closed && self.queue.is_empty() {
            return PollOutcome::Reject(ServerError::UnknownSid);
        }
        self.polled_at = now_ms;
        if self.queue.is_empty() {
            self.poll_held = true;
            if matches!(self.upgrade, Upgrade::Probing { answered: true, .. }) {
                // The client pauses polling for the upgrade: like the reference's 100 ms
                // check, a noop soon releases this poll so that it can send `5`.
                self.release_poll_at = Some(now_ms + UPGRADE_CHECK_MS);
            }
            return PollOutcome::Hold;
        }
        PollOutcome::Respond(self.take_queued_payload())
    }

    /// The transport failed (as the reference, a second POST while one is in progress, "data
    /// request overlap from client"): the session ends with a transport error.
    pub fn handle_transport_error(&mut self) {
        self.fail(CloseReason::TransportError);
    }

    /// The held poll GET went away before it was answered.
    pub fn handle_poll_aborted(&mut self) {
        if self.poll_held {
            self.poll_held = false;
            self.fail(CloseReason::TransportError);
        }
    }

    /// A POST with a payload arrived on this session.
    pub fn handle_post(&mut self, body: &str, now_ms: u64) -> Result<(), PostError> {
        let packets = body.bytes().filter(|&b| b == SEPARATOR as u8).count() + 1;
        if body.len() as u64 > self.config.max_payload || packets > self.config.max_packets_per_payload {
            return Err(PostError::PayloadTooLarge);
        }
        if self.transport != TransportKind::Polling || self.closed {
            return Err(PostError::Rejected(ServerError::BadRequest));
        }
        let Ok(packets) = decode_payload(body) else {
            self.fail(CloseReason::ParseError);
            return Err(PostError::Rejected(ServerError::BadRequest));
        };
        for packet in packets {
            if packet.kind == PacketType::Close {
                self.fail(CloseReason::TransportClose);
            }
            if self.closed {
                break;
            }
            self.on_packet(packet, now_ms);
        }
        Ok(())
    }

    /// A WebSocket for this session opened. On a polling session it is a probe for the
    /// upgrade; refused (`Err`) when upgrades are off or one is already in progress.
    pub fn handle_websocket_open(&mut self, now_ms: u64) -> Result<(), ServerError> {
        if self.closed
            || self.transport != TransportKind::Polling
            || self.upgrade != Upgrade::None
            || !self.config.allow_upgrades
        {
            return Err(ServerError::BadRequest);
        }
        self.upgrade = Upgrade::Probing { answered: false, deadline: now_ms + self.config.upgrade_timeout };
        Ok(())
    }

    /// A frame arrived on the session's WebSocket (or on the one being probed).
    pub fn handle_websocket_frame(&mut self, frame: Frame, now_ms: u64) {
        if self.closed {
            return;
        }
        let len = match &frame {
            Frame::Text(text) => text.len(),
            Frame::Binary(bytes) => bytes.len(),
        };
        if len as u64 > self.config.max_payload {
            // The reference's `ws` closes with 1009 (message too big).
            if self.transport == TransportKind::WebSocket {
                self.fail_closing(CloseReason::TransportError, 1009);
            } else {
                self.abandon_upgrade();
            }
            return;
        }
        let packet = Packet::decode_frame(frame);
        if self.transport == TransportKind::Polling {
            self.on_probe_packet(packet);
            return;
        }
        match packet {
            Ok(packet) if packet.kind == PacketType::Close => self.fail(CloseReason::TransportClose),
            Ok(packet) => self.on_packet(packet, now_ms),
            Err(_) => self.fail(CloseReason::ParseError),
        }
    }

    /// The session's WebSocket (or the probe) closed: a WebSocket session ends with
    /// `transport close`.
    pub fn handle_websocket_closed(&mut self) {
        self.websocket_lost(CloseReason::TransportClose);
    }

    /// The session's WebSocket (or the probe) failed (the runtime's error event; a message
    /// refused as too big): a WebSocket session ends with `transport error`, as the
    /// reference's does on its `ws`'s error.
    pub fn handle_websocket_failed(&mut self) {
        self.websocket_lost(CloseReason::TransportError);
    }

    fn websocket_lost(&mut self, reason: CloseReason) {
        if self.transport == TransportKind::WebSocket {
            self.fail(reason);
        } else if self.upgrade != Upgrade::None {
            self.upgrade = Upgrade::None;
        }
    }

    /// The time is now `now_ms`: sends a due ping, closes on a missed pong or upgrade deadline.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.closed {
            return;
        }
        if let Upgrade::Probing { deadline, .. } = self.upgrade {
            if now_ms >= deadline {
                self.abandon_upgrade();
            }
        }
        if self.release_poll_at.is_some_and(|at| now_ms >= at) {
            self.release_poll_at = None;
            self.release_poll(Packet::bare(PacketType::Noop));
        }
        match self.pong_deadline {
            Some(deadline) if now_ms >= deadline => self.fail(CloseReason::PingTimeout),
            Some(_) => {}
            None if now_ms >= self.next_ping_at => self.ping(now_ms),
            None => {}
        }
    }

    /// Sends the next ping now, ahead of its time, unless a pong is awaited or an upgrade is
    /// under way (the official Engine.IO test suite upgrades within the first interval and
    /// expects no ping before the echo that follows, as the reference pings one interval after
    /// the handshake). A driver that serves many sessions uses it to align their heartbeats on
    /// one timer.
    pub fn ping_early(&mut self, now_ms: u64) {
        if !self.closed && self.pong_deadline.is_none() && self.upgrade == Upgrade::None {
            self.ping(now_ms);
        }
    }

    /// When the next ping is due, if no pong is awaited.
    pub fn next_ping_at(&self) -> Option<u64> {
        (!self.closed && self.pong_deadline.is_none()).then_some(self.next_ping_at)
    }

    fn ping(&mut self, now_ms: u64) {
        self.enqueue(Packet::bare(PacketType::Ping));
        self.pong_deadline = Some(now_ms + self.config.ping_timeout);
    }

    /// When [`ServerSession::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.closed {
            return None;
        }
        let heartbeat = self.pong_deadline.unwrap_or(self.next_ping_at);
        let upgrade = match self.upgrade {
            Upgrade::Probing { deadline, .. } => Some(deadline),
            Upgrade::None => None,
        };
        [Some(heartbeat), upgrade, self.release_poll_at].into_iter().flatten().min()
    }

    /// The next thing to write, if any.
    pub fn poll_transmit(&mut self) -> Option<ServerTransmit> {
        if self.poll_held && !self.queue.is_empty() && self.transport == TransportKind::Polling {
            self.poll_held = false;
            return Some(ServerTransmit::PollResponse(self.take_queued_payload()));
        }
        self.transmits.pop_front()
    }

    /// The next event for the application, if any.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    fn enqueue(&mut self, packet: Packet) {
        match self.transport {
            TransportKind::WebSocket => {
                let frame = self.websocket_frame(packet);
                self.transmits.push_back(ServerTransmit::WebSocket(frame));
            }
            TransportKind::Polling => {
                self.queued_bytes += packet.polling_len() as u64;
                self.queue.push_back(packet);
            }
        }
    }

    /// The WebSocket frame carrying `packet` to this client.
    fn websocket_frame(&self, packet: Packet) -> Frame {
        match packet.data {
            Data::Binary(_) if !self.binary_frames => Frame::Text(packet.polling_form()),
            _ => packet.into_frame(),
        }
    }

    /// The next polling payload, from the front of the queue.
    fn take_queued_payload(&mut self) -> String {
        let payload = take_payload(&mut self.queue, self.config.max_payload);
        self.queued_bytes = self.queue.iter().map(|p| p.polling_len() as u64).sum();
        payload
    }

    fn on_packet(&mut self, packet: Packet, now_ms: u64) {
        match packet.kind {
            PacketType::Pong => {
                self.pong_heard(now_ms);
                self.events.push_back(ServerEvent::Heartbeat);
            }
            PacketType::Message => {
                // A message is as good a sign of life as a pong: a client sending a burst
                // answers the ping only once the server has read what it sent before, which on
                // a busy server can take longer than the ping timeout.
                if self.pong_deadline.is_some() {
                    self.pong_heard(now_ms);
                }
                self.events.push_back(ServerEvent::Message(packet.data));
            }
            // v4 heartbeats go server to client: a client ping is a protocol violation.
            PacketType::Ping => self.fail(CloseReason::TransportError),
            PacketType::Open | PacketType::Close | PacketType::Upgrade | PacketType::Noop => {}
        }
    }

    /// The client answered the ping (or showed it is alive): the next ping is one interval on.
    fn pong_heard(&mut self, now_ms: u64) {
        self.pong_deadline = None;
        self.next_ping_at = now_ms + self.config.ping_interval;
    }

    fn on_probe_packet(&mut self, packet: Result<Packet, super::PacketError>) {
        let Upgrade::Probing { answered, deadline } = self.upgrade else { return };
        match packet {
            Ok(p) if p.kind == PacketType::Ping && p.data == Data::Text("probe".into()) && !answered => {
                self.transmits.push_back(ServerTransmit::Probe(Packet::text(PacketType::Pong, "probe").into_frame()));
                self.upgrade = Upgrade::Probing { answered: true, deadline };
                // Release a held poll so the client's polling transport can pause.
                self.release_poll(Packet::bare(PacketType::Noop));
            }
            Ok(p) if p.kind == PacketType::Upgrade && answered => {
                self.upgrade = Upgrade::None;
                self.release_poll_at = None;
                // The poll held when the probe was answered was released then, and a client
                // sends `5` only once its last poll came back: a GET held now came after it.
                if std::mem::take(&mut self.poll_held) {
                    self.transmits.push_back(ServerTransmit::PollRejected(ServerError::BadRequest));
                }
                self.transport = TransportKind::WebSocket;
                self.queued_bytes = 0;
                for packet in std::mem::take(&mut self.queue) {
                    let frame = self.websocket_frame(packet);
                    self.transmits.push_back(ServerTransmit::WebSocket(frame));
                }
                self.events.push_back(ServerEvent::Upgraded);
            }
            _ => self.abandon_upgrade(),
        }
    }

    fn abandon_upgrade(&mut self) {
        self.release_poll_at = None;
        if self.upgrade != Upgrade::None {
            self.upgrade = Upgrade::None;
            self.transmits.push_back(ServerTransmit::CloseProbe);
        }
    }

    /// Answers a held poll with `packet` (used to release it without data).
    fn release_poll(&mut self, packet: Packet) {
        self.release_poll_at = None;
        if self.poll_held {
            self.poll_held = false;
            self.transmits.push_back(ServerTransmit::PollResponse(packet.polling_form()));
        }
    }

    /// Ends the session on `reason`; a WebSocket is closed with code 1000.
    fn fail(&mut self, reason: CloseReason) {
        self.fail_closing(reason, 1000);
    }

    /// Ends the session on `reason`, closing a WebSocket with `code`.
    fn fail_closing(&mut self, reason: CloseReason, code: u16) {
        if !self.closed {
            if self.transport == TransportKind::WebSocket {
                self.transmits.push_back(ServerTransmit::CloseWebSocket { code, reason });
            }
            // As the reference: a held poll learns of a close the client asked for with a
            // noop, of any other end with a `close` packet.
            let release = if reason == CloseReason::TransportClose { PacketType::Noop } else { PacketType::Close };
            self.release_poll(Packet::bare(release));
            self.queue.clear();
            self.queued_bytes = 0;
            self.finish(reason);
        }
    }

    fn finish(&mut self, reason: CloseReason) {
        self.closed = true;
        self.pong_deadline = None;
        if self.upgrade != Upgrade::None {
            self.abandon_upgrade();
        }
        self.events.push_back(ServerEvent::Closed(reason));
    }
}

//! The Engine.IO endpoint: every server session of one process (a Durable Object instance),
//! sans-IO, in the manner of quinn-proto's `Endpoint`.
//!
//! It owns the session table (integer [`SessionHandle`]s, with the sid index beside it), the
//! timer table (each session's next deadline in a sorted set: the next one is found without
//! a scan, and an alarm visits only the sessions that are due), and one output queue that
//! the driver empties with [`Endpoint::poll_output`]: frames and closes for a session's
//! WebSockets, answers to held polls, application events, the end of a session. The driver
//! keeps only what the runtime must hold (WebSocket objects, the held GET's responder), reads
//! the clock once per input, and sets its one alarm at [`Endpoint::alarm_to_set`].
//!
//! Lifecycle rules live here once: a polled session closed by the server is dropped after
//! [`CLOSED_SESSION_TTL_MS`] when its client never polls its last packets; the probe of an
//! upgrade becomes the session's transport when the upgrade completes; after an eviction a
//! WebSocket session is rebuilt from its id ([`Endpoint::resume_websocket`]).

use std::collections::{BTreeSet, VecDeque};

use rustc_hash::FxHashMap;

use super::handshake::ServerError;
use super::handshake_budget::HandshakeBudget;
use super::packet::{Data, Frame};
use super::server::{PollOutcome, PostError, ServerConfig, ServerEvent, ServerSession, ServerTransmit};
use super::session::{CloseReason, TransportKind};

/// How long a closed session waits for a poll that takes its last packets (the `close` packet
/// among them) before it is dropped: socket.io's `closeTimeout`.
pub const CLOSED_SESSION_TTL_MS: u64 = 30_000;

/// A session of an [`Endpoint`]. A handle is never reused for another session of the same
/// endpoint: after its session ended, every call with it is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionHandle {
    index: u32,
    generation: u32,
}

impl SessionHandle {
    /// The handle as one integer, for a host that keeps it outside Rust (a JavaScript map
    /// from each WebSocket to its session): the generation in the high half.
    pub fn to_bits(self) -> u64 {
        u64::from(self.generation) << 32 | u64::from(self.index)
    }

    /// The handle [`SessionHandle::to_bits`] gave these bits.
    pub fn from_bits(bits: u64) -> Self {
        SessionHandle { index: bits as u32, generation: (bits >> 32) as u32 }
    }
}

/// Which WebSocket of a session an output is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The WebSocket carrying the session.
    Transport,
    /// The WebSocket opened to upgrade a polling session, until the upgrade completes.
    Probe,
}

/// What the driver must carry out, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write a frame on one of the session's WebSockets.
    Send {
        /// The session.
        handle: SessionHandle,
        /// Which of its WebSockets.
        channel: Channel,
        /// The frame.
        frame: Frame,
    },
    /// Answer the session's held poll GET: a payload (200), or an error status.
    AnswerPoll {
        /// The session.
        handle: SessionHandle,
        /// The body, or the error to answer with.
        answer: Result<String, ServerError>,
    },
    /// Close one of the session's WebSockets.
    CloseWebSocket {
        /// The session.
        handle: SessionHandle,
        /// Which of its WebSockets.
        channel: Channel,
        /// The WebSocket close code.
        code: u16,
        /// The close reason the peer sees.
        reason: &'static str,
    },
    /// The upgrade completed: the probe WebSocket is now the session's transport.
    PromoteProbe {
        /// The session.
        handle: SessionHandle,
    },
    /// The application sees this event of the session.
    Event {
        /// The session.
        handle: SessionHandle,
        /// The event (a heartbeat is not reported).
        event: ServerEvent,
    },
    /// The session left the table: the driver drops what it holds for it.
    Removed {
        /// The session.
        handle: SessionHandle,
    },
}

/// Why an input for a session was refused before reaching it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// No session has this id or handle (never opened, or already ended).
    #[error("unknown session")]
    UnknownSession,
    /// A session with this id exists already.
    #[error("a session with this id exists")]
    DuplicateSid,
    /// The endpoint holds [`ServerConfig::max_sessions`] sessions already (answer 503).
    #[error("too many sessions")]
    Full,
    /// The client made [`ServerConfig::max_handshakes_per_minute`] handshakes this minute
    /// already (answer 429); it may try again after `retry_after_ms`.
    #[error("too many handshakes: try again in {retry_after_ms} ms")]
    TooManyHandshakes {
        /// Until the client's budget is renewed, ms.
        retry_after_ms: u64,
    },
}

#[derive(Debug)]
struct Entry {
    generation: u32,
    machine: ServerSession,
    /// The deadline this session has in the timer table.
    deadline: Option<u64>,
    /// Whether the driver holds a WebSocket carrying the session.
    websocket: bool,
    /// Whether the driver holds a probe WebSocket.
    probe: bool,
    /// Whether the driver holds a poll GET of the session.
    poll_held: bool,
    /// Whether a POST of the session is being read ([`Endpoint::begin_post`]).
    post_in_flight: bool,
    /// When the session was first seen closed with packets still waiting for a poll.
    closed_at: Option<u64>,
}

/// Every server session of one process, its timers and its outputs.
#[derive(Debug)]
pub struct Endpoint {
    config: ServerConfig,
    slots: Vec<Option<Entry>>,
    /// Per slot, the generation its next session gets.
    generations: Vec<u32>,
    free: Vec<u32>,
    /// Every event looks its session up here. FxHash: its keys are the ids this endpoint
    /// drew (or restored from what it kept), never a client's choice.
    by_sid: FxHashMap<String, SessionHandle>,
    timers: BTreeSet<(u64, SessionHandle)>,
    outputs: VecDeque<Output>,
    /// The alarm the driver was last told to set, while it has not fired.
    alarm_at: Option<u64>,
    handshakes: HandshakeBudget,
    /// When WebSocket sessions were last pinged, by this endpoint or by an earlier instance of
    /// its process ([`Endpoint::pinged_before`]); `true` while the driver was not told
    /// ([`Endpoint::take_websocket_ping`]).
    websocket_pinged_at: Option<(u64, bool)>,
}

impl Endpoint {
    /// An endpoint with no session, whose sessions use `config`.
    pub fn new(config: ServerConfig) -> Self {
        Endpoint {
            slots: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            by_sid: FxHashMap::default(),
            timers: BTreeSet::new(),
            outputs: VecDeque::new(),
            alarm_at: None,
            websocket_pinged_at: None,
            handshakes: HandshakeBudget::new(config.max_handshakes_per_minute),
            config,
        }
    }

    /// The settings of the sessions.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Counts a handshake request of `client` (its IP address), before [`Endpoint::open`]:
    /// refused past [`ServerConfig::max_handshakes_per_minute`].
    pub fn admit(&mut self, client: &str, now_ms: u64) -> Result<(), EndpointError> {
        self.handshakes
            .spend(client, now_ms)
            .map_err(|retry_after_ms| EndpointError::TooManyHandshakes { retry_after_ms })
    }

    /// Opens a session after a valid handshake request on `transport` (refused past
    /// [`ServerConfig::max_sessions`]). Over polling, the
    /// driver then answers the handshake GET with [`Endpoint::handle_poll`]; over WebSocket,
    /// the `open` frame is the first output.
    pub fn open(
        &mut self,
        sid: impl Into<String>,
        transport: TransportKind,
        now_ms: u64,
    ) -> Result<SessionHandle, EndpointError> {
        if self.by_sid.len() >= self.config.max_sessions {
            return Err(EndpointError::Full);
        }
        let sid = sid.into();
        let machine = ServerSession::new(sid, transport, self.config.clone(), now_ms);
        self.insert(machine, transport == TransportKind::WebSocket, now_ms)
    }

    /// Rebuilds a session that was open over WebSocket, from its id, after the process
    /// forgot it (an eviction from memory); a session still known keeps its state.
    /// `last_heard_ms`: when the client was last known alive (its last pong the runtime
    /// answered, or its WebSocket's acceptance), if the runtime kept it (see
    /// [`ServerSession::resume_websocket`]: a client silent for too long is closed).
    pub fn resume_websocket(&mut self, sid: &str, now_ms: u64, last_heard_ms: Option<u64>) -> SessionHandle {
        if let Some(handle) = self.by_sid.get(sid) {
            return *handle;
        }
        let pinged_at = self.websocket_pinged_at.map(|(at, _)| at);
        let machine = ServerSession::resume_websocket(sid, self.config.clone(), now_ms, last_heard_ms, pinged_at);
        self.insert(machine, true, now_ms).expect("the sid is not in the table")
    }

    /// Tells a new endpoint when the previous instance of its process last pinged WebSocket
    /// sessions (what [`Endpoint::take_websocket_ping`] gave it), before sessions are resumed:
    /// a client that has not answered since is awaited until that ping's deadline, then
    /// closed, not pinged anew by each instance an eviction starts (see
    /// [`ServerSession::resume_websocket`]).
    pub fn pinged_before(&mut self, at_ms: u64) {
        if self.websocket_pinged_at.is_none_or(|(known, _)| known < at_ms) {
            self.websocket_pinged_at = Some((at_ms, false));
        }
    }

    /// When WebSocket sessions were last pinged, if that changed since the last call: a driver
    /// whose process may be evicted from memory between a ping and its deadline keeps it
    /// (one value per process) for [`Endpoint::pinged_before`].
    pub fn take_websocket_ping(&mut self) -> Option<u64> {
        match self.websocket_pinged_at {
            Some((at, true)) => {
                self.websocket_pinged_at = Some((at, false));
                Some(at)
            }
            _ => None,
        }
    }

    /// The handle of the session with this id.
    pub fn lookup(&self, sid: &str) -> Option<SessionHandle> {
        self.by_sid.get(sid).copied()
    }

    /// The id of a session.
    pub fn sid(&self, handle: SessionHandle) -> Option<&str> {
        self.entry(handle).map(|e| e.machine.sid())
    }

    /// The transport currently carrying a session.
    pub fn transport(&self, handle: SessionHandle) -> Option<TransportKind> {
        self.entry(handle).map(|e| e.machine.transport())
    }

    /// Whether a message sent to the session now would leave at once (socket.io's
    /// `transport.writable`): a WebSocket always, polling only while a GET is held.
    pub fn is_writable(&self, handle: SessionHandle) -> bool {
        self.entry(handle).is_some_and(|e| !e.machine.is_closed() && (e.websocket || e.poll_held))
    }

    /// Whether a message sent now would go out as one WebSocket frame `4<text>` with nothing
    /// before it: a driver sending the same text to many sessions may write that frame
    /// itself, encoded once ([`Endpoint::send`] otherwise).
    pub fn writes_messages_directly(&self, handle: SessionHandle) -> bool {
        self.entry(handle).is_some_and(|e| e.websocket && e.machine.writes_messages_directly())
    }

    /// The sessions in the table, with their ids.
    pub fn sessions(&self) -> impl Iterator<Item = (SessionHandle, &str)> {
        self.by_sid.iter().map(|(sid, handle)| (*handle, sid.as_str()))
    }

    /// How many sessions are open (not closed).
    pub fn open_sessions(&self) -> usize {
        self.slots.iter().flatten().filter(|e| !e.machine.is_closed()).count()
    }

    /// A poll GET arrived. On [`PollOutcome::Hold`] the driver keeps the request until an
    /// [`Output::AnswerPoll`] for this session.
    pub fn handle_poll(&mut self, handle: SessionHandle, now_ms: u64) -> Result<PollOutcome, EndpointError> {
        let entry = self.entry_mut(handle)?;
        let outcome = entry.machine.handle_poll(now_ms);
        if outcome == PollOutcome::Hold {
            entry.poll_held = true;
        }
        self.after(handle, now_ms);
        Ok(outcome)
    }

    /// The poll GET went away (the client left): while held, or with an answer the driver
    /// could not deliver. As in the reference, the session ends with a transport error; the
    /// packets of a lost answer are not sent again here, but a socket with connection state
    /// recovery gets them back when it reconnects.
    pub fn handle_poll_aborted(&mut self, handle: SessionHandle, now_ms: u64) {
        if let Ok(entry) = self.entry_mut(handle) {
            entry.poll_held = false;
            entry.machine.handle_poll_aborted();
            entry.machine.close(CloseReason::TransportError);
            self.after(handle, now_ms);
        }
    }

    /// A POST arrived, before its body is read: refused (`Err`, answer 400) when another POST
    /// of the session is still in progress, which ends the session as the reference does
    /// ("data request overlap from client"): the two bodies could be handled out of order.
    /// Then [`Endpoint::handle_post`] with the body, or [`Endpoint::handle_post_aborted`].
    pub fn begin_post(&mut self, handle: SessionHandle, now_ms: u64) -> Result<(), ServerError> {
        let entry = self.entry_mut(handle).map_err(|_| ServerError::UnknownSid)?;
        if std::mem::replace(&mut entry.post_in_flight, true) {
            entry.machine.handle_transport_error();
            self.after(handle, now_ms);
            return Err(ServerError::BadRequest);
        }
        Ok(())
    }

    /// The POST in progress declares binary content (`application/octet-stream`), which an
    /// Engine.IO v4 client never posts (its binary goes base64 in text): its body is not
    /// handled and the session ends with a transport error, as the reference's "invalid
    /// content" (answer 400).
    pub fn handle_post_invalid_content(&mut self, handle: SessionHandle, now_ms: u64) {
        if let Ok(entry) = self.entry_mut(handle) {
            entry.post_in_flight = false;
            entry.machine.handle_transport_error();
            self.after(handle, now_ms);
        }
    }

    /// The body of the POST in progress could not be read (the client went away).
    pub fn handle_post_aborted(&mut self, handle: SessionHandle) {
        if let Ok(entry) = self.entry_mut(handle) {
            entry.post_in_flight = false;
        }
    }

    /// The POST in progress (or one that did not [`Endpoint::begin_post`]) has this body.
    pub fn handle_post(&mut self, handle: SessionHandle, body: &str, now_ms: u64) -> Result<(), PostError> {
        let entry = self.entry_mut(handle).map_err(|_| PostError::Rejected(ServerError::UnknownSid))?;
        entry.post_in_flight = false;
        let result = entry.machine.handle_post(body, now_ms);
        self.after(handle, now_ms);
        result
    }

    /// A WebSocket asks to upgrade the session. `Ok`: the driver accepts it as the session's
    /// probe. `Err`: the session has a WebSocket or an upgrade already (the reference accepts
    /// such a WebSocket and closes it at once), or upgrades are off.
    pub fn handle_websocket_open(&mut self, handle: SessionHandle, now_ms: u64) -> Result<(), ServerError> {
        let entry = self.entry_mut(handle).map_err(|_| ServerError::UnknownSid)?;
        entry.machine.handle_websocket_open(now_ms)?;
        entry.probe = true;
        self.after(handle, now_ms);
        Ok(())
    }

    /// A frame arrived on the session's WebSocket or probe.
    pub fn handle_websocket_frame(&mut self, handle: SessionHandle, frame: Frame, now_ms: u64) {
        if let Ok(entry) = self.entry_mut(handle) {
            entry.machine.handle_websocket_frame(frame, now_ms);
            self.after(handle, now_ms);
        }
    }

    /// The session's WebSocket closed (its probe while it polls): see
    /// [`ServerSession::handle_websocket_closed`].
    pub fn handle_websocket_closed(&mut self, handle: SessionHandle, now_ms: u64) {
        self.websocket_lost(handle, ServerSession::handle_websocket_closed, now_ms);
    }

    /// The session's WebSocket failed (its probe while it polls): see
    /// [`ServerSession::handle_websocket_failed`].
    pub fn handle_websocket_failed(&mut self, handle: SessionHandle, now_ms: u64) {
        self.websocket_lost(handle, ServerSession::handle_websocket_failed, now_ms);
    }

    fn websocket_lost(&mut self, handle: SessionHandle, lost: fn(&mut ServerSession), now_ms: u64) {
        if let Ok(entry) = self.entry_mut(handle) {
            match entry.machine.transport() {
                TransportKind::Polling => entry.probe = false,
                TransportKind::WebSocket => entry.websocket = false,
            }
            lost(&mut entry.machine);
            self.after(handle, now_ms);
        }
    }

    /// The session's WebSocket (or the one probing to upgrade it) takes no binary frames: see
    /// [`ServerSession::send_binary_as_text`].
    pub fn send_binary_as_text(&mut self, handle: SessionHandle) {
        if let Ok(entry) = self.entry_mut(handle) {
            entry.machine.send_binary_as_text();
        }
    }

    /// Queues a message for the session.
    pub fn send(&mut self, handle: SessionHandle, data: Data, now_ms: u64) {
        if let Ok(entry) = self.entry_mut(handle) {
            entry.machine.send(data, now_ms);
            self.after(handle, now_ms);
        }
    }

    /// Closes the session from the server side once what is queued has gone (see
    /// [`ServerSession::close`]).
    pub fn close(&mut self, handle: SessionHandle, reason: CloseReason, now_ms: u64) {
        if let Ok(entry) = self.entry_mut(handle) {
            entry.machine.close(reason);
            self.after(handle, now_ms);
        }
    }

    /// When the next deadline of any session is (a ping, a pong deadline, an upgrade check,
    /// the end of a closed session), found without a scan.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The time the driver must set its alarm to, if it must change: the earliest of the
    /// sessions' deadlines and `extra` (the application's own), when it is earlier than the
    /// alarm set before (or none is set). The driver sets it, or the endpoint must be told
    /// with [`Endpoint::alarm_lost`].
    pub fn alarm_to_set(&mut self, extra: Option<u64>) -> Option<u64> {
        let next = self.poll_timeout().into_iter().chain(extra).min()?;
        if self.alarm_at.is_some_and(|at| at <= next) {
            return None;
        }
        self.alarm_at = Some(next);
        Some(next)
    }

    /// The alarm the endpoint asked for may not be set (an error setting it, a new process):
    /// the next [`Endpoint::alarm_to_set`] asks again.
    pub fn alarm_lost(&mut self) {
        self.alarm_at = None;
    }

    /// The alarm the runtime holds at `at` (or none), set before this endpoint existed: a new
    /// instance of an object finds its previous instance's alarm still pending, and
    /// [`Endpoint::alarm_to_set`] then asks only for an earlier one. An alarm this endpoint
    /// asked for meanwhile is the one the runtime holds: it stays.
    pub fn alarm_found(&mut self, at: Option<u64>) {
        if self.alarm_at.is_none() {
            self.alarm_at = at;
        }
    }

    /// The alarm fired at `now_ms`. Only sessions with a deadline within half a ping interval
    /// are visited: for each, a pong the runtime answered by itself in time
    /// (`auto_pong_at`, the time of its last automatic answer, for sessions on a WebSocket)
    /// counts as the client's pong; a ping due within that half interval goes out now, so
    /// that heartbeats share one alarm per cycle; then the session handles the time (a
    /// missed pong closes it).
    pub fn handle_alarm(&mut self, now_ms: u64, auto_pong_at: impl FnMut(SessionHandle) -> Option<u64>) {
        self.alarm_at = None;
        self.visit_due(now_ms, auto_pong_at);
    }

    /// Handles deadlines already past at `now_ms`, as the alarm would (see
    /// [`Endpoint::handle_alarm`]), from any other input: a runtime that delivers the alarm
    /// only between events would hold heartbeats back under a steady flow of messages, and
    /// their clients would see a ping timeout. The alarm set stays set.
    pub fn handle_overdue(&mut self, now_ms: u64, auto_pong_at: impl FnMut(SessionHandle) -> Option<u64>) {
        if self.poll_timeout().is_some_and(|at| at <= now_ms) {
            self.visit_due(now_ms, auto_pong_at);
        }
    }

    fn visit_due(&mut self, now_ms: u64, mut auto_pong_at: impl FnMut(SessionHandle) -> Option<u64>) {
        let horizon = now_ms + self.config.ping_interval / 2;
        let visited: Vec<SessionHandle> =
            self.timers.iter().take_while(|(at, _)| *at <= horizon).map(|(_, handle)| *handle).collect();
        let ping_timeout = self.config.ping_timeout;
        for handle in visited {
            let Ok(entry) = self.entry_mut(handle) else { continue };
            if let Some(ping_at) = entry.machine.awaiting_pong_since().filter(|_| entry.websocket) {
                let in_time = |at: u64| at >= ping_at && at <= ping_at + ping_timeout;
                if auto_pong_at(handle).is_some_and(in_time) {
                    // Fed as of the ping, so that the next ping is due one interval after it.
                    entry.machine.handle_websocket_frame(Frame::Text("3".to_owned()), ping_at);
                }
            }
            if entry.machine.next_ping_at().is_some_and(|at| at <= horizon) {
                entry.machine.ping_early(now_ms);
            }
            entry.machine.handle_timeout(now_ms);
            self.after(handle, now_ms);
        }
    }

    /// The next thing the driver must carry out.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    fn insert(&mut self, machine: ServerSession, websocket: bool, now_ms: u64) -> Result<SessionHandle, EndpointError> {
        if self.by_sid.contains_key(machine.sid()) {
            return Err(EndpointError::DuplicateSid);
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(None);
                self.generations.push(0);
                (self.slots.len() - 1) as u32
            }
        };
        let generation = self.generations[index as usize];
        let handle = SessionHandle { index, generation };
        self.by_sid.insert(machine.sid().to_owned(), handle);
        self.slots[index as usize] = Some(Entry {
            generation,
            machine,
            deadline: None,
            websocket,
            probe: false,
            poll_held: false,
            post_in_flight: false,
            closed_at: None,
        });
        self.after(handle, now_ms);
        Ok(handle)
    }

    fn entry(&self, handle: SessionHandle) -> Option<&Entry> {
        self.slots.get(handle.index as usize)?.as_ref().filter(|e| e.generation == handle.generation)
    }

    fn entry_mut(&mut self, handle: SessionHandle) -> Result<&mut Entry, EndpointError> {
        self.slots
            .get_mut(handle.index as usize)
            .and_then(Option::as_mut)
            .filter(|e| e.generation == handle.generation)
            .ok_or(EndpointError::UnknownSession)
    }

    /// Moves what the session produced to the output queue, updates its deadline, and drops
    /// it once it is over.
    fn after(&mut self, handle: SessionHandle, now_ms: u64) {
        let Some(entry) = self.slots.get_mut(handle.index as usize).and_then(Option::as_mut) else { return };
        if entry.machine.transport() == TransportKind::WebSocket && !entry.websocket && entry.probe {
            entry.websocket = true;
            entry.probe = false;
            self.outputs.push_back(Output::PromoteProbe { handle });
        }
        // A ping sent now (its pong awaited since now) over a WebSocket.
        if entry.websocket && entry.machine.awaiting_pong_since() == Some(now_ms) {
            self.websocket_pinged_at = Some((now_ms, true));
        }
        while let Some(transmit) = entry.machine.poll_transmit() {
            let output = match transmit {
                ServerTransmit::PollResponse(body) => {
                    entry.poll_held = false;
                    Output::AnswerPoll { handle, answer: Ok(body) }
                }
                ServerTransmit::PollRejected(error) => {
                    entry.poll_held = false;
                    Output::AnswerPoll { handle, answer: Err(error) }
                }
                ServerTransmit::WebSocket(frame) => Output::Send { handle, channel: Channel::Transport, frame },
                ServerTransmit::Probe(frame) => Output::Send { handle, channel: Channel::Probe, frame },
                ServerTransmit::CloseWebSocket { code, reason } => {
                    let channel = match (entry.websocket, entry.probe) {
                        (true, _) => Channel::Transport,
                        (false, true) => Channel::Probe,
                        // The WebSocket is already gone (it closed first).
                        (false, false) => continue,
                    };
                    entry.websocket = false;
                    entry.probe = false;
                    Output::CloseWebSocket { handle, channel, code, reason: reason.as_str() }
                }
                ServerTransmit::CloseProbe => {
                    entry.probe = false;
                    Output::CloseWebSocket { handle, channel: Channel::Probe, code: 1000, reason: "upgrade abandoned" }
                }
            };
            self.outputs.push_back(output);
        }
        while let Some(event) = entry.machine.poll_event() {
            if event != ServerEvent::Heartbeat {
                self.outputs.push_back(Output::Event { handle, event });
            }
        }
        let deadline = if entry.machine.is_closed() {
            if !entry.machine.has_queued() {
                self.remove(handle);
                return;
            }
            let closed_at = *entry.closed_at.get_or_insert(now_ms);
            if now_ms >= closed_at + CLOSED_SESSION_TTL_MS {
                self.remove(handle);
                return;
            }
            Some(closed_at + CLOSED_SESSION_TTL_MS)
        } else {
            entry.machine.poll_timeout()
        };
        if entry.deadline != deadline {
            if let Some(old) = entry.deadline {
                self.timers.remove(&(old, handle));
            }
            if let Some(new) = deadline {
                self.timers.insert((new, handle));
            }
            entry.deadline = deadline;
        }
    }

    fn remove(&mut self, handle: SessionHandle) {
        let Some(entry) = self.slots[handle.index as usize].take() else { return };
        if let Some(at) = entry.deadline {
            self.timers.remove(&(at, handle));
        }
        self.by_sid.remove(entry.machine.sid());
        self.generations[handle.index as usize] = entry.generation.wrapping_add(1);
        self.free.push(handle.index);
        if entry.poll_held {
            self.outputs.push_back(Output::AnswerPoll { handle, answer: Err(ServerError::UnknownSid) });
        }
        self.outputs.push_back(Output::Removed { handle });
    }
}

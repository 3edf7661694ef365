//! The client side of one Engine.IO v4 session, sans-IO.
//!
//! The driver (the browser client, a test) calls [`ClientSession::open`], performs the
//! [`ClientTransmit`]s it polls (HTTP requests, WebSocket opens and sends), and feeds back what
//! happened to each transport by its [`TransportId`], plus the time. Behaviour follows
//! `engine.io-client` 6.6: server-sent heartbeats with a `pingInterval + pingTimeout`
//! deadline, polling to WebSocket upgrade by probe (`2probe`/`3probe`), pause and `5`,
//! and fallback to the next transport when the first one fails to open.

use crate::fifo::Fifo;

use super::handshake::Handshake;
use super::packet::{decode_payload, Data, Frame, Packet, PacketError, PacketType};
use super::session::{take_payload, CloseReason, TransportKind};

/// Settings of a client session (socket.io-client's option names in the docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// `transports`, in order of preference (default polling then websocket).
    pub transports: Vec<TransportKind>,
    /// `upgrade`: probe for WebSocket after opening over polling (default true).
    pub upgrade: bool,
    /// `rememberUpgrade`: open directly over WebSocket if it worked before (default false).
    pub remember_upgrade: bool,
    /// `tryAllTransports`: on a failed open, try the next transport (default false).
    pub try_all_transports: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            transports: vec![TransportKind::Polling, TransportKind::WebSocket],
            upgrade: true,
            remember_upgrade: false,
            try_all_transports: false,
        }
    }
}

/// Names one transport instance (one WebSocket, or the polling requests of one transport)
/// so that the driver can report what happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransportId(pub u32);

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientTransmit {
    /// Start a long-polling GET; the query holds `EIO`, `transport` and `sid` (the driver adds
    /// its own parameters). Answer with `handle_poll_response` or `handle_transport_error`.
    PollGet {
        /// The polling transport.
        id: TransportId,
        /// `EIO=4&transport=polling[&sid=..]`.
        query: String,
    },
    /// Start a POST with this payload. Answer with `handle_post_done` or `handle_transport_error`.
    PollPost {
        /// The polling transport.
        id: TransportId,
        /// `EIO=4&transport=polling&sid=..`.
        query: String,
        /// The payload to send.
        body: String,
    },
    /// Open a WebSocket. Answer with `handle_websocket_open`, `handle_websocket_frame`,
    /// `handle_transport_error` or `handle_transport_closed`.
    OpenWebSocket {
        /// The new transport.
        id: TransportId,
        /// `EIO=4&transport=websocket[&sid=..]`.
        query: String,
    },
    /// Send a frame on a WebSocket.
    WebSocket {
        /// The WebSocket.
        id: TransportId,
        /// The frame.
        frame: Frame,
    },
    /// Close this WebSocket, or abort the requests of this polling transport.
    Close {
        /// The transport to stop.
        id: TransportId,
    },
}

impl ClientTransmit {
    /// The transport it is for, to rewrite: a driver of several sessions tells their
    /// transports apart by ids of its own.
    pub fn transport_mut(&mut self) -> &mut TransportId {
        match self {
            ClientTransmit::PollGet { id, .. }
            | ClientTransmit::PollPost { id, .. }
            | ClientTransmit::OpenWebSocket { id, .. }
            | ClientTransmit::WebSocket { id, .. }
            | ClientTransmit::Close { id } => id,
        }
    }
}

/// What the application sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The handshake completed.
    Open(Handshake),
    /// A message from the server.
    Message(Data),
    /// The server pinged (socket.io-client's Manager re-emits it as `ping`).
    Ping,
    /// A WebSocket probe answered; the upgrade is under way.
    Upgrading,
    /// The session now runs over this transport.
    Upgrade(TransportKind),
    /// The probe failed; the session stays on polling.
    UpgradeError(String),
    /// A packet received (`created: false`) or created to be sent (`created: true`), for
    /// engine.io-client's `packet` / `packetCreate` events; reported only after
    /// [`ClientSession::report_packets`].
    Packet {
        /// Whether it was created here (else received).
        created: bool,
        /// The packet.
        packet: Packet,
    },
    /// The write buffer was written out (engine.io-client's `drain`); reported with packets.
    Drain,
    /// The session is over.
    Close {
        /// Why, as socket.io-client names it.
        reason: CloseReason,
        /// Details, when there are any.
        description: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Opening,
    Open,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transport {
    id: TransportId,
    kind: TransportKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    None,
    /// WebSocket opening or `2probe` sent.
    Sent(TransportId),
    /// `3probe` received: polling is pausing; `5` goes out once it is idle.
    Pausing(TransportId),
}

/// The client side of one Engine.IO session.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    /// Transports still to try, in order.
    candidates: Fifo<TransportKind>,
    /// A WebSocket failed to open this session and the next transport took over
    /// (`tryAllTransports`): no upgrade is probed, as engine.io-client drops a transport that
    /// failed from its list.
    websocket_failed: bool,
    state: State,
    transport: Option<Transport>,
    probe: Probe,
    /// After a poll's answer, the moves [`ClientSession::move_after_events`] makes are still
    /// to come: the next poll (`true`: after the handshake, the upgrade probe first).
    after_events: Option<bool>,
    next_id: u32,
    handshake: Option<Handshake>,
    poll_in_flight: bool,
    post_in_flight: bool,
    /// A frame went out on the WebSocket since the driver's last [`ClientSession::handle_tick`]
    /// (engine.io-client's WebSocket is not writable until the next tick after a write).
    websocket_written: bool,
    /// A failure found while the application's call is still running (no transport to open;
    /// transport `Some(id)` could not be created), reported at the next
    /// [`ClientSession::handle_tick`], once the call returned and the application's listeners
    /// exist, as engine.io-client reports "No transports available" a tick later.
    failure_due: Option<(Option<TransportId>, &'static str)>,
    write_buffer: Fifo<Packet>,
    /// Whether packets are reported ([`ClientEvent::Packet`], [`ClientEvent::Drain`]).
    report_packets: bool,
    ping_deadline: Option<u64>,
    /// After a close over polling: the transport and the payloads still to post, in order.
    closing_posts: Option<(TransportId, Fifo<String>)>,
    transmits: Fifo<ClientTransmit>,
    events: Fifo<ClientEvent>,
}

impl ClientSession {
    /// A session that has not opened yet. `prior_websocket_success` says whether a WebSocket
    /// worked for an earlier session (used with `rememberUpgrade`).
    pub fn new(config: ClientConfig, prior_websocket_success: bool) -> Self {
        let websocket_first =
            config.remember_upgrade && prior_websocket_success && config.transports.contains(&TransportKind::WebSocket);
        let mut candidates = Fifo::default();
        if websocket_first {
            candidates.push(TransportKind::WebSocket);
        }
        for &kind in &config.transports {
            if !(websocket_first && kind == TransportKind::WebSocket) {
                candidates.push(kind);
            }
        }
        ClientSession {
            config,
            candidates,
            websocket_failed: false,
            state: State::Idle,
            transport: None,
            probe: Probe::None,
            after_events: None,
            next_id: 0,
            handshake: None,
            poll_in_flight: false,
            post_in_flight: false,
            websocket_written: false,
            failure_due: None,
            write_buffer: Fifo::default(),
            report_packets: false,
            ping_deadline: None,
            closing_posts: None,
            transmits: Fifo::default(),
            events: Fifo::default(),
        }
    }

    /// Starts the handshake over the first transport.
    pub fn open(&mut self) {
        if self.state == State::Idle {
            self.state = State::Opening;
            self.open_next_transport();
        }
    }

    /// The handshake, once open.
    pub fn handshake(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }

    /// The transport carrying the session.
    pub fn transport(&self) -> Option<TransportKind> {
        self.transport.map(|t| t.kind)
    }

    /// Whether the session is open.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Whether a message sent now would go out at once (engine.io-client's
    /// `transport.writable`, which decides whether a volatile message is dropped): the session
    /// is open and its transport is not busy, with no POST in flight over polling, and nothing
    /// written to the WebSocket since the driver's last [`ClientSession::handle_tick`].
    pub fn is_writable(&self) -> bool {
        self.state == State::Open
            && match self.transport.map(|t| t.kind) {
                Some(TransportKind::Polling) => !self.post_in_flight,
                Some(TransportKind::WebSocket) => !self.websocket_written,
                None => false,
            }
    }

    /// Whether the driver must call [`ClientSession::handle_tick`] once the current task (and
    /// its microtasks queued so far) has run: something was written to the WebSocket, or a
    /// failure is due.
    pub fn wants_tick(&self) -> bool {
        self.websocket_written || self.failure_due.is_some()
    }

    /// The task that wrote to the WebSocket is over: the WebSocket is writable again, and what
    /// was queued meanwhile goes out, in one batch (engine.io-client's `drain`, then `flush`).
    /// A failure found during the task is reported now.
    pub fn handle_tick(&mut self) {
        self.websocket_written = false;
        match self.failure_due.take() {
            Some((Some(id), description)) => self.transport_lost(id, CloseReason::TransportError, description),
            Some((None, description)) => self.fail(CloseReason::TransportError, Some(description.into())),
            None => {}
        }
        self.flush();
    }

    /// The driver could not create the WebSocket of transport `id` (its constructor threw:
    /// bad subprotocols, a malformed URL): a "websocket error" at the next tick.
    pub fn handle_websocket_refused(&mut self, id: TransportId) {
        self.failure_due = Some((Some(id), "websocket error"));
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Queues a message; it goes out as soon as the transport is writable.
    pub fn send(&mut self, data: Data) {
        if self.state != State::Closed {
            self.queue(Packet { kind: PacketType::Message, data });
            self.flush();
        }
    }

    /// Reports every packet received and created, and each drained write buffer, from now on
    /// (engine.io-client's `packet`, `packetCreate` and `drain` events; off by default: each
    /// report copies its packet).
    pub fn report_packets(&mut self, on: bool) {
        self.report_packets = on;
    }

    /// Queues a packet for the write buffer.
    fn queue(&mut self, packet: Packet) {
        if self.report_packets {
            self.events.push(ClientEvent::Packet { created: true, packet: packet.clone() });
        }
        self.write_buffer.push(packet);
    }

    /// Closes the session ("forced close"): queued messages are flushed first; over polling a
    /// `close` packet is posted.
    pub fn close(&mut self) {
        if self.state == State::Closed {
            return;
        }
        self.abandon_probe(None, false);
        match (self.state, self.transport) {
            (State::Open, Some(t)) => match t.kind {
                TransportKind::Polling => {
                    // What is left, then the close packet (written as engine.io-client's
                    // polling transport writes it: not a packet the socket creates, no
                    // `packetCreate`).
                    self.write_buffer.push(Packet::bare(PacketType::Close));
                    let max = self.handshake.as_ref().map_or(u64::MAX, |h| h.max_payload);
                    let mut bodies = Fifo::default();
                    while !self.write_buffer.is_empty() {
                        bodies.push(take_payload(&mut self.write_buffer, max));
                    }
                    self.post_last(t.id, bodies);
                }
                TransportKind::WebSocket => {
                    // What is left is sent, written or not this tick, then the WebSocket closes
                    // (its close frame follows the data): the server learns of it at once, not
                    // at its ping timeout.
                    self.websocket_written = false;
                    self.flush();
                    self.transmits.push(ClientTransmit::Close { id: t.id });
                }
            },
            // Still opening: the transport is dropped (the handshake aborted, the WebSocket closed).
            (_, Some(t)) => self.transmits.push(ClientTransmit::Close { id: t.id }),
            (_, None) => {}
        }
        self.finish(CloseReason::ForcedClose, None);
    }

    /// The page is being left (`closeOnBeforeunload`): the transports close without a word to
    /// the layer above, as engine.io-client's do. The server learns at once (a `close` packet
    /// posted over polling, a WebSocket closed). Should the page stay after all (a `mailto:`
    /// link, "Stay on page"), the heartbeat this session then misses ends it ("ping timeout"),
    /// and the manager reconnects.
    pub fn close_transports_silently(&mut self) {
        if self.state == State::Closed {
            return;
        }
        self.abandon_probe(None, false);
        match self.transport.take() {
            Some(t) if t.kind == TransportKind::Polling && self.state == State::Open => {
                self.post_last(t.id, close_packet_alone());
            }
            Some(t) => self.transmits.push(ClientTransmit::Close { id: t.id }),
            None => {}
        }
    }

    /// A poll GET answered with this payload.
    pub fn handle_poll_response(&mut self, id: TransportId, body: &str, now_ms: u64) {
        if !self.is_current(id, TransportKind::Polling) {
            return;
        }
        self.poll_in_flight = false;
        let Ok(packets) = decode_payload(body) else {
            self.fail(CloseReason::TransportError, Some("parse error".into()));
            return;
        };
        for packet in packets {
            if self.state == State::Closed {
                return;
            }
            self.on_packet(packet, now_ms);
        }
        if self.state == State::Closed {
            return;
        }
        if self.probe_is_pausing() {
            self.complete_upgrade_if_paused();
        } else if self.state == State::Open {
            self.after_events.get_or_insert(false);
        }
    }

    /// A POST finished.
    pub fn handle_post_done(&mut self, id: TransportId) {
        if self.closing_posts.as_ref().is_some_and(|(closing, _)| *closing == id) {
            self.post_next_closing_body();
            return;
        }
        if !self.is_current(id, TransportKind::Polling) {
            return;
        }
        self.post_in_flight = false;
        if self.probe_is_pausing() {
            self.flush();
            self.complete_upgrade_if_paused();
        } else if self.write_buffer.is_empty() {
            self.drained();
        } else {
            self.flush();
        }
    }

    /// The write buffer was written out.
    fn drained(&mut self) {
        if self.report_packets {
            self.events.push(ClientEvent::Drain);
        }
    }

    /// A WebSocket opened.
    pub fn handle_websocket_open(&mut self, id: TransportId) {
        if self.probe == Probe::Sent(id) {
            self.transmits
                .push(ClientTransmit::WebSocket { id, frame: Packet::text(PacketType::Ping, "probe").into_frame() });
        }
    }

    /// A frame arrived on a WebSocket.
    pub fn handle_websocket_frame(&mut self, id: TransportId, frame: Frame, now_ms: u64) {
        self.on_websocket_packet(id, Packet::decode_frame(frame), now_ms);
    }

    /// A text frame arrived on a WebSocket (as [`ClientSession::handle_websocket_frame`],
    /// borrowed: the driver may keep the text).
    pub fn handle_websocket_text(&mut self, id: TransportId, text: &str, now_ms: u64) {
        self.on_websocket_packet(id, Packet::decode_text(text), now_ms);
    }

    /// Whether a message packet arriving now on WebSocket `id` would come out as
    /// [`ClientEvent::Message`] and nothing else: the session is open on that WebSocket, which
    /// is not a probe, and packets are not reported. The driver may then hand the message to
    /// the layer above without the engine seeing it.
    pub fn passes_messages_on(&self, id: TransportId) -> bool {
        self.state == State::Open
            && self.probe != Probe::Sent(id)
            && !self.report_packets
            && self.is_current(id, TransportKind::WebSocket)
    }

    /// The WebSocket whose message packets [`ClientSession::passes_messages_on`] now, if any.
    pub fn message_websocket(&self) -> Option<TransportId> {
        self.transport.map(|t| t.id).filter(|&id| self.passes_messages_on(id))
    }

    fn on_websocket_packet(&mut self, id: TransportId, packet: Result<Packet, PacketError>, now_ms: u64) {
        if self.probe == Probe::Sent(id) {
            match packet {
                Ok(p) if p.kind == PacketType::Pong && p.data == Data::Text("probe".into()) => {
                    self.probe = Probe::Pausing(id);
                    self.events.push(ClientEvent::Upgrading);
                    self.complete_upgrade_if_paused();
                }
                _ => self.abandon_probe(Some("probe error"), true),
            }
            return;
        }
        if !self.is_current(id, TransportKind::WebSocket) {
            return;
        }
        match packet {
            Ok(packet) => self.on_packet(packet, now_ms),
            Err(_) => self.fail(CloseReason::TransportError, Some("parse error".into())),
        }
    }

    /// A POST failed (HTTP error, network error): the session ends with "xhr post error", and
    /// the POST is no longer in flight (the close packet goes at once).
    pub fn handle_post_failed(&mut self, id: TransportId) {
        if self.is_current(id, TransportKind::Polling) {
            self.post_in_flight = false;
        }
        self.transport_lost(id, CloseReason::TransportError, "xhr post error");
    }

    /// A transport failed (HTTP error, network error, WebSocket error).
    pub fn handle_transport_error(&mut self, id: TransportId, description: &str) {
        self.transport_lost(id, CloseReason::TransportError, description);
    }

    /// A WebSocket closed.
    pub fn handle_transport_closed(&mut self, id: TransportId) {
        self.transport_lost(id, CloseReason::TransportClose, "websocket connection closed");
    }

    /// The time is now `now_ms`: closes the session when the server missed its heartbeat.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.ping_deadline.is_some_and(|deadline| now_ms >= deadline) {
            self.fail(CloseReason::PingTimeout, None);
        }
    }

    /// When [`ClientSession::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.ping_deadline
    }

    /// The next thing to do, if any.
    pub fn poll_transmit(&mut self) -> Option<ClientTransmit> {
        self.transmits.pop()
    }

    /// The next event for the application, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop()
    }

    /// Once the application has taken the events of a poll's answer and its listeners ran
    /// (what they wrote is queued, a close they asked for is done): the moves engine.io-client
    /// makes after its listeners, within the same input. After the handshake, the upgrade
    /// probe, so that what the `open` listeners wrote (the CONNECT) is posted first; then the
    /// next poll, unless the session was closed meanwhile (a packet that did not decode).
    /// Nothing otherwise.
    pub fn move_after_events(&mut self) {
        let Some(probe) = self.after_events.take() else { return };
        let Some(Transport { id, kind: TransportKind::Polling }) = self.transport else { return };
        if self.state != State::Open {
            return;
        }
        if probe {
            let probe_id = self.new_id();
            self.probe = Probe::Sent(probe_id);
            let query = self.query(TransportKind::WebSocket);
            self.transmits.push(ClientTransmit::OpenWebSocket { id: probe_id, query });
        }
        if !self.probe_is_pausing() {
            self.poll(id);
        }
    }

    fn new_id(&mut self) -> TransportId {
        self.next_id += 1;
        TransportId(self.next_id)
    }

    fn query(&self, kind: TransportKind) -> String {
        let mut query = String::from("EIO=4&transport=");
        query.push_str(kind.as_str());
        if let Some(handshake) = &self.handshake {
            query.push_str("&sid=");
            percent_encode_into(&handshake.sid, &mut query);
        }
        query
    }

    fn is_current(&self, id: TransportId, kind: TransportKind) -> bool {
        self.state != State::Closed && self.transport == Some(Transport { id, kind })
    }

    fn probe_is_pausing(&self) -> bool {
        matches!(self.probe, Probe::Pausing(_))
    }

    fn open_next_transport(&mut self) {
        let Some(kind) = self.candidates.pop() else {
            self.failure_due = Some((None, "No transports available"));
            return;
        };
        let id = self.new_id();
        self.transport = Some(Transport { id, kind });
        match kind {
            TransportKind::Polling => self.poll(id),
            TransportKind::WebSocket => {
                let query = self.query(kind);
                self.transmits.push(ClientTransmit::OpenWebSocket { id, query });
            }
        }
    }

    fn poll(&mut self, id: TransportId) {
        if !self.poll_in_flight {
            self.poll_in_flight = true;
            let query = self.query(TransportKind::Polling);
            self.transmits.push(ClientTransmit::PollGet { id, query });
        }
    }

    fn on_packet(&mut self, packet: Packet, now_ms: u64) {
        if self.report_packets {
            self.events.push(ClientEvent::Packet { created: false, packet: packet.clone() });
        }
        match packet.kind {
            PacketType::Open if self.state == State::Opening => {
                let Data::Text(text) = &packet.data else { return };
                match Handshake::from_json(text) {
                    Ok(handshake) => self.on_handshake(handshake, now_ms),
                    Err(error) => self.fail(CloseReason::TransportError, Some(error.message())),
                }
            }
            PacketType::Ping if self.state == State::Open => {
                self.reset_ping_deadline(now_ms);
                self.queue(Packet::bare(PacketType::Pong));
                self.events.push(ClientEvent::Ping);
                self.flush();
            }
            PacketType::Message if self.state == State::Open => self.events.push(ClientEvent::Message(packet.data)),
            PacketType::Close => self.fail(CloseReason::TransportClose, Some("transport closed by the server".into())),
            _ => {}
        }
    }

    fn on_handshake(&mut self, handshake: Handshake, now_ms: u64) {
        let probe_websocket = self.config.upgrade
            && self.transport() == Some(TransportKind::Polling)
            && self.config.transports.contains(&TransportKind::WebSocket)
            && !self.websocket_failed
            && handshake.upgrades.iter().any(|u| u == TransportKind::WebSocket.as_str());
        self.handshake = Some(handshake.clone());
        self.state = State::Open;
        self.candidates = Fifo::default();
        self.reset_ping_deadline(now_ms);
        self.events.push(ClientEvent::Open(handshake));
        self.flush();
        if self.transport() == Some(TransportKind::Polling) {
            self.after_events = Some(probe_websocket);
        }
    }

    fn reset_ping_deadline(&mut self, now_ms: u64) {
        if let Some(h) = &self.handshake {
            self.ping_deadline = Some(now_ms + h.ping_interval + h.ping_timeout);
        }
    }

    fn flush(&mut self) {
        let Some(t) = self.transport else { return };
        // Pausing for the upgrade, polling still posts while the server holds its poll: the
        // upgrade waits for that poll anyway, and the server's answer to what is posted may be
        // what ends it (engine.io-client holds it, for up to the 100 ms the server takes to
        // release an idle poll).
        if self.state != State::Open || self.write_buffer.is_empty() || self.probe_is_pausing() && !self.poll_in_flight
        {
            return;
        }
        match t.kind {
            TransportKind::Polling => self.flush_polling(t.id),
            // As engine.io-client's WebSocket transport: not writable again until the next tick
            // after a write, so the messages of one task after its first go out together then.
            TransportKind::WebSocket if !self.websocket_written => {
                while let Some(packet) = self.write_buffer.pop() {
                    self.transmits.push(ClientTransmit::WebSocket { id: t.id, frame: packet.into_frame() });
                }
                self.websocket_written = true;
                self.drained();
            }
            TransportKind::WebSocket => {}
        }
    }

    /// Posts the write buffer in payloads within `maxPayload`, one POST at a time.
    fn flush_polling(&mut self, id: TransportId) {
        let max = self.handshake.as_ref().map_or(u64::MAX, |h| h.max_payload);
        if !self.post_in_flight && !self.write_buffer.is_empty() {
            let body = take_payload(&mut self.write_buffer, max);
            self.write_buffer.compact();
            let query = self.query(TransportKind::Polling);
            self.transmits.push(ClientTransmit::PollPost { id, query, body });
            self.post_in_flight = true;
        }
    }

    /// Posts `bodies`, the last of the session over polling transport `id`, one POST after
    /// the other (the server refuses overlapping POSTs). A poll asked for but not sent yet is
    /// dropped: sent beside the close packet, it could reach the server after the close and
    /// be refused.
    fn post_last(&mut self, id: TransportId, bodies: Fifo<String>) {
        self.transmits.retain(|t| !matches!(t, ClientTransmit::PollGet { .. }));
        self.closing_posts = Some((id, bodies));
        if !self.post_in_flight {
            self.post_next_closing_body();
        }
    }

    /// After a close over polling: posts the next of the last payloads, if any is left.
    fn post_next_closing_body(&mut self) {
        let Some((id, bodies)) = self.closing_posts.as_mut() else { return };
        let id = *id;
        match bodies.pop() {
            Some(body) => {
                let query = self.query(TransportKind::Polling);
                self.transmits.push(ClientTransmit::PollPost { id, query, body });
            }
            None => self.closing_posts = None,
        }
    }

    fn complete_upgrade_if_paused(&mut self) {
        let Probe::Pausing(probe) = self.probe else { return };
        if self.poll_in_flight || self.post_in_flight {
            return;
        }
        self.probe = Probe::None;
        if let Some(old) = self.transport.replace(Transport { id: probe, kind: TransportKind::WebSocket }) {
            self.transmits.push(ClientTransmit::Close { id: old.id });
        }
        self.transmits
            .push(ClientTransmit::WebSocket { id: probe, frame: Packet::bare(PacketType::Upgrade).into_frame() });
        self.events.push(ClientEvent::Upgrade(TransportKind::WebSocket));
        self.flush();
    }

    /// Drops the WebSocket probe; `resume` restarts polling if it was pausing for it.
    fn abandon_probe(&mut self, error: Option<&str>, resume: bool) {
        let (Probe::Sent(id) | Probe::Pausing(id)) = self.probe else { return };
        let was_pausing = self.probe_is_pausing();
        self.probe = Probe::None;
        self.transmits.push(ClientTransmit::Close { id });
        if let Some(error) = error {
            self.events.push(ClientEvent::UpgradeError(error.to_owned()));
        }
        // Polling was pausing for the upgrade: resume it.
        if let (true, true, State::Open, Some(t)) = (resume, was_pausing, self.state, self.transport) {
            self.poll(t.id);
            self.flush();
        }
    }

    fn transport_lost(&mut self, id: TransportId, reason: CloseReason, description: &str) {
        if matches!(self.probe, Probe::Sent(p) | Probe::Pausing(p) if p == id) {
            self.abandon_probe(Some("probe error"), true);
            return;
        }
        if self.transport.map(|t| t.id) != Some(id) || self.state == State::Closed {
            return;
        }
        if self.state == State::Opening && self.config.try_all_transports && !self.candidates.is_empty() {
            self.websocket_failed |= self.transport() == Some(TransportKind::WebSocket);
            self.transmits.push(ClientTransmit::Close { id });
            self.poll_in_flight = false;
            self.open_next_transport();
            return;
        }
        self.fail(reason, Some(description.to_owned()));
    }

    fn fail(&mut self, reason: CloseReason, description: Option<String>) {
        if self.state == State::Closed {
            return;
        }
        self.abandon_probe(None, false);
        match self.transport {
            // As engine.io-client, whose polling transport posts a close packet when the
            // session ends on its side (a refused POST, a parse error, a missed heartbeat; not
            // the server's own close packet, the one `transport close` over polling): the
            // server ends it at once ("transport close"), where one that cannot see a held poll
            // abandoned (a Durable Object) would hold it until its heartbeat. The held poll is
            // left to the server's answer to the close, as there.
            Some(t)
                if t.kind == TransportKind::Polling
                    && self.state == State::Open
                    && reason != CloseReason::TransportClose =>
            {
                self.post_last(t.id, close_packet_alone());
            }
            Some(t) => self.transmits.push(ClientTransmit::Close { id: t.id }),
            None => {}
        }
        self.finish(reason, description);
    }

    fn finish(&mut self, reason: CloseReason, description: Option<String>) {
        self.state = State::Closed;
        self.ping_deadline = None;
        self.write_buffer = Fifo::default();
        self.events.push(ClientEvent::Close { reason, description });
    }
}

/// The close packet alone, as the one payload [`ClientSession::post_last`] posts.
fn close_packet_alone() -> Fifo<String> {
    let mut close = Fifo::default();
    close.push(Packet::bare(PacketType::Close));
    let mut bodies = Fifo::default();
    bodies.push(take_payload(&mut close, u64::MAX));
    bodies
}

/// Percent-encodes `value` for a query string (unreserved characters stay as they are).
pub(crate) fn percent_encode_into(value: &str, out: &mut String) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push('%');
            crate::number::push_hex(out, u32::from(byte), 2, crate::number::UPPER_HEX);
        }
    }
}

//! socket.io-client's `Manager`: one engine at a time, namespaces multiplexed over it,
//! reconnection with backoff; and the `Socket` logic it drives.

use crate::fifo::Fifo;

use super::backoff::Backoff;
use super::json_util::{array_elements, member, merge_recovery, object_members, rest_of_array, string_value, truthy};
use super::socket::{
    AckHandle, AckMode, AckTarget, Auth, EmitOptions, PendingAck, QueuedPacket, Received, Socket, SocketId,
    SocketOptions,
};
use super::{
    AckError, DisconnectReason, EmitError, ErrorMessage, Event, EventShortcut, ManagerError, ManagerEvent, SocketEvent,
    UnreadPayload,
};
use crate::engine::{ClientEvent, ClientSession, ClientTransmit, CloseReason, Data, Frame, TransportId, TransportKind};
use crate::json;
use crate::socket::{
    event_name, is_reserved_event, DecodeError, Decoder, Header, Packet, PacketType, DEFAULT_MAX_ATTACHMENTS,
};
pub use config::{ManagerConfig, ReadyState};
use current_engine::CurrentEngine;
use reconnection::Reconnection;

mod config;
mod current_engine;
mod reconnection;
mod sockets;
mod timers;

/// The error socket.io-client gives when a CONNECT answer has no `sid`.
const V2_SERVER: &str = "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, but they are not compatible (more information here: https://socket.io/docs/v3/migrating-from-2-x-to-3-0/)";

/// The Socket.IO client of one server: socket.io-client's `Manager` with its `Socket`s.
pub struct Manager {
    reconnection: Reconnection,
    timeout: Option<u64>,
    state: ReadyState,
    engine: CurrentEngine,
    decoder: Decoder,
    /// [`ManagerConfig::application_json`].
    application_json: bool,
    /// The pending `open()` was started by a reconnection attempt (its `fn` callback).
    open_is_reconnect: bool,
    connect_deadline: Option<u64>,
    prior_websocket_success: bool,
    sockets: Vec<Socket>,
    /// Sockets listening to the manager, in subscription order.
    subscribed: Vec<SocketId>,
    transmits: Fifo<ClientTransmit>,
    events: Fifo<Event>,
    /// Whether packets are reported ([`Manager::report_packets`]).
    report_packets: bool,
}

/// The events a [`Manager`] had not given yet when an input made while the application
/// handles an event began ([`Manager::begin_nested_input`]).
#[derive(Debug)]
pub struct SetAside(Fifo<Event>);

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("state", &self.state)
            .field("reconnection", &self.reconnection)
            .field("engine", &self.engine)
            .field("sockets", &self.sockets)
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A closed manager. `random` is the driver's `Math.random`, called once per
    /// reconnection delay. Call [`Manager::open`] to connect (socket.io-client's
    /// `autoConnect` does it at once).
    pub fn new(config: ManagerConfig, random: impl FnMut() -> f64 + 'static) -> Self {
        Manager {
            reconnection: Reconnection::new(&config, random),
            timeout: config.timeout,
            state: ReadyState::Closed,
            engine: CurrentEngine::new(config.engine),
            application_json: config.application_json,
            decoder: match config.application_json {
                true => Decoder::default().defer_json_validation(),
                false => Decoder::default(),
            },
            open_is_reconnect: false,
            connect_deadline: None,
            prior_websocket_success: false,
            sockets: Vec::new(),
            subscribed: Vec::new(),
            transmits: Fifo::default(),
            events: Fifo::default(),
            report_packets: false,
        }
    }

    /// Reports the packets from now on, of this engine and the next ones: the manager's
    /// `packet` ([`ManagerEvent::Packet`]), the engine's `packet`, `packetCreate` and `drain`
    /// ([`ManagerEvent::EnginePacket`], [`ManagerEvent::Drain`]). Off by default: each report
    /// copies its packet.
    pub fn report_packets(&mut self, on: bool) {
        self.report_packets = on;
        if let Some(engine) = self.engine.session_mut() {
            engine.report_packets(on);
        }
    }

    // ----- settings -------------------------------------------------------------------

    /// `reconnection(v)`; disabling it also stops a pending reconnection.
    pub fn set_reconnection(&mut self, reconnection: bool) {
        self.reconnection.set_enabled(reconnection);
    }

    /// `reconnectionAttempts(v)`, `None` for Infinity.
    pub fn set_reconnection_attempts(&mut self, attempts: Option<u32>) {
        self.reconnection.set_max_attempts(attempts);
    }

    /// `reconnectionDelay(v)`.
    pub fn set_reconnection_delay(&mut self, ms: u64) {
        self.reconnection.backoff_mut().set_min(ms as f64);
    }

    /// `reconnectionDelayMax(v)`.
    pub fn set_reconnection_delay_max(&mut self, ms: u64) {
        self.reconnection.backoff_mut().set_max(ms as f64);
    }

    /// `randomizationFactor(v)`.
    pub fn set_randomization_factor(&mut self, factor: f64) {
        self.reconnection.backoff_mut().set_jitter(factor);
    }

    /// `manager.opts.transports` changed: the next connection (a reconnection, or `open()`)
    /// tries these, as socket.io-client's next engine reads its options anew.
    pub fn set_transports(&mut self, transports: Vec<TransportKind>) {
        self.engine.set_transports(transports);
    }

    /// `timeout(v)`, `None` for `false`.
    pub fn set_timeout(&mut self, timeout: Option<u64>) {
        self.timeout = timeout;
    }

    /// Whether the driver must call [`Manager::handle_tick`] once the current task (and the
    /// microtasks it queued so far) has run ([`ClientSession::wants_tick`]).
    pub fn wants_tick(&self) -> bool {
        self.engine.session().is_some_and(ClientSession::wants_tick)
    }

    /// The task that wrote to the WebSocket is over ([`ClientSession::handle_tick`]): what was
    /// queued meanwhile goes out.
    pub fn handle_tick(&mut self, now_ms: u64) {
        if let Some(engine) = self.engine.session_mut() {
            engine.handle_tick();
            self.pump(now_ms);
        }
    }

    /// Whether a WebSocket worked for the last engine (engine.io-client's
    /// `priorWebsocketSuccess`, used with `rememberUpgrade`).
    pub fn prior_websocket_success(&self) -> bool {
        self.prior_websocket_success
    }

    /// Sets `priorWebsocketSuccess` (it is global in engine.io-client: a driver may share it
    /// between managers).
    pub fn set_prior_websocket_success(&mut self, success: bool) {
        self.prior_websocket_success = success;
    }

    // ----- state ----------------------------------------------------------------------

    /// `_readyState`.
    pub fn ready_state(&self) -> ReadyState {
        self.state
    }

    /// Whether a reconnection is scheduled or under way (`_reconnecting`).
    pub fn is_reconnecting(&self) -> bool {
        self.reconnection.is_active()
    }

    /// The backoff (its `attempts()` is the current reconnection attempt).
    pub fn backoff(&self) -> &Backoff {
        self.reconnection.backoff()
    }

    /// The current (or last) engine session (`manager.engine`).
    pub fn engine(&self) -> Option<&ClientSession> {
        self.engine.session()
    }

    /// The socket with this id.
    pub fn get_socket(&self, id: SocketId) -> Option<&Socket> {
        self.sockets.get(id.0 as usize)
    }

    /// The socket of namespace `nsp`, if one was created.
    pub fn find_socket(&self, nsp: &str) -> Option<SocketId> {
        self.sockets.iter().position(|s| s.nsp == nsp).map(|i| SocketId(i as u32))
    }

    // ----- outputs --------------------------------------------------------------------

    /// The next thing to do on the network. Transport ids are unique across the engines the
    /// manager creates.
    pub fn poll_transmit(&mut self) -> Option<ClientTransmit> {
        if self.events.is_empty() {
            self.move_after_events();
        }
        self.transmits.pop()
    }

    /// The application was handed every event of the last input (a poll's answer, the open's
    /// too) and its listeners wrote: the engine's next poll, and after the handshake its
    /// upgrade probe ([`ClientSession::move_after_events`]), follow what they wrote.
    #[inline(never)]
    fn move_after_events(&mut self) {
        if let Some(session) = self.engine.session_mut() {
            session.move_after_events();
            self.engine.drain_transmits(&mut self.transmits);
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Before an input made while the application handles an event (a listener calling
    /// `disconnect()`): the events not polled yet are set aside until the input's own events
    /// were polled, as socket.io-client emits those within the call, then given back to
    /// [`Manager::end_nested_input`].
    pub fn begin_nested_input(&mut self) -> SetAside {
        SetAside(std::mem::take(&mut self.events))
    }

    /// After the input begun with [`Manager::begin_nested_input`]: the events set aside are
    /// polled next.
    pub fn end_nested_input(&mut self, set_aside: SetAside) {
        self.events.prepend(set_aside.0);
    }

    // ----- engine inputs --------------------------------------------------------------

    /// A poll GET of the engine answered (see [`ClientSession::handle_poll_response`]).
    pub fn handle_poll_response(&mut self, id: TransportId, body: &str, now_ms: u64) {
        if let Some((engine, local)) = self.engine.for_transport(id) {
            engine.handle_poll_response(local, body, now_ms);
            self.pump(now_ms);
        }
    }

    /// A POST of the engine finished.
    pub fn handle_post_done(&mut self, id: TransportId, now_ms: u64) {
        if let Some((engine, local)) = self.engine.for_transport(id) {
            engine.handle_post_done(local);
            self.pump(now_ms);
        }
    }

    /// A WebSocket of the engine opened.
    pub fn handle_websocket_open(&mut self, id: TransportId, now_ms: u64) {
        if let Some((engine, local)) = self.engine.for_transport(id) {
            engine.handle_websocket_open(local);
            self.pump(now_ms);
        }
    }

    /// A frame arrived on a WebSocket of the engine.
    pub fn handle_websocket_frame(&mut self, id: TransportId, frame: Frame, now_ms: u64) {
        if let Some((engine, local)) = self.engine.for_transport(id) {
            engine.handle_websocket_frame(local, frame, now_ms);
            self.pump(now_ms);
        }
    }

    /// A text frame arrived on a WebSocket of the engine (borrowed: the driver keeps it).
    pub fn handle_websocket_text(&mut self, id: TransportId, text: &str, now_ms: u64) {
        if let Some((engine, local)) = self.engine.for_transport(id) {
            engine.handle_websocket_text(local, text, now_ms);
            self.pump(now_ms);
        }
    }

    /// A WebSocket text frame read from its header alone: `head` is the frame up to where its
    /// JSON data starts; the driver keeps the rest. A connected socket's EVENT, or the answer
    /// to an application's ack, without attachments, comes back as [`UnreadPayload`]: the
    /// driver hands the rest of the frame to the application, which parses it and calls
    /// [`Manager::handle_invalid_payload`] when it is not the JSON array the packet needs
    /// (for an EVENT, a name first: a string, not a reserved one, or a number). `None`: the
    /// core needs the whole frame ([`Manager::handle_websocket_text`]); nothing changed.
    /// Only with [`ManagerConfig::application_json`].
    pub fn handle_websocket_head(&mut self, id: TransportId, head: &str) -> Option<UnreadPayload> {
        if self.head_routing_websocket() != Some(id) {
            return None;
        }
        let text = head.strip_prefix('4')?;
        let header = Header::parse(text, DEFAULT_MAX_ATTACHMENTS).ok().filter(|h| h.data_start == text.len())?;
        // A namespace ends with `,`: a head ending with its namespace was cut inside it (a
        // namespace may hold a `[`).
        if header.nsp != "/" && text.ends_with(header.nsp) {
            return None;
        }
        self.route_unread(&header)
    }

    /// The application could not use the data of the event or ack answer just reported
    /// (with [`ManagerConfig::application_json`]): its JSON does not parse
    /// ([`DecodeError::InvalidPayload`]), or, in a JavaScript host that resolves attachment
    /// placeholders itself (feature `js-json`), a placeholder is invalid
    /// ([`DecodeError::IllegalPlaceholder`]). The connection closes with "parse error" and
    /// `error`'s message, as when the core finds it itself.
    pub fn handle_invalid_payload(&mut self, error: DecodeError, now_ms: u64) {
        if self.state == ReadyState::Open {
            let description = error.message().to_owned();
            self.on_close(DisconnectReason::ParseError, Some(description), now_ms);
        }
    }

    /// `manager.engine.emit("data", data)`: a message the application hands to the manager as
    /// if its engine had received it (socket.io-client's manager listens to its engine's
    /// `data`; its test suite plays a decoding error this way). Ignored unless the manager is
    /// open, as socket.io-client listens only then.
    pub fn handle_engine_data(&mut self, data: Data, now_ms: u64) {
        self.on_engine_event(ClientEvent::Message(data), now_ms);
        self.pump(now_ms);
    }

    /// `manager.engine.write(data)`: a message written on the engine as it is, not as a
    /// Socket.IO packet (socket.io's own test suite writes raw packets so). Nothing without an
    /// open or opening engine.
    pub fn write_engine_data(&mut self, data: Data, now_ms: u64) {
        if let Some(engine) = self.engine.session_mut() {
            engine.send(data);
        }
        self.pump(now_ms);
    }

    /// A POST of the engine failed ([`ClientSession::handle_post_failed`]).
    pub fn handle_post_failed(&mut self, id: TransportId, now_ms: u64) {
        if let Some((engine, local)) = self.engine.for_transport(id) {
            engine.handle_post_failed(local);
            self.pump(now_ms);
        }
    }

    /// A transport of the engine failed; `description` says how (e.g. "xhr poll error").
    pub fn handle_transport_error(&mut self, id: TransportId, description: &str, now_ms: u64) {
        if let Some((engine, local)) = self.engine.for_transport(id) {
            engine.handle_transport_error(local, description);
            self.pump(now_ms);
        }
    }

    /// The driver could not create the engine's WebSocket `id`
    /// ([`ClientSession::handle_websocket_refused`]): its error is reported at the next tick.
    pub fn handle_websocket_refused(&mut self, id: TransportId) {
        if let Some((engine, local)) = self.engine.for_transport(id) {
            engine.handle_websocket_refused(local);
        }
    }

    /// A WebSocket of the engine closed.
    pub fn handle_transport_closed(&mut self, id: TransportId, now_ms: u64) {
        if let Some((engine, local)) = self.engine.for_transport(id) {
            engine.handle_transport_closed(local);
            self.pump(now_ms);
        }
    }

    // ----- application calls ----------------------------------------------------------

    /// `open()` / `connect()`: opens an engine unless one is open or opening.
    pub fn open(&mut self, now_ms: u64) {
        self.open_engine(now_ms, false);
        self.pump(now_ms);
    }

    /// `_close()`: closes the engine for good ("forced close"), no reconnection.
    pub fn close(&mut self, now_ms: u64) {
        self.force_close(now_ms);
        self.pump(now_ms);
    }

    /// `closeOnBeforeunload`, the page being left: the engine's transports close silently
    /// ([`ClientSession::close_transports_silently`]); no event now, a "ping timeout" later if
    /// the page stays.
    pub fn close_transports_silently(&mut self, now_ms: u64) {
        if let Some(session) = self.engine.session_mut() {
            session.close_transports_silently();
        }
        self.pump(now_ms);
    }

    /// `socket.sendBuffer = []`: drops the packets waiting for the connection (their
    /// acknowledgements, if any, still time out).
    pub fn clear_send_buffer(&mut self, socket: SocketId) {
        self.socket_mut(socket).send_buffer.clear();
    }

    /// `manager.engine.close()`, or the network going away: the engine closes as if its
    /// connection was lost (`reason`, `description`); the sockets are told and the manager
    /// reconnects, unless reconnection is off. An engine still opening fails that open
    /// (`error`, and `reconnect_error` for an attempt) and the next attempt is scheduled.
    /// Nothing happens without an engine.
    pub fn close_engine(&mut self, reason: DisconnectReason, description: Option<String>, now_ms: u64) {
        match self.state {
            ReadyState::Open => self.on_close(reason, description, now_ms),
            // An engine closed before it opened fails its open, as a transport error does: the
            // attempt ends and the next is scheduled. (socket.io-client's manager hears an
            // opening engine's close only at its connect timeout, never with `timeout: false`.)
            ReadyState::Opening => {
                let message = description.unwrap_or_else(|| reason.as_str().to_owned());
                self.fail_open(ManagerError::Transport(message), now_ms);
            }
            ReadyState::Closed => {}
        }
        self.pump(now_ms);
    }

    /// `manager.socket(nsp, opts)`: the socket of namespace `nsp`, created with `options` if
    /// there is none yet (the options of an existing socket are left as they are). It does
    /// not connect: call [`Manager::connect_socket`] (what `autoConnect` does).
    pub fn socket(&mut self, nsp: &str, options: SocketOptions) -> SocketId {
        if let Some(id) = self.find_socket(nsp) {
            return id;
        }
        self.sockets.push(Socket::new(nsp.to_owned(), options));
        SocketId(self.sockets.len() as u32 - 1)
    }

    /// `socket.connect()`: subscribes the socket, opens the engine if needed, and sends
    /// CONNECT once the engine is open.
    pub fn connect_socket(&mut self, socket: SocketId, now_ms: u64) {
        let Some(s) = self.sockets.get_mut(socket.0 as usize) else { return };
        if s.connected {
            return;
        }
        if !s.active {
            s.active = true;
            self.subscribed.push(socket);
        }
        if !self.reconnection.is_active() {
            self.open_engine(now_ms, false);
        }
        if self.state == ReadyState::Open {
            self.socket_on_open(socket);
        }
        self.pump(now_ms);
    }

    /// The auth JSON text the socket's `auth` function gave (after a
    /// [`SocketEvent::AuthRequest`]); sends CONNECT with it.
    pub fn provide_auth(&mut self, socket: SocketId, auth: Option<&str>, now_ms: u64) {
        if self.sockets.get(socket.0 as usize).is_some() {
            self.send_connect(socket, auth);
            self.pump(now_ms);
        }
    }

    /// `socket.disconnect()`: sends DISCONNECT if connected, unsubscribes the socket (closing
    /// the manager if it was the last active one), then reports "io client disconnect".
    pub fn disconnect_socket(&mut self, socket: SocketId, now_ms: u64) {
        let Some(s) = self.sockets.get(socket.0 as usize) else { return };
        let connected = s.connected;
        if connected {
            let packet = Packet::new(PacketType::Disconnect, s.nsp.clone());
            self.write_packet(packet);
        }
        self.destroy(socket, now_ms);
        if connected {
            self.socket_on_close(socket, DisconnectReason::IoClientDisconnect, None, now_ms);
        }
        self.pump(now_ms);
    }

    /// `socket.emit(...)`: `data` is `[name, ...args]` as JSON text (placeholders where
    /// `attachments` go). Returns the handle of the acknowledgement callback when
    /// `options.ack` asks for one; its answer comes as [`SocketEvent::AckResponse`] or
    /// [`SocketEvent::AckError`]. Sent at once when connected, buffered until connected
    /// otherwise (volatile emits are dropped when the engine is not open), or queued when
    /// the socket has `retries`.
    pub fn emit(
        &mut self,
        socket: SocketId,
        data: &str,
        attachments: Vec<Vec<u8>>,
        options: EmitOptions,
        now_ms: u64,
    ) -> Result<Option<AckHandle>, EmitError> {
        let valid = self.is_array_text(data, true);
        let s = self.sockets.get_mut(socket.0 as usize).ok_or(EmitError::UnknownSocket)?;
        if !valid {
            return Err(EmitError::InvalidData);
        }
        if let Some(name) = event_name(data) {
            if is_reserved_event(&name) {
                return Err(EmitError::ReservedEvent(name.into_owned()));
            }
        }
        let handle = if s.retries > 0 && !options.volatile {
            let seq = s.queue_seq;
            s.queue_seq += 1;
            s.queued.push((
                seq,
                QueuedPacket { data: data.to_owned(), attachments, options, try_count: 0, pending: false },
            ));
            self.drain_queue(socket, false, now_ms);
            (options.ack != AckMode::None).then_some(AckHandle::Queued(seq))
        } else {
            let target = (options.ack != AckMode::None).then_some(AckTarget::User);
            self.emit_packet(socket, data.to_owned(), attachments, options, target, now_ms).map(AckHandle::Id)
        };
        self.pump(now_ms);
        Ok(handle)
    }

    /// Answers the server's event `ack_id` (the callback of a [`SocketEvent::Event`]) with
    /// `args`, a JSON array text.
    pub fn send_ack(
        &mut self,
        socket: SocketId,
        ack_id: u64,
        args: &str,
        attachments: Vec<Vec<u8>>,
        now_ms: u64,
    ) -> Result<(), EmitError> {
        let valid = self.is_array_text(args, false);
        let s = self.sockets.get(socket.0 as usize).ok_or(EmitError::UnknownSocket)?;
        if !valid {
            return Err(EmitError::InvalidData);
        }
        let mut packet = Packet::new(PacketType::Ack, s.nsp.clone()).with_id(ack_id).with_attachments(attachments);
        packet.data = Some(args.to_owned());
        self.write_packet(packet);
        self.pump(now_ms);
        Ok(())
    }

    /// Whether `data` is the JSON text of an array (`non_empty`: with an element, the event
    /// name of an emit). With [`ManagerConfig::application_json`] the page wrote it with
    /// `JSON.stringify`, so its start tells.
    fn is_array_text(&self, data: &str, non_empty: bool) -> bool {
        match self.application_json {
            true => data.starts_with('[') && (!non_empty || data.len() > 2),
            false => json::validate(data).is_ok() && array_elements(data).is_some_and(|e| !non_empty || !e.is_empty()),
        }
    }

    // ----- engine plumbing ------------------------------------------------------------

    /// Moves the engine's transmits out and reacts to its events until it is quiet.
    fn pump(&mut self, now_ms: u64) {
        loop {
            self.engine.drain_transmits(&mut self.transmits);
            let Some(event) = self.engine.session_mut().and_then(ClientSession::poll_event) else { return };
            self.on_engine_event(event, now_ms);
        }
    }

    fn on_engine_event(&mut self, event: ClientEvent, now_ms: u64) {
        match event {
            // A connect timeout already due fires first, whenever the driver's timer runs:
            // socket.io-client's timer of `timeout: 0` always runs before the handshake's answer.
            ClientEvent::Open(_) if self.state == ReadyState::Opening => match self.connect_deadline {
                Some(deadline) if now_ms >= deadline => self.fail_open(ManagerError::Timeout, now_ms),
                _ => self.on_open(),
            },
            ClientEvent::Message(data) if self.state == ReadyState::Open => self.on_data(data, now_ms),
            ClientEvent::Ping if self.state == ReadyState::Open => self.push(ManagerEvent::Ping),
            ClientEvent::Upgrading => self.push(ManagerEvent::Upgrading),
            ClientEvent::Packet { created, packet } => self.push(ManagerEvent::EnginePacket { created, packet }),
            ClientEvent::Drain => self.push(ManagerEvent::Drain),
            ClientEvent::Upgrade(kind) => {
                self.prior_websocket_success = kind == TransportKind::WebSocket;
                if self.state == ReadyState::Open {
                    self.push(ManagerEvent::Upgrade(kind));
                }
            }
            ClientEvent::Close { reason, description } => {
                if reason == CloseReason::TransportError {
                    self.prior_websocket_success = false;
                }
                match self.state {
                    // Before the open, the manager listens to engine errors only (a close
                    // without error waits for the connect timeout, as in socket.io-client).
                    ReadyState::Opening if reason == CloseReason::TransportError => {
                        let error = ManagerError::Transport(description.unwrap_or_else(|| reason.as_str().to_owned()));
                        self.on_open_error(error, now_ms);
                    }
                    ReadyState::Open if reason != CloseReason::ForcedClose => {
                        if reason == CloseReason::TransportError {
                            let message = description.clone().unwrap_or_else(|| reason.as_str().to_owned());
                            self.emit_error(ManagerError::Transport(message));
                        }
                        self.on_close(reason.into(), description, now_ms);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn push(&mut self, event: ManagerEvent) {
        self.events.push(Event::Manager(event));
    }

    fn push_socket(&mut self, socket: SocketId, event: SocketEvent) {
        self.events.push(Event::Socket { socket, event });
    }

    fn socket_mut(&mut self, socket: SocketId) -> &mut Socket {
        &mut self.sockets[socket.0 as usize]
    }

    /// Encodes a packet onto the engine (nothing if there is no engine, or it is closed).
    fn write_packet(&mut self, packet: Packet) {
        let Some(engine) = self.engine.session_mut() else { return };
        engine.send(Data::Text(packet.encode()));
        for attachment in packet.attachments {
            engine.send(Data::Binary(attachment));
        }
    }

    // ----- manager lifecycle (manager.js) ---------------------------------------------

    /// `open(fn)`; `reconnect_attempt` stands for the reconnection callback `fn`.
    fn open_engine(&mut self, now_ms: u64, reconnect_attempt: bool) {
        if self.state != ReadyState::Closed {
            return;
        }
        // Whatever the previous engine still had to send (its closing) goes first.
        self.engine.drain_transmits(&mut self.transmits);
        let engine = self.engine.replace(self.prior_websocket_success);
        engine.report_packets(self.report_packets);
        engine.open();
        self.decoder.reset();
        self.state = ReadyState::Opening;
        self.reconnection.allow();
        self.open_is_reconnect = reconnect_attempt;
        self.connect_deadline = self.timeout.map(|t| now_ms + t);
    }

    /// The open under way fails with `error` (the connect timeout, an engine closed before it
    /// opened) and its engine is closed.
    fn fail_open(&mut self, error: ManagerError, now_ms: u64) {
        self.on_open_error(error, now_ms);
        if let Some(engine) = self.engine.session_mut() {
            engine.close();
        }
    }

    /// `cleanup()`: timers and the decoder's partial packet.
    fn cleanup(&mut self) {
        self.connect_deadline = None;
        self.reconnection.cancel_timer();
        self.decoder.reset();
    }

    /// `onopen()` (and the reconnection callback's success path).
    fn on_open(&mut self) {
        let reconnect_attempt = std::mem::take(&mut self.open_is_reconnect);
        self.cleanup();
        self.state = ReadyState::Open;
        self.prior_websocket_success =
            self.engine.session().and_then(ClientSession::transport) == Some(TransportKind::WebSocket);
        for socket in self.subscribed.clone() {
            self.socket_on_open(socket);
        }
        self.push(ManagerEvent::Open);
        if reconnect_attempt {
            let attempt = self.reconnection.succeeded();
            self.push(ManagerEvent::Reconnect(attempt));
        }
    }

    /// The `onError` of `open()`: the engine failed (or timed out) before opening.
    fn on_open_error(&mut self, error: ManagerError, now_ms: u64) {
        let reconnect_attempt = std::mem::take(&mut self.open_is_reconnect);
        self.cleanup();
        self.state = ReadyState::Closed;
        self.emit_error(error.clone());
        if reconnect_attempt {
            self.reconnection.attempt_ended();
            self.reconnect(now_ms);
            self.push(ManagerEvent::ReconnectError(error));
        } else if self.reconnection.wanted_on_open() {
            // maybeReconnectOnOpen
            self.reconnect(now_ms);
        }
    }

    /// The manager's `error` event, seen first by the sockets not connected yet.
    fn emit_error(&mut self, error: ManagerError) {
        for socket in self.subscribed.clone() {
            if !self.socket_mut(socket).connected {
                self.push_socket(
                    socket,
                    SocketEvent::ConnectError { message: ErrorMessage::Text(error.message().to_owned()), data: None },
                );
            }
        }
        self.push(ManagerEvent::Error(error));
    }

    /// `ondata()`: feeds the decoder; a decoding error closes with "parse error".
    fn on_data(&mut self, data: Data, now_ms: u64) {
        let decoded = match data {
            Data::Text(text) => self.decoder.decode_text(&text),
            Data::Binary(bytes) => self.decoder.decode_binary(bytes),
        };
        match decoded {
            Ok(Some(packet)) => {
                if self.report_packets {
                    self.push(ManagerEvent::Packet(packet.clone()));
                }
                self.on_packet(packet, now_ms)
            }
            Ok(None) => {}
            Err(error) => self.on_close(DisconnectReason::ParseError, Some(error.message().to_owned()), now_ms),
        }
    }

    /// `_close()`.
    fn force_close(&mut self, now_ms: u64) {
        self.reconnection.stop();
        self.on_close(DisconnectReason::ForcedClose, None, now_ms);
    }

    /// `onclose(reason, description)`.
    fn on_close(&mut self, reason: DisconnectReason, description: Option<String>, now_ms: u64) {
        self.cleanup();
        if let Some(engine) = self.engine.session_mut() {
            engine.close();
        }
        self.reconnection.reset();
        self.state = ReadyState::Closed;
        for socket in self.subscribed.clone() {
            self.socket_on_close(socket, reason, description.clone(), now_ms);
        }
        self.push(ManagerEvent::Close { reason, description });
        if self.reconnection.wanted() {
            self.reconnect(now_ms);
        }
    }

    /// `reconnect()`: schedules the next attempt, or gives up.
    fn reconnect(&mut self, now_ms: u64) {
        if !self.reconnection.schedule(now_ms) {
            self.push(ManagerEvent::ReconnectFailed);
        }
    }

    /// `_destroy(socket)`: closes the manager when no socket is active any more.
    fn destroy(&mut self, socket: SocketId, now_ms: u64) {
        let s = self.socket_mut(socket);
        if s.active {
            s.active = false;
            self.subscribed.retain(|&id| id != socket);
        }
        if self.sockets.iter().all(|s| !s.active) {
            self.force_close(now_ms);
        }
    }
}

/// What failed a queued emit's attempt.
enum QueueError {
    /// The server answered with a non-null first argument: `[err]` as JSON text.
    Value(String),
    /// The acknowledgement failed.
    Ack(AckError),
}

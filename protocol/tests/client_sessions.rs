//! The Socket.IO client machine (`client::Manager`) driven against the Engine.IO server
//! machine plus a small hand-written Socket.IO server, through an in-memory loopback that
//! plays the network. Time and randomness are inputs: every scenario is deterministic.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use wasmio_protocol::client::{
    AckError, AckHandle, AckMode, Auth, Backoff, DisconnectReason, EmitError, EmitOptions, ErrorMessage, Event,
    Manager, ManagerConfig, ManagerError, ManagerEvent, ReadyState, SocketEvent, SocketId, SocketOptions,
    UnreadPayload,
};
use wasmio_protocol::engine::{
    ClientConfig, ClientTransmit, CloseReason, Data, PollOutcome, ServerConfig, ServerEvent, ServerSession,
    ServerTransmit, TransportId, TransportKind,
};
use wasmio_protocol::socket::{Decoder, Packet, PacketType};

const START: u64 = 1_000;

/// How the server host answers new connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    /// Accepts.
    Up,
    /// Refuses: every request fails at once ("xhr poll error").
    Down,
    /// Never answers.
    BlackHole,
}

/// One Engine.IO session on the server side, with its Socket.IO decoder.
struct ServerConn {
    session: ServerSession,
    held_poll: Option<TransportId>,
    websocket: Option<TransportId>,
    decoder: Decoder,
}

/// A manager, an Engine.IO server and a tiny Socket.IO server, wired by a loopback.
struct Net {
    now: u64,
    manager: Manager,
    host: Host,
    server_config: ServerConfig,
    conns: HashMap<String, ServerConn>,
    /// Which server session each client WebSocket reaches.
    websockets: HashMap<TransportId, String>,
    handshakes: u32,
    /// Socket.IO packets the server received, with the engine sid they came on.
    received: Vec<(String, Packet)>,
    events: Vec<(u64, Event)>,
    /// Namespaces the server refuses, with the CONNECT_ERROR data.
    refuse: HashMap<String, String>,
    /// Namespaces whose CONNECT the server leaves unanswered.
    ignore: Vec<String>,
    /// Connection state recovery: the pid the server gives in its CONNECT answers.
    pid: Option<String>,
    connects: u32,
    randoms: Rc<RefCell<VecDeque<f64>>>,
}

impl Net {
    fn new(config: ManagerConfig) -> Self {
        Net::with_server(config, ServerConfig::default())
    }

    fn with_server(config: ManagerConfig, server_config: ServerConfig) -> Self {
        let randoms: Rc<RefCell<VecDeque<f64>>> = Rc::default();
        let source = randoms.clone();
        let manager =
            Manager::new(config, move || source.borrow_mut().pop_front().expect("a random number was supplied"));
        Net {
            now: START,
            manager,
            host: Host::Up,
            server_config,
            conns: HashMap::new(),
            websockets: HashMap::new(),
            handshakes: 0,
            received: Vec::new(),
            events: Vec::new(),
            refuse: HashMap::new(),
            ignore: Vec::new(),
            pid: None,
            connects: 0,
            randoms,
        }
    }

    fn randoms(&self, values: &[f64]) {
        self.randoms.borrow_mut().extend(values);
    }

    /// The socket of `nsp`, connected (or trying to).
    fn connect(&mut self, nsp: &str, options: SocketOptions) -> SocketId {
        let id = self.manager.socket(nsp, options);
        self.manager.connect_socket(id, self.now);
        self.pump();
        id
    }

    /// The current (latest) server session.
    fn current(&mut self) -> &mut ServerConn {
        let sid = format!("eio-{}", self.handshakes);
        self.conns.get_mut(&sid).expect("a server session")
    }

    fn sid_of(query: &str) -> Option<String> {
        query.split('&').find_map(|kv| kv.strip_prefix("sid=")).map(str::to_owned)
    }

    fn deliver(&mut self, transmit: ClientTransmit) {
        let now = self.now;
        match transmit {
            ClientTransmit::PollGet { id, query } => {
                let sid = match Net::sid_of(&query) {
                    Some(sid) => sid,
                    None => match self.host {
                        Host::Down => return self.manager.handle_transport_error(id, "xhr poll error", now),
                        Host::BlackHole => return,
                        Host::Up => self.handshake(TransportKind::Polling),
                    },
                };
                let Some(conn) = self.conns.get_mut(&sid) else {
                    return self.manager.handle_transport_error(id, "xhr poll error", now);
                };
                match conn.session.handle_poll(now) {
                    PollOutcome::Respond(body) => self.manager.handle_poll_response(id, &body, now),
                    PollOutcome::Hold => conn.held_poll = Some(id),
                    PollOutcome::Reject(_) => self.manager.handle_transport_error(id, "xhr poll error", now),
                }
            }
            ClientTransmit::PollPost { id, query, body } => {
                let sid = Net::sid_of(&query).expect("a POST names its session");
                let Some(conn) = self.conns.get_mut(&sid) else {
                    return self.manager.handle_transport_error(id, "xhr post error", now);
                };
                match conn.session.handle_post(&body, now) {
                    Ok(()) => self.manager.handle_post_done(id, now),
                    Err(_) => self.manager.handle_transport_error(id, "xhr post error", now),
                }
            }
            ClientTransmit::OpenWebSocket { id, query } => {
                let sid = match Net::sid_of(&query) {
                    Some(sid) => sid,
                    None => match self.host {
                        Host::Down => return self.manager.handle_transport_error(id, "websocket error", now),
                        Host::BlackHole => return,
                        Host::Up => {
                            let sid = self.handshake(TransportKind::WebSocket);
                            self.conns.get_mut(&sid).unwrap().websocket = Some(id);
                            self.websockets.insert(id, sid);
                            return self.manager.handle_websocket_open(id, now);
                        }
                    },
                };
                let Some(conn) = self.conns.get_mut(&sid) else {
                    return self.manager.handle_transport_error(id, "websocket error", now);
                };
                match conn.session.handle_websocket_open(now) {
                    Ok(()) => {
                        conn.websocket = Some(id);
                        self.websockets.insert(id, sid);
                        self.manager.handle_websocket_open(id, now);
                    }
                    Err(_) => self.manager.handle_transport_error(id, "websocket error", now),
                }
            }
            ClientTransmit::WebSocket { id, frame } => {
                let sid = self.websockets.get(&id).expect("frames go to an open WebSocket").clone();
                if let Some(conn) = self.conns.get_mut(&sid) {
                    conn.session.handle_websocket_frame(frame, now);
                }
            }
            ClientTransmit::Close { id } => {
                if let Some(sid) = self.websockets.remove(&id) {
                    if let Some(conn) = self.conns.get_mut(&sid) {
                        conn.websocket = None;
                        conn.session.handle_websocket_closed();
                    }
                } else if let Some(conn) = self.conns.values_mut().find(|c| c.held_poll == Some(id)) {
                    conn.held_poll = None;
                    conn.session.handle_poll_aborted();
                }
            }
        }
    }

    fn handshake(&mut self, transport: TransportKind) -> String {
        self.handshakes += 1;
        let sid = format!("eio-{}", self.handshakes);
        let session = ServerSession::new(sid.clone(), transport, self.server_config.clone(), self.now);
        self.conns
            .insert(sid.clone(), ServerConn { session, held_poll: None, websocket: None, decoder: Decoder::default() });
        sid
    }

    /// Moves everything until nothing moves.
    fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(t) = self.manager.poll_transmit() {
                moved = true;
                self.deliver(t);
            }
            let sids: Vec<String> = self.conns.keys().cloned().collect();
            for sid in sids {
                while let Some(t) = self.conns.get_mut(&sid).and_then(|c| c.session.poll_transmit()) {
                    moved = true;
                    self.deliver_to_client(&sid, t);
                }
                while let Some(e) = self.conns.get_mut(&sid).and_then(|c| c.session.poll_event()) {
                    moved = true;
                    self.on_server_event(&sid, e);
                }
            }
            while let Some(e) = self.manager.poll_event() {
                moved = true;
                self.events.push((self.now, e));
            }
            if !moved {
                return;
            }
        }
        panic!("the machines never settle");
    }

    fn deliver_to_client(&mut self, sid: &str, transmit: ServerTransmit) {
        let now = self.now;
        let conn = self.conns.get_mut(sid).unwrap();
        match transmit {
            ServerTransmit::PollResponse(body) => {
                if let Some(id) = conn.held_poll.take() {
                    self.manager.handle_poll_response(id, &body, now);
                }
            }
            ServerTransmit::PollRejected(error) => {
                if let Some(id) = conn.held_poll.take() {
                    self.manager.handle_transport_error(id, &error.to_string(), now);
                }
            }
            ServerTransmit::WebSocket(frame) | ServerTransmit::Probe(frame) => {
                if let Some(id) = conn.websocket {
                    self.manager.handle_websocket_frame(id, frame, now);
                }
            }
            ServerTransmit::CloseWebSocket { .. } | ServerTransmit::CloseProbe => {
                if let Some(id) = conn.websocket.take() {
                    self.websockets.remove(&id);
                    self.manager.handle_transport_closed(id, now);
                }
            }
        }
    }

    /// The tiny Socket.IO server.
    fn on_server_event(&mut self, sid: &str, event: ServerEvent) {
        let conn = self.conns.get_mut(sid).unwrap();
        let decoded = match event {
            ServerEvent::Message(Data::Text(text)) => conn.decoder.decode_text(&text),
            ServerEvent::Message(Data::Binary(bytes)) => conn.decoder.decode_binary(bytes),
            _ => return,
        };
        let Some(packet) = decoded.expect("the client sends valid packets") else { return };
        self.received.push((sid.to_owned(), packet.clone()));
        match packet.kind {
            PacketType::Connect if self.ignore.contains(&packet.nsp) => {}
            PacketType::Connect => {
                let answer = if let Some(data) = self.refuse.get(&packet.nsp) {
                    let mut p = Packet::new(PacketType::ConnectError, packet.nsp.clone());
                    p.data = Some(data.clone());
                    p
                } else {
                    self.connects += 1;
                    let mut p = Packet::new(PacketType::Connect, packet.nsp.clone());
                    p.data = Some(match &self.pid {
                        Some(pid) => format!(r#"{{"sid":"{}#{}","pid":"{pid}"}}"#, packet.nsp, self.connects),
                        None => format!(r#"{{"sid":"{}#{}"}}"#, packet.nsp, self.connects),
                    });
                    p
                };
                self.server_send_on(sid, answer);
            }
            // `echo` events are acknowledged with their arguments (and attachments).
            PacketType::Event if packet.event_name().as_deref() == Some("echo") => {
                if let Some(id) = packet.id {
                    let mut ack = Packet::new(PacketType::Ack, packet.nsp.clone()).with_id(id);
                    ack.data = packet.event_args();
                    ack.attachments = packet.attachments.clone();
                    self.server_send_on(sid, ack);
                }
            }
            _ => {}
        }
    }

    fn server_send_on(&mut self, sid: &str, packet: Packet) {
        let session = &mut self.conns.get_mut(sid).unwrap().session;
        session.send(Data::Text(packet.encode()));
        for attachment in packet.attachments {
            session.send(Data::Binary(attachment));
        }
    }

    /// Sends a Socket.IO packet from the server on the current session.
    fn server_send(&mut self, packet: Packet) {
        let sid = format!("eio-{}", self.handshakes);
        self.server_send_on(&sid, packet);
        self.pump();
    }

    /// Advances time to `until`, firing every deadline of both sides on the way.
    fn advance(&mut self, until: u64) {
        loop {
            let next = self
                .conns
                .values()
                .filter_map(|c| c.session.poll_timeout())
                .chain(self.manager.poll_timeout())
                .filter(|&t| t <= until)
                .min();
            let Some(next) = next else { break };
            self.now = self.now.max(next);
            let now = self.now;
            self.manager.handle_timeout(now);
            for conn in self.conns.values_mut() {
                conn.session.handle_timeout(now);
            }
            self.pump();
        }
        self.now = until;
    }

    fn take_events(&mut self) -> Vec<Event> {
        self.events.drain(..).map(|(_, e)| e).collect()
    }

    fn socket_events(&self, socket: SocketId) -> Vec<SocketEvent> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Socket { socket: s, event } if *s == socket => Some(event.clone()),
                _ => None,
            })
            .collect()
    }

    fn manager_events(&self) -> Vec<ManagerEvent> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Manager(event) => Some(event.clone()),
                _ => None,
            })
            .collect()
    }

    /// When each manager event happened.
    fn manager_event_times(&self, wanted: impl Fn(&ManagerEvent) -> bool) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|(t, e)| match e {
                Event::Manager(event) if wanted(event) => Some(*t),
                _ => None,
            })
            .collect()
    }

    /// The packets the server received, encoded (header only).
    fn received_encoded(&self) -> Vec<String> {
        self.received.iter().map(|(_, p)| p.encode()).collect()
    }

    /// Kills the current engine session from the server side ("transport close").
    fn close_from_server(&mut self) {
        self.current().session.close(CloseReason::ForcedClose);
        self.pump();
    }
}

fn polling_only() -> ManagerConfig {
    ManagerConfig { engine: ClientConfig { upgrade: false, ..ClientConfig::default() }, ..ManagerConfig::default() }
}

fn ack() -> EmitOptions {
    EmitOptions { ack: AckMode::Callback, ..EmitOptions::default() }
}

fn connected(net: &mut Net, nsp: &str) -> SocketId {
    let id = net.connect(nsp, SocketOptions::default());
    assert!(net.manager.get_socket(id).unwrap().connected(), "{nsp} connected: {:?}", net.events);
    id
}

#[test]
fn backoff_matches_socket_io_client() {
    // Values of socket.io-client 4.8.4's contrib/backo2.js for Math.random() returning, in
    // turn, 0.13, 0.77, 0.42, 0.99, 0.05, 0.5, 0.25.
    let rands = [0.13, 0.77, 0.42, 0.99, 0.05, 0.5, 0.25];
    let mut manager_default = Backoff::new(1000.0, 5000.0, 0.5);
    let got: Vec<u64> = rands.iter().map(|&r| manager_default.duration(r)).collect();
    assert_eq!(got, [1065, 2770, 3160, 5000, 5000, 5000, 5000]);
    let mut other = Backoff::new(100.0, 10_000.0, 0.3);
    let got: Vec<u64> = rands.iter().map(|&r| other.duration(r)).collect();
    assert_eq!(got, [103, 246, 350, 1037, 1576, 3680, 5920]);
}

#[test]
fn namespaces_are_multiplexed_over_one_engine_session() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let main = connected(&mut net, "/");
    let admin = connected(&mut net, "/admin");
    assert_eq!(net.handshakes, 1, "one Engine.IO session for both namespaces");
    assert_eq!(net.received_encoded(), ["0", "0/admin,"]);
    assert_eq!(net.manager.get_socket(main).unwrap().id(), Some("/#1"));
    assert_eq!(net.manager.get_socket(admin).unwrap().id(), Some("/admin#2"));
    assert_eq!(net.socket_events(main), [SocketEvent::Connect]);
    assert_eq!(net.socket_events(admin), [SocketEvent::Connect]);
    assert_eq!(net.manager_events(), [ManagerEvent::Open]);
    // the same namespace gives the same socket
    assert_eq!(net.manager.socket("/admin", SocketOptions::default()), admin);

    net.take_events();
    net.server_send(Packet::event("/admin", r#"["news",{"n":1}]"#));
    net.server_send(Packet::event("/", r#"["hello"]"#));
    assert_eq!(
        net.socket_events(admin),
        [SocketEvent::Event { data: r#"["news",{"n":1}]"#.into(), attachments: vec![], ack_id: None }]
    );
    assert_eq!(
        net.socket_events(main),
        [SocketEvent::Event { data: r#"["hello"]"#.into(), attachments: vec![], ack_id: None }]
    );

    net.manager.emit(admin, r#"["to admin",1]"#, vec![], EmitOptions::default(), net.now).unwrap();
    net.pump();
    assert_eq!(net.received_encoded().last().unwrap(), r#"2/admin,["to admin",1]"#);
}

#[test]
fn emits_with_and_without_acknowledgements() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let s = connected(&mut net, "/");
    net.take_events();

    assert_eq!(net.manager.emit(s, r#"["plain","x"]"#, vec![], EmitOptions::default(), net.now), Ok(None));
    let first = net.manager.emit(s, r#"["echo","a",2]"#, vec![], ack(), net.now).unwrap();
    let with_error = EmitOptions { ack: AckMode::WithError, ..EmitOptions::default() };
    let second = net.manager.emit(s, r#"["echo","b"]"#, vec![], with_error, net.now).unwrap();
    net.pump();
    assert_eq!((first, second), (Some(AckHandle::Id(0)), Some(AckHandle::Id(1))));
    assert_eq!(net.received_encoded()[1..], [r#"2["plain","x"]"#, r#"20["echo","a",2]"#, r#"21["echo","b"]"#]);
    assert_eq!(
        net.socket_events(s),
        [
            SocketEvent::AckResponse {
                handle: AckHandle::Id(0),
                args: r#"["a",2]"#.into(),
                attachments: vec![],
                with_error: false
            },
            // emitWithAck: the callback takes an error first
            SocketEvent::AckResponse {
                handle: AckHandle::Id(1),
                args: r#"["b"]"#.into(),
                attachments: vec![],
                with_error: true
            },
        ]
    );

    // The server asks for an acknowledgement; the application answers it.
    net.take_events();
    net.server_send(Packet::event("/", r#"["question",7]"#).with_id(12));
    assert_eq!(
        net.socket_events(s),
        [SocketEvent::Event { data: r#"["question",7]"#.into(), attachments: vec![], ack_id: Some(12) }]
    );
    net.manager.send_ack(s, 12, r#"["answer"]"#, vec![], net.now).unwrap();
    net.pump();
    assert_eq!(net.received_encoded().last().unwrap(), r#"312["answer"]"#);

    // Reserved names and bad data are refused, as socket.io-client throws.
    assert_eq!(
        net.manager.emit(s, r#"["disconnect"]"#, vec![], EmitOptions::default(), net.now),
        Err(EmitError::ReservedEvent("disconnect".into()))
    );
    assert_eq!(net.manager.emit(s, r#"["a""#, vec![], EmitOptions::default(), net.now), Err(EmitError::InvalidData));
    assert_eq!(net.manager.emit(s, "[]", vec![], EmitOptions::default(), net.now), Err(EmitError::InvalidData));
}

#[test]
fn acknowledgements_time_out() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let options = SocketOptions { ack_timeout: Some(2_000), ..SocketOptions::default() };
    let s = net.connect("/", options);
    net.take_events();
    let t0 = net.now;
    // `socket.timeout(500).emit(...)`: the flag wins over `ackTimeout`
    let short = net.manager.emit(s, r#"["silent"]"#, vec![], EmitOptions { timeout: Some(500), ..ack() }, t0).unwrap();
    let long = net.manager.emit(s, r#"["silent"]"#, vec![], ack(), t0).unwrap();
    let answered = net.manager.emit(s, r#"["echo",1]"#, vec![], ack(), t0).unwrap();
    net.pump();
    // with a timeout, callbacks take an error first
    assert_eq!(
        net.socket_events(s),
        [SocketEvent::AckResponse {
            handle: answered.unwrap(),
            args: "[1]".into(),
            attachments: vec![],
            with_error: true
        }]
    );
    net.take_events();
    assert_eq!(net.manager.poll_timeout(), Some(t0 + 500));
    net.advance(t0 + 499);
    assert!(net.socket_events(s).is_empty());
    net.advance(t0 + 500);
    assert_eq!(net.socket_events(s), [SocketEvent::AckError { handle: short.unwrap(), error: AckError::Timeout }]);
    net.advance(t0 + 2_000);
    assert_eq!(
        net.socket_events(s),
        [
            SocketEvent::AckError { handle: short.unwrap(), error: AckError::Timeout },
            SocketEvent::AckError { handle: long.unwrap(), error: AckError::Timeout },
        ]
    );
    assert_eq!(AckError::Timeout.to_string(), "operation has timed out");
    // a late answer is ignored
    net.take_events();
    let mut late = Packet::new(PacketType::Ack, "/").with_id(0);
    late.data = Some("[]".into());
    net.server_send(late);
    assert!(net.socket_events(s).is_empty());
}

#[test]
fn emits_are_buffered_until_connected_and_volatile_ones_dropped() {
    let mut net = Net::new(polling_only());
    let s = net.manager.socket("/", SocketOptions::default());
    // not connected, no engine: buffered; volatile: dropped
    net.manager.emit(s, r#"["early",1]"#, vec![], EmitOptions::default(), net.now).unwrap();
    net.manager
        .emit(s, r#"["gone"]"#, vec![], EmitOptions { volatile: true, ..EmitOptions::default() }, net.now)
        .unwrap();
    net.manager.emit(s, r#"["echo","early"]"#, vec![], ack(), net.now).unwrap();
    assert_eq!(net.manager.get_socket(s).unwrap().send_buffer_len(), 2);
    assert!(net.manager.poll_transmit().is_none(), "nothing is sent before connecting");

    net.manager.connect_socket(s, net.now);
    net.pump();
    // CONNECT first, then the buffer in order; the volatile emit never left
    assert_eq!(net.received_encoded(), ["0", r#"2["early",1]"#, r#"20["echo","early"]"#]);
    assert_eq!(net.manager.get_socket(s).unwrap().send_buffer_len(), 0);
    assert_eq!(
        net.socket_events(s),
        [
            SocketEvent::Connect,
            SocketEvent::AckResponse {
                handle: AckHandle::Id(0),
                args: r#"["early"]"#.into(),
                attachments: vec![],
                with_error: false
            },
        ]
    );

    // connected: volatile emits go out
    net.manager
        .emit(s, r#"["live"]"#, vec![], EmitOptions { volatile: true, ..EmitOptions::default() }, net.now)
        .unwrap();
    net.pump();
    assert_eq!(net.received_encoded().last().unwrap(), r#"2["live"]"#);

    // the connection drops: during the reconnection delay volatile emits are dropped and
    // the others buffered, then flushed after the new CONNECT
    net.randoms(&[0.0]);
    net.close_from_server();
    assert!(net.manager.get_socket(s).unwrap().disconnected());
    net.manager
        .emit(s, r#"["lost"]"#, vec![], EmitOptions { volatile: true, ..EmitOptions::default() }, net.now)
        .unwrap();
    net.manager.emit(s, r#"["kept"]"#, vec![], EmitOptions::default(), net.now).unwrap();
    let before = net.received.len();
    net.advance(net.now + 1_000);
    assert!(net.manager.get_socket(s).unwrap().connected());
    assert_eq!(net.received_encoded()[before..], ["0", r#"2["kept"]"#]);
}

#[test]
fn a_volatile_emit_is_dropped_while_the_transport_is_busy_writing() {
    let volatile = EmitOptions { volatile: true, ..EmitOptions::default() };
    // Polling: a POST in flight makes the transport busy until it completes.
    let mut net = Net::new(polling_only());
    let s = connected(&mut net, "/");
    net.manager.emit(s, r#"["regular"]"#, vec![], EmitOptions::default(), net.now).unwrap();
    net.manager.emit(s, r#"["right after"]"#, vec![], volatile, net.now).unwrap();
    net.pump();
    net.manager.emit(s, r#"["idle"]"#, vec![], volatile, net.now).unwrap();
    net.pump();
    let sent = net.received_encoded();
    assert_eq!(sent[sent.len() - 2..], [r#"2["regular"]"#, r#"2["idle"]"#]);
    // WebSocket: a write makes it busy until the driver's next tick.
    let websocket_only = ClientConfig { transports: vec![TransportKind::WebSocket], ..ClientConfig::default() };
    let mut net = Net::new(ManagerConfig { engine: websocket_only, ..ManagerConfig::default() });
    let s = connected(&mut net, "/");
    net.manager.handle_tick();
    assert!(!net.manager.wants_tick());
    net.manager.emit(s, r#"["regular"]"#, vec![], EmitOptions::default(), net.now).unwrap();
    net.manager.emit(s, r#"["right after"]"#, vec![], volatile, net.now).unwrap();
    assert!(net.manager.wants_tick());
    net.manager.handle_tick();
    net.manager.emit(s, r#"["next tick"]"#, vec![], volatile, net.now).unwrap();
    net.pump();
    let sent = net.received_encoded();
    assert_eq!(sent[sent.len() - 2..], [r#"2["regular"]"#, r#"2["next tick"]"#]);
}

#[test]
fn server_disconnect_ends_the_socket_without_reconnection() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let s = connected(&mut net, "/");
    let pending = net
        .manager
        .emit(s, r#"["silent"]"#, vec![], EmitOptions { ack: AckMode::WithError, ..EmitOptions::default() }, net.now)
        .unwrap();
    let plain = net.manager.emit(s, r#"["silent"]"#, vec![], ack(), net.now).unwrap();
    net.pump();
    net.take_events();

    net.server_send(Packet::new(PacketType::Disconnect, "/"));
    let socket = net.manager.get_socket(s).unwrap();
    assert!(!socket.active() && !socket.connected() && socket.id().is_none());
    assert_eq!(
        net.take_events(),
        [
            // the last active socket is gone: the manager closes
            Event::Manager(ManagerEvent::Close { reason: DisconnectReason::ForcedClose, description: None }),
            Event::Socket {
                socket: s,
                event: SocketEvent::Disconnect { reason: DisconnectReason::IoServerDisconnect, description: None }
            },
            // callbacks taking an error are told; plain callbacks are forgotten (never called)
            Event::Socket {
                socket: s,
                event: SocketEvent::AckError { handle: pending.unwrap(), error: AckError::Disconnected }
            },
            Event::Socket { socket: s, event: SocketEvent::AckDropped { handle: plain.unwrap() } },
        ]
    );
    assert_eq!(DisconnectReason::IoServerDisconnect.as_str(), "io server disconnect");
    assert_eq!(net.manager.ready_state(), ReadyState::Closed);
    net.advance(net.now + 60_000);
    assert_eq!(net.handshakes, 1, "no reconnection");
    assert!(net.manager.poll_timeout().is_none());
}

#[test]
fn client_disconnect_sends_disconnect_and_closes_the_manager() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let main = connected(&mut net, "/");
    let chat = connected(&mut net, "/chat");
    net.take_events();

    net.manager.disconnect_socket(chat, net.now);
    net.pump();
    assert_eq!(net.received_encoded().last().unwrap(), "1/chat,");
    assert_eq!(
        net.take_events(),
        [Event::Socket {
            socket: chat,
            event: SocketEvent::Disconnect { reason: DisconnectReason::IoClientDisconnect, description: None }
        }]
    );
    assert_eq!(net.manager.ready_state(), ReadyState::Open, "another socket is still active");

    net.manager.disconnect_socket(main, net.now);
    net.pump();
    assert_eq!(net.received_encoded().last().unwrap(), "1");
    assert_eq!(
        net.take_events(),
        [
            Event::Manager(ManagerEvent::Close { reason: DisconnectReason::ForcedClose, description: None }),
            Event::Socket {
                socket: main,
                event: SocketEvent::Disconnect { reason: DisconnectReason::IoClientDisconnect, description: None }
            },
        ]
    );
    assert!(net.current().session.is_closed(), "the engine session was closed");
    net.advance(net.now + 60_000);
    assert_eq!(net.handshakes, 1);
}

#[test]
fn reconnects_with_backoff_delays() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let s = connected(&mut net, "/");
    net.take_events();
    // socket.io-client's Backoff gives 1065, 2770, 3160 ms for these (see above)
    net.randoms(&[0.13, 0.77, 0.42]);

    net.host = Host::Down;
    net.close_from_server();
    let t0 = net.now;
    assert_eq!(
        net.take_events(),
        [
            Event::Socket {
                socket: s,
                event: SocketEvent::Disconnect {
                    reason: DisconnectReason::TransportClose,
                    description: Some("transport closed by the server".into())
                }
            },
            Event::Manager(ManagerEvent::Close {
                reason: DisconnectReason::TransportClose,
                description: Some("transport closed by the server".into())
            }),
        ]
    );
    assert!(net.manager.get_socket(s).unwrap().active(), "still active: it will reconnect");
    assert_eq!(net.manager.poll_timeout(), Some(t0 + 1065));

    net.advance(t0 + 1064);
    assert!(net.manager_events().is_empty());
    net.advance(t0 + 1065);
    let failed = ManagerError::Transport("xhr poll error".into());
    assert_eq!(
        net.take_events(),
        [
            Event::Manager(ManagerEvent::ReconnectAttempt(1)),
            Event::Socket {
                socket: s,
                event: SocketEvent::ConnectError { message: ErrorMessage::Text("xhr poll error".into()), data: None }
            },
            Event::Manager(ManagerEvent::Error(failed.clone())),
            Event::Manager(ManagerEvent::ReconnectError(failed.clone())),
        ]
    );
    net.advance(t0 + 1065 + 2770 - 1);
    assert!(net.manager_events().is_empty());
    net.advance(t0 + 1065 + 2770);
    assert_eq!(net.manager_events()[0], ManagerEvent::ReconnectAttempt(2));

    net.host = Host::Up;
    net.take_events();
    net.advance(t0 + 1065 + 2770 + 3160);
    assert_eq!(net.manager_event_times(|e| matches!(e, ManagerEvent::ReconnectAttempt(3))), [t0 + 1065 + 2770 + 3160]);
    assert_eq!(
        net.take_events(),
        [
            Event::Manager(ManagerEvent::ReconnectAttempt(3)),
            Event::Manager(ManagerEvent::Open),
            Event::Manager(ManagerEvent::Reconnect(3)),
            Event::Socket { socket: s, event: SocketEvent::Connect },
        ]
    );
    assert_eq!(net.handshakes, 2);
    assert_eq!(net.manager.backoff().attempts(), 0, "the backoff is reset");
    assert!(net.randoms.borrow().is_empty(), "one random number per delay");
}

#[test]
fn gives_up_after_reconnection_attempts() {
    let config = ManagerConfig { reconnection_attempts: Some(2), timeout: Some(3_000), ..polling_only() };
    let mut net = Net::new(config);
    net.host = Host::BlackHole;
    net.randoms(&[0.0, 0.0]);
    net.manager.open(net.now);
    let s = net.connect("/", SocketOptions::default());
    // the first open times out after 3 s, then two attempts 1 s and 2 s later also time out
    net.advance(net.now + 60_000);
    let timeout = ManagerError::Timeout;
    assert_eq!(timeout.to_string(), "timeout");
    assert_eq!(
        net.manager_events(),
        [
            ManagerEvent::Error(timeout.clone()),
            ManagerEvent::ReconnectAttempt(1),
            ManagerEvent::Error(timeout.clone()),
            ManagerEvent::ReconnectError(timeout.clone()),
            ManagerEvent::ReconnectAttempt(2),
            ManagerEvent::Error(timeout.clone()),
            // as in socket.io-client, `reconnect_failed` comes before this `reconnect_error`
            ManagerEvent::ReconnectFailed,
            ManagerEvent::ReconnectError(timeout.clone()),
        ]
    );
    assert_eq!(
        net.manager_event_times(|e| matches!(e, ManagerEvent::Error(_))),
        [START + 3_000, START + 3_000 + 1_000 + 3_000, START + 3_000 + 1_000 + 3_000 + 2_000 + 3_000]
    );
    let connect_errors = net
        .socket_events(s)
        .iter()
        .filter(|e| matches!(e, SocketEvent::ConnectError { message: ErrorMessage::Text(message), .. } if message == "timeout"))
        .count();
    assert_eq!(connect_errors, 3);
    assert_eq!(net.manager.ready_state(), ReadyState::Closed);
    assert!(!net.manager.is_reconnecting());
    assert!(net.manager.poll_timeout().is_none());
}

#[test]
fn recovers_the_session_with_pid_and_offset() {
    let mut net = Net::new(polling_only());
    net.pid = Some("p1".into());
    net.manager.open(net.now);
    let s = net.connect("/", SocketOptions::with_auth(r#"{"token":"t"}"#));
    assert_eq!(net.received_encoded(), [r#"0{"token":"t"}"#]);
    assert!(!net.manager.get_socket(s).unwrap().recovered());

    net.server_send(Packet::event("/", r#"["msg","hi","off-1"]"#));
    // with an ack id, the last argument is the callback: the offset does not move
    net.server_send(Packet::event("/", r#"["msg","off-2"]"#).with_id(3));
    net.server_send(Packet::event("/", r#"["msg",{"not":"an offset"}]"#));
    assert_eq!(net.manager.get_socket(s).unwrap().last_offset(), Some("off-1"));

    net.randoms(&[0.0, 0.0]);
    net.close_from_server();
    net.advance(net.now + 1_000);
    assert_eq!(net.received_encoded().last().unwrap(), r#"0{"pid":"p1","offset":"off-1","token":"t"}"#);
    let socket = net.manager.get_socket(s).unwrap();
    assert!(socket.connected() && socket.recovered(), "same pid: recovered");

    // the server lost the session: another pid, not recovered
    net.pid = Some("p2".into());
    net.close_from_server();
    net.advance(net.now + 1_000);
    let socket = net.manager.get_socket(s).unwrap();
    assert!(socket.connected() && !socket.recovered());
    assert_eq!(socket.pid(), Some("p2"));
}

#[test]
fn refused_namespace_reports_connect_error() {
    let mut net = Net::new(polling_only());
    net.refuse.insert("/admin".into(), r#"{"message":"not authorized","data":{"code":42}}"#.into());
    net.refuse.insert("/old".into(), r#""refused""#.into());
    net.manager.open(net.now);
    let main = connected(&mut net, "/");
    let admin = net.connect("/admin", SocketOptions::with_auth(r#"{"role":"guest"}"#));
    assert!(net.received_encoded().contains(&r#"0/admin,{"role":"guest"}"#.to_owned()));
    assert_eq!(
        net.socket_events(admin),
        [SocketEvent::ConnectError {
            message: ErrorMessage::Json(r#""not authorized""#.into()),
            data: Some(r#"{"code":42}"#.into())
        }]
    );
    let socket = net.manager.get_socket(admin).unwrap();
    assert!(!socket.active() && !socket.connected());
    // a string payload: socket.io-client reads `"refused".message`, undefined
    let old = net.connect("/old", SocketOptions::default());
    assert_eq!(
        net.socket_events(old),
        [SocketEvent::ConnectError { message: ErrorMessage::Text(String::new()), data: None }]
    );
    assert_eq!(net.manager.ready_state(), ReadyState::Open, "the main namespace is still connected");
    assert!(net.manager.get_socket(main).unwrap().connected());
}

#[test]
fn binary_attachments_travel_both_ways() {
    for (config, transport) in
        [(polling_only(), TransportKind::Polling), (ManagerConfig::default(), TransportKind::WebSocket)]
    {
        let mut net = Net::new(config);
        net.manager.open(net.now);
        let s = connected(&mut net, "/");
        net.advance(net.now + 200); // let an upgrade complete
        assert_eq!(net.manager.engine().unwrap().transport(), Some(transport));
        net.take_events();

        let data = r#"["echo",{"_placeholder":true,"num":0},"x",{"_placeholder":true,"num":1}]"#;
        let handle = net.manager.emit(s, data, vec![vec![1, 2, 3], vec![]], ack(), net.now).unwrap();
        net.pump();
        let (_, packet) = net.received.last().unwrap();
        assert_eq!(packet.attachments, [vec![1, 2, 3], vec![]], "{transport:?}");
        assert_eq!(packet.encode(), format!("52-0{data}"));
        // the server's ACK carries them back
        assert_eq!(
            net.socket_events(s),
            [SocketEvent::AckResponse {
                handle: handle.unwrap(),
                args: r#"[{"_placeholder":true,"num":0},"x",{"_placeholder":true,"num":1}]"#.into(),
                attachments: vec![vec![1, 2, 3], vec![]],
                with_error: false,
            }]
        );
        net.take_events();
        net.server_send(
            Packet::event("/", r#"["file",{"_placeholder":true,"num":0}]"#).with_attachments(vec![vec![0xff; 5]]),
        );
        assert_eq!(
            net.socket_events(s),
            [SocketEvent::Event {
                data: r#"["file",{"_placeholder":true,"num":0}]"#.into(),
                attachments: vec![vec![0xff; 5]],
                ack_id: None,
            }]
        );
        net.manager.send_ack(s, 4, r#"[{"_placeholder":true,"num":0}]"#, vec![vec![7]], net.now).unwrap();
        net.pump();
        let (_, packet) = net.received.last().unwrap();
        assert_eq!((packet.kind, packet.id, packet.attachments.clone()), (PacketType::Ack, Some(4), vec![vec![7]]));
    }
}

#[test]
fn undecodable_packets_close_with_parse_error_and_reconnect() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let s = connected(&mut net, "/");
    net.take_events();
    net.randoms(&[0.99]);
    net.current().session.send(Data::Text("9nonsense".into()));
    net.pump();
    assert_eq!(
        net.take_events(),
        [
            Event::Socket {
                socket: s,
                event: SocketEvent::Disconnect {
                    reason: DisconnectReason::ParseError,
                    description: Some("unknown packet type".into())
                }
            },
            Event::Manager(ManagerEvent::Close {
                reason: DisconnectReason::ParseError,
                description: Some("unknown packet type".into())
            }),
        ]
    );
    // the engine session was closed by the client
    assert!(net.current().session.is_closed());
    // rand 0.99: deviation floor(0.99 * 0.5 * 1000) = 495, floor(9.9) odd: added
    assert_eq!(net.manager.poll_timeout(), Some(net.now + 1495));
    net.advance(net.now + 1494);
    assert_eq!(net.handshakes, 1);
    net.advance(net.now + 1);
    assert!(net.manager.get_socket(s).unwrap().connected(), "reconnected");
    assert_eq!(net.handshakes, 2);

    // a binary frame where none is expected is a parse error too
    net.take_events();
    net.randoms(&[0.0]);
    net.current().session.send(Data::Binary(vec![1]));
    net.pump();
    assert!(net.socket_events(s).contains(&SocketEvent::Disconnect {
        reason: DisconnectReason::ParseError,
        description: Some("got binary data when not reconstructing a packet".into()),
    }));
}

#[test]
fn deferred_json_is_reported_as_received_and_refused_by_the_application() {
    let config = ManagerConfig { application_json: true, ..polling_only() };
    let mut net = Net::new(config);
    net.manager.open(net.now);
    let s = connected(&mut net, "/");
    net.take_events();
    // not JSON after its start: handed on as it came, for the application to parse
    net.current().session.send(Data::Text(r#"2["tick",1,}"#.into()));
    net.pump();
    assert_eq!(
        net.socket_events(s),
        [SocketEvent::Event { data: r#"["tick",1,}"#.into(), attachments: vec![], ack_id: None }]
    );
    // its start is still checked: a reserved name is refused by the core
    net.randoms(&[0.0; 4]);
    net.current().session.send(Data::Text(r#"2["connect"]"#.into()));
    net.pump();
    assert!(net.socket_events(s).contains(&SocketEvent::Disconnect {
        reason: DisconnectReason::ParseError,
        description: Some("invalid payload".into()),
    }));
    net.advance(net.now + 5_000);
    assert!(net.manager.get_socket(s).unwrap().connected(), "reconnected");
    net.take_events();
    // emits are the application's JSON.stringify output: only their name is read
    let reserved = net.manager.emit(s, r#"["connect",1]"#, vec![], EmitOptions::default(), net.now);
    assert_eq!(reserved, Err(EmitError::ReservedEvent("connect".into())));
    assert_eq!(net.manager.emit(s, "[]", vec![], EmitOptions::default(), net.now), Err(EmitError::InvalidData));
    // the application's JSON.parse failed: the connection ends as if the core had found it
    net.manager.handle_invalid_payload(net.now);
    net.pump();
    assert!(net.socket_events(s).contains(&SocketEvent::Disconnect {
        reason: DisconnectReason::ParseError,
        description: Some("invalid payload".into()),
    }));
}

#[test]
fn retries_resend_until_acknowledged() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let options = SocketOptions { retries: 2, ack_timeout: Some(1_000), ..SocketOptions::default() };
    let s = net.connect("/", options);
    net.take_events();
    let before = net.received.len();

    let first = net.manager.emit(s, r#"["silent",1]"#, vec![], ack(), net.now).unwrap();
    let second = net.manager.emit(s, r#"["echo",2]"#, vec![], ack(), net.now).unwrap();
    net.pump();
    assert_eq!((first, second), (Some(AckHandle::Queued(0)), Some(AckHandle::Queued(1))));
    // one at a time: the second waits for the first
    assert_eq!(net.received_encoded()[before..], [r#"20["silent",1]"#]);
    assert_eq!(net.manager.get_socket(s).unwrap().queue_len(), 2);

    // unanswered: tried 1 + 2 retries times, then the callback gets the timeout
    net.advance(net.now + 3_000);
    assert_eq!(
        net.received_encoded()[before..],
        [r#"20["silent",1]"#, r#"21["silent",1]"#, r#"22["silent",1]"#, r#"23["echo",2]"#]
    );
    assert_eq!(
        net.socket_events(s),
        [
            SocketEvent::AckError { handle: AckHandle::Queued(0), error: AckError::Timeout },
            // the queue's callbacks are `(err, ...args)`
            SocketEvent::AckResponse {
                handle: AckHandle::Queued(1),
                args: "[null,2]".into(),
                attachments: vec![],
                with_error: false
            },
        ]
    );
    assert_eq!(net.manager.get_socket(s).unwrap().queue_len(), 0);

    // queued emits wait for the connection, then go out once, in order
    net.take_events();
    net.randoms(&[0.0]);
    net.close_from_server();
    net.manager.emit(s, r#"["echo","later"]"#, vec![], ack(), net.now).unwrap();
    let before = net.received.len();
    net.advance(net.now + 1_000);
    assert_eq!(net.received_encoded()[before..], ["0", r#"24["echo","later"]"#]);
    assert!(net.socket_events(s).contains(&SocketEvent::AckResponse {
        handle: AckHandle::Queued(2),
        args: r#"[null,"later"]"#.into(),
        attachments: vec![],
        with_error: false,
    }));
}

#[test]
fn missed_heartbeat_disconnects_with_ping_timeout() {
    let server = ServerConfig { ping_interval: 300, ping_timeout: 200, ..ServerConfig::default() };
    let mut net = Net::with_server(polling_only(), server);
    net.manager.open(net.now);
    let s = connected(&mut net, "/");
    net.advance(net.now + 2_000);
    assert!(net.manager_events().iter().filter(|e| **e == ManagerEvent::Ping).count() >= 5);
    assert!(net.manager.get_socket(s).unwrap().connected());

    // the server goes silent: its session is dropped without a word
    net.take_events();
    net.randoms(&[0.0]);
    net.host = Host::BlackHole;
    net.conns.clear();
    net.advance(net.now + 600);
    assert!(net
        .socket_events(s)
        .contains(&SocketEvent::Disconnect { reason: DisconnectReason::PingTimeout, description: None }));
}

#[test]
fn auth_callback_is_asked_at_every_connection() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let s = net.manager.socket("/", SocketOptions { auth: Auth::Callback, ..SocketOptions::default() });
    net.manager.connect_socket(s, net.now);
    net.pump();
    assert_eq!(net.socket_events(s), [SocketEvent::AuthRequest]);
    assert!(net.received.is_empty(), "CONNECT waits for the auth");
    net.manager.provide_auth(s, Some(r#"{"token":1}"#), net.now);
    net.pump();
    assert_eq!(net.received_encoded(), [r#"0{"token":1}"#]);
    assert!(net.manager.get_socket(s).unwrap().connected());

    net.take_events();
    net.randoms(&[0.0]);
    net.close_from_server();
    net.advance(net.now + 1_000);
    assert_eq!(net.socket_events(s).last(), Some(&SocketEvent::AuthRequest));
}

#[test]
fn transport_error_while_open_reports_error_then_close() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let main = connected(&mut net, "/");
    // a socket still waiting for its CONNECT answer sees the error as connect_error
    net.ignore.push("/slow".into());
    let slow = net.connect("/slow", SocketOptions::default());
    net.take_events();
    let old_poll = net.current().held_poll.take().expect("a held poll");
    net.randoms(&[0.0]);
    net.manager.handle_transport_error(old_poll, "xhr poll error", net.now);
    net.pump();
    let description = Some("xhr poll error".to_owned());
    let reason = DisconnectReason::TransportError;
    assert_eq!(
        net.take_events(),
        [
            Event::Socket {
                socket: slow,
                event: SocketEvent::ConnectError { message: ErrorMessage::Text("xhr poll error".into()), data: None }
            },
            Event::Manager(ManagerEvent::Error(ManagerError::Transport("xhr poll error".into()))),
            Event::Socket { socket: main, event: SocketEvent::Disconnect { reason, description: description.clone() } },
            Event::Socket { socket: slow, event: SocketEvent::Disconnect { reason, description: description.clone() } },
            Event::Manager(ManagerEvent::Close { reason, description }),
        ]
    );
    assert_eq!(reason.as_str(), "transport error");

    net.ignore.clear();
    net.advance(net.now + 1_000);
    assert!(net.manager.get_socket(main).unwrap().connected() && net.manager.get_socket(slow).unwrap().connected());
    // transport ids of the new engine differ from the old one's; stale input is ignored
    let new_poll = net.current().held_poll.expect("the new engine polls");
    assert_ne!(new_poll, old_poll);
    net.take_events();
    net.manager.handle_poll_response(old_poll, "4\u{1e}42[\"ghost\"]", net.now);
    net.manager.handle_transport_error(old_poll, "late", net.now);
    net.pump();
    assert!(net.events.is_empty(), "{:?}", net.events);
}

#[test]
fn socket_connects_again_after_a_server_disconnect() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let s = connected(&mut net, "/");
    net.server_send(Packet::new(PacketType::Disconnect, "/"));
    assert!(!net.manager.get_socket(s).unwrap().active());
    // `socket.on("disconnect", () => socket.connect())`
    net.take_events();
    net.manager.connect_socket(s, net.now);
    net.pump();
    assert_eq!(net.handshakes, 2, "a new engine session");
    assert_eq!(net.manager_events(), [ManagerEvent::Open]);
    assert_eq!(net.socket_events(s), [SocketEvent::Connect]);
    assert_eq!(net.manager.get_socket(s).unwrap().id(), Some("/#2"));
}

#[test]
fn events_before_the_connect_answer_are_delivered_after_connect() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    net.ignore.push("/".into());
    let s = net.connect("/", SocketOptions::default());
    net.server_send(Packet::event("/", r#"["early"]"#));
    assert!(net.socket_events(s).is_empty(), "buffered until connected");
    let mut answer = Packet::new(PacketType::Connect, "/");
    answer.data = Some(r#"{"sid":"abc"}"#.into());
    net.server_send(answer);
    assert_eq!(
        net.socket_events(s),
        [SocketEvent::Event { data: r#"["early"]"#.into(), attachments: vec![], ack_id: None }, SocketEvent::Connect]
    );
    // a CONNECT answer without sid: a v2 server
    net.ignore.push("/v2".into());
    let other = net.connect("/v2", SocketOptions::default());
    let mut v2 = Packet::new(PacketType::Connect, "/v2");
    v2.data = Some("{}".into());
    net.server_send(v2);
    assert!(
        matches!(&net.socket_events(other)[..], [SocketEvent::ConnectError { message: ErrorMessage::Text(message), data: None }] if message.contains("v2.x"))
    );
    assert!(!net.manager.get_socket(other).unwrap().connected());
}

#[test]
fn websocket_frames_are_routed_from_their_header_when_the_data_can_stay_with_the_driver() {
    let websocket_only = ClientConfig { transports: vec![TransportKind::WebSocket], ..ClientConfig::default() };
    let config = ManagerConfig { engine: websocket_only, application_json: true, ..ManagerConfig::default() };
    let mut net = Net::new(config);
    net.manager.open(net.now);
    let main = connected(&mut net, "/");
    let chat = connected(&mut net, "/chat");
    let ws = net.current().websocket.expect("on a WebSocket");
    net.take_events();

    // events of connected sockets: where they go, nothing else happens
    assert_eq!(net.manager.handle_websocket_head(ws, "42"), Some(UnreadPayload::Event { socket: main, ack_id: None }));
    assert_eq!(
        net.manager.handle_websocket_head(ws, "42/chat,17"),
        Some(UnreadPayload::Event { socket: chat, ack_id: Some(17) })
    );
    assert_eq!(net.manager.poll_event(), None);
    assert_eq!(net.manager.poll_transmit(), None);

    // an ack answer takes the callback's entry: a second answer to the same id is ignored
    let handle = net.manager.emit(main, r#"["q"]"#, vec![], ack(), net.now).unwrap();
    let retried = SocketOptions { retries: 1, ..SocketOptions::default() };
    let queue = net.connect("/queue", retried);
    net.manager.emit(queue, r#"["q"]"#, vec![], ack(), net.now).unwrap();
    net.pump();
    net.take_events();
    assert_eq!(handle, Some(AckHandle::Id(0)));
    let answer = UnreadPayload::AckResponse { socket: main, handle: AckHandle::Id(0), with_error: false };
    assert_eq!(net.manager.handle_websocket_head(ws, "430"), Some(answer));
    assert_eq!(net.manager.handle_websocket_head(ws, "430"), None);

    // the core needs the whole frame: a binary packet, a CONNECT, an engine packet other than
    // a message, a namespace cut short (`42/chat[1],["x"]` is namespace `/chat[1]`), an
    // unknown namespace, an ack id JavaScript would round, the retry queue's ack (its
    // callback reads the answer), nothing, text after the header
    for head in
        ["451-", "40", "2", "3", "42/chat", "42/nowhere,", "429007199254740993", "43/queue,0", "4", "", "42x", "4/ch"]
    {
        assert_eq!(net.manager.handle_websocket_head(ws, head), None, "{head}");
    }
    assert_eq!(net.manager.poll_event(), None);
    // ... and after a `None` nothing changed: the whole frame still answers the queue's ack
    net.manager.handle_websocket_text(ws, r#"43/queue,0[null,"ok"]"#, net.now);
    net.pump();
    assert_eq!(
        net.socket_events(queue),
        [SocketEvent::AckResponse {
            handle: AckHandle::Queued(0),
            args: r#"[null,"ok"]"#.into(),
            attachments: vec![],
            with_error: false
        }]
    );

    // a socket not connected yet keeps what it receives in its buffer: the core reads it
    net.ignore.push("/later".into());
    let later = net.connect("/later", SocketOptions::default());
    assert_eq!(net.manager.handle_websocket_head(ws, "42/later,"), None);
    net.manager.handle_websocket_text(ws, r#"42/later,["early"]"#, net.now);
    assert_eq!(net.manager.get_socket(later).unwrap().receive_buffer().count(), 1);
}

#[test]
fn header_routing_leaves_recovery_offsets_and_reported_packets_to_the_core() {
    let websocket_only = ClientConfig { transports: vec![TransportKind::WebSocket], ..ClientConfig::default() };
    let config = ManagerConfig { engine: websocket_only.clone(), application_json: true, ..ManagerConfig::default() };
    let mut net = Net::new(config);
    net.pid = Some("p1".into());
    net.manager.open(net.now);
    connected(&mut net, "/");
    let ws = net.current().websocket.expect("on a WebSocket");
    // the recovery offset is the event's last argument: the core reads the data
    assert_eq!(net.manager.handle_websocket_head(ws, "42"), None);

    let config = ManagerConfig { engine: websocket_only.clone(), application_json: true, ..ManagerConfig::default() };
    let mut net = Net::new(config);
    net.manager.open(net.now);
    connected(&mut net, "/");
    let ws = net.current().websocket.expect("on a WebSocket");
    net.manager.report_packets(true);
    assert_eq!(net.manager.handle_websocket_head(ws, "42"), None, "`packet` listeners see the data");

    // without `application_json` the core checks the JSON itself
    let mut net = Net::new(ManagerConfig { engine: websocket_only, ..ManagerConfig::default() });
    net.manager.open(net.now);
    connected(&mut net, "/");
    let ws = net.current().websocket.expect("on a WebSocket");
    assert_eq!(net.manager.handle_websocket_head(ws, "42"), None);
}

#[test]
fn closing_over_websocket_closes_the_websocket_and_the_server_learns_it_at_once() {
    let websocket_only = ClientConfig { transports: vec![TransportKind::WebSocket], ..ClientConfig::default() };
    let mut net = Net::new(ManagerConfig { engine: websocket_only, ..ManagerConfig::default() });
    let s = connected(&mut net, "/");
    assert_eq!(net.websockets.len(), 1);
    net.randoms(&[0.0]);
    // `socket.io.engine.close()`: a dropped connection, then a reconnection on a new WebSocket.
    net.manager.close_engine(DisconnectReason::ForcedClose, None, net.now);
    net.pump();
    assert!(net.conns["eio-1"].session.is_closed(), "the server saw the first WebSocket close");
    net.advance(net.now + 60_000);
    assert_eq!(net.handshakes, 2, "reconnected");
    assert_eq!(net.websockets.len(), 1, "only the new WebSocket is open");
    // The last socket's disconnect closes the manager: its WebSocket closes too.
    net.manager.disconnect_socket(s, net.now);
    net.pump();
    assert!(net.websockets.is_empty(), "no WebSocket left open");
    assert!(net.conns["eio-2"].session.is_closed());
}

//! The client core's test network: a [`Manager`] driven against the Engine.IO server machine
//! plus a small hand-written Socket.IO server, through an in-memory loopback. Time and
//! randomness are inputs: every scenario is deterministic.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use wasmio_protocol::client::{
    AckMode, EmitOptions, Event, Manager, ManagerConfig, ManagerEvent, SocketEvent, SocketId, SocketOptions,
};
use wasmio_protocol::engine::{
    ClientConfig, ClientTransmit, CloseReason, Data, PollOutcome, ServerConfig, ServerEvent, ServerSession,
    ServerTransmit, TransportId, TransportKind,
};
use wasmio_protocol::socket::{Decoder, Packet, PacketType};

pub const START: u64 = 1_000;

/// How the server host answers new connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Accepts.
    Up,
    /// Refuses: every request fails at once ("xhr poll error").
    Down,
    /// Never answers.
    BlackHole,
}

/// One Engine.IO session on the server side, with its Socket.IO decoder.
pub struct ServerConn {
    pub session: ServerSession,
    pub held_poll: Option<TransportId>,
    pub websocket: Option<TransportId>,
    pub decoder: Decoder,
}

/// A manager, an Engine.IO server and a tiny Socket.IO server, wired by a loopback.
pub struct Net {
    pub now: u64,
    pub manager: Manager,
    pub host: Host,
    pub server_config: ServerConfig,
    pub conns: HashMap<String, ServerConn>,
    /// Which server session each client WebSocket reaches.
    pub websockets: HashMap<TransportId, String>,
    pub handshakes: u32,
    /// Socket.IO packets the server received, with the engine sid they came on.
    pub received: Vec<(String, Packet)>,
    pub events: Vec<(u64, Event)>,
    /// Namespaces the server refuses, with the CONNECT_ERROR data.
    pub refuse: HashMap<String, String>,
    /// Namespaces whose CONNECT the server leaves unanswered.
    pub ignore: Vec<String>,
    /// Connection state recovery: the pid the server gives in its CONNECT answers.
    pub pid: Option<String>,
    pub connects: u32,
    pub randoms: Rc<RefCell<VecDeque<f64>>>,
}

impl Net {
    pub fn new(config: ManagerConfig) -> Self {
        Net::with_server(config, ServerConfig::default())
    }

    pub fn with_server(config: ManagerConfig, server_config: ServerConfig) -> Self {
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

    pub fn randoms(&self, values: &[f64]) {
        self.randoms.borrow_mut().extend(values);
    }

    /// The socket of `nsp`, connected (or trying to).
    pub fn connect(&mut self, nsp: &str, options: SocketOptions) -> SocketId {
        let id = self.manager.socket(nsp, options);
        self.manager.connect_socket(id, self.now);
        self.pump();
        id
    }

    /// The current (latest) server session.
    pub fn current(&mut self) -> &mut ServerConn {
        let sid = format!("eio-{}", self.handshakes);
        self.conns.get_mut(&sid).expect("a server session")
    }

    pub fn sid_of(query: &str) -> Option<String> {
        query.split('&').find_map(|kv| kv.strip_prefix("sid=")).map(str::to_owned)
    }

    pub fn deliver(&mut self, transmit: ClientTransmit) {
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
                    return self.manager.handle_post_failed(id, now);
                };
                match conn.session.handle_post(&body, now) {
                    Ok(()) => self.manager.handle_post_done(id, now),
                    Err(_) => self.manager.handle_post_failed(id, now),
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

    pub fn handshake(&mut self, transport: TransportKind) -> String {
        self.handshakes += 1;
        let sid = format!("eio-{}", self.handshakes);
        let session = ServerSession::new(sid.clone(), transport, self.server_config.clone(), self.now);
        self.conns
            .insert(sid.clone(), ServerConn { session, held_poll: None, websocket: None, decoder: Decoder::default() });
        sid
    }

    /// Moves everything until nothing moves; the driver's tick after a WebSocket write comes
    /// once nothing else moves (the task and its earlier microtasks are over).
    pub fn pump(&mut self) {
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
                if !self.manager.wants_tick() {
                    return;
                }
                self.manager.handle_tick(self.now);
            }
        }
        panic!("the machines never settle");
    }

    pub fn deliver_to_client(&mut self, sid: &str, transmit: ServerTransmit) {
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
    pub fn on_server_event(&mut self, sid: &str, event: ServerEvent) {
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

    pub fn server_send_on(&mut self, sid: &str, packet: Packet) {
        let session = &mut self.conns.get_mut(sid).unwrap().session;
        session.send(Data::Text(packet.encode()), self.now);
        for attachment in packet.attachments {
            session.send(Data::Binary(attachment), self.now);
        }
    }

    /// Sends a Socket.IO packet from the server on the current session.
    pub fn server_send(&mut self, packet: Packet) {
        let sid = format!("eio-{}", self.handshakes);
        self.server_send_on(&sid, packet);
        self.pump();
    }

    /// Advances time to `until`, firing every deadline of both sides on the way.
    pub fn advance(&mut self, until: u64) {
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

    pub fn take_events(&mut self) -> Vec<Event> {
        self.events.drain(..).map(|(_, e)| e).collect()
    }

    pub fn socket_events(&self, socket: SocketId) -> Vec<SocketEvent> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Socket { socket: s, event } if *s == socket => Some(event.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn manager_events(&self) -> Vec<ManagerEvent> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Manager(event) => Some(event.clone()),
                _ => None,
            })
            .collect()
    }

    /// When each manager event happened.
    pub fn manager_event_times(&self, wanted: impl Fn(&ManagerEvent) -> bool) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|(t, e)| match e {
                Event::Manager(event) if wanted(event) => Some(*t),
                _ => None,
            })
            .collect()
    }

    /// The packets the server received, encoded (header only).
    pub fn received_encoded(&self) -> Vec<String> {
        self.received.iter().map(|(_, p)| p.encode()).collect()
    }

    /// Kills the current engine session from the server side ("transport close").
    pub fn close_from_server(&mut self) {
        self.current().session.close(CloseReason::ForcedClose);
        self.pump();
    }
}

pub fn polling_only() -> ManagerConfig {
    ManagerConfig { engine: ClientConfig { upgrade: false, ..ClientConfig::default() }, ..ManagerConfig::default() }
}

pub fn ack() -> EmitOptions {
    EmitOptions { ack: AckMode::Callback, ..EmitOptions::default() }
}

pub fn connected(net: &mut Net, nsp: &str) -> SocketId {
    let id = net.connect(nsp, SocketOptions::default());
    assert!(net.manager.get_socket(id).unwrap().connected(), "{nsp} connected: {:?}", net.events);
    id
}

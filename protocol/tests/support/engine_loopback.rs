//! The Engine.IO test network: a client and a server session driven against each other
//! through an in-memory loopback that plays the network; every scenario is deterministic (time
//! is an input). Used by `engine_sessions.rs` and `engine_closes.rs`.

use wasmio_protocol::engine::{
    ClientConfig, ClientEvent, ClientSession, ClientTransmit, CloseReason, Data, PollOutcome, PostError, ServerConfig,
    ServerError, ServerEvent, ServerSession, ServerTransmit, TransportId, TransportKind,
};

/// The time at which every loopback starts.
pub const START: u64 = 1_000;

/// A client and (once handshaken) a server session, connected by a loopback network.
pub struct Loopback {
    pub now: u64,
    pub client: ClientSession,
    pub server: Option<ServerSession>,
    pub server_config: ServerConfig,
    /// The client transport whose poll GET the server holds.
    pub held_poll: Option<TransportId>,
    /// The client's WebSocket that reaches the server (probe or main).
    pub websocket: Option<TransportId>,
    /// When false, the client's outgoing traffic is dropped (a dead client).
    pub client_alive: bool,
    pub client_events: Vec<ClientEvent>,
    pub server_events: Vec<ServerEvent>,
    pub post_errors: Vec<PostError>,
    pub poll_rejections: Vec<ServerError>,
    pub poll_bodies: Vec<String>,
}

impl Loopback {
    /// A connected pair: the handshake (and any upgrade) has completed.
    pub fn new(client_config: ClientConfig, server_config: ServerConfig) -> Self {
        let mut net = Loopback::start(client_config, server_config);
        net.pump();
        // an upgrade may wait for the server's check to release the last poll
        net.advance(net.now + 100);
        net
    }

    /// A client that has asked to open; nothing delivered yet.
    pub fn start(client_config: ClientConfig, server_config: ServerConfig) -> Self {
        let mut client = ClientSession::new(client_config, false);
        client.open();
        Loopback {
            now: START,
            client,
            server: None,
            server_config,
            held_poll: None,
            websocket: None,
            client_alive: true,
            client_events: Vec::new(),
            server_events: Vec::new(),
            post_errors: Vec::new(),
            poll_rejections: Vec::new(),
            poll_bodies: Vec::new(),
        }
    }

    /// Delivers the client's next transmit only.
    pub fn step(&mut self) {
        let transmit = self.client.poll_transmit().expect("the client has something to send");
        self.deliver_to_server(transmit);
    }

    pub fn server(&mut self) -> &mut ServerSession {
        self.server.as_mut().expect("handshake done")
    }

    /// The server queues a message now.
    pub fn server_send(&mut self, data: Data) {
        let now = self.now;
        self.server().send(data, now);
    }

    /// Moves everything both sides want to transmit until nothing moves; the client's tick
    /// after a WebSocket write comes once nothing else moves (as its driver's microtask).
    pub fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                if self.client_alive {
                    self.deliver_to_server(t);
                }
            }
            while let Some(t) = self.server.as_mut().and_then(ServerSession::poll_transmit) {
                moved = true;
                self.deliver_to_client(t);
            }
            while let Some(e) = self.server.as_mut().and_then(ServerSession::poll_event) {
                self.server_events.push(e);
            }
            while let Some(e) = self.client.poll_event() {
                moved = true;
                self.client_events.push(e);
            }
            self.client.move_after_events();
            if !moved {
                if !self.client.wants_tick() {
                    return;
                }
                self.client.handle_tick();
            }
        }
        panic!("the machines never settle");
    }

    pub fn deliver_to_server(&mut self, transmit: ClientTransmit) {
        let now = self.now;
        match transmit {
            ClientTransmit::PollGet { id, query } => {
                if self.server.is_none() {
                    assert_eq!(query, "EIO=4&transport=polling");
                    self.server =
                        Some(ServerSession::new("sid-1", TransportKind::Polling, self.server_config.clone(), now));
                } else {
                    assert_eq!(query, "EIO=4&transport=polling&sid=sid-1");
                }
                match self.server().handle_poll(now) {
                    PollOutcome::Respond(body) => self.answer_poll(id, body),
                    PollOutcome::Hold => self.held_poll = Some(id),
                    PollOutcome::Reject(error) => {
                        self.poll_rejections.push(error);
                        self.client.handle_transport_error(id, "xhr poll error");
                    }
                }
            }
            ClientTransmit::PollPost { id, body, .. } => match self.server().handle_post(&body, now) {
                Ok(()) => self.client.handle_post_done(id),
                Err(error) => {
                    self.post_errors.push(error);
                    self.client.handle_post_failed(id);
                }
            },
            ClientTransmit::OpenWebSocket { id, query } => {
                if self.server.is_none() {
                    assert_eq!(query, "EIO=4&transport=websocket");
                    self.server =
                        Some(ServerSession::new("sid-1", TransportKind::WebSocket, self.server_config.clone(), now));
                    self.websocket = Some(id);
                    self.client.handle_websocket_open(id);
                } else {
                    assert_eq!(query, "EIO=4&transport=websocket&sid=sid-1");
                    match self.server().handle_websocket_open(now) {
                        Ok(()) => {
                            self.websocket = Some(id);
                            self.client.handle_websocket_open(id);
                        }
                        Err(_) => self.client.handle_transport_error(id, "websocket error"),
                    }
                }
            }
            ClientTransmit::WebSocket { id, frame } => {
                assert_eq!(Some(id), self.websocket, "frames go to the open WebSocket");
                self.server().handle_websocket_frame(frame, now);
            }
            ClientTransmit::Close { id } => {
                if Some(id) == self.websocket {
                    self.websocket = None;
                    self.server().handle_websocket_closed();
                } else if Some(id) == self.held_poll {
                    self.held_poll = None;
                    self.server().handle_poll_aborted();
                }
            }
        }
    }

    pub fn answer_poll(&mut self, id: TransportId, body: String) {
        self.poll_bodies.push(body.clone());
        let now = self.now;
        self.client.handle_poll_response(id, &body, now);
    }

    pub fn deliver_to_client(&mut self, transmit: ServerTransmit) {
        let now = self.now;
        match transmit {
            ServerTransmit::PollResponse(body) => {
                let id = self.held_poll.take().expect("a poll was held");
                self.answer_poll(id, body);
            }
            ServerTransmit::PollRejected(error) => {
                let id = self.held_poll.take().expect("a poll was held");
                self.client.handle_transport_error(id, &error.to_string());
            }
            ServerTransmit::WebSocket(frame) | ServerTransmit::Probe(frame) => {
                let id = self.websocket.expect("a WebSocket is open");
                self.client.handle_websocket_frame(id, frame, now);
            }
            ServerTransmit::CloseWebSocket { .. } | ServerTransmit::CloseProbe => {
                if let Some(id) = self.websocket.take() {
                    self.client.handle_transport_closed(id);
                }
            }
        }
    }

    /// Advances time to `until`, firing every deadline of both sides on the way.
    pub fn advance(&mut self, until: u64) {
        loop {
            let next = [self.client.poll_timeout(), self.server.as_ref().and_then(ServerSession::poll_timeout)]
                .into_iter()
                .flatten()
                .filter(|&t| t <= until)
                .min();
            let Some(next) = next else { break };
            self.now = self.now.max(next);
            let now = self.now;
            self.client.handle_timeout(now);
            if let Some(server) = self.server.as_mut() {
                server.handle_timeout(now);
            }
            self.pump();
        }
        self.now = until;
    }

    pub fn client_messages(&self) -> Vec<Data> {
        self.client_events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Message(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn server_messages(&self) -> Vec<Data> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Message(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn client_close(&self) -> Option<CloseReason> {
        self.client_events.iter().find_map(|e| match e {
            ClientEvent::Close { reason, .. } => Some(*reason),
            _ => None,
        })
    }

    pub fn server_close(&self) -> Option<CloseReason> {
        self.server_events.iter().find_map(|e| match e {
            ServerEvent::Closed(reason) => Some(*reason),
            _ => None,
        })
    }
}

pub fn text(s: &str) -> Data {
    Data::Text(s.to_owned())
}

pub fn no_upgrade() -> ClientConfig {
    ClientConfig { upgrade: false, ..ClientConfig::default() }
}

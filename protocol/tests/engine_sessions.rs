//! The client and server Engine.IO machines driven against each other through an in-memory
//! loopback that plays the network: every scenario is deterministic (time is an input).

use std::collections::VecDeque;

use proptest::prelude::*;
use wasmio_protocol::engine::{
    ClientConfig, ClientEvent, ClientSession, ClientTransmit, CloseReason, Data, Frame, Packet, PacketType,
    PollOutcome, PostError, ServerConfig, ServerError, ServerEvent, ServerSession, ServerTransmit, TransportId,
    TransportKind,
};

/// The time at which every loopback starts.
const START: u64 = 1_000;

/// A client and (once handshaken) a server session, connected by a loopback network.
struct Loopback {
    now: u64,
    client: ClientSession,
    server: Option<ServerSession>,
    server_config: ServerConfig,
    /// The client transport whose poll GET the server holds.
    held_poll: Option<TransportId>,
    /// The client's WebSocket that reaches the server (probe or main).
    websocket: Option<TransportId>,
    /// When false, the client's outgoing traffic is dropped (a dead client).
    client_alive: bool,
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
    post_errors: Vec<PostError>,
    poll_rejections: Vec<ServerError>,
    poll_bodies: Vec<String>,
}

impl Loopback {
    /// A connected pair: the handshake (and any upgrade) has completed.
    fn new(client_config: ClientConfig, server_config: ServerConfig) -> Self {
        let mut net = Loopback::start(client_config, server_config);
        net.pump();
        // an upgrade may wait for the server's check to release the last poll
        net.advance(net.now + 100);
        net
    }

    /// A client that has asked to open; nothing delivered yet.
    fn start(client_config: ClientConfig, server_config: ServerConfig) -> Self {
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
    fn step(&mut self) {
        let transmit = self.client.poll_transmit().expect("the client has something to send");
        self.deliver_to_server(transmit);
    }

    fn server(&mut self) -> &mut ServerSession {
        self.server.as_mut().expect("handshake done")
    }

    /// The server queues a message now.
    fn server_send(&mut self, data: Data) {
        let now = self.now;
        self.server().send(data, now);
    }

    /// Moves everything both sides want to transmit until nothing moves; the client's tick
    /// after a WebSocket write comes once nothing else moves (as its driver's microtask).
    fn pump(&mut self) {
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
            self.client.move_after_open();
            if !moved {
                if !self.client.wants_tick() {
                    return;
                }
                self.client.handle_tick();
            }
        }
        panic!("the machines never settle");
    }

    fn deliver_to_server(&mut self, transmit: ClientTransmit) {
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

    fn answer_poll(&mut self, id: TransportId, body: String) {
        self.poll_bodies.push(body.clone());
        let now = self.now;
        self.client.handle_poll_response(id, &body, now);
    }

    fn deliver_to_client(&mut self, transmit: ServerTransmit) {
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
    fn advance(&mut self, until: u64) {
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

    fn client_messages(&self) -> Vec<Data> {
        self.client_events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Message(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    fn server_messages(&self) -> Vec<Data> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Message(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    fn client_close(&self) -> Option<CloseReason> {
        self.client_events.iter().find_map(|e| match e {
            ClientEvent::Close { reason, .. } => Some(*reason),
            _ => None,
        })
    }

    fn server_close(&self) -> Option<CloseReason> {
        self.server_events.iter().find_map(|e| match e {
            ServerEvent::Closed(reason) => Some(*reason),
            _ => None,
        })
    }
}

fn text(s: &str) -> Data {
    Data::Text(s.to_owned())
}

fn no_upgrade() -> ClientConfig {
    ClientConfig { upgrade: false, ..ClientConfig::default() }
}

#[test]
fn polling_handshake_then_messages_both_ways() {
    let mut net = Loopback::new(no_upgrade(), ServerConfig::default());
    let ClientEvent::Open(handshake) = &net.client_events[0] else { panic!("{:?}", net.client_events) };
    assert_eq!((handshake.sid.as_str(), handshake.ping_interval, handshake.ping_timeout), ("sid-1", 25_000, 20_000));
    assert_eq!(handshake.upgrades, ["websocket"]);
    assert!(net.poll_bodies[0].starts_with("0{\"sid\":\"sid-1\""));

    net.client.send(text("hello"));
    net.client.send(Data::Binary(vec![1, 2, 3]));
    net.pump();
    assert_eq!(net.server_messages(), [text("hello"), Data::Binary(vec![1, 2, 3])]);

    net.server_send(text("a"));
    net.server_send(Data::Binary(vec![9]));
    net.pump();
    assert_eq!(net.client_messages(), [text("a"), Data::Binary(vec![9])]);
    // both went out in one poll response, binary as base64
    assert_eq!(net.poll_bodies.last().unwrap(), "4a\x1ebCQ==");
    assert_eq!(net.client.transport(), Some(TransportKind::Polling));
}

#[test]
fn upgrade_to_websocket_loses_nothing() {
    let mut net = Loopback::new(ClientConfig::default(), ServerConfig::default());
    assert_eq!(net.client.transport(), Some(TransportKind::WebSocket));
    assert!(net.client_events.contains(&ClientEvent::Upgrading));
    assert!(net.client_events.contains(&ClientEvent::Upgrade(TransportKind::WebSocket)));
    assert!(net.server_events.contains(&ServerEvent::Upgraded));
    assert_eq!(net.server().transport(), TransportKind::WebSocket);

    for i in 0..5 {
        net.client.send(text(&format!("c{i}")));
        net.server_send(text(&format!("s{i}")));
    }
    net.pump();
    let expected = |p: &str| (0..5).map(|i| text(&format!("{p}{i}"))).collect::<Vec<_>>();
    assert_eq!(net.server_messages(), expected("c"));
    assert_eq!(net.client_messages(), expected("s"));
}

#[test]
fn messages_queued_during_the_upgrade_arrive_in_order() {
    let mut net = Loopback::start(ClientConfig::default(), ServerConfig::default());
    net.step(); // handshake GET: the client opens and asks for a probe WebSocket
    assert!(net.client.is_open());
    net.client.send(text("c1"));
    net.server_send(text("s1"));
    net.step(); // the probe opens
    net.client.send(text("c2"));
    net.server_send(text("s2"));
    net.pump(); // probe, pause
    net.advance(net.now + 100); // the held poll is released, the upgrade completes
    net.client.send(text("c3"));
    net.server_send(text("s3"));
    net.pump();
    assert_eq!(net.client.transport(), Some(TransportKind::WebSocket));
    assert_eq!(net.server_messages(), [text("c1"), text("c2"), text("c3")]);
    assert_eq!(net.client_messages(), [text("s1"), text("s2"), text("s3")]);
}

#[test]
fn what_is_sent_while_the_upgrade_waits_for_a_held_poll_is_posted_not_held() {
    let mut net = Loopback::start(ClientConfig::default(), ServerConfig::default());
    net.step(); // the handshake
                // once the application took the open event, the client opens a probe WebSocket and polls
    assert!(matches!(net.client.poll_event(), Some(ClientEvent::Open(_))));
    net.client.move_after_open();
    net.step();
    net.step();
    assert!(net.held_poll.is_some(), "the server holds the client's poll");
    net.step(); // `2probe`: the server answers it and releases the poll it holds
    let pong = net.server().poll_transmit().expect("3probe");
    // socket.io's server releases that poll only at its next check, up to 100 ms on
    let release = net.server().poll_transmit().expect("the poll released");
    assert!(matches!(release, ServerTransmit::PollResponse(_)));
    net.deliver_to_client(pong);
    let events: Vec<_> = std::iter::from_fn(|| net.client.poll_event()).collect();
    assert_eq!(events.last(), Some(&ClientEvent::Upgrading));
    net.client.send(text("question"));
    // posted at once, not held until the poll comes back
    net.pump();
    assert_eq!(net.server_messages(), [text("question")]);
    net.server_send(text("answer"));
    net.deliver_to_client(release);
    net.pump();
    assert_eq!(net.client_messages(), [text("answer")]);
    assert_eq!(net.client.transport(), Some(TransportKind::WebSocket));
    net.client.send(text("next"));
    net.pump();
    assert_eq!(net.server_messages(), [text("question"), text("next")]);
    assert_eq!(net.server().transport(), TransportKind::WebSocket);
}

#[test]
fn websocket_only_handshake() {
    let config = ClientConfig { transports: vec![TransportKind::WebSocket], ..ClientConfig::default() };
    let mut net = Loopback::new(config, ServerConfig::default());
    let ClientEvent::Open(handshake) = &net.client_events[0] else { panic!() };
    assert!(handshake.upgrades.is_empty());
    net.server_send(text("hi"));
    net.pump();
    assert_eq!(net.client_messages(), [text("hi")]);
}

#[test]
fn heartbeats_keep_the_session_alive() {
    let config = ServerConfig { ping_interval: 300, ping_timeout: 200, ..ServerConfig::default() };
    let mut net = Loopback::new(ClientConfig::default(), config);
    net.advance(net.now + 10_000);
    let pings = net.client_events.iter().filter(|e| **e == ClientEvent::Ping).count();
    let pongs = net.server_events.iter().filter(|e| **e == ServerEvent::Heartbeat).count();
    assert!(pings >= 30, "{pings} pings in 10 s at a 300 ms interval");
    assert_eq!(pings, pongs);
    assert_eq!(net.client_close(), None);
    assert_eq!(net.server_close(), None);
}

#[test]
fn a_pong_answered_by_the_runtime_can_be_fed_later() {
    let config = ServerConfig { ping_interval: 300, ping_timeout: 200, ..ServerConfig::default() };
    let mut server = ServerSession::new("s", TransportKind::WebSocket, config, 0);
    while server.poll_transmit().is_some() {}
    assert_eq!(server.awaiting_pong_since(), None);
    server.handle_timeout(300);
    assert_eq!(server.poll_transmit(), Some(ServerTransmit::WebSocket(Frame::Text("2".into()))));
    assert_eq!(server.awaiting_pong_since(), Some(300));
    // the runtime answered the client's pong at 320; the driver learns it at the deadline
    server.handle_websocket_frame(Frame::Text("3".into()), 500);
    server.handle_timeout(500);
    assert!(!server.is_closed());
    assert_eq!(server.awaiting_pong_since(), None);
    assert_eq!(server.poll_timeout(), Some(800));
}

#[test]
fn an_early_ping_aligns_the_heartbeat() {
    let config = ServerConfig { ping_interval: 300, ping_timeout: 200, ..ServerConfig::default() };
    let mut server = ServerSession::new("s", TransportKind::WebSocket, config, 0);
    while server.poll_transmit().is_some() {}
    assert_eq!(server.next_ping_at(), Some(300));
    server.ping_early(120);
    assert_eq!(server.poll_transmit(), Some(ServerTransmit::WebSocket(Frame::Text("2".into()))));
    assert_eq!(server.next_ping_at(), None, "a pong is awaited");
    server.ping_early(130);
    assert_eq!(server.poll_transmit(), None, "one ping at a time");
    server.handle_websocket_frame(Frame::Text("3".into()), 150);
    assert_eq!(server.next_ping_at(), Some(450));
}

#[test]
fn a_message_while_a_pong_is_awaited_counts_as_the_pong() {
    let config = ServerConfig { ping_interval: 300, ping_timeout: 200, ..ServerConfig::default() };
    let mut server = ServerSession::new("s", TransportKind::WebSocket, config, 0);
    while server.poll_transmit().is_some() {}
    server.handle_timeout(300);
    assert_eq!(server.poll_transmit(), Some(ServerTransmit::WebSocket(Frame::Text("2".into()))));
    assert_eq!(server.awaiting_pong_since(), Some(300));
    // A burst sent before the ping arrives first: the client is alive, the pong comes later.
    server.handle_websocket_frame(Frame::Text("4hello".into()), 450);
    assert_eq!(server.awaiting_pong_since(), None);
    assert_eq!(server.next_ping_at(), Some(750));
    server.handle_timeout(520);
    assert!(!server.is_closed(), "past the pong deadline, but not silent");
    // A message when no pong is awaited does not move the next ping.
    server.handle_websocket_frame(Frame::Text("4again".into()), 600);
    assert_eq!(server.next_ping_at(), Some(750));
}

#[test]
fn server_closes_a_silent_client_after_ping_timeout() {
    let config = ServerConfig { ping_interval: 300, ping_timeout: 200, ..ServerConfig::default() };
    let mut net = Loopback::new(no_upgrade(), config);
    // the handshake happened at START: ping due at +300, pong deadline at +500
    let start = START;
    net.client_alive = false;
    net.advance(start + 499);
    assert_eq!(net.server_close(), None);
    net.advance(start + 500);
    assert_eq!(net.server_close(), Some(CloseReason::PingTimeout));
}

#[test]
fn client_closes_when_the_server_stops_pinging() {
    let config = ServerConfig { ping_interval: 300, ping_timeout: 200, ..ServerConfig::default() };
    let mut net = Loopback::new(ClientConfig::default(), config);
    // the client opened at START: no ping by +300+200 means the server is gone
    let start = START;
    net.server = None; // the server vanishes
    net.client_alive = false;
    net.advance(start + 499);
    assert_eq!(net.client_close(), None);
    net.advance(start + 500);
    assert_eq!(net.client_close(), Some(CloseReason::PingTimeout));
}

#[test]
fn transports_closed_silently_tell_the_server_at_once_and_the_client_at_its_ping_timeout() {
    let config = ServerConfig { ping_interval: 300, ping_timeout: 200, ..ServerConfig::default() };
    for client_config in [no_upgrade(), ClientConfig::default()] {
        let mut net = Loopback::new(client_config, config.clone());
        let events = net.client_events.len();
        net.client.close_transports_silently(); // closeOnBeforeunload, the page staying after all
        net.pump();
        // The server learns at once (a close packet posted, a WebSocket closed) ...
        assert_eq!(net.server_close(), Some(CloseReason::TransportClose));
        // ... the client from its heartbeat: no ping by 300 + 200 ms after it opened.
        assert_eq!(net.client_events.len(), events, "nothing is reported at once");
        net.client.send(text("lost"));
        net.advance(START + 499);
        assert_eq!(net.client_close(), None);
        net.advance(START + 500);
        assert_eq!(net.client_close(), Some(CloseReason::PingTimeout));
    }
}

#[test]
fn a_second_concurrent_get_closes_the_session() {
    let mut net = Loopback::new(no_upgrade(), ServerConfig::default());
    assert!(net.held_poll.is_some());
    assert_eq!(net.server().handle_poll(0), PollOutcome::Reject(ServerError::BadRequest));
    net.pump();
    assert_eq!(net.server_close(), Some(CloseReason::TransportError));
    // the first GET was answered with a close packet, as the reference does
    assert!(net.held_poll.is_none());
    assert_eq!(net.poll_bodies.last().map(String::as_str), Some("1"));
    assert_eq!(net.server().handle_poll(0), PollOutcome::Reject(ServerError::UnknownSid));
}

#[test]
fn oversize_post_gets_413_and_the_session_goes_on() {
    let config = ServerConfig { max_payload: 100, ..ServerConfig::default() };
    let mut server = ServerSession::new("s", TransportKind::Polling, config, 0);
    let big = "4".to_owned() + &"x".repeat(100);
    assert_eq!(server.handle_post(&big, 0), Err(PostError::PayloadTooLarge));
    assert_eq!(PostError::PayloadTooLarge.status(), 413);
    assert_eq!(server.handle_post("4ok", 0), Ok(()));
    assert_eq!(server.poll_event(), Some(ServerEvent::Message(text("ok"))));
    assert!(!server.is_closed());
}

#[test]
fn a_post_of_too_many_packets_gets_413_and_none_of_them_is_handled() {
    let config = ServerConfig { max_packets_per_payload: 3, ..ServerConfig::default() };
    let mut server = ServerSession::new("s", TransportKind::Polling, config, 0);
    assert_eq!(server.handle_post("4a\x1e4b\x1e4c\x1e4d", 0), Err(PostError::PayloadTooLarge));
    assert_eq!(server.poll_event(), None);
    assert_eq!(server.handle_post("4a\x1e4b\x1e4c", 0), Ok(()));
    let events: Vec<_> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(events, ["a", "b", "c"].map(|m| ServerEvent::Message(text(m))));
}

#[test]
fn undecodable_post_closes_with_parse_error() {
    let mut server = ServerSession::new("s", TransportKind::Polling, ServerConfig::default(), 0);
    assert_eq!(server.handle_post("4a\x1ezz", 0), Err(PostError::Rejected(ServerError::BadRequest)));
    assert_eq!(server.poll_event(), Some(ServerEvent::Closed(CloseReason::ParseError)));
}

#[test]
fn a_client_ping_is_a_protocol_violation() {
    let mut server = ServerSession::new("s", TransportKind::WebSocket, ServerConfig::default(), 0);
    server.handle_websocket_frame(Frame::Text("2".into()), 0);
    assert!(std::iter::from_fn(|| server.poll_transmit())
        .any(|t| t == ServerTransmit::CloseWebSocket { code: 1000, reason: CloseReason::TransportError }));
    assert_eq!(server.poll_event(), Some(ServerEvent::Closed(CloseReason::TransportError)));
}

#[test]
fn oversize_websocket_message_closes_with_1009() {
    let config = ServerConfig { max_payload: 10, ..ServerConfig::default() };
    let mut server = ServerSession::new("s", TransportKind::WebSocket, config, 0);
    server.handle_websocket_frame(Frame::Binary(vec![0; 11]), 0);
    assert!(std::iter::from_fn(|| server.poll_transmit())
        .any(|t| t == ServerTransmit::CloseWebSocket { code: 1009, reason: CloseReason::TransportError }));
    assert_eq!(server.poll_event(), Some(ServerEvent::Closed(CloseReason::TransportError)));
}

#[test]
fn a_bad_probe_is_closed_and_polling_goes_on() {
    let mut server = ServerSession::new("s", TransportKind::Polling, ServerConfig::default(), 0);
    assert!(matches!(server.handle_poll(0), PollOutcome::Respond(_)));
    server.handle_websocket_open(0).unwrap();
    assert_eq!(server.handle_websocket_open(0), Err(ServerError::BadRequest), "one probe at a time");
    server.handle_websocket_frame(Frame::Text("4hello".into()), 0);
    assert_eq!(server.poll_transmit(), Some(ServerTransmit::CloseProbe));
    assert!(!server.is_upgrading());
    server.send(text("still here"), 0);
    assert_eq!(server.handle_poll(0), PollOutcome::Respond("4still here".into()));
}

#[test]
fn a_poll_held_when_the_upgrade_completes_is_refused() {
    let mut server = ServerSession::new("s", TransportKind::Polling, ServerConfig::default(), 0);
    assert!(matches!(server.handle_poll(0), PollOutcome::Respond(_)));
    server.handle_websocket_open(0).unwrap();
    server.handle_websocket_frame(Frame::Text("2probe".into()), 0);
    assert_eq!(server.poll_transmit(), Some(ServerTransmit::Probe(Frame::Text("3probe".into()))));
    // A GET that raced the client's `5` (a client that paused polling sends none).
    assert_eq!(server.handle_poll(10), PollOutcome::Hold);
    server.handle_websocket_frame(Frame::Text("5".into()), 20);
    assert_eq!(server.poll_transmit(), Some(ServerTransmit::PollRejected(ServerError::BadRequest)));
    assert_eq!(server.transport(), TransportKind::WebSocket);
    assert_eq!(server.handle_poll(30), PollOutcome::Reject(ServerError::BadRequest));
}

#[test]
fn an_unfinished_probe_times_out() {
    let config = ServerConfig { upgrade_timeout: 1_000, ..ServerConfig::default() };
    let mut server = ServerSession::new("s", TransportKind::Polling, config, 0);
    server.handle_websocket_open(0).unwrap();
    server.handle_websocket_frame(Frame::Text("2probe".into()), 0);
    assert_eq!(server.poll_transmit(), Some(ServerTransmit::Probe(Frame::Text("3probe".into()))));
    assert_eq!(server.poll_timeout(), Some(1_000));
    server.handle_timeout(1_000);
    assert_eq!(server.poll_transmit(), Some(ServerTransmit::CloseProbe));
    assert_eq!(server.transport(), TransportKind::Polling);
}

#[test]
fn client_close_over_polling_posts_a_close_packet() {
    let mut net = Loopback::new(no_upgrade(), ServerConfig::default());
    net.client.send(text("last words"));
    net.client.close();
    net.pump();
    assert_eq!(net.client_close(), Some(CloseReason::ForcedClose));
    assert_eq!(net.server_messages(), [text("last words")]);
    assert_eq!(net.server_close(), Some(CloseReason::TransportClose));
}

#[test]
fn a_refused_post_ends_the_session_on_both_sides_at_once_by_its_close_packet() {
    // As engine.io-client: a POST the server refused (413) ends the client's session with
    // "xhr post error", and the close packet it posts then ends the server's at once
    // ("transport close"), not at the server's heartbeat.
    let mut net = Loopback::new(no_upgrade(), ServerConfig { max_payload: 100, ..ServerConfig::default() });
    net.client.send(text(&"x".repeat(200)));
    net.pump();
    assert_eq!(net.post_errors, [PostError::PayloadTooLarge]);
    assert_eq!(net.client_close(), Some(CloseReason::TransportError));
    assert_eq!(net.server_close(), Some(CloseReason::TransportClose));
}

#[test]
fn closing_over_polling_never_overlaps_posts() {
    let mut net = Loopback::new(no_upgrade(), ServerConfig::default());
    net.client.send(text("in flight"));
    let Some(ClientTransmit::PollPost { id, body, .. }) = net.client.poll_transmit() else { panic!("a POST") };
    assert_eq!(body, "4in flight");
    net.client.send(text("queued"));
    net.client.close();
    // nothing more is posted while the first POST is in flight
    assert_eq!(net.client.poll_transmit(), None);
    net.client.handle_post_done(id);
    let Some(ClientTransmit::PollPost { body, .. }) = net.client.poll_transmit() else { panic!("a POST") };
    assert_eq!(body, "4queued");
    net.client.handle_post_done(id);
    let Some(ClientTransmit::PollPost { body, .. }) = net.client.poll_transmit() else { panic!("a POST") };
    assert_eq!(body, "1", "the close packet goes alone, last");
    net.client.handle_post_done(id);
    assert_eq!(net.client.poll_transmit(), None);
}

#[test]
fn closing_right_after_a_poll_answer_sends_no_new_poll() {
    let mut net = Loopback::new(no_upgrade(), ServerConfig::default());
    // the server answers the held poll; the client asks for the next one and, in the same
    // turn, closes: only the close packet goes out
    net.server_send(text("bye"));
    let id = net.held_poll.take().unwrap();
    let Some(ServerTransmit::PollResponse(body)) = net.server().poll_transmit() else { panic!() };
    net.client.handle_poll_response(id, &body, START);
    net.client.close();
    let sent: Vec<_> = std::iter::from_fn(|| net.client.poll_transmit()).collect();
    assert!(sent.iter().all(|t| !matches!(t, ClientTransmit::PollGet { .. })), "{sent:?}");
    assert!(sent.iter().any(|t| matches!(t, ClientTransmit::PollPost { body, .. } if body == "1")), "{sent:?}");
}

#[test]
fn server_close_reaches_the_client_on_both_transports() {
    for config in [no_upgrade(), ClientConfig::default()] {
        let mut net = Loopback::new(config, ServerConfig::default());
        net.server().close(CloseReason::ForcedClose);
        net.pump();
        assert_eq!(net.server_close(), Some(CloseReason::ForcedClose));
        assert_eq!(net.client_close(), Some(CloseReason::TransportClose));
        // a session the server closed gets no close packet back (engine.io-client's neither)
        assert_eq!(net.post_errors, []);
    }
}

#[test]
fn a_server_close_over_websocket_sends_what_was_queued_then_a_close_frame_and_no_close_packet() {
    let mut server = ServerSession::new("s", TransportKind::WebSocket, ServerConfig::default(), 0);
    while server.poll_transmit().is_some() {}
    server.send(Data::Text("41".into()), 0);
    server.close(CloseReason::ForcedClose);
    let sent: Vec<_> = std::iter::from_fn(|| server.poll_transmit()).collect();
    assert_eq!(
        sent,
        [
            ServerTransmit::WebSocket(Frame::Text("441".into())),
            ServerTransmit::CloseWebSocket { code: 1000, reason: CloseReason::ForcedClose },
        ]
    );
}

#[test]
fn try_all_transports_falls_back_to_websocket() {
    let config = ClientConfig { try_all_transports: true, ..ClientConfig::default() };
    let mut client = ClientSession::new(config, false);
    client.open();
    let Some(ClientTransmit::PollGet { id, .. }) = client.poll_transmit() else { panic!() };
    client.handle_transport_error(id, "xhr poll error");
    assert_eq!(client.poll_transmit(), Some(ClientTransmit::Close { id }));
    let Some(ClientTransmit::OpenWebSocket { query, .. }) = client.poll_transmit() else { panic!() };
    assert_eq!(query, "EIO=4&transport=websocket");
    assert_eq!(client.poll_event(), None, "no close while a transport is left");
}

#[test]
fn a_websocket_that_failed_to_open_is_not_probed_once_polling_took_over() {
    let transports = vec![TransportKind::WebSocket, TransportKind::Polling];
    let config = ClientConfig { try_all_transports: true, transports, ..ClientConfig::default() };
    let mut client = ClientSession::new(config, false);
    client.open();
    let Some(ClientTransmit::OpenWebSocket { id, .. }) = client.poll_transmit() else { panic!() };
    client.handle_transport_error(id, "websocket error");
    assert_eq!(client.poll_transmit(), Some(ClientTransmit::Close { id }));
    let Some(ClientTransmit::PollGet { id, .. }) = client.poll_transmit() else { panic!() };
    let handshake =
        r#"0{"sid":"s","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    client.handle_poll_response(id, handshake, START);
    assert!(client.is_open());
    let transmits: Vec<_> = std::iter::from_fn(|| client.poll_transmit()).collect();
    assert!(!transmits.iter().any(|t| matches!(t, ClientTransmit::OpenWebSocket { .. })), "{transmits:?}");
    assert_eq!(client.transport(), Some(TransportKind::Polling));
}

#[test]
fn without_fallback_a_failed_open_closes_with_transport_error() {
    let mut client = ClientSession::new(ClientConfig::default(), false);
    client.open();
    let Some(ClientTransmit::PollGet { id, .. }) = client.poll_transmit() else { panic!() };
    client.handle_transport_error(id, "xhr poll error");
    assert_eq!(
        std::iter::from_fn(|| client.poll_event()).last(),
        Some(ClientEvent::Close { reason: CloseReason::TransportError, description: Some("xhr poll error".into()) })
    );
}

#[test]
fn remember_upgrade_opens_over_websocket_directly() {
    let config = ClientConfig { remember_upgrade: true, ..ClientConfig::default() };
    let mut client = ClientSession::new(config, true);
    client.open();
    assert!(matches!(client.poll_transmit(), Some(ClientTransmit::OpenWebSocket { .. })));
}

#[test]
fn poll_responses_and_posts_stay_within_max_payload() {
    let config = ServerConfig { max_payload: 50, ..ServerConfig::default() };
    let mut net = Loopback::new(no_upgrade(), config);
    for i in 0..20 {
        net.server_send(text(&format!("message number {i:02}")));
        net.client.send(text(&format!("reply number {i:02}")));
    }
    net.pump();
    assert_eq!(net.client_messages().len(), 20);
    assert_eq!(net.server_messages().len(), 20);
    assert!(net.poll_bodies.iter().skip(1).all(|b| b.len() <= 50), "{:?}", net.poll_bodies);
    assert!(net.post_errors.is_empty());
}

#[test]
fn the_open_packet_is_the_handshake_json() {
    let server = ServerSession::new("abc", TransportKind::Polling, ServerConfig::default(), 0);
    let mut server = server;
    let PollOutcome::Respond(body) = server.handle_poll(0) else { panic!() };
    let packet = Packet::decode_text(&body).unwrap();
    assert_eq!(packet.kind, PacketType::Open);
    assert_eq!(
        packet.data,
        text(r#"{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#)
    );
}

/// Random inputs a hostile or broken peer could produce.
#[derive(Debug, Clone)]
enum Input {
    ClientSend(String),
    ServerSend(Vec<u8>),
    ServerPost(String),
    ServerPoll,
    ServerFrame(String),
    ServerWsOpen,
    ServerWsClosed,
    ClientPollResponse(u32, String),
    ClientFrame(u32, String),
    ClientError(u32),
    ClientClose,
    ServerClose,
    Advance(u16),
}

fn input() -> impl Strategy<Value = Input> {
    let wire = "[0-6b]?[a-z0-9\\x1e{}\"\\[\\],:/ ]{0,12}";
    prop_oneof![
        wire.prop_map(Input::ClientSend),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Input::ServerSend),
        wire.prop_map(Input::ServerPost),
        Just(Input::ServerPoll),
        wire.prop_map(Input::ServerFrame),
        Just(Input::ServerWsOpen),
        Just(Input::ServerWsClosed),
        (0..4u32, wire).prop_map(|(id, s)| Input::ClientPollResponse(id, s)),
        (0..4u32, wire).prop_map(|(id, s)| Input::ClientFrame(id, s)),
        (0..4u32).prop_map(Input::ClientError),
        Just(Input::ClientClose),
        Just(Input::ServerClose),
        any::<u16>().prop_map(Input::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever arrives in whatever order, neither machine panics, and both drain.
    #[test]
    fn machines_never_panic(inputs in proptest::collection::vec(input(), 0..60)) {
        let mut now = 0u64;
        let mut client = ClientSession::new(ClientConfig::default(), false);
        client.open();
        let mut server = ServerSession::new("s", TransportKind::Polling, ServerConfig { ping_interval: 50, ping_timeout: 50, ..ServerConfig::default() }, 0);
        for input in inputs {
            match input {
                Input::ClientSend(s) => client.send(Data::Text(s)),
                Input::ServerSend(b) => server.send(Data::Binary(b), now),
                Input::ServerPost(s) => { let _ = server.handle_post(&s, now); }
                Input::ServerPoll => { let _ = server.handle_poll(0); }
                Input::ServerFrame(s) => server.handle_websocket_frame(Frame::Text(s), now),
                Input::ServerWsOpen => { let _ = server.handle_websocket_open(now); }
                Input::ServerWsClosed => server.handle_websocket_closed(),
                Input::ClientPollResponse(id, s) => client.handle_poll_response(TransportId(id), &s, now),
                Input::ClientFrame(id, s) => client.handle_websocket_frame(TransportId(id), Frame::Text(s), now),
                Input::ClientError(id) => client.handle_transport_error(TransportId(id), "error"),
                Input::ClientClose => client.close(),
                Input::ServerClose => server.close(CloseReason::ForcedClose),
                Input::Advance(ms) => {
                    now += u64::from(ms);
                    client.handle_timeout(now);
                    server.handle_timeout(now);
                }
            }
            let drained: VecDeque<_> = std::iter::from_fn(|| client.poll_transmit()).collect();
            prop_assert!(drained.len() < 10_000);
            while server.poll_transmit().is_some() {}
            while client.poll_event().is_some() {}
            while server.poll_event().is_some() {}
        }
    }
}

#[test]
fn only_an_idle_open_websocket_session_takes_frames_written_by_the_driver() {
    let config = ServerConfig::default();
    let mut ws = ServerSession::new("a", TransportKind::WebSocket, config.clone(), 0);
    // the open packet is still to be written: a frame written now would overtake it
    assert!(!ws.writes_messages_directly());
    while ws.poll_transmit().is_some() {}
    assert!(ws.writes_messages_directly());
    ws.close(CloseReason::ForcedClose);
    assert!(!ws.writes_messages_directly());
    let mut polling = ServerSession::new("b", TransportKind::Polling, config, 0);
    while polling.poll_transmit().is_some() {}
    assert!(!polling.writes_messages_directly());
}

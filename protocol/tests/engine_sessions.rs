//! The client and server Engine.IO machines driven against each other through the loopback of
//! `support/engine_loopback.rs`: handshakes, messages, upgrades, heartbeats, transport choice
//! and limits (closes and refusals are in `engine_closes.rs`).

use std::collections::VecDeque;

use proptest::prelude::*;
use wasmio_protocol::engine::{
    ClientConfig, ClientEvent, ClientSession, ClientTransmit, CloseReason, Data, Frame, Packet, PacketType,
    PollOutcome, ServerConfig, ServerEvent, ServerSession, ServerTransmit, TransportId, TransportKind,
};

mod support;
use support::engine_loopback::*;

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
    net.client.move_after_events();
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

//! How Engine.IO sessions end and what they refuse, the client and server machines driven
//! against each other through the loopback of `support/engine_loopback.rs`: heartbeat
//! timeouts, closes from either side on both transports, and refused input.

use wasmio_protocol::engine::{
    ClientConfig, ClientTransmit, CloseReason, Data, Frame, PollOutcome, PostError, ServerConfig, ServerError,
    ServerEvent, ServerSession, ServerTransmit, TransportKind,
};

mod support;
use support::engine_loopback::*;

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

//! The Socket.IO client machine through disconnections: reconnection with backoff, giving up,
//! recovery with pid and offset, heartbeats, transport errors, closes from either side (the
//! loopback of `support/client_net.rs`).

use wasmio_protocol::client::{
    AckError, AckMode, Auth, Backoff, DisconnectReason, EmitOptions, ErrorMessage, Event, ManagerConfig, ManagerError,
    ManagerEvent, ReadyState, SocketEvent, SocketOptions,
};
use wasmio_protocol::engine::{ClientConfig, ClientTransmit, Data, ServerConfig, TransportKind};
use wasmio_protocol::socket::{Packet, PacketType};

mod support;
use support::client_net::*;

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
fn a_handshake_answered_once_the_connect_timeout_is_due_times_out() {
    // socket.io-client's timer of `timeout: 0` runs before any handshake's answer; a driver
    // may deliver the answer before it runs its timer: the timeout already due comes first.
    let config = ManagerConfig { reconnection: false, timeout: Some(0), ..polling_only() };
    let mut net = Net::new(config);
    net.manager.open(net.now);
    net.now += 5;
    net.pump();
    assert_eq!(net.manager_events(), [ManagerEvent::Error(ManagerError::Timeout)]);
    assert_eq!(net.manager.ready_state(), ReadyState::Closed);
}

#[test]
fn closing_at_reconnect_attempt_cancels_the_attempts_zero_connect_timeout() {
    // socket.io-client arms the attempt's connect timer (`setTimeout(.., 0)`) after it emits
    // `reconnect_attempt`: a listener calling `socket.disconnect()` clears it, and nothing
    // more is heard. The timeout, due at once, must not be decided before the listener ran.
    let config = ManagerConfig { timeout: Some(0), ..polling_only() };
    let mut net = Net::new(config);
    net.host = Host::BlackHole;
    net.randoms(&[0.0, 0.0]);
    net.manager.open(net.now);
    let s = net.connect("/", SocketOptions::default());
    net.advance(net.now);
    net.take_events();
    let attempt_at = net.manager.poll_timeout().expect("a reconnection is scheduled");
    net.now = attempt_at;
    net.manager.handle_timeout(attempt_at);
    net.pump();
    assert_eq!(net.take_events(), [Event::Manager(ManagerEvent::ReconnectAttempt(1))]);

    net.manager.disconnect_socket(s, net.now);
    net.pump();
    net.advance(net.now + 60_000);
    assert_eq!(
        net.take_events(),
        [Event::Manager(ManagerEvent::Close { reason: DisconnectReason::ForcedClose, description: None })]
    );
    assert_eq!(net.manager.ready_state(), ReadyState::Closed);
    assert!(net.manager.poll_timeout().is_none());
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
    assert_eq!(net.manager.get_socket(s).unwrap().recovered(), Some(false));

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
    assert!(socket.connected() && socket.recovered() == Some(true), "same pid: recovered");

    // the server lost the session: another pid, not recovered
    net.pid = Some("p2".into());
    net.close_from_server();
    net.advance(net.now + 1_000);
    let socket = net.manager.get_socket(s).unwrap();
    assert!(socket.connected() && socket.recovered() == Some(false));
    assert_eq!(socket.pid(), Some("p2"));
}

#[test]
fn a_poll_answer_that_does_not_decode_ends_the_session_without_a_new_poll() {
    // engine.io-client hands the answer's packets over (its listeners close the engine on the
    // parse error) before it would poll again: no poll follows, which the server, having
    // ended the session at the close packet, would refuse (400).
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    connected(&mut net, "/");
    net.randoms(&[0.5]);
    let now = net.now;
    net.current().session.send(Data::Text("9nonsense".into()), now);
    let answer = net.current().session.poll_transmit().expect("the held poll answered");
    net.deliver_to_client("eio-1", answer);
    while net.manager.poll_event().is_some() {}
    let sent: Vec<_> = std::iter::from_fn(|| net.manager.poll_transmit()).collect();
    assert!(!sent.iter().any(|t| matches!(t, ClientTransmit::PollGet { .. })), "{sent:?}");
    assert!(sent.iter().any(|t| matches!(t, ClientTransmit::PollPost { body, .. } if body == "1")), "{sent:?}");
}

#[test]
fn undecodable_packets_close_with_parse_error_and_reconnect() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let s = connected(&mut net, "/");
    net.take_events();
    net.randoms(&[0.99]);
    let now = net.now;
    net.current().session.send(Data::Text("9nonsense".into()), now);
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
    let now = net.now;
    net.current().session.send(Data::Binary(vec![1]), now);
    net.pump();
    assert!(net.socket_events(s).contains(&SocketEvent::Disconnect {
        reason: DisconnectReason::ParseError,
        description: Some("got binary data when not reconstructing a packet".into()),
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

#[test]
fn reconnection_turned_off_by_a_disconnect_listener_leaves_the_socket_free_to_connect_again() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let s = connected(&mut net, "/");
    net.take_events();
    net.randoms(&[0.5]);
    net.close_from_server();
    assert!(net.manager.is_reconnecting(), "the reconnection is scheduled as the close is handled");
    // `socket.on("disconnect", () => socket.io.reconnection(false))`: socket.io-client decides
    // to reconnect after its listeners ran, so it never reconnects.
    net.take_events();
    net.manager.set_reconnection(false);
    assert!(!net.manager.is_reconnecting());
    assert_eq!(net.manager.poll_timeout(), None);
    net.advance(net.now + 60_000);
    assert_eq!(net.handshakes, 1, "no reconnection");
    assert!(net.manager_events().is_empty());
    // Later, `socket.connect()` opens a new connection, as socket.io-client's does.
    net.manager.connect_socket(s, net.now);
    net.pump();
    assert_eq!(net.handshakes, 2, "a new engine session");
    assert_eq!(net.socket_events(s), [SocketEvent::Connect]);
}

#[test]
fn events_replayed_ahead_of_a_connect_that_never_came_are_delivered_once_by_the_next_connect() {
    for recovered in [true, false] {
        let mut net = Net::new(polling_only());
        net.pid = Some("p1".into());
        net.manager.open(net.now);
        let s = connected(&mut net, "/");
        net.server_send(Packet::event("/", r#"["m","a","o1"]"#));
        // A recovering server replays what was missed, then CONNECT: two reconnections are
        // cut before theirs, the second having replayed more from the same offset.
        net.ignore.push("/".into());
        let reconnect = |net: &mut Net, replay: &[&str], connect_pid: Option<&str>| {
            net.randoms(&[0.0, 0.0]);
            net.close_from_server();
            net.advance(net.now + 1_000);
            for (i, text) in replay.iter().enumerate() {
                net.server_send(Packet::event("/", format!(r#"["m","{text}","o{}"]"#, i + 2)));
            }
            if let Some(pid) = connect_pid {
                let mut answer = Packet::new(PacketType::Connect, "/");
                answer.data = Some(format!(r#"{{"sid":"s2","pid":"{pid}"}}"#));
                net.server_send(answer);
            }
        };
        reconnect(&mut net, &["b"], None);
        reconnect(&mut net, &["b", "c"], None);
        // receiveBuffer: what this connection received ahead of its CONNECT.
        assert_eq!(net.manager.get_socket(s).unwrap().receive_buffer().count(), 2);
        // The third recovers (everything from the offset again) or is a new session (nothing).
        match recovered {
            true => reconnect(&mut net, &["b", "c", "d"], Some("p1")),
            false => reconnect(&mut net, &[], Some("p2")),
        }
        let socket = net.manager.get_socket(s).unwrap();
        assert!(socket.connected() && socket.recovered() == Some(recovered));
        let texts: Vec<String> = net
            .socket_events(s)
            .into_iter()
            .filter_map(|e| match e {
                SocketEvent::Event { data, .. } => Some(data.split('"').nth(3).unwrap().to_owned()),
                _ => None,
            })
            .collect();
        let expected: &[&str] = if recovered { &["a", "b", "c", "d"] } else { &["a", "b", "c"] };
        assert_eq!(texts, expected, "recovered: {recovered}");
    }
}

#[test]
fn an_engine_closed_while_a_reconnection_attempt_opens_it_fails_that_attempt_and_the_next_reconnects() {
    // `engine.close()` or the browser going offline while an attempt's engine is opening. The
    // client used to end nothing and schedule nothing: it never reconnected. (socket.io-client's
    // manager hears an opening engine's close only at its connect timeout, 20 s by default, and
    // never with `timeout: false`, the setting here.)
    for (reason, description, message) in [
        (DisconnectReason::ForcedClose, None, "forced close"),
        (DisconnectReason::TransportClose, Some("network connection lost"), "network connection lost"),
    ] {
        let mut net = Net::new(ManagerConfig { timeout: None, ..polling_only() });
        net.randoms(&[0.0, 0.0]);
        net.manager.open(net.now);
        let s = connected(&mut net, "/");
        net.close_from_server();
        net.host = Host::BlackHole;
        let attempt_at = net.manager.poll_timeout().expect("a reconnection is scheduled");
        net.advance(attempt_at);
        assert_eq!(net.manager.ready_state(), ReadyState::Opening);
        net.take_events();

        net.manager.close_engine(reason, description.map(str::to_owned), net.now);
        net.pump();
        let failed = ManagerError::Transport(message.into());
        assert_eq!(
            net.take_events(),
            [
                Event::Socket {
                    socket: s,
                    event: SocketEvent::ConnectError { message: ErrorMessage::Text(message.into()), data: None }
                },
                Event::Manager(ManagerEvent::Error(failed.clone())),
                Event::Manager(ManagerEvent::ReconnectError(failed)),
            ],
            "{message}: the attempt failed, and the socket, disconnected already, is not told again"
        );
        net.host = Host::Up;
        let next = net.manager.poll_timeout().expect("the next attempt is scheduled");
        net.advance(next);
        assert_eq!(
            net.take_events(),
            [
                Event::Manager(ManagerEvent::ReconnectAttempt(2)),
                Event::Manager(ManagerEvent::Open),
                Event::Manager(ManagerEvent::Reconnect(2)),
                Event::Socket { socket: s, event: SocketEvent::Connect },
            ],
            "{message}"
        );
    }
}

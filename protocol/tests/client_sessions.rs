//! The Socket.IO client machine (`client::Manager`) while connected: namespaces, emits and
//! acknowledgements, buffering, binary, retries, header routing (the loopback of
//! `support/client_net.rs`; disconnections and reconnection are in `client_reconnection.rs`).

use wasmio_protocol::client::{
    AckError, AckHandle, AckMode, DisconnectReason, EmitError, EmitOptions, ErrorMessage, ManagerConfig, ManagerEvent,
    ReadyState, SocketEvent, SocketOptions, UnreadPayload,
};
use wasmio_protocol::client::{Auth, Event, SocketId};
use wasmio_protocol::engine::{ClientConfig, ClientTransmit, Data, Frame, TransportId, TransportKind};
use wasmio_protocol::socket::{DecodeError, Packet, PacketType};

mod support;
use support::client_net::*;

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
fn after_the_handshake_the_connect_is_posted_before_the_upgrade_probe_and_the_next_poll() {
    // engine.io-client's order: its `open` listeners write first (the CONNECT goes in a POST),
    // then it probes the upgrade, then it polls; a server that answers a poll already waiting
    // with the CONNECT's answer (python-engineio) would otherwise keep the session on polling.
    let mut net = Net::new(ManagerConfig::default());
    net.manager.open(net.now);
    let socket = net.manager.socket("/", SocketOptions::default());
    net.manager.connect_socket(socket, net.now);
    let handshake = net.manager.poll_transmit().expect("the handshake");
    assert!(matches!(handshake, ClientTransmit::PollGet { .. }), "{handshake:?}");
    net.deliver(handshake);
    // the driver hands every event over (the socket's auth is asked for) before it transmits
    while net.manager.poll_event().is_some() {}
    let next: Vec<_> = std::iter::from_fn(|| net.manager.poll_transmit()).collect();
    assert!(
        matches!(
            &next[..],
            [ClientTransmit::PollPost { body, .. }, ClientTransmit::OpenWebSocket { .. }, ClientTransmit::PollGet { .. }]
                if body == "40"
        ),
        "{next:?}"
    );
    for transmit in next {
        net.deliver(transmit);
    }
    net.pump();
    assert!(net.manager.get_socket(socket).unwrap().connected());
    // the upgrade completes (the server releases the poll it holds at its next check)
    net.advance(net.now + 100);
    assert_eq!(net.manager.engine().unwrap().transport(), Some(TransportKind::WebSocket));
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
    assert_eq!(net.manager.get_socket(s).unwrap().recovered(), Some(false));

    net.manager.connect_socket(s, net.now);
    net.pump();
    // the server gave no pid (no connection state recovery): socket.io-client's `undefined`
    assert_eq!(net.manager.get_socket(s).unwrap().recovered(), None);
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
    net.manager.handle_tick(net.now);
    assert!(!net.manager.wants_tick());
    net.manager.emit(s, r#"["regular"]"#, vec![], EmitOptions::default(), net.now).unwrap();
    net.manager.emit(s, r#"["right after"]"#, vec![], volatile, net.now).unwrap();
    assert!(net.manager.wants_tick());
    net.manager.handle_tick(net.now);
    net.manager.emit(s, r#"["next tick"]"#, vec![], volatile, net.now).unwrap();
    net.pump();
    let sent = net.received_encoded();
    assert_eq!(sent[sent.len() - 2..], [r#"2["regular"]"#, r#"2["next tick"]"#]);
}

#[test]
fn over_websocket_the_messages_of_a_task_after_its_first_go_out_together_at_the_next_tick() {
    let websocket_only = ClientConfig { transports: vec![TransportKind::WebSocket], ..ClientConfig::default() };
    let mut net = Net::new(ManagerConfig { engine: websocket_only, ..ManagerConfig::default() });
    let s = connected(&mut net, "/");
    let before = net.received.len();
    let emit = |net: &mut Net, data: &str| net.manager.emit(s, data, vec![], EmitOptions::default(), net.now).unwrap();
    for data in [r#"["a"]"#, r#"["b"]"#, r#"["c"]"#] {
        emit(&mut net, data);
    }
    // As engine.io-client: the first goes at once, the WebSocket is then not writable until
    // the next tick, when the others go, in order.
    let sent: Vec<_> = std::iter::from_fn(|| net.manager.poll_transmit()).collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(net.manager.wants_tick());
    net.manager.handle_tick(net.now);
    let later: Vec<_> = std::iter::from_fn(|| net.manager.poll_transmit()).collect();
    assert_eq!(later.len(), 2, "{later:?}");
    for t in sent.into_iter().chain(later) {
        net.deliver(t);
    }
    net.pump();
    assert_eq!(net.received_encoded()[before..], [r#"2["a"]"#, r#"2["b"]"#, r#"2["c"]"#]);
    // Closed in the task that queued them, the messages go before the WebSocket closes.
    let before = net.received.len();
    emit(&mut net, r#"["d"]"#);
    emit(&mut net, r#"["e"]"#);
    net.manager.close(net.now);
    net.pump();
    assert_eq!(net.received_encoded()[before..], [r#"2["d"]"#, r#"2["e"]"#]);
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
fn deferred_json_is_reported_as_received_and_refused_by_the_application() {
    let config = ManagerConfig { application_json: true, ..polling_only() };
    let mut net = Net::new(config);
    net.manager.open(net.now);
    let s = connected(&mut net, "/");
    net.take_events();
    // not JSON after its start: handed on as it came, for the application to parse
    let now = net.now;
    net.current().session.send(Data::Text(r#"2["tick",1,}"#.into()), now);
    net.pump();
    assert_eq!(
        net.socket_events(s),
        [SocketEvent::Event { data: r#"["tick",1,}"#.into(), attachments: vec![], ack_id: None }]
    );
    // its start is still checked: a reserved name is refused by the core
    net.randoms(&[0.0; 4]);
    let now = net.now;
    net.current().session.send(Data::Text(r#"2["connect"]"#.into()), now);
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
    net.manager.handle_invalid_payload(DecodeError::InvalidPayload, net.now);
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
    let queue: Vec<_> = net.manager.get_socket(s).unwrap().retry_queue().collect();
    assert_eq!(queue, [(r#"["silent",1]"#, &[][..], 1, true), (r#"["echo",2]"#, &[][..], 0, false)]);

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

/// The shortcut for received events names exactly `expected` among `sockets` on WebSocket
/// `ws`, and a frame of a named socket's head (`42` for namespace `/`, else `42` + namespace +
/// `,`) and data is that socket's event, handed over as it came, nothing else happening than
/// the socket's recovery offset moving when it keeps one.
fn assert_shortcut(net: &mut Net, ws: TransportId, sockets: &[SocketId], expected: &[SocketId]) {
    let shortcut = net.manager.event_shortcut();
    for &socket in sockets {
        let s = net.manager.get_socket(socket).unwrap();
        let (nsp, keeps_offset) = (s.nsp().to_owned(), s.pid().is_some());
        let taken = shortcut.is_some_and(|s| s.websocket == ws && s.sockets >> socket.0 & 1 == 1);
        assert_eq!(taken, expected.contains(&socket), "{nsp}: {shortcut:?}");
        if taken {
            let head = if nsp == "/" { "42".to_owned() } else { format!("42{nsp},") };
            if !keeps_offset {
                let event = UnreadPayload::Event { socket, ack_id: None };
                assert_eq!(net.manager.handle_websocket_head(ws, &head), Some(event), "{head}");
            }
            let seen = net.events.len();
            net.manager.handle_websocket_text(ws, &format!(r#"{head}["tick","o9"]"#), net.now);
            net.pump();
            let event = SocketEvent::Event { data: r#"["tick","o9"]"#.into(), attachments: vec![], ack_id: None };
            let events: Vec<&Event> = net.events[seen..].iter().map(|(_, e)| e).collect();
            assert_eq!(events, [&Event::Socket { socket, event }], "{head}");
            let offset = net.manager.get_socket(socket).unwrap().last_offset();
            assert_eq!(offset, keeps_offset.then_some("o9"), "{head}");
        }
    }
    assert_eq!(shortcut.map_or(0, |s| s.sockets.count_ones() as usize), expected.len(), "{shortcut:?}");
    assert_eq!(net.manager.poll_event(), None);
}

#[test]
fn the_event_shortcut_names_the_sockets_whose_events_go_to_the_application_as_they_came() {
    // polling: every frame goes to the manager
    let mut net = Net::new(ManagerConfig { application_json: true, ..polling_only() });
    net.manager.open(net.now);
    connected(&mut net, "/");
    assert_eq!(net.manager.event_shortcut(), None);

    // upgraded to a WebSocket: the connected sockets of plain namespaces
    let mut net = Net::new(ManagerConfig { application_json: true, ..ManagerConfig::default() });
    net.manager.open(net.now);
    let main = connected(&mut net, "/");
    let chat = connected(&mut net, "/chat");
    let ws = net.current().websocket.expect("upgraded");
    net.ignore.push("/later".into());
    let later = net.connect("/later", SocketOptions::default());
    // namespaces whose head reads back otherwise: subscribed (their CONNECT waits for an auth
    // never given; the server would not read it), connected by their private `onpacket`
    let odd: Vec<SocketId> = ["/a,b", "nosl", "/x[1]"]
        .into_iter()
        .map(|nsp| {
            let socket = net.connect(nsp, SocketOptions { auth: Auth::Callback, ..SocketOptions::default() });
            let mut answer = Packet::new(PacketType::Connect, nsp);
            answer.data = Some(r#"{"sid":"x"}"#.into());
            net.manager.handle_socket_packet(socket, answer, net.now);
            assert!(net.manager.get_socket(socket).unwrap().connected(), "{nsp}");
            socket
        })
        .collect();
    net.pump();
    let all = [&[main, chat, later][..], &odd].concat();
    assert_shortcut(&mut net, ws, &all, &[main, chat]);
    // `/a,b`'s head reads as namespace `/a` and data `b,`: the manager reads such a frame
    assert_eq!(net.manager.handle_websocket_head(ws, "42/a,b,"), None);

    // a socket that leaves, one that connects
    net.manager.disconnect_socket(chat, net.now);
    net.pump();
    net.take_events();
    let mut answer = Packet::new(PacketType::Connect, "/later");
    answer.data = Some(r#"{"sid":"s2"}"#.into());
    net.server_send(answer);
    assert_shortcut(&mut net, ws, &all, &[main, later]);

    // while a binary packet is put together, and while packets are reported: none
    net.manager.handle_websocket_text(ws, r#"451-["bin",{"_placeholder":true,"num":0}]"#, net.now);
    assert_eq!(net.manager.event_shortcut(), None);
    net.manager.handle_websocket_frame(ws, Frame::Binary(vec![1]), net.now);
    net.pump();
    net.take_events();
    assert_shortcut(&mut net, ws, &all, &[main, later]);
    net.manager.report_packets(true);
    assert_eq!(net.manager.event_shortcut(), None);

    // a socket keeping a recovery offset: the offset the driver reports goes in the next
    // CONNECT; one of a socket without recovery is ignored
    let mut net = Net::new(ManagerConfig { application_json: true, ..ManagerConfig::default() });
    net.pid = Some("p1".into());
    net.manager.open(net.now);
    let recovering = connected(&mut net, "/");
    // the server releases the poll sent after its probe's answer at its next check
    net.advance(net.now + 100);
    let ws = net.current().websocket.expect("upgraded");
    assert_shortcut(&mut net, ws, &[recovering], &[recovering]);
    net.manager.handle_event_offset(recovering, "o10".into());
    net.randoms(&[0.0, 0.0]);
    net.close_from_server();
    net.advance(net.now + 1_000);
    assert_eq!(net.received_encoded().last().unwrap(), r#"0{"pid":"p1","offset":"o10"}"#);
    assert_eq!(net.manager.get_socket(recovering).unwrap().recovered(), Some(true));
    let mut other = Net::new(ManagerConfig { application_json: true, ..ManagerConfig::default() });
    other.manager.open(other.now);
    let plain = connected(&mut other, "/");
    other.manager.handle_event_offset(plain, "o1".into());
    assert_eq!(other.manager.get_socket(plain).unwrap().last_offset(), None);

    // a closed manager, and one that parses the JSON itself: none
    net.manager.close(net.now);
    net.pump();
    assert_eq!(net.manager.event_shortcut(), None);
    let mut net = Net::new(ManagerConfig::default());
    net.manager.open(net.now);
    connected(&mut net, "/");
    assert_eq!(net.manager.event_shortcut(), None);
}

#[test]
fn the_private_inputs_of_socket_io_client_reach_the_manager_and_its_sockets() {
    let mut net = Net::new(polling_only());
    net.manager.open(net.now);
    let main = connected(&mut net, "/");
    // `socket.onpacket()`: a socket that never connected takes a CONNECT answer without sid
    let idle = net.manager.socket("/idle", SocketOptions::default());
    net.take_events();
    net.manager.handle_socket_packet(idle, Packet::new(PacketType::Connect, "/"), net.now);
    net.pump();
    assert!(net.take_events().is_empty(), "a packet of another namespace is ignored");
    net.manager.handle_socket_packet(idle, Packet::new(PacketType::Connect, "/idle"), net.now);
    net.pump();
    assert!(
        matches!(&net.socket_events(idle)[..], [SocketEvent::ConnectError { message: ErrorMessage::Text(message), data: None }] if message.contains("v2.x"))
    );

    // `manager.engine.emit("data", ...)`: a message as if received; one that does not decode
    // closes the connection with "parse error", and the manager reconnects
    net.take_events();
    net.manager.handle_engine_data(Data::Text(r#"2["news"]"#.into()), net.now);
    net.pump();
    assert_eq!(
        net.socket_events(main),
        [SocketEvent::Event { data: r#"["news"]"#.into(), attachments: vec![], ack_id: None }]
    );
    net.take_events();
    net.randoms(&[0.0]);
    net.manager.handle_engine_data(Data::Text("bad".into()), net.now);
    net.pump();
    assert_eq!(
        net.socket_events(main),
        [SocketEvent::Disconnect {
            reason: DisconnectReason::ParseError,
            description: Some("unknown packet type".into())
        }]
    );
    assert_eq!(net.manager.ready_state(), ReadyState::Closed);
    net.advance(net.now + 2_000);
    assert_eq!(net.manager.ready_state(), ReadyState::Open);
    assert!(net.manager.get_socket(main).unwrap().connected());
}

//! The Socket.IO server core driven with canned packets and times: namespaces, middlewares'
//! decisions, rooms, broadcasts, acknowledgements, disconnections and hostile input. Its
//! snapshots and the hibernation property are in `server_snapshots.rs`, connection state
//! recovery in `server_recovery.rs`.

use std::rc::Rc;

use wasmio_protocol::engine::{CloseReason, Data};
use wasmio_protocol::server::{
    Accept, AckData, AckError, ApiError, Broadcast, Config, ConnectRequest, DisconnectReason, EncodedPacket, Event,
    Message, RecoveryConfig, Transmit,
};

mod support;
use support::server_harness::*;

#[test]
fn connect_is_accepted_after_the_middlewares() {
    let mut h = Harness::new(Config::default());
    h.open("e1");
    h.text("e1", r#"0{"token":"abc"}"#);
    assert_eq!(
        h.events(),
        vec![Event::ConnectRequest(ConnectRequest {
            session: "e1".into(),
            nsp: "/".into(),
            auth: r#"{"token":"abc"}"#.into(),
            check_namespace: false,
            run_middlewares: true,
            recovered: false,
            recover_from: None,
        })]
    );
    assert_eq!(h.outs(), vec![], "nothing is sent before the decision");
    h.server
        .accept_connect(
            "e1",
            "/",
            Accept { sid: "s1".into(), pid: None, data: Some(r#"{"user":"ann"}"#.into()) },
            h.now,
        )
        .unwrap();
    assert_eq!(h.outs(), vec![Out::Send(sessions(&["e1"]), r#"0{"sid":"s1"}"#.into(), vec![])]);
    assert_eq!(
        h.events(),
        vec![Event::Connection { session: "e1".into(), nsp: "/".into(), sid: "s1".into(), recovered: false }]
    );
    let info = h.server.socket("s1").unwrap();
    assert_eq!(
        (info.data.as_str(), info.auth.as_str(), info.rooms),
        (r#"{"user":"ann"}"#, r#"{"token":"abc"}"#, sessions(&["s1"]))
    );
    // a second decision for the same CONNECT is refused
    assert_eq!(
        h.server.accept_connect("e1", "/", Accept { sid: "s2".into(), ..Default::default() }, h.now),
        Err(ApiError::NoPendingConnect)
    );
}

#[test]
fn connect_is_rejected_with_message_and_data() {
    let mut h = Harness::new(config_with(&["/", "/admin"]));
    h.open("e1");
    h.text("e1", "0/admin,");
    assert!(matches!(&h.events()[..], [Event::ConnectRequest(r)] if r.auth == "{}" && r.nsp == "/admin"));
    h.server.reject_connect("e1", "/admin", "not authorized", Some(r#"{"code":403}"#)).unwrap();
    assert_eq!(
        h.outs(),
        vec![Out::Send(
            sessions(&["e1"]),
            r#"4/admin,{"message":"not authorized","data":{"code":403}}"#.into(),
            vec![]
        )]
    );
    h.text("e1", "0");
    h.events();
    h.server.reject_connect("e1", "/", "bad \"token\"", None).unwrap();
    assert_eq!(h.texts_for("e1"), vec![r#"4{"message":"bad \"token\""}"#.to_owned()]);
    assert!(h.server.socket("s1").is_none());
    assert!(h.server.has_session("e1"), "a refused CONNECT does not close the session");
}

#[test]
fn unknown_namespace_is_invalid() {
    let mut h = Harness::new(Config::default());
    h.open("e1");
    h.text("e1", r#"0/nope,{"a":1}"#);
    assert_eq!(h.events(), vec![], "no middleware runs for an unknown namespace");
    assert_eq!(h.texts_for("e1"), vec![r#"4/nope,{"message":"Invalid namespace"}"#.to_owned()]);
}

#[test]
fn dynamic_namespaces_are_decided_by_the_driver() {
    let mut h = Harness::new(Config { dynamic_namespaces: true, ..Config::default() });
    h.open("e1");
    h.text("e1", "0/room-42,");
    assert!(matches!(&h.events()[..], [Event::ConnectRequest(r)] if r.check_namespace && r.nsp == "/room-42"));
    h.server.accept_connect("e1", "/room-42", Accept { sid: "s1".into(), ..Default::default() }, h.now).unwrap();
    assert_eq!(h.texts_for("e1"), vec![r#"0/room-42,{"sid":"s1"}"#.to_owned()]);
    assert!(matches!(&h.events()[..], [Event::Connection { nsp, .. }] if nsp == "/room-42"));
    // the namespace now exists: the next client only runs middlewares
    h.open("e2");
    h.text("e2", "0/room-42,");
    assert!(matches!(&h.events()[..], [Event::ConnectRequest(r)] if !r.check_namespace));
    // a name no predicate matches
    h.text("e2", "0/other,");
    h.events();
    h.server.refuse_namespace("e2", "/other").unwrap();
    assert_eq!(h.texts_for("e2"), vec![r#"4/other,{"message":"Invalid namespace"}"#.to_owned()]);
}

#[test]
fn a_dynamic_namespace_nobody_uses_is_forgotten_and_asked_for_again() {
    let config = Config { dynamic_namespaces: true, ..recovery_config() };
    let mut h = Harness::new(config);
    // Left by a client disconnect (not recoverable): forgotten at once.
    for i in 0..50 {
        h.connect(&format!("e{i}"), &format!("/room-{i}"), &format!("s{i}"));
        h.text(&format!("e{i}"), &format!("1/room-{i},"));
        h.events();
    }
    assert!(h.server.shared_to_json().contains(r#""dn":[]"#), "{}", h.server.shared_to_json());
    // Left by a lost connection (recoverable): kept while its session may come back.
    h.connect("lost", "/room-x", "sx");
    h.server.handle_close("lost", CloseReason::TransportClose, h.now);
    h.events();
    assert!(h.server.shared_to_json().contains(r#""dn":["/room-x"]"#));
    h.now += RecoveryConfig::default().max_disconnection_duration_ms + 1;
    h.server.handle_timeout(h.now);
    assert!(h.server.shared_to_json().contains(r#""dn":[]"#), "{}", h.server.shared_to_json());
    h.open("again");
    h.text("again", "0/room-1,");
    assert!(matches!(&h.events()[..], [Event::ConnectRequest(r)] if r.check_namespace), "asked again");
}

#[test]
fn rooms_to_except_and_broadcast_from_a_socket() {
    let mut h = Harness::new(Config::default());
    for (e, s) in [("e1", "s1"), ("e2", "s2"), ("e3", "s3")] {
        h.connect(e, "/", s);
    }
    h.server.join("s1", ["red"]).unwrap();
    h.server.join("s2", ["red", "blue"]).unwrap();
    h.server.join("s3", ["blue"]).unwrap();
    assert_eq!(h.server.socket("s2").unwrap().rooms, sessions(&["blue", "red", "s2"]));

    let d = h.server.broadcast(&Broadcast::new("/").to("red"), "m", "[1]", vec![], h.now).unwrap();
    assert_eq!(d.sids, sessions(&["s1", "s2"]));
    assert_eq!(h.outs(), vec![Out::Send(sessions(&["e1", "e2"]), r#"2["m",1]"#.into(), vec![])]);

    let d =
        h.server.broadcast(&Broadcast::new("/").to("red").to("blue").except("blue"), "m", "[]", vec![], h.now).unwrap();
    assert_eq!(d.sids, sessions(&["s1"]));

    // socket.broadcast: everybody but the sender
    let op = h.server.socket_broadcast("s2").unwrap();
    let d = h.server.broadcast(&op, "hi", r#"["x"]"#, vec![], h.now).unwrap();
    assert_eq!(d.sessions, sessions(&["e1", "e3"]));
    // socket.to(room) from a socket is also "except self"
    let d = h.server.broadcast(&op.clone().to("blue"), "hi", "[]", vec![], h.now).unwrap();
    assert_eq!(d.sids, sessions(&["s3"]));

    h.server.leave("s2", "red").unwrap();
    let d = h.server.broadcast(&Broadcast::new("/").to("red"), "m", "[]", vec![], h.now).unwrap();
    assert_eq!(d.sids, sessions(&["s1"]));
    // a room whose last member left is gone
    h.server.leave("s1", "red").unwrap();
    assert_eq!(h.server.broadcast(&Broadcast::new("/").to("red"), "m", "[]", vec![], h.now).unwrap().packet, None);

    // fetchSockets / socketsJoin / socketsLeave on a selection
    h.server.sockets_join(&Broadcast::new("/").except("blue"), &["green"]);
    let ids: Vec<String> =
        h.server.fetch_sockets(&Broadcast::new("/").to("green")).into_iter().map(|s| s.sid).collect();
    assert_eq!(ids, sessions(&["s1"]));
    h.server.sockets_leave(&Broadcast::new("/"), &["blue"]);
    assert!(h.server.fetch_sockets(&Broadcast::new("/").to("blue")).is_empty());
    // namespaces are separate
    assert!(h.server.fetch_sockets(&Broadcast::new("/chat")).is_empty());
}

#[test]
fn volatile_skips_sessions_that_are_not_writable() {
    let mut h = Harness::new(Config::default());
    h.connect("e1", "/", "s1");
    h.connect("e2", "/", "s2");
    h.server.set_writable("e2", false);
    let d = h.server.broadcast(&Broadcast::new("/").volatile(), "tick", "[1]", vec![], h.now).unwrap();
    assert_eq!(d.sessions, sessions(&["e1"]));
    assert_eq!(h.outs(), vec![Out::Send(sessions(&["e1"]), r#"2["tick",1]"#.into(), vec![])]);
    // not volatile: everyone
    h.server.broadcast(&Broadcast::new("/"), "tick", "[2]", vec![], h.now).unwrap();
    assert_eq!(h.outs(), vec![Out::Send(sessions(&["e1", "e2"]), r#"2["tick",2]"#.into(), vec![])]);
}

#[test]
fn a_broadcast_is_encoded_once_for_all_recipients() {
    let mut h = Harness::new(Config::default());
    for i in 0..5 {
        h.connect(&format!("e{i}"), "/", &format!("s{i}"));
    }
    let before = h.server.encode_count();
    let attachment = vec![vec![1u8, 2, 3]];
    let d = h
        .server
        .broadcast(&Broadcast::new("/"), "file", r#"[{"_placeholder":true,"num":0}]"#, attachment.clone(), h.now)
        .unwrap();
    assert_eq!(h.server.encode_count(), before + 1);
    let shared = d.packet.unwrap();
    let transmits: Vec<Transmit> = std::iter::from_fn(|| h.server.poll_transmit()).collect();
    assert_eq!(transmits.len(), 1);
    let Transmit::Packet { sessions: to, packet } = &transmits[0] else { panic!() };
    assert_eq!(to.len(), 5);
    assert!(Rc::ptr_eq(packet, &shared), "the recipients share one allocation");
    assert_eq!(
        **packet,
        EncodedPacket { text: r#"51-["file",{"_placeholder":true,"num":0}]"#.into(), attachments: attachment }
    );
    assert_eq!(packet.to_engine_data().len(), 2);
}

#[test]
fn client_events_and_acks() {
    let mut h = Harness::new(config_with(&["/", "/chat"]));
    h.connect("e1", "/chat", "s1");
    h.text("e1", r#"2/chat,7["hello",{"a":1},2]"#);
    assert_eq!(
        h.events(),
        vec![Event::Message(Message {
            sid: "s1".into(),
            nsp: "/chat".into(),
            name: "hello".into(),
            args: r#"[{"a":1},2]"#.into(),
            attachments: vec![],
            ack: Some(7),
        })]
    );
    h.server.ack("s1", 7, r#"["ok"]"#, vec![]).unwrap();
    assert_eq!(h.texts_for("e1"), vec![r#"3/chat,7["ok"]"#.to_owned()]);
    // a binary event arrives in two messages
    h.text("e1", r#"51-/chat,["up",{"_placeholder":true,"num":0}]"#);
    assert_eq!(h.events(), vec![]);
    h.binary("e1", &[9, 9]);
    assert!(
        matches!(&h.events()[..], [Event::Message(m)] if m.name == "up" && m.attachments == vec![vec![9, 9]] && m.ack.is_none())
    );
}

#[test]
fn server_emit_with_ack_and_timeout() {
    let mut h = Harness::new(Config::default());
    h.connect("e1", "/", "s1");
    let id = h.server.emit_with_ack("s1", "question", "[1]", vec![], None, h.now).unwrap();
    assert_eq!(h.texts_for("e1"), vec![r#"20["question",1]"#.to_owned()]);
    let id2 = h.server.emit_with_ack("s1", "slow", "[]", vec![], Some(5_000), h.now).unwrap();
    assert_eq!((id, id2), (0, 1));
    assert_eq!(h.texts_for("e1"), vec![r#"21["slow"]"#.to_owned()]);
    assert_eq!(h.server.poll_timeout(), Some(h.now + 5_000));
    h.text("e1", r#"30["answer",{"x":true}]"#);
    assert_eq!(
        h.events(),
        vec![Event::Ack {
            sid: "s1".into(),
            id: 0,
            result: Ok(AckData { args: r#"["answer",{"x":true}]"#.into(), attachments: vec![] })
        }]
    );
    // unknown ack ids are ignored
    h.text("e1", r#"39["nobody asked"]"#);
    assert_eq!(h.events(), vec![]);
    h.now += 4_999;
    h.server.handle_timeout(h.now);
    assert_eq!(h.events(), vec![]);
    h.now += 1;
    h.server.handle_timeout(h.now);
    assert_eq!(h.events(), vec![Event::Ack { sid: "s1".into(), id: 1, result: Err(AckError::Timeout) }]);
    assert_eq!(AckError::Timeout.to_string(), "operation has timed out");
    // the late answer is ignored
    h.text("e1", r#"31["late"]"#);
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.server.poll_timeout(), None);
}

#[test]
fn broadcast_with_acks_collects_responses() {
    let mut h = Harness::new(Config::default());
    for (e, s) in [("e1", "s1"), ("e2", "s2"), ("e3", "s3")] {
        h.connect(e, "/", s);
    }
    // s2 used an ack id already: the broadcast takes one free for everybody
    h.server.emit_with_ack("s2", "x", "[]", vec![], None, h.now).unwrap();
    h.outs();
    let (bid, d) = h.server.broadcast_with_ack(&Broadcast::new("/"), "vote", "[]", vec![], 1_000, h.now).unwrap();
    assert_eq!(h.outs(), vec![Out::Send(sessions(&["e1", "e2", "e3"]), r#"21["vote"]"#.into(), vec![])]);
    assert_eq!(d.sids.len(), 3);
    h.text("e3", r#"31["yes",1]"#);
    h.text("e1", r#"31["no"]"#);
    assert_eq!(h.events(), vec![]);
    h.text("e2", "31[]");
    assert_eq!(
        h.events(),
        vec![Event::BroadcastAck {
            id: bid,
            error: None,
            responses: vec![
                AckData { args: r#""yes""#.into(), attachments: vec![] },
                AckData { args: r#""no""#.into(), attachments: vec![] },
                AckData { args: "null".into(), attachments: vec![] },
            ],
        }]
    );
    // a timeout hands over what was collected
    let (bid, _) = h.server.broadcast_with_ack(&Broadcast::new("/"), "vote", "[]", vec![], 1_000, h.now).unwrap();
    h.text("e1", r#"32[7]"#);
    h.now += 1_000;
    assert_eq!(h.server.poll_timeout(), Some(h.now));
    h.server.handle_timeout(h.now);
    assert_eq!(
        h.events(),
        vec![Event::BroadcastAck {
            id: bid,
            error: Some(AckError::Timeout),
            responses: vec![AckData { args: "7".into(), attachments: vec![] }]
        }]
    );
    h.text("e2", r#"32[8]"#);
    assert_eq!(h.events(), vec![], "answers after the timeout are dropped");
    // nobody selected: done at once
    let (bid, _) =
        h.server.broadcast_with_ack(&Broadcast::new("/").to("empty"), "vote", "[]", vec![], 1_000, h.now).unwrap();
    assert_eq!(h.events(), vec![Event::BroadcastAck { id: bid, error: None, responses: vec![] }]);
}

fn reasons(events: &[Event]) -> Vec<(String, &'static str, Option<Vec<String>>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Disconnecting { sid, reason, rooms, .. } => {
                Some((sid.clone(), reason.as_str(), Some(rooms.clone())))
            }
            Event::Disconnect { sid, reason, .. } => Some((sid.clone(), reason.as_str(), None)),
            _ => None,
        })
        .collect()
}

#[test]
fn disconnect_reasons_and_rooms_at_disconnecting() {
    let mut h = Harness::new(config_with(&["/", "/a"]));
    h.connect("e1", "/", "s1");
    h.server.join("s1", ["lobby"]).unwrap();
    // client namespace disconnect
    h.text("e1", "1");
    assert_eq!(
        reasons(&h.events()),
        vec![
            ("s1".into(), "client namespace disconnect", Some(sessions(&["lobby", "s1"]))),
            ("s1".into(), "client namespace disconnect", None),
        ]
    );
    assert!(h.server.fetch_sockets(&Broadcast::new("/").to("lobby")).is_empty());
    assert!(h.server.has_session("e1"));

    // server namespace disconnect sends DISCONNECT
    h.connect("e1", "/a", "s2");
    h.server.disconnect("s2", false, h.now).unwrap();
    assert_eq!(h.texts_for("e1"), vec!["1/a,".to_owned()]);
    assert_eq!(reasons(&h.events())[1], ("s2".into(), "server namespace disconnect", None));

    // transport-level reasons come from the engine
    h.connect("e1", "/", "s3");
    h.connect("e1", "/a", "s4");
    h.server.handle_close("e1", CloseReason::PingTimeout, h.now);
    let r = reasons(&h.events());
    assert_eq!(r.iter().filter(|x| x.1 == "ping timeout").count(), 4);
    assert!(!h.server.has_session("e1"));

    // a packet for a namespace not joined: the client is closed
    h.connect("e2", "/", "s5");
    h.text("e2", r#"2/a,["x"]"#);
    assert_eq!(h.outs(), vec![Out::Close("e2".into())]);
    assert_eq!(reasons(&h.events())[1], ("s5".into(), "forced close", None), "as socket.io's sockets read it");
    // the engine's own Closed afterwards is ignored
    h.server.handle_close("e2", CloseReason::ForcedClose, h.now);
    assert_eq!(h.events(), vec![]);

    // an undecodable packet: `error`, then "forced close"
    h.connect("e3", "/", "s6");
    h.text("e3", "9");
    let events = h.events();
    assert!(matches!(&events[0], Event::Error { sid, message } if sid == "s6" && message == "unknown packet type"));
    assert_eq!(reasons(&events)[1], ("s6".into(), "forced close", None));
    assert_eq!(h.outs(), vec![Out::Close("e3".into())]);

    // disconnect(true) closes the whole client
    h.connect("e4", "/", "s7");
    h.connect("e4", "/a", "s8");
    h.server.disconnect("s7", true, h.now).unwrap();
    assert_eq!(
        h.outs(),
        vec![
            Out::Send(sessions(&["e4"]), "1".into(), vec![]),
            Out::Send(sessions(&["e4"]), "1/a,".into(), vec![]),
            Out::Close("e4".into())
        ]
    );
    assert!(reasons(&h.events()).iter().all(|r| r.1 == "server namespace disconnect"));

    // shutdown
    h.connect("e5", "/", "s9");
    h.server.shutdown(h.now);
    assert_eq!(reasons(&h.events())[0].1, "server shutting down");
    assert_eq!(h.outs(), vec![Out::Close("e5".into())]);
    assert_eq!(DisconnectReason::from(CloseReason::TransportError).as_str(), "transport error");
}

#[test]
fn connect_timeout_closes_idle_sessions() {
    let mut h = Harness::new(Config { connect_timeout_ms: 45_000, ..Config::default() });
    h.open("idle");
    h.connect("busy", "/", "s1");
    assert_eq!(h.server.poll_timeout(), Some(h.now + 45_000));
    h.now += 44_999;
    h.server.handle_timeout(h.now);
    assert_eq!(h.outs(), vec![]);
    h.now += 1;
    h.server.handle_timeout(h.now);
    assert_eq!(h.outs(), vec![Out::Close("idle".into())]);
    assert!(!h.server.has_session("idle"));
    assert!(h.server.has_session("busy"));
    assert_eq!(h.server.poll_timeout(), None);
}

#[test]
fn a_room_named_after_another_socket_is_refused_so_private_emits_stay_private() {
    let mut h = Harness::new(recovery_config());
    h.connect("e1", "/", "s1");
    h.connect("e2", "/", "s2");
    h.connect("e3", "/", "s3");
    assert_eq!(h.server.join("s2", ["s1", "lobby"]), Err(ApiError::RoomIsSocketId("s1".into())));
    assert!(!h.server.socket("s2").unwrap().rooms.contains(&"lobby".to_owned()), "nothing joined");
    // Nor the id of a socket that disconnected and may come back (its session is recoverable).
    h.server.handle_close("e3", CloseReason::TransportClose, h.now);
    h.events();
    assert_eq!(h.server.join("s2", ["s3"]), Err(ApiError::RoomIsSocketId("s3".into())));
    h.server.join("s2", ["lobby", "s2"]).unwrap();
    h.outs();
    h.server.emit("s1", "secret", "[]", vec![], h.now).unwrap();
    let outs = h.outs();
    assert!(matches!(&outs[..], [Out::Send(to, ..)] if to == &["e1"]), "only s1's session: {outs:?}");
}

#[test]
fn a_packet_whose_attachments_weigh_too_much_closes_its_session_alone() {
    let mut h = Harness::new(Config { max_attachment_bytes: 1_000, ..Config::default() });
    h.connect("e1", "/", "s1");
    h.connect("e2", "/", "s2");
    let header =
        r#"53-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#;
    h.text("e1", header);
    h.binary("e1", &[0; 600]);
    assert!(h.outs().is_empty() && h.events().is_empty(), "600 of 1,000 bytes: still reassembling");
    h.binary("e1", &[0; 600]);
    let events = h.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Error { message, .. } if message == "attachments too large")),
        "{events:?}"
    );
    assert!(h.outs().contains(&Out::Close("e1".into())));
    // Within the bound, on another session: delivered.
    h.text("e2", r#"51-["up",{"_placeholder":true,"num":0}]"#);
    h.binary("e2", &[1; 900]);
    assert!(matches!(&h.events()[..], [Event::Message(m)] if m.attachments == vec![vec![1; 900]]));
}

#[test]
fn invalid_input_never_panics() {
    let mut h = Harness::new(recovery_config());
    h.connect("e1", "/", "s1");
    for text in ["", "0", "0/x,", "3", "2[\"a\"", "51-[\"a\"]", "4{}", "6", "1/nope,", "0{\"pid\":1}"] {
        if !h.server.has_session("e1") {
            h.connect("e1", "/", "s1");
        }
        h.text("e1", text);
        h.server.handle_message("e1", Data::Binary(vec![1]), h.now);
        h.events();
        h.outs();
    }
    h.server.handle_message("ghost", Data::Text("0".into()), h.now);
    h.server.handle_close("ghost", CloseReason::TransportClose, h.now);
    assert_eq!(h.server.emit("ghost", "x", "[]", vec![], h.now), Err(ApiError::UnknownSocket));
    h.connect("e2", "/", "s2");
    assert_eq!(
        h.server.emit("s2", "disconnect", "[]", vec![], h.now),
        Err(ApiError::ReservedEvent("disconnect".into()))
    );
    assert_eq!(h.server.emit("s2", "x", "{}", vec![], h.now), Err(ApiError::InvalidArgs));
    assert_eq!(
        h.server.emit("s2", "x", r#"[{"_placeholder":true,"num":1},1]"#, vec![vec![7]], h.now),
        Err(ApiError::InvalidAttachments)
    );
    assert_eq!(h.server.set_data("s2", "{"), Err(ApiError::InvalidJson));
    // Without attachments an event goes as text, where an object shaped like a placeholder is
    // plain data (socket.io-parser reconstructs binary packets only): it is sent as it is.
    h.outs();
    assert!(h.server.emit("s2", "x", r#"[{"_placeholder":true,"num":0}]"#, vec![], h.now).is_ok());
    let sent = h.texts_for("e2");
    // (with the recovery offset as its last argument)
    assert!(matches!(&sent[..], [text] if text.starts_with(r#"2["x",{"_placeholder":true,"num":0},"#)), "{sent:?}");
}

#[test]
fn a_packet_whose_attachments_come_in_time_cancels_its_deadline() {
    let mut h = Harness::new(Config { attachment_timeout_ms: 5_000, ..Config::default() });
    h.connect("e1", "/", "s1");
    h.text("e1", r#"51-["up",{"_placeholder":true,"num":0}]"#);
    h.binary("e1", &[7; 10]);
    assert!(matches!(&h.events()[..], [Event::Message(_)]));
    h.now += 10_000;
    h.server.handle_timeout(h.now);
    assert!(h.events().is_empty() && h.outs().is_empty(), "the session goes on");
}

#[test]
fn held_rooms_are_those_of_connected_and_recoverable_sockets_but_own_ids() {
    let mut h = Harness::new(recovery_config());
    h.connect("e1", "/", "s1");
    h.connect("e2", "/", "s2");
    h.server.join("s1", ["blue", "both"]).unwrap();
    let version = h.server.rooms_version();
    h.server.join("s2", ["both"]).unwrap();
    assert_eq!(h.server.rooms_version(), version, "a second member of a held room changes nothing held");
    let held = |h: &Harness| h.server.held_rooms().into_iter().map(|(n, r)| format!("{n}{r}")).collect::<Vec<_>>();
    assert_eq!(held(&h), ["/blue", "/both"]);
    h.server.leave("s1", "blue").unwrap();
    assert!(h.server.rooms_version() > version, "a room no longer held");
    assert_eq!(held(&h), ["/both"]);
    h.server.join("s1", ["blue"]).unwrap();
    // s1's transport drops: its rooms stay held while it can recover.
    let version = h.server.rooms_version();
    h.server.handle_close("e1", CloseReason::TransportClose, h.now);
    h.events();
    assert!(h.server.rooms_version() > version, "a recoverable session came");
    assert_eq!(held(&h), ["/blue", "/both"]);
    // Past the recovery window nothing of s1 is held any more.
    h.now += recovery_config().recovery.unwrap().max_disconnection_duration_ms + 1;
    h.server.handle_timeout(h.now);
    h.server.leave("s2", "both").unwrap();
    assert_eq!(held(&h), Vec::<String>::new());
}

#[test]
fn dynamic_namespace_names_are_bounded_in_length_and_in_total() {
    let mut h = Harness::new(Config { dynamic_namespaces: true, ..Config::default() });
    h.open("e1");
    let long = format!("/room-{}", "9".repeat(1100));
    h.text("e1", &format!("0{long},"));
    assert_eq!(h.events(), vec![], "the driver is not asked about a name past 1 KiB");
    assert_eq!(h.texts_for("e1"), vec![format!(r#"4{long},{{"message":"Invalid namespace"}}"#)]);
    // 1,000-byte names until their total passes 256 KiB: the next new one is refused.
    let name = |i: usize| format!("/room-{i:04}-{}", "x".repeat(988));
    let mut accepted = 0;
    for i in 0..300 {
        let session = format!("s{i}");
        h.open(&session);
        h.text(&session, &format!("0{},", name(i)));
        if h.events().is_empty() {
            assert_eq!(
                h.texts_for(&session),
                vec![format!(r#"4{},{{"message":"too many namespaces in use"}}"#, name(i))]
            );
            break;
        }
        h.server
            .accept_connect(&session, &name(i), Accept { sid: format!("k{i}"), ..Default::default() }, h.now)
            .unwrap();
        h.events();
        accepted += 1;
    }
    assert_eq!(accepted, 262, "256 KiB of 1,000-byte names");
    // A name in use stays open to others.
    h.open("again");
    h.text("again", &format!("0{},", name(0)));
    assert!(matches!(&h.events()[..], [Event::ConnectRequest(r)] if !r.check_namespace));
}

#[test]
fn a_connect_is_accepted_with_the_largest_auth_its_request_passed_and_refused_with_data_that_does_not_fit() {
    let mut h = Harness::new(Config::default());
    h.open("e1");
    let auth = format!(r#"{{"token":"{}"}}"#, "t".repeat(64_000));
    h.text("e1", &format!("0{auth}"));
    assert!(matches!(&h.events()[..], [Event::ConnectRequest(_)]), "the auth fits the snapshot");
    h.server.accept_connect("e1", "/", Accept { sid: "s1".into(), ..Default::default() }, h.now).unwrap();
    h.open("e2");
    h.text("e2", &format!("0{auth}"));
    h.events();
    let data = Some(format!(r#"{{"profile":"{}"}}"#, "p".repeat(2_000)));
    let refused = h.server.accept_connect("e2", "/", Accept { sid: "s2".into(), data, ..Default::default() }, h.now);
    assert!(matches!(refused, Err(ApiError::StateTooLarge { .. })), "{refused:?}");
}

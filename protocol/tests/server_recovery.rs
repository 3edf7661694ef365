//! Connection state recovery in the Socket.IO server core: missed packets replayed, the log's
//! bounds, sockets lost in a restart, expiry (sessions moving between servers:
//! server_handover.rs).

use wasmio_protocol::engine::CloseReason;
use wasmio_protocol::server::{
    Accept, Broadcast, Config, DisconnectReason, Event, LostSockets, RecoveryConfig, Server, Write, SHARED_KEY,
};

mod support;
use support::server_harness::*;

/// Opens `session`, whose CONNECT asks to recover `p-s1` without an offset: recovered as s1,
/// with the one packet it missed (`missed`) before the CONNECT.
fn recovers_what_it_missed_without_offset(h: &mut Harness, session: &str) {
    h.open(session);
    h.text(session, r#"0{"pid":"p-s1"}"#);
    assert_eq!(
        h.events(),
        vec![Event::Connection { session: session.into(), nsp: "/".into(), sid: "s1".into(), recovered: true }]
    );
    let texts = h.texts_for(session);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].starts_with(r#"2["missed",""#), "{texts:?}");
}

#[test]
fn recovery_replays_missed_packets() {
    let mut h = Harness::new(recovery_config());
    let offset = recovery_setup(&mut h);
    h.server.handle_close("e1", CloseReason::TransportClose, h.now);
    h.events();
    h.now += 1_000;
    h.server.broadcast(&Broadcast::new("/").to("r"), "m2", "[1]", vec![], h.now).unwrap();
    h.server.broadcast(&Broadcast::new("/").to("other"), "m3", "[]", vec![], h.now).unwrap();
    h.server.broadcast(&Broadcast::new("/").except("r"), "m4", "[]", vec![], h.now).unwrap();
    h.server.broadcast(&Broadcast::new("/").volatile(), "m5", "[]", vec![], h.now).unwrap();
    h.server.broadcast(&Broadcast::new("/"), "m6", "[]", vec![], h.now).unwrap();
    h.outs();
    h.now += 1_000;
    h.open("e2");
    h.text("e2", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    // skipMiddlewares: no ConnectRequest
    assert_eq!(
        h.events(),
        vec![Event::Connection { session: "e2".into(), nsp: "/".into(), sid: "s1".into(), recovered: true }]
    );
    let texts = h.texts_for("e2");
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[0].starts_with(r#"2["m2",1,""#));
    assert!(texts[1].starts_with(r#"2["m6",""#));
    assert_eq!(texts[2], r#"0{"sid":"s1","pid":"p-s1"}"#);
    let info = h.server.socket("s1").unwrap();
    assert!(info.recovered);
    assert_eq!((info.rooms, info.data.as_str()), (sessions(&["r", "s1"]), r#"{"n":1}"#));
}

#[test]
fn a_client_cut_before_the_connect_of_its_recovery_is_refused_rather_than_sent_what_it_missed_twice() {
    let mut h = Harness::new(recovery_config());
    let offset = recovery_setup(&mut h);
    h.server.handle_close("e1", CloseReason::TransportClose, h.now);
    h.events();
    for event in ["m2", "m3"] {
        h.server.broadcast(&Broadcast::new("/"), event, "[]", vec![], h.now).unwrap();
    }
    h.outs();
    let reconnect = |h: &mut Harness, session: &str, offset: &str| {
        h.open(session);
        h.text(session, &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
        let recovered = matches!(&h.events()[..], [Event::Connection { recovered: true, .. }]);
        let texts = h.texts_for(session);
        h.server.handle_close(session, CloseReason::TransportClose, h.now);
        h.events();
        (texts, recovered)
    };
    let (texts, recovered) = reconnect(&mut h, "e2", &offset);
    assert!(recovered);
    assert_eq!(texts.len(), 3, "m2, m3, CONNECT: {texts:?}");
    let last = texts[1].trim_start_matches(r#"2["m3",""#).trim_end_matches("\"]").to_owned();
    // Cut before the CONNECT arrived: socket.io-client still has the offset it came with and
    // may hold m2 (it emits what came before the CONNECT once one comes). Until 2026-12-08 it
    // was recovered from that offset again, and got m2 twice.
    let (texts, recovered) = reconnect(&mut h, "e3", &offset);
    assert!(!recovered, "{texts:?}");
    // Had the CONNECT arrived, the client has m3's offset: recovered with nothing more.
    let (texts, recovered) = reconnect(&mut h, "e4", &last);
    assert!(recovered);
    assert_eq!(texts, [r#"0{"sid":"s1","pid":"p-s1"}"#]);
}

#[test]
fn a_client_cut_before_its_first_broadcast_recovers_what_it_missed_since_it_connected() {
    let mut a = Harness::recovering("a");
    let mut b = Harness::recovering("b");
    // Broadcast before the socket connects: not its to receive.
    let before = a.server.broadcast(&Broadcast::new("/"), "before", "[]", vec![], a.now).unwrap();
    let (origin, seq) = before.logged.clone().unwrap();
    b.server.broadcast(&Broadcast::new("/").relayed(origin, seq), "before", "[]", vec![], b.now).unwrap();
    a.connect("e1", "/", "s1");
    // Its transport closes before any broadcast reached it: the client has a pid, no offset.
    a.server.handle_close("e1", CloseReason::TransportClose, a.now);
    a.events();
    let missed = a.server.broadcast(&Broadcast::new("/"), "missed", "[]", vec![], a.now).unwrap();
    let (origin, seq) = missed.logged.clone().unwrap();
    b.server.broadcast(&Broadcast::new("/").relayed(origin, seq), "missed", "[]", vec![], b.now).unwrap();
    a.outs();
    b.outs();
    // Same server: recovered, with the packet sent since it connected and not the one before.
    let mut same = Harness {
        server: Server::restore(recovery_config(), Some(&a.server.shared_to_json()), []).unwrap(),
        now: a.now,
    };
    same.server.set_origin("a");
    recovers_what_it_missed_without_offset(&mut same, "e2");
    // Another server: the holder's export carries the position, the new server's log the packets.
    b.open("e9");
    b.text("e9", r#"0{"pid":"p-s1"}"#);
    let events = b.events();
    let [Event::ConnectRequest(request)] = &events[..] else { panic!("{events:?}") };
    let from = request.recover_from.clone().expect("the pid to ask for, without an offset");
    assert_eq!(from.offset, "");
    let exported = a.server.export_recovery(&from.pid, "/", Some(&from.offset), "b", a.now).unwrap();
    let mut request = request.clone();
    b.server.import_recovery(&mut request, &exported, b.now).unwrap();
    assert!(request.recovered && !request.run_middlewares, "recovered here: skipMiddlewares holds");
    b.server.accept_connect("e9", "/", Accept { sid: "x".into(), pid: Some("p-x".into()), data: None }, b.now).unwrap();
    assert!(matches!(&b.events()[..], [Event::Connection { recovered: true, .. }]));
    let texts = b.texts_for("e9");
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].starts_with(r#"2["missed",""#), "{texts:?}");
}

#[test]
fn a_client_sent_no_broadcast_recovers_after_the_log_pruned_what_preceded_its_disconnection() {
    let mut h = Harness::new(recovery_config());
    h.connect("e1", "/", "s1");
    h.connect("e2", "/", "s2");
    h.server.join("s2", ["b"]).unwrap();
    // Logged while both are connected: one reaches s2 only (its client never gets it: the
    // transport is cut), one reaches nobody.
    h.server.broadcast(&Broadcast::new("/").to("b"), "lost", "[]", vec![], h.now).unwrap();
    h.server.broadcast(&Broadcast::new("/").to("nobody"), "elsewhere", "[]", vec![], h.now).unwrap();
    h.outs();
    // The object is evicted: its sockets come back from their snapshots.
    let snapshots = [h.server.session_to_json("e1").unwrap(), h.server.session_to_json("e2").unwrap()];
    let shared = h.server.shared_to_json();
    h.server = Server::restore(recovery_config(), Some(&shared), snapshots.iter().map(String::as_str)).unwrap();
    h.now += 100_000;
    h.server.handle_close("e1", CloseReason::TransportClose, h.now);
    h.server.handle_close("e2", CloseReason::TransportClose, h.now);
    h.events();
    // Past the window of what was logged before they disconnected (not of their disconnection).
    h.now += 50_000;
    h.server.broadcast(&Broadcast::new("/"), "missed", "[]", vec![], h.now).unwrap();
    h.outs();
    // s1 was sent nothing logged before it disconnected: recovered, with what it missed since.
    recovers_what_it_missed_without_offset(&mut h, "e3");
    // s2's client lost a packet that is no longer in the log: not recovered, rather than with a gap.
    h.open("e4");
    h.text("e4", r#"0{"pid":"p-s2"}"#);
    let events = h.events();
    assert!(matches!(&events[..], [Event::ConnectRequest(r)] if !r.recovered), "{events:?}");
}

#[test]
fn a_socket_restored_from_its_snapshot_recovers_from_before_the_first_packet_sent_to_it_after() {
    let mut h = Harness::new(recovery_config());
    h.connect("e1", "/", "s1");
    let snapshot = h.server.session_to_json("e1").unwrap();
    let shared = h.server.shared_to_json();
    h.server = Server::restore(recovery_config(), Some(&shared), [snapshot.as_str()]).unwrap();
    // Sent to it by the new instance, and lost with its transport: no offset reached the client.
    h.server.broadcast(&Broadcast::new("/"), "first", "[]", vec![], h.now).unwrap();
    h.server.handle_close("e1", CloseReason::TransportClose, h.now);
    h.events();
    h.server.broadcast(&Broadcast::new("/"), "missed", "[]", vec![], h.now).unwrap();
    h.outs();
    h.open("e2");
    h.text("e2", r#"0{"pid":"p-s1"}"#);
    assert!(matches!(&h.events()[..], [Event::Connection { recovered: true, .. }]));
    let texts = h.texts_for("e2");
    assert_eq!(texts.len(), 3, "both, then the CONNECT: {texts:?}");
    assert!(texts[0].starts_with(r#"2["first",""#) && texts[1].starts_with(r#"2["missed",""#), "{texts:?}");
}

#[test]
fn a_hole_in_the_log_refuses_recovery_rather_than_losing_packets() {
    let mut h = Harness::recovering("a");
    let offset = recovery_setup(&mut h);
    h.server.handle_close("e1", CloseReason::TransportClose, h.now);
    h.events();
    // A relayed broadcast whose predecessor from its origin never arrived.
    h.server.broadcast(&Broadcast::new("/").relayed("c", 1), "c1", "[]", vec![], h.now).unwrap();
    h.server.broadcast(&Broadcast::new("/").relayed("c", 3), "c3", "[]", vec![], h.now).unwrap();
    h.outs();
    h.open("e2");
    h.text("e2", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    let events = h.events();
    assert!(matches!(&events[..], [Event::ConnectRequest(r)] if !r.recovered), "{events:?}");
}

#[test]
fn sequences_an_origin_relayed_elsewhere_only_do_not_refuse_recovery() {
    // Server c relays a broadcast to the servers holding its room only (and a private emit to
    // none): a holds "r", not "s". What a relays names the sequence relayed to it before.
    for (after, recovered) in [(Some(1), true), (None, false), (Some(2), false)] {
        let mut a = Harness::recovering("a");
        let mut c = Harness::recovering("c");
        a.connect("e1", "/", "s1");
        a.server.join("s1", ["r"]).unwrap();
        c.connect("c1", "/", "t1");
        c.server.join("t1", ["s"]).unwrap();
        let emit = |a: &mut Harness, c: &mut Harness, room: &str, event: &str, after: Option<u64>| {
            let delivery = c.server.broadcast(&Broadcast::new("/").to(room), event, "[]", vec![], c.now).unwrap();
            c.outs();
            let (origin, seq) = delivery.logged.unwrap();
            if room == "r" {
                let mut op = Broadcast::new("/").to(room).relayed(origin, seq);
                op.relayed_after = after;
                a.server.broadcast(&op, event, "[]", vec![], a.now).unwrap();
            }
        };
        emit(&mut a, &mut c, "r", "before", Some(0));
        let text = a.texts_for("e1").pop().unwrap();
        assert_eq!(text, r#"2["before","c:1"]"#);
        a.server.handle_close("e1", CloseReason::TransportClose, a.now);
        a.events();
        emit(&mut a, &mut c, "s", "elsewhere", None);
        // Some(2) says c:2 was relayed to a, which never logged it: a hole.
        emit(&mut a, &mut c, "r", "missed", after);
        a.outs();
        // What a relay said is kept with its log entry, through hibernation.
        a.server = Server::restore(recovery_config(), Some(&a.server.shared_to_json()), []).unwrap();
        a.server.set_origin("a");
        a.open("e2");
        a.text("e2", r#"0{"pid":"p-s1","offset":"c:1"}"#);
        let events = a.events();
        let texts = a.texts_for("e2");
        match recovered {
            true => {
                assert!(matches!(&events[..], [Event::Connection { recovered: true, .. }]), "{events:?}");
                assert_eq!(texts[0], r#"2["missed","c:3"]"#);
            }
            false => {
                assert!(matches!(&events[..], [Event::ConnectRequest(r)] if !r.recovered), "{after:?}: {events:?}")
            }
        }
    }
}

#[test]
fn packets_pruned_from_the_log_refuse_recovery_rather_than_losing_them() {
    // The log keeps 2 entries: what the socket missed no longer fits.
    let config =
        Config { recovery: Some(RecoveryConfig { max_log_len: 2, ..RecoveryConfig::default() }), ..Config::default() };
    for relayed_origin in [false, true] {
        let mut h = Harness::new(config.clone());
        h.server.set_origin("a");
        let offset = recovery_setup(&mut h);
        h.server.handle_close("e1", CloseReason::TransportClose, h.now);
        h.events();
        for i in 1..=3 {
            let op = match relayed_origin {
                // An origin its offset does not name (it began later), pruned at the front.
                true => Broadcast::new("/").relayed("c", i),
                false => Broadcast::new("/"),
            };
            h.server.broadcast(&op, "m", "[]", vec![], h.now).unwrap();
        }
        h.outs();
        h.open("e2");
        h.text("e2", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
        let events = h.events();
        assert!(matches!(&events[..], [Event::ConnectRequest(r)] if !r.recovered), "{relayed_origin}: {events:?}");
    }
}

#[test]
fn broadcasts_a_socket_would_not_get_pruned_while_it_was_away_do_not_refuse_its_recovery() {
    // The log keeps 2 entries; 5 broadcasts to another room (and 1 to another namespace) go
    // while s1 is away, then 1 that reaches it.
    let config =
        Config { recovery: Some(RecoveryConfig { max_log_len: 2, ..RecoveryConfig::default() }), ..Config::default() };
    let mut h = Harness::new(config.clone());
    let offset = recovery_setup(&mut h);
    h.server.handle_close("e1", CloseReason::TransportClose, h.now);
    h.events();
    for i in 0..5 {
        h.server.broadcast(&Broadcast::new("/").to("busy"), "elsewhere", &format!("[{i}]"), vec![], h.now).unwrap();
    }
    h.server.broadcast(&Broadcast::new("/other"), "elsewhere", "[]", vec![], h.now).unwrap();
    h.server.broadcast(&Broadcast::new("/").to("r"), "mine", "[]", vec![], h.now).unwrap();
    h.outs();
    let shared = h.server.shared_to_json();
    h.open("e2");
    h.text("e2", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    assert!(matches!(&h.events()[..], [Event::Connection { recovered: true, .. }]));
    let texts = h.texts_for("e2");
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].starts_with(r#"2["mine",""#), "{texts:?}");
    // A new instance knows nothing of what was pruned before it: refused, never a gap.
    let mut next = Harness { server: Server::restore(config, Some(&shared), []).unwrap(), now: h.now };
    next.open("e3");
    next.text("e3", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    let events = next.events();
    assert!(matches!(&events[..], [Event::ConnectRequest(r)] if !r.recovered), "{events:?}");
}

#[test]
fn the_log_keeps_within_its_byte_bound() {
    let config = Config {
        recovery: Some(RecoveryConfig { max_log_bytes: 1_000, ..RecoveryConfig::default() }),
        ..Config::default()
    };
    let mut h = Harness::new(config);
    let big = format!(r#"["{}"]"#, "x".repeat(300));
    for i in 0..10 {
        h.server.broadcast(&Broadcast::new("/"), &format!("m{i}"), &big, vec![], h.now).unwrap();
    }
    let shared = h.server.shared_to_json();
    let kept: Vec<usize> = (0..10).filter(|i| shared.contains(&format!(r#""d":["m{i}""#))).collect();
    assert_eq!(kept, vec![7, 8, 9], "the newest three of about 320 bytes each: {shared}");
}

#[test]
fn sockets_lost_in_a_restart_are_recoverable_from_their_live_records() {
    let mut h = Harness::new(recovery_config());
    let offset = recovery_setup(&mut h);
    // What the driver keeps in storage while the socket is connected.
    let live = h.server.take_dirty().live;
    let [(pid, Some(record))] = &live[..] else { panic!("{live:?}") };
    assert_eq!(pid, "p-s1");
    let shared = h.server.shared_to_json();
    // A restart: the session and its WebSocket are gone, storage remains.
    let mut restarted = Harness::new(recovery_config());
    restarted.server = Server::restore(recovery_config(), Some(&shared), []).unwrap();
    restarted.now = h.now + 5_000;
    let unreadable = restarted.server.adopt_orphans([(pid.as_str(), record.as_str()), ("p-bad", "{")], restarted.now);
    assert_eq!(unreadable, vec!["p-bad".to_owned()]);
    assert_eq!(restarted.server.take_dirty().live, vec![("p-s1".to_owned(), None)], "its record is deleted");
    // Its disconnection handlers run, with the rooms and data it had.
    assert_eq!(restarted.events(), lost_socket_events("s1", &["r", "s1"], r#"{"n":1}"#));
    restarted.server.broadcast(&Broadcast::new("/").to("r"), "after", "[]", vec![], restarted.now).unwrap();
    restarted.open("e2");
    restarted.text("e2", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    assert_eq!(
        restarted.events(),
        vec![Event::Connection { session: "e2".into(), nsp: "/".into(), sid: "s1".into(), recovered: true }]
    );
    let texts = restarted.texts_for("e2");
    assert!(texts[0].starts_with(r#"2["after",""#), "{texts:?}");
    assert_eq!(texts[1], r#"0{"sid":"s1","pid":"p-s1"}"#);
    let info = restarted.server.socket("s1").unwrap();
    assert_eq!((info.rooms, info.data.as_str()), (sessions(&["r", "s1"]), r#"{"n":1}"#));
    // A socket that is still connected is left alone.
    let mut alive = Harness::new(recovery_config());
    alive.connect("e1", "/", "s1");
    let live = alive.server.take_dirty().live;
    let (pid, record) = (&live[0].0, live[0].1.clone().unwrap());
    assert_eq!(alive.server.adopt_orphans([(pid.as_str(), record.as_str())], alive.now), Vec::<String>::new());
    assert!(alive.server.take_dirty().live.is_empty());
    assert!(alive.server.socket("s1").is_some());
}

/// What a socket lost with an earlier instance's memory gets from the next instance.
fn lost_socket_events(sid: &str, rooms: &[&str], data: &str) -> Vec<Event> {
    let reason = DisconnectReason::TransportClose;
    let (session, nsp, sid) = (String::new(), "/".to_owned(), sid.to_owned());
    let rooms = rooms.iter().map(|r| r.to_string()).collect();
    vec![
        Event::Disconnecting {
            session: session.clone(),
            nsp: nsp.clone(),
            sid: sid.clone(),
            reason,
            rooms,
            data: data.into(),
        },
        Event::Disconnect { session, nsp, sid, reason, data: data.into() },
    ]
}

#[test]
fn sockets_lost_without_recovery_still_get_their_disconnection_events() {
    let mut h = Harness::new(Config::default());
    h.connect("e1", "/", "s1");
    h.server.join("s1", ["r"]).unwrap();
    // Without a recovery id, the record is kept under the socket id.
    let live = h.server.take_dirty().live;
    let [(key, Some(record))] = &live[..] else { panic!("{live:?}") };
    assert_eq!(key, "s1");
    // The instance holding its (polling) session is evicted: the next one adopts the record.
    let shared = h.server.shared_to_json();
    let mut next = Server::restore(Config::default(), Some(&shared), []).unwrap();
    assert!(next.adopt_orphans([(key.as_str(), record.as_str())], h.now + 10_000).is_empty());
    let events: Vec<Event> = std::iter::from_fn(|| next.poll_event()).collect();
    assert_eq!(events, lost_socket_events("s1", &["r", "s1"], "{}"));
    assert_eq!(next.take_dirty().live, vec![("s1".to_owned(), None)], "its record is deleted");
    assert!(next.socket("s1").is_none() && next.poll_event().is_none(), "and it is not recoverable");
    // A server that announces nothing keeps no records.
    let none = LostSockets::Namespaces { names: Vec::new(), dynamic: false };
    let quiet = Config { announce_lost_sockets: none, ..Config::default() };
    let mut h = Harness::new(quiet);
    h.connect("e1", "/", "s1");
    h.server.join("s1", ["r"]).unwrap();
    assert!(h.server.take_dirty().live.is_empty());
    // Nor one that announces only another namespace's sockets.
    let names = vec!["/chat".to_owned()];
    let config = Config {
        namespaces: vec!["/".into(), "/chat".into()],
        announce_lost_sockets: LostSockets::Namespaces { names, dynamic: false },
        ..Config::default()
    };
    let mut h = Harness::new(config);
    h.connect("e1", "/", "s1");
    assert!(h.server.take_dirty().live.is_empty(), "/ is not announced");
    h.connect("e1", "/chat", "s2");
    assert_eq!(h.server.take_dirty().live.len(), 1, "/chat is");
}

#[test]
fn a_refused_recovery_s_stale_offset_recovers_the_new_session_from_its_connection() {
    let mut h = Harness::new(recovery_config());
    let offset = recovery_setup(&mut h);
    h.server.handle_close("e1", CloseReason::PingTimeout, h.now);
    h.events();
    h.now += 120_001;
    // Broadcast before the client comes back: not for the socket it gets.
    h.server.broadcast(&Broadcast::new("/"), "before", "[]", vec![], h.now).unwrap();
    // Its recovery is refused (expired); socket.io-client keeps the offset it last received
    // and sends it with the new session's pid at the next reconnection.
    h.open("e2");
    h.text("e2", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    h.events();
    h.server.accept_connect("e2", "/", Accept { sid: "s2".into(), pid: Some("p2".into()), data: None }, h.now).unwrap();
    h.events();
    h.outs();
    h.server.handle_close("e2", CloseReason::TransportClose, h.now);
    h.events();
    h.open("e3");
    h.text("e3", &format!(r#"0{{"pid":"p2","offset":"{offset}"}}"#));
    let events = h.events();
    assert!(matches!(&events[..], [Event::Connection { recovered: true, .. }]), "{events:?}");
    // Until 2026-12-07 it recovered from the previous session's offset and was sent "before".
    assert_eq!(h.texts_for("e3"), [r#"0{"sid":"s2","pid":"p2"}"#]);
}

#[test]
fn recovery_expires_into_a_fresh_session() {
    let mut h = Harness::new(recovery_config());
    let offset = recovery_setup(&mut h);
    h.server.handle_close("e1", CloseReason::PingTimeout, h.now);
    h.events();
    h.now += 120_001;
    h.open("e2");
    h.text("e2", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    let events = h.events();
    assert!(matches!(&events[..], [Event::ConnectRequest(r)] if !r.recovered && r.run_middlewares), "{events:?}");
    h.server.accept_connect("e2", "/", Accept { sid: "s2".into(), pid: Some("p2".into()), data: None }, h.now).unwrap();
    assert_eq!(h.texts_for("e2"), vec![r#"0{"sid":"s2","pid":"p2"}"#.to_owned()]);
    assert!(matches!(&h.events()[..], [Event::Connection { recovered: false, .. }]));
    assert_eq!(h.server.socket("s2").unwrap().rooms, sessions(&["s2"]));
    // a client namespace disconnect is not recoverable either
    let mut h = Harness::new(recovery_config());
    let offset = recovery_setup(&mut h);
    h.text("e1", "1");
    h.open("e2");
    h.text("e2", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    assert!(matches!(&h.events()[..], [_, _, Event::ConnectRequest(r)] if !r.recovered));
}

#[test]
fn recovery_without_skip_middlewares_asks_the_driver() {
    let mut h = Harness::new(Config {
        recovery: Some(RecoveryConfig { skip_middlewares: false, ..RecoveryConfig::default() }),
        ..Config::default()
    });
    let offset = recovery_setup(&mut h);
    h.server.handle_close("e1", CloseReason::TransportError, h.now);
    h.events();
    h.open("e2");
    h.text("e2", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    assert!(matches!(&h.events()[..], [Event::ConnectRequest(r)] if r.recovered && r.run_middlewares));
    h.server
        .accept_connect("e2", "/", Accept { sid: "ignored".into(), pid: Some("x".into()), data: None }, h.now)
        .unwrap();
    assert_eq!(h.texts_for("e2"), vec![r#"0{"sid":"s1","pid":"p-s1"}"#.to_owned()]);
}

#[test]
fn an_idle_server_wakes_to_drop_expired_sessions_and_log_from_storage() {
    // Nothing else wakes an object whose last client went away: until 2026-12-06 its expired
    // session and log stayed in storage (and its rooms in the directory) for good.
    let window = RecoveryConfig::default().max_disconnection_duration_ms;
    let mut h = Harness::new(recovery_config());
    h.connect("e1", "/", "s1");
    h.server.join("s1", ["r"]).unwrap();
    h.server.broadcast(&Broadcast::new("/"), "m1", "[]", vec![], h.now).unwrap();
    h.outs();
    h.now += 1_000;
    h.server.handle_close("e1", CloseReason::TransportClose, h.now);
    h.events();
    let kept = |writes: &[Write]| {
        let mut keys: Vec<String> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Put { key, .. } => Some(("put", key)),
                Write::Delete { key } => Some(("delete", key)),
                _ => None,
            })
            .filter(|(_, key)| key.starts_with("log:") || key.starts_with("ps:"))
            .map(|(op, key)| format!("{op} {}", &key[..3]))
            .collect();
        keys.sort();
        keys
    };
    let (writes, _) = h.server.take_writes();
    assert_eq!(kept(&writes), ["put log", "put ps:"]);
    // Through hibernation too: a server restored from storage wakes for them the same.
    let stored: Vec<(&str, &str)> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Put { key, value } => Some((key.as_str(), value.as_str())),
            _ => None,
        })
        .collect();
    let header = stored.iter().find(|(key, _)| *key == SHARED_KEY).map(|(_, value)| *value);
    let restored = Server::restore_stored(recovery_config(), header, stored.iter().copied(), []).unwrap();
    for mut server in [h.server, restored] {
        let due = server.poll_timeout().expect("a wake for the expiry");
        assert!(due > h.now + window && due <= h.now - 1_000 + window + 60_000, "{due}");
        server.handle_timeout(due);
        let (writes, _) = server.take_writes();
        assert_eq!(kept(&writes), ["delete log", "delete ps:"], "{writes:?}");
        assert_eq!(server.poll_timeout(), None, "nothing left to wake for");
        assert!(server.held_rooms().is_empty(), "no room held for an expired session");
    }
}

//! A session moving between servers: taken over from the server that held it (seen closed
//! there or not), exported and recovered on another, where its home server learns it went;
//! and while broadcasts are on their way to both, each packet reaches the moved client once
//! (see `server/handover.rs`).

use wasmio_protocol::engine::CloseReason;
use wasmio_protocol::server::{Accept, Broadcast, Delivery, DisconnectReason, Event, Server};

const ACCEPT: fn() -> Accept = || Accept { sid: "new".into(), pid: Some("p-new".into()), data: None };

mod support;
use support::server_harness::*;

/// Relays broadcast `origin:seq` (event `event`, to everyone) to server `to`.
fn relay(to: &mut Harness, origin: &str, seq: u64, event: &str) {
    to.server.broadcast(&Broadcast::new("/").relayed(origin, seq), event, "[]", vec![], to.now).unwrap();
}

/// The event names of the packets sent to `session`, in order.
fn events_sent(h: &mut Harness, session: &str) -> Vec<String> {
    h.texts_for(session).iter().filter_map(|t| t.strip_prefix("2[\"")?.split('"').next().map(str::to_owned)).collect()
}

/// Servers a and b; s1 on a (session e1) received c:1, relayed to both, and was cut.
fn cut_after_c1() -> (Harness, Harness) {
    let (mut a, mut b) = (Harness::recovering("a"), Harness::recovering("b"));
    a.connect("e1", "/", "s1");
    relay(&mut a, "c", 1, "c1");
    relay(&mut b, "c", 1, "c1");
    assert_eq!(a.texts_for("e1"), [r#"2["c1","c:1"]"#]);
    b.outs();
    a.server.handle_close("e1", CloseReason::TransportClose, a.now);
    a.events();
    (a, b)
}

/// s1's client reconnects to b (session f9) with `offset`: b takes the session from a.
/// Whether b recovers it.
fn move_to_b(a: &mut Harness, b: &mut Harness, offset: &str) -> bool {
    b.open("f9");
    b.text("f9", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    let events = b.events();
    let [Event::ConnectRequest(request)] = &events[..] else { panic!("{events:?}") };
    let exported = a.server.export_recovery("p-s1", "/", Some(offset), "b", a.now).expect("held by a");
    let mut imported = request.clone();
    b.server.import_recovery(&mut imported, &exported, b.now).unwrap();
    imported.recovered
}

#[test]
fn a_moved_session_gets_each_broadcast_once_whichever_server_its_relay_reached_first() {
    // Servers c and d broadcast to everyone; a holds the client's session, b takes it. Each
    // origin's relays reach a server in order, but a and b at different times.
    let (mut a, mut b) = cut_after_c1();
    b.connect("f1", "/", "t1");
    // While the client is away: c:2 reaches both, c:3 reaches b only (a's relay is late),
    // d:1 reaches a only (b's is late).
    relay(&mut a, "c", 2, "c2");
    relay(&mut b, "c", 2, "c2");
    relay(&mut b, "c", 3, "c3");
    relay(&mut a, "d", 1, "d1");
    a.outs();
    b.outs();
    assert!(move_to_b(&mut a, &mut b, "c:1"));
    b.server.accept_connect("f9", "/", ACCEPT(), b.now).unwrap();
    b.events();
    let texts = b.texts_for("f9");
    // What a handed (c2, d1), then what b has past a's position (c3: until 2026-12-06 lost,
    // since a let the session go before c:3 reached it). The last offset names what b's log
    // can place (d:1 is still on its way to b). Each handed packet but the last carries the
    // offset the client came with: cut after c2, it is refused rather than recovered from c:2
    // without d1 (until 2026-12-08).
    assert_eq!(
        texts,
        [r#"2["c2","c:1"]"#, r#"2["d1","c:2,d:1"]"#, r#"2["c3","c:3"]"#, r#"0{"sid":"s1","pid":"p-s1"}"#]
    );
    // b is evicted: the socket comes back from its snapshot, and still knows what it was handed.
    let snapshots = [b.server.session_to_json("f1").unwrap(), b.server.session_to_json("f9").unwrap()];
    let shared = b.server.shared_to_json();
    b.server = Server::restore(recovery_config(), Some(&shared), snapshots.iter().map(String::as_str)).unwrap();
    b.server.set_origin("b");
    // d:1's relay reaches b: t1 gets it, s1 had it (until 2026-12-06 it got it twice).
    relay(&mut b, "d", 1, "d1");
    let outs = b.outs();
    assert_eq!(
        outs,
        [Out::Send(vec!["f1".into()], r#"2["d1","c:3,d:1"]"#.into(), vec![])],
        "sent to t1's session only"
    );
    // The relays a was handed have all arrived: the next ones reach s1 as any socket.
    relay(&mut b, "d", 2, "d2");
    relay(&mut b, "c", 4, "c4");
    assert_eq!(events_sent(&mut b, "f9"), ["d2", "c4"]);
    // c:3 reaches a late: a no longer holds the session, and sends it nowhere.
    relay(&mut a, "c", 3, "c3");
    assert_eq!(a.outs(), []);
}

#[test]
fn a_gap_past_the_old_holders_position_refuses_the_move_rather_than_losing_packets() {
    let (mut a, mut b) = cut_after_c1();
    relay(&mut a, "c", 2, "c2");
    // b never got c:2 or c:3 (lost relays), only c:4.
    relay(&mut b, "c", 4, "c4");
    assert!(!move_to_b(&mut a, &mut b, "c:1"), "c:3 is missing past a's position");
}

/// s1's client, cut from b, reconnects to b (session `session`) with `offset`: the packets
/// sent to it before its CONNECT, whether it was recovered.
fn back_to_b(b: &mut Harness, session: &str, offset: &str) -> (Vec<String>, bool) {
    // b is evicted meanwhile: the session comes back from storage.
    b.server = Server::restore(recovery_config(), Some(&b.server.shared_to_json()), []).unwrap();
    b.server.set_origin("b");
    b.open(session);
    b.text(session, &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    let events = b.events();
    let recovered = matches!(&events[..], [Event::Connection { recovered: true, .. }]);
    (events_sent(b, session), recovered)
}

#[test]
fn a_moved_client_cut_again_before_the_relays_it_was_handed_arrived_is_not_sent_them_twice() {
    let (mut a, mut b) = cut_after_c1();
    relay(&mut a, "c", 2, "c2");
    relay(&mut b, "c", 2, "c2");
    relay(&mut a, "d", 1, "d1");
    a.outs();
    b.outs();
    assert!(move_to_b(&mut a, &mut b, "c:1"));
    b.server.accept_connect("f9", "/", ACCEPT(), b.now).unwrap();
    b.events();
    // d1 carries what b can place: b's log has not reached d:1; c2 the offset the client came
    // with (a's own, c:2, is d1's too: until 2026-12-08 a client that received c2 only was
    // recovered without d1).
    assert_eq!(b.texts_for("f9")[..2], [r#"2["c2","c:1"]"#, r#"2["d1","c:2"]"#]);
    b.server.handle_close("f9", CloseReason::TransportClose, b.now);
    b.events();
    // d:1's relay reaches b while the client is away, then d:2.
    relay(&mut b, "d", 1, "d1");
    relay(&mut b, "d", 2, "d2");
    b.outs();
    // Cut before the last of them arrived, the client comes back with the offset it
    // recovered with: b cannot send the handed packets again, and refuses (until 2026-12-07
    // it recovered the session without them).
    let (_, recovered) = back_to_b(&mut b, "f10", "c:1");
    assert!(!recovered);
    // Having received them, it recovers with what came after.
    let (sent, recovered) = back_to_b(&mut b, "f11", "c:2");
    assert!(recovered);
    // Until 2026-12-06 d1 came again.
    assert_eq!(sent, ["d2"]);
}

#[test]
fn a_moved_client_cut_between_two_handed_packets_is_refused_and_one_that_got_the_last_recovers_past_it() {
    let (mut a, mut b) = cut_after_c1();
    for (origin, seq, event) in [("c", 2, "c2"), ("d", 1, "d1")] {
        relay(&mut a, origin, seq, event);
        relay(&mut b, origin, seq, event);
    }
    a.outs();
    b.outs();
    assert!(move_to_b(&mut a, &mut b, "c:1"));
    b.server.accept_connect("f9", "/", ACCEPT(), b.now).unwrap();
    b.events();
    // c2 carries the offset the client came with; a's own (c:2) would have recovered the
    // client from there on b, which counts d1 as handed: lost (until 2026-12-08).
    assert_eq!(b.texts_for("f9")[..2], [r#"2["c2","c:1"]"#, r#"2["d1","c:2,d:1"]"#]);
    b.server.handle_close("f9", CloseReason::TransportClose, b.now);
    b.events();
    // Cut after c2: refused.
    let (sent, recovered) = back_to_b(&mut b, "f10", "c:1");
    assert!(!recovered, "{sent:?}");
    // Cut after d1 (again, on another try): recovered with what came after it.
    relay(&mut b, "c", 3, "c3");
    b.outs();
    let (sent, recovered) = back_to_b(&mut b, "f11", "c:2,d:1");
    assert!(recovered);
    assert_eq!(sent, ["c3"]);
}

#[test]
fn a_moved_client_that_had_no_offset_is_handed_packets_it_can_be_refused_by() {
    // s1 received nothing on a before it was cut: its CONNECT to b carries no offset.
    let (mut a, mut b) = (Harness::recovering("a"), Harness::recovering("b"));
    a.connect("e1", "/", "s1");
    a.server.handle_close("e1", CloseReason::TransportClose, a.now);
    a.events();
    for (seq, event) in [(1, "c1"), (2, "c2")] {
        relay(&mut a, "c", seq, event);
        relay(&mut b, "c", seq, event);
    }
    a.outs();
    b.outs();
    b.open("f9");
    b.text("f9", r#"0{"pid":"p-s1"}"#);
    let events = b.events();
    let [Event::ConnectRequest(request)] = &events[..] else { panic!("{events:?}") };
    let exported = a.server.export_recovery("p-s1", "/", None, "b", a.now).expect("held by a");
    let mut imported = request.clone();
    b.server.import_recovery(&mut imported, &exported, b.now).unwrap();
    assert!(imported.recovered);
    b.server.accept_connect("f9", "/", ACCEPT(), b.now).unwrap();
    b.events();
    assert_eq!(b.texts_for("f9")[..2], [r#"2["c1","handed"]"#, r#"2["c2","c:2"]"#]);
    b.server.handle_close("f9", CloseReason::TransportClose, b.now);
    b.events();
    let (_, recovered) = back_to_b(&mut b, "f10", "handed");
    assert!(!recovered, "cut after c1");
    let (sent, recovered) = back_to_b(&mut b, "f11", "c:2");
    assert!(recovered, "cut after c2");
    assert!(sent.is_empty(), "{sent:?}");
}

#[test]
fn a_client_that_moved_with_nothing_missed_recovers_again_if_cut_at_once() {
    // s1's last packet came from a's room: its offset names a sequence of a that b's log
    // never reaches.
    let (mut a, mut b) = (Harness::recovering("a"), Harness::recovering("b"));
    a.connect("e1", "/", "s1");
    a.server.join("s1", ["r"]).unwrap();
    relay(&mut a, "c", 1, "c1");
    relay(&mut b, "c", 1, "c1");
    b.outs();
    a.server.broadcast(&Broadcast::new("/").to("r"), "room", "[]", vec![], a.now).unwrap();
    assert_eq!(a.texts_for("e1"), [r#"2["c1","c:1"]"#, r#"2["room","a:1,c:1"]"#]);
    a.server.handle_close("e1", CloseReason::TransportClose, a.now);
    a.events();
    assert!(move_to_b(&mut a, &mut b, "a:1,c:1"));
    b.server.accept_connect("f9", "/", ACCEPT(), b.now).unwrap();
    b.events();
    assert_eq!(b.texts_for("f9"), [r#"0{"sid":"s1","pid":"p-s1"}"#], "nothing missed, no new offset");
    // Cut again before b sent it anything: until 2026-12-06 it was refused (b's log never
    // reached a:1), though it had missed nothing.
    b.server.handle_close("f9", CloseReason::TransportClose, b.now);
    b.events();
    let (sent, recovered) = back_to_b(&mut b, "f10", "a:1,c:1");
    assert!(recovered);
    assert!(sent.is_empty(), "{sent:?}");
    // What it misses next is found from there.
    b.server.handle_close("f10", CloseReason::TransportClose, b.now);
    b.events();
    relay(&mut b, "c", 2, "c2");
    b.outs();
    b.open("f11");
    b.text("f11", r#"0{"pid":"p-s1","offset":"a:1,c:1"}"#);
    assert_eq!(events_sent(&mut b, "f11"), ["c2"]);
}

/// Relays broadcast `origin:seq` (event `event`) to room `room` of server `to`: the servers its
/// sender must relay it to as well ([`wasmio_protocol::server::Delivery::moved_to`]).
fn relay_to_room(to: &mut Harness, origin: &str, seq: u64, room: &str, event: &str) -> Vec<String> {
    let op = Broadcast::new("/").relayed(origin, seq).to(room);
    to.server.broadcast(&op, event, "[]", vec![], to.now).unwrap().moved_to
}

#[test]
fn a_room_broadcast_relayed_to_the_old_holder_after_the_move_is_sent_on_to_the_new_one() {
    // s1, on a, in room r, received c:1 and was cut; b holds no member of r.
    let (mut a, mut b) = (Harness::recovering("a"), Harness::recovering("b"));
    a.connect("e1", "/", "s1");
    a.server.sockets_join(&Broadcast::new("/"), &["r"]);
    assert_eq!(relay_to_room(&mut a, "c", 1, "r", "c1"), Vec::<String>::new());
    a.server.handle_close("e1", CloseReason::TransportClose, a.now);
    a.events();
    a.outs();
    assert!(move_to_b(&mut a, &mut b, "c:1"));
    b.server.accept_connect("f9", "/", ACCEPT(), b.now).unwrap();
    b.events();
    b.outs();
    // a stays in the room directory for r while it remembers the move.
    let r = ("/".to_owned(), "r".to_owned());
    assert!(a.server.held_rooms().contains(&r));
    // c:2, to r, was looked up before b joined r: it reaches a only, after the move. a tells
    // its sender to relay it to b, where s1 gets it (until 2026-12-07 it was lost, s1 told it
    // recovered).
    assert_eq!(relay_to_room(&mut a, "c", 2, "r", "c2"), ["b"]);
    assert_eq!(relay_to_room(&mut b, "c", 2, "r", "c2"), Vec::<String>::new(), "b sends it nowhere");
    assert_eq!(events_sent(&mut b, "f9"), ["c2"]);
    // Relayed to a again (a retry), to another room, or to everyone (which reaches b anyway):
    // nowhere.
    assert_eq!(relay_to_room(&mut a, "c", 2, "r", "c2"), Vec::<String>::new());
    assert_eq!(relay_to_room(&mut a, "c", 3, "q", "c3"), Vec::<String>::new());
    let to_all = Broadcast::new("/").relayed("c", 4);
    assert_eq!(a.server.broadcast(&to_all, "c4", "[]", vec![], a.now).unwrap().moved_to, Vec::<String>::new());
    let except_r = Broadcast::new("/").relayed("c", 5).to("q").except("r");
    assert_eq!(a.server.broadcast(&except_r, "c5", "[]", vec![], a.now).unwrap().moved_to, Vec::<String>::new());
    // a is evicted: it still knows, from storage. The session moved on from b to d, which
    // told a (the object its pid names): late relays go to d.
    a.server = Server::restore(recovery_config(), Some(&a.server.shared_to_json()), []).unwrap();
    a.server.set_origin("a");
    a.server.note_moved("p-s1", "d", a.now + 1);
    assert_eq!(relay_to_room(&mut a, "c", 6, "r", "c6"), ["d"]);
    // A server never sends a relay on to itself.
    a.server.note_moved("p-s1", "a", a.now + 2);
    assert_eq!(relay_to_room(&mut a, "c", 7, "r", "c7"), Vec::<String>::new());
    // The move forgotten (the recovery window passed), a no longer holds r.
    let version = a.server.rooms_version();
    a.now += 121_000;
    a.server.handle_timeout(a.now);
    assert!(!a.server.held_rooms().contains(&r));
    assert_ne!(a.server.rooms_version(), version);
}

#[test]
fn a_session_taken_whose_connection_closed_before_it_connected_keeps_what_it_was_handed() {
    let (mut a, mut b) = cut_after_c1();
    b.connect("f1", "/", "t1");
    // c:2 reaches a only (b's relay is late); b's log has c:3.
    relay(&mut a, "c", 2, "c2");
    relay(&mut b, "c", 3, "c3");
    a.outs();
    b.outs();
    assert!(move_to_b(&mut a, &mut b, "c:1"));
    // The reconnection's transport closes before its CONNECT is accepted: b keeps the session.
    b.server.handle_close("f9", CloseReason::TransportClose, b.now);
    b.events();
    // c:2's relay reaches b meanwhile: no socket of b takes it twice.
    relay(&mut b, "c", 2, "c2");
    b.outs();
    // b is evicted, the client comes back to b: it gets what a handed (c2) and what b's log has
    // past a's position (c3). Until 2026-12-07 the handed packets were dropped: b's log alone
    // would have sent c2 but no refusal stood for what it could not know.
    let (sent, recovered) = back_to_b(&mut b, "f10", "c:1");
    assert!(recovered);
    assert_eq!(sent, ["c2", "c3"]);
}

#[test]
fn a_session_taken_without_what_it_missed_is_not_recovered_from_the_new_holders_log() {
    let (mut a, mut b) = cut_after_c1();
    // c:2, to a room of a's, reaches a only: b's log has c:3, whose relay says so.
    relay(&mut a, "c", 2, "c2");
    let after_c1 = Broadcast::new("/").relayed("c", 3).after(1);
    b.server.broadcast(&after_c1, "c3", "[]", vec![], b.now).unwrap();
    a.outs();
    b.outs();
    b.open("f9");
    b.text("f9", r#"0{"pid":"p-s1","offset":"c:1"}"#);
    let events = b.events();
    let [Event::ConnectRequest(request)] = &events[..] else { panic!("{events:?}") };
    // a's export as a server that could not tell what the client missed writes it: no "x".
    let exported = a.server.export_recovery("p-s1", "/", Some("c:1"), "b", a.now).expect("held by a");
    let (session, _) = exported.split_once(r#","x":"#).expect("a could tell");
    let mut imported = request.clone();
    b.server.import_recovery(&mut imported, &format!("{session}}}"), b.now).unwrap();
    // Until 2026-12-07 b looked in its own log, which passes over c:2 (to rooms b held no
    // member of), and recovered it with c3 only.
    assert!(!imported.recovered);
}

#[test]
fn a_relay_sent_on_late_is_not_sent_again_to_a_socket_it_was_handed_to() {
    let (mut a, mut b) = cut_after_c1();
    relay(&mut a, "c", 2, "c2");
    a.outs();
    assert!(move_to_b(&mut a, &mut b, "c:1"));
    b.server.accept_connect("f9", "/", ACCEPT(), b.now).unwrap();
    b.events();
    assert_eq!(events_sent(&mut b, "f9"), ["c2"]);
    // c:3 reaches b first; then c:2, sent on by a (a server the session of another of b's
    // sockets moved from, say).
    relay(&mut b, "c", 3, "c3");
    assert_eq!(events_sent(&mut b, "f9"), ["c3"]);
    relay(&mut b, "c", 2, "c2");
    // Until 2026-12-07 the socket stopped looking for handed relays once c:3 came: c2 twice.
    assert_eq!(events_sent(&mut b, "f9"), Vec::<String>::new());
}

#[test]
fn a_reconnection_takes_over_its_socket_before_the_old_transport_is_seen_closed() {
    let mut h = Harness::new(recovery_config());
    let offset = recovery_setup(&mut h);
    // The client's transport closed, but this server has not seen it yet: its socket is still
    // connected when the reconnection's CONNECT arrives, and a broadcast went to it meanwhile.
    h.server.broadcast(&Broadcast::new("/").to("r"), "m2", "[]", vec![], h.now).unwrap();
    h.outs();
    h.open("e2");
    h.text("e2", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    let events = h.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Disconnect { session, reason, .. }
            if session == "e1" && *reason == DisconnectReason::TransportClose)),
        "the old socket disconnects as if its transport closed: {events:?}"
    );
    assert!(events.contains(&Event::Connection {
        session: "e2".into(),
        nsp: "/".into(),
        sid: "s1".into(),
        recovered: true
    }));
    let outs = h.outs();
    assert!(outs.contains(&Out::Close("e1".into())), "the old session is closed: {outs:?}");
    let texts: Vec<&String> = outs
        .iter()
        .filter_map(|o| match o {
            Out::Send(to, text, _) if to == &["e2"] => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].starts_with(r#"2["m2",""#), "the packet the old transport lost is replayed");
    assert_eq!(texts[1], r#"0{"sid":"s1","pid":"p-s1"}"#);
}

#[test]
fn a_recovery_asked_of_another_server_takes_over_a_socket_still_connected_there() {
    let mut a = Harness::recovering("a");
    recovery_setup(&mut a);
    // The holder has not seen the transport close; the reconnection reached another server.
    let exported = a.server.export_recovery("p-s1", "/", None, "b", a.now).expect("taken over, then exported");
    assert!(exported.contains("\"s1\""), "{exported}");
    assert!(a.server.socket("s1").is_none());
    assert!(a.outs().contains(&Out::Close("e1".into())));
    assert_eq!(a.server.moved_to("p-s1"), Some("b"));
}

#[test]
fn recovery_moves_to_the_server_the_client_reconnects_to() {
    // Two servers relaying their broadcasts to each other, as Durable Objects do.
    let mut a = Harness::recovering("a");
    let mut b = Harness::recovering("b");
    let relay = |b: &mut Harness, delivery: Delivery, event: &str, args: &str, attachments: Vec<Vec<u8>>| {
        let (origin, seq) = delivery.logged.expect("logged for recovery");
        let op = Broadcast::new("/").to("r").relayed(origin, seq);
        b.server.broadcast(&op, event, args, attachments, b.now).unwrap();
        b.outs();
    };
    a.connect("e1", "/", "s1");
    a.server.join("s1", ["r"]).unwrap();
    a.server.set_data("s1", r#"{"n":1}"#).unwrap();
    let first = a.server.broadcast(&Broadcast::new("/").to("r"), "m1", "[]", vec![], a.now).unwrap();
    let text = a.texts_for("e1").pop().unwrap();
    let offset = text.trim_start_matches(r#"2["m1",""#).trim_end_matches("\"]").to_owned();
    assert_eq!(offset, "a:1");
    relay(&mut b, first, "m1", "[]", vec![]);
    a.server.handle_close("e1", CloseReason::TransportClose, a.now);
    a.events();
    let args = r#"[1,{"_placeholder":true,"num":0}]"#;
    let missed = a.server.broadcast(&Broadcast::new("/").to("r"), "missed", args, vec![vec![7, 8]], a.now).unwrap();
    a.outs();
    // b logs it too, and once only however often it is relayed.
    let again = missed.clone();
    relay(&mut b, missed, "missed", args, vec![vec![7, 8]]);
    relay(&mut b, again, "missed", args, vec![vec![7, 8]]);
    // The client reconnects to b, which does not hold its session.
    b.open("e9");
    b.text("e9", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    let events = b.events();
    let [Event::ConnectRequest(request)] = &events[..] else { panic!("{events:?}") };
    assert!(!request.recovered);
    let from = request.recover_from.clone().expect("the pid to ask for");
    assert_eq!((from.pid.as_str(), from.offset.as_str()), ("p-s1", offset.as_str()));
    assert_eq!(
        a.server.export_recovery(&from.pid, "/other", Some(&from.offset), "b", a.now),
        None,
        "another namespace"
    );
    let exported = a.server.export_recovery(&from.pid, "/", Some(&from.offset), "b", a.now).expect("held by a");
    assert_eq!(a.server.export_recovery(&from.pid, "/", Some(&from.offset), "b", a.now), None, "exported once");
    let mut imported = request.clone();
    b.server.import_recovery(&mut imported, &exported, b.now).unwrap();
    assert!(imported.recovered && !imported.run_middlewares);
    b.server
        .accept_connect("e9", "/", Accept { sid: "new".into(), pid: Some("p-new".into()), data: None }, b.now)
        .unwrap();
    assert_eq!(
        b.events(),
        vec![Event::Connection { session: "e9".into(), nsp: "/".into(), sid: "s1".into(), recovered: true }]
    );
    let outs = b.outs();
    let [Out::Send(_, missed, attachments), Out::Send(_, connect, _)] = &outs[..] else { panic!("{outs:?}") };
    assert_eq!(missed, r#"51-["missed",1,{"_placeholder":true,"num":0},"a:2"]"#, "from a's log, once");
    assert_eq!(attachments, &vec![vec![7u8, 8]]);
    assert_eq!(connect, r#"0{"sid":"s1","pid":"p-s1"}"#, "the same pid: the client tells a recovery by it");
    assert_eq!(a.server.moved_to("p-s1"), Some("b"), "a later reconnection asking a is sent on to b");
    let a_restored = Server::restore(recovery_config(), Some(&a.server.shared_to_json()), []).unwrap();
    assert_eq!(a_restored.moved_to("p-s1"), Some("b"), "and a remembers it through hibernation");
    let info = b.server.socket("s1").unwrap();
    assert_eq!((info.rooms, info.data.as_str()), (sessions(&["r", "s1"]), r#"{"n":1}"#));
    assert!(
        b.server.import_recovery(&mut request.clone(), "{}", b.now).is_err(),
        "an export without a session is refused"
    );
}

#[test]
fn a_server_whose_log_is_behind_the_client_recovers_with_what_the_old_holder_hands_over() {
    // Room broadcasts are relayed to the servers holding the room only: b never got the ones
    // the client received on a, nor those it missed (nor would a server new to the deployment).
    let mut a = Harness::recovering("a");
    let mut b = Harness::recovering("b");
    // One broadcast to everyone reached b too: b's log knows origin a up to 1.
    let everyone = a.server.broadcast(&Broadcast::new("/"), "all", "[]", vec![], a.now).unwrap();
    let (origin, seq) = everyone.logged.unwrap();
    b.server.broadcast(&Broadcast::new("/").relayed(origin, seq), "all", "[]", vec![], b.now).unwrap();
    a.connect("e1", "/", "s1");
    a.server.join("s1", ["r"]).unwrap();
    a.server.broadcast(&Broadcast::new("/").to("r"), "m2", "[]", vec![], a.now).unwrap();
    let text = a.texts_for("e1").pop().unwrap();
    let offset = text.trim_start_matches(r#"2["m2",""#).trim_end_matches("\"]").to_owned();
    assert_eq!(offset, "a:2");
    a.server.handle_close("e1", CloseReason::TransportClose, a.now);
    a.events();
    a.server.broadcast(&Broadcast::new("/").to("r"), "missed", "[]", vec![], a.now).unwrap();
    a.outs();
    // The client reconnects to b, which takes the session from a.
    b.open("e9");
    b.text("e9", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    let events = b.events();
    let [Event::ConnectRequest(request)] = &events[..] else { panic!("{events:?}") };
    let exported = a.server.export_recovery("p-s1", "/", Some(&offset), "b", a.now).expect("held by a");
    // Without what a's log found (as a server of the previous version exports), b alone
    // cannot tell what the client missed after a:2.
    let (session, _) = exported.split_once(r#","x":"#).expect("the missed packets go with the session");
    let mut imported = request.clone();
    b.server.import_recovery(&mut imported, &format!("{session}}}"), b.now).unwrap();
    assert!(!imported.recovered, "b cannot tell what the client missed after a:2");
    // With them, the session is recovered with the room's packet it missed, once.
    let mut imported = request.clone();
    b.server.import_recovery(&mut imported, &exported, b.now).unwrap();
    assert!(imported.recovered);
    b.server
        .accept_connect("e9", "/", Accept { sid: "new".into(), pid: Some("p-new".into()), data: None }, b.now)
        .unwrap();
    let outs = b.outs();
    let [Out::Send(_, missed, _), Out::Send(_, connect, _)] = &outs[..] else { panic!("{outs:?}") };
    // Its offset is b's position: a's (a:3) names a sequence of a's room b's log never reached.
    assert_eq!(missed, r#"2["missed","a:1"]"#);
    assert_eq!(connect, r#"0{"sid":"s1","pid":"p-s1"}"#);
    // So, cut again before b sends it anything, it recovers from there (until 2026-12-06 it
    // was refused: b's log had not reached a:3), missing nothing.
    b.server.handle_close("e9", CloseReason::TransportClose, b.now);
    b.events();
    b.open("e10");
    b.text("e10", r#"0{"pid":"p-s1","offset":"a:1"}"#);
    let recovered = Event::Connection { session: "e10".into(), nsp: "/".into(), sid: "s1".into(), recovered: true };
    assert_eq!(b.events(), vec![recovered]);
    assert_eq!(b.texts_for("e10"), [r#"0{"sid":"s1","pid":"p-s1"}"#], "nothing replayed");
}

#[test]
fn the_server_a_pid_names_is_told_where_its_session_went_last_and_keeps_the_latest() {
    let mut home = Harness::recovering("a");
    assert_eq!(home.server.moved_to("a-s1"), None);
    home.server.note_moved("a-s1", "c", 2_000);
    assert_eq!(home.server.moved_to("a-s1"), Some("c"));
    home.server.note_moved("a-s1", "b", 1_000);
    assert_eq!(home.server.moved_to("a-s1"), Some("c"), "a note of an earlier move arriving late is ignored");
    home.server.note_moved("a-s1", "d", 3_000);
    assert_eq!(home.server.moved_to("a-s1"), Some("d"));
    let restored = Server::restore(recovery_config(), Some(&home.server.shared_to_json()), []).unwrap();
    assert_eq!(restored.moved_to("a-s1"), Some("d"), "kept through hibernation");
}

#[test]
fn a_session_taken_from_another_server_stays_recoverable_when_its_connect_is_refused_or_its_connection_closes_first() {
    let mut a = Harness::recovering("a");
    let mut b = Harness::recovering("b");
    let offset = recovery_setup(&mut a);
    assert_eq!(offset, "a:1");
    // a's broadcast to everyone, relayed to b: b's log can tell what the client missed after it.
    b.server.broadcast(&Broadcast::new("/").relayed("a", 1), "m1", "[]", vec![], b.now).unwrap();
    b.outs();
    let offset = offset.as_str();
    a.server.handle_close("e1", CloseReason::TransportClose, a.now);
    a.events();
    let reconnect = |b: &mut Harness, session: &str| {
        b.open(session);
        b.text(session, &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
        b.events()
    };
    // The client reconnects to b, which takes the session from a; the driver refuses the CONNECT
    // (say, an async middleware found the token expired).
    let events = reconnect(&mut b, "e2");
    let [Event::ConnectRequest(request)] = &events[..] else { panic!("{events:?}") };
    let exported = a.server.export_recovery("p-s1", "/", Some(offset), "b", a.now).expect("held by a");
    b.server.import_recovery(&mut request.clone(), &exported, b.now).unwrap();
    b.server.reject_connect("e2", "/", "token expired", None).unwrap();
    // Kept in b's shared state, through hibernation.
    let mut b = Harness {
        server: Server::restore(recovery_config(), Some(&b.server.shared_to_json()), []).unwrap(),
        now: b.now,
    };
    b.server.set_origin("b");
    // The next attempt, to b again, recovers it there: a gave it away already.
    let recovered = Event::Connection { session: "e3".into(), nsp: "/".into(), sid: "s1".into(), recovered: true };
    assert_eq!(reconnect(&mut b, "e3"), vec![recovered]);
    let info = b.server.socket("s1").unwrap();
    assert_eq!((info.rooms, info.data.as_str()), (sessions(&["r", "s1"]), r#"{"n":1}"#));
    // Cut again; this time taken by a, whose connection closes before the CONNECT is decided.
    b.server.handle_close("e3", CloseReason::TransportClose, b.now);
    b.events();
    a.open("e4");
    a.text("e4", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    let events = a.events();
    let [Event::ConnectRequest(request)] = &events[..] else { panic!("{events:?}") };
    let exported = b.server.export_recovery("p-s1", "/", Some(offset), "a", b.now).expect("held by b");
    a.server.import_recovery(&mut request.clone(), &exported, a.now).unwrap();
    a.server.handle_close("e4", CloseReason::TransportClose, a.now);
    a.events();
    a.open("e5");
    a.text("e5", &format!(r#"0{{"pid":"p-s1","offset":"{offset}"}}"#));
    assert_eq!(
        a.events(),
        vec![Event::Connection { session: "e5".into(), nsp: "/".into(), sid: "s1".into(), recovered: true }],
        "recovered on a, which took it"
    );
    assert_eq!(a.server.moved_to("p-s1"), None, "a holds it now, whatever it knew of the earlier move");
}

#[test]
fn a_session_taken_from_another_server_stays_recoverable_when_its_connection_closed_while_it_was_asked_for() {
    let mut a = Harness::recovering("a");
    let mut b = Harness::recovering("b");
    a.connect("e1", "/", "s1");
    a.server.join("s1", ["r"]).unwrap();
    a.server.handle_close("e1", CloseReason::TransportClose, a.now);
    a.events();
    // The client reconnects to b, which asks a for the session; the connection closes (its
    // transport dropped, its connect timeout) before a answers.
    b.open("e9");
    b.text("e9", r#"0{"pid":"p-s1"}"#);
    let events = b.events();
    let [Event::ConnectRequest(request)] = &events[..] else { panic!("{events:?}") };
    b.server.handle_close("e9", CloseReason::TransportClose, b.now);
    b.events();
    let exported = a.server.export_recovery("p-s1", "/", None, "b", a.now).expect("held by a");
    let mut request = request.clone();
    b.server.import_recovery(&mut request, &exported, b.now).unwrap();
    assert!(!request.recovered, "nothing to recover into");
    assert_eq!(a.server.moved_to("p-s1"), Some("b"));
    // Kept in b's shared state, through hibernation: the next attempt recovers it there.
    let mut b = Harness {
        server: Server::restore(recovery_config(), Some(&b.server.shared_to_json()), []).unwrap(),
        now: b.now,
    };
    b.open("e10");
    b.text("e10", r#"0{"pid":"p-s1"}"#);
    assert_eq!(
        b.events(),
        vec![Event::Connection { session: "e10".into(), nsp: "/".into(), sid: "s1".into(), recovered: true }]
    );
    assert_eq!(b.server.socket("s1").unwrap().rooms, sessions(&["r", "s1"]));
}

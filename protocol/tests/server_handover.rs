//! A session moving between servers while broadcasts are on their way to both: each packet
//! reaches the moved client once (see `server/handover.rs`).

use wasmio_protocol::engine::CloseReason;
use wasmio_protocol::server::{Accept, Broadcast, Event, Server};

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
    let (mut a, mut b) = (Harness::new(recovery_config()), Harness::new(recovery_config()));
    a.server.set_origin("a");
    b.server.set_origin("b");
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
    // can place (d:1 is still on its way to b).
    assert_eq!(
        texts,
        [r#"2["c2","c:2"]"#, r#"2["d1","c:2,d:1"]"#, r#"2["c3","c:3"]"#, r#"0{"sid":"s1","pid":"p-s1"}"#]
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
    relay(&mut a, "d", 1, "d1");
    a.outs();
    assert!(move_to_b(&mut a, &mut b, "c:1"));
    b.server.accept_connect("f9", "/", ACCEPT(), b.now).unwrap();
    b.events();
    // d1 carries what b can place: b's log has not reached d:1.
    assert_eq!(b.texts_for("f9")[0], r#"2["d1","c:1"]"#);
    b.server.handle_close("f9", CloseReason::TransportClose, b.now);
    b.events();
    // d:1's relay reaches b while the client is away, then d:2.
    relay(&mut b, "d", 1, "d1");
    relay(&mut b, "d", 2, "d2");
    b.outs();
    let (sent, recovered) = back_to_b(&mut b, "f10", "c:1");
    assert!(recovered);
    // Until 2026-12-06 d1 came again.
    assert_eq!(sent, ["d2"]);
}

#[test]
fn a_client_that_moved_with_nothing_missed_recovers_again_if_cut_at_once() {
    // s1's last packet came from a's room: its offset names a sequence of a that b's log
    // never reaches.
    let (mut a, mut b) = (Harness::new(recovery_config()), Harness::new(recovery_config()));
    a.server.set_origin("a");
    b.server.set_origin("b");
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

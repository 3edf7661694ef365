//! Guards the hibernation snapshot format: snapshots written by the previous version of the code
//! (`fixtures/snapshot-v1`, made by [`regenerate_fixture`]) still load, and the restored server
//! behaves as the one that wrote them would have.
//!
//! Regenerate only when the format changes on purpose
//! (`WASMIO_WRITE_SNAPSHOT_FIXTURE=1 cargo test -p wasmio-protocol --test snapshot_fixture`),
//! and keep the old fixture folder as a separate case.

use std::collections::BTreeMap;

use wasmio_protocol::engine::{CloseReason, Data};
use wasmio_protocol::server::{
    Accept, AckData, AckError, Broadcast, Config, Event, RecoveryConfig, Server, SessionInfo, SocketInfo, Transmit,
    PARTIAL_KEPT_AFTER_MS,
};

const SHARED: &str = include_str!("fixtures/snapshot-v1/shared.json");
const SESSIONS: [&str; 2] =
    [include_str!("fixtures/snapshot-v1/session-1.json"), include_str!("fixtures/snapshot-v1/session-2.json")];
/// The live Engine.IO sessions, in the order of [`SESSIONS`].
const SESSION_IDS: [&str; 2] = ["e1", "e2"];
/// When the sockets connected and `hello`, the last packet `s-gone` received, was broadcast.
const T0: u64 = 1_000;
/// `hello`'s recovery offset (`<T0 hex>-<sequence hex>`), as the client of `s-gone` kept it.
const LAST_SEEN_OFFSET: &str = "3e8-0";
/// When the session of `s-gone` closed.
const T_GONE: u64 = 1_500;
/// When the later broadcasts, the acks and the partial binary packet happened.
const T1: u64 = 2_000;
/// Deadline of the broadcast ack collected from `s-alpha` and `s-beta`.
const BROADCAST_ACK_DEADLINE: u64 = T1 + 20_000;
/// Deadline of the ack `s-beta` owes for `question`.
const ACK_DEADLINE: u64 = T1 + 30_000;
/// When the restored server runs.
const T2: u64 = 3_000;

fn config() -> Config {
    Config {
        recovery: Some(RecoveryConfig::default()),
        namespaces: vec!["/".into(), "/custom".into()],
        dynamic_namespaces: true,
        ..Config::default()
    }
}

fn restored() -> Server {
    Server::restore(config(), Some(SHARED.trim()), SESSIONS.map(str::trim)).expect("the v1 fixture loads")
}

/// The session snapshots (in [`SESSION_IDS`] order) and the shared one.
fn snapshot(server: &Server) -> (Vec<String>, String) {
    (SESSION_IDS.iter().map(|id| server.session_to_json(id).unwrap()).collect(), server.shared_to_json())
}

/// Sends a CONNECT on `session` and accepts it as `sid` (pid `p-<sid>`).
fn connect(server: &mut Server, session: &str, packet: &str, nsp: &str, sid: &str, data: Option<&str>) {
    server.handle_message(session, Data::Text(packet.into()), T0);
    let accept = Accept { sid: sid.into(), pid: Some(format!("p-{sid}")), data: data.map(Into::into) };
    server.accept_connect(session, nsp, accept, T0).unwrap();
}

/// The handshake of `e1` (`e2` has the default one).
fn e1_info() -> SessionInfo {
    SessionInfo {
        query: r#"{"room":"lobby"}"#.into(),
        headers: r#"{"user-agent":"fixture"}"#.into(),
        address: "203.0.113.7".into(),
    }
}

/// The state of the fixture, built with the current code.
fn generate() -> Server {
    let mut s = Server::new(config());
    s.handle_open("e1", e1_info(), T0).unwrap();
    connect(&mut s, "e1", r#"0{"token":"alpha"}"#, "/", "s-alpha", Some(r#"{"user":"ann"}"#));
    connect(&mut s, "e1", "0/custom,", "/custom", "s-custom", None);
    for session in ["e2", "e3"] {
        s.handle_open(session, SessionInfo::default(), T0).unwrap();
    }
    connect(&mut s, "e2", "0", "/", "s-beta", None);
    connect(&mut s, "e2", "0/dyn-7,", "/dyn-7", "s-dyn", None);
    connect(&mut s, "e3", "0", "/", "s-gone", Some(r#"{"user":"zed"}"#));
    s.join("s-alpha", ["lobby"]).unwrap();
    s.join("s-custom", ["blue"]).unwrap();
    s.join("s-beta", ["lobby", "red"]).unwrap();
    s.join("s-gone", ["red"]).unwrap();
    s.set_data("s-beta", r#"{"user":"bob","score":3}"#).unwrap();
    let hello = s.broadcast(&Broadcast::new("/"), "hello", "[]", vec![], T0).unwrap();
    // Today's offsets name a position per origin (v1 wrote `3e8-0` here, kept in its fixture).
    assert_eq!(hello.packet.unwrap().text, r#"2["hello",":1"]"#);
    s.handle_close("e3", CloseReason::TransportClose, T_GONE);
    s.broadcast(&Broadcast::new("/").to("red"), "missed-red", "[1]", vec![], T1).unwrap();
    s.broadcast(&Broadcast::new("/").to("lobby"), "lobby-only", "[]", vec![], T1).unwrap();
    let placeholder = r#"[{"_placeholder":true,"num":0}]"#;
    s.broadcast(&Broadcast::new("/"), "bin", placeholder, vec![vec![1, 2, 3]], T1).unwrap();
    s.broadcast(&Broadcast::new("/custom").to("blue"), "custom", "[]", vec![], T1).unwrap();
    assert_eq!(s.emit_with_ack("s-beta", "question", "[]", vec![], Some(ACK_DEADLINE - T1), T1), Ok(0));
    let op = Broadcast::new("/").to("lobby");
    s.broadcast_with_ack(&op, "poll", "[]", vec![], BROADCAST_ACK_DEADLINE - T1, T1).unwrap();
    s.handle_message("e1", Data::Text(r#"31["yes"]"#.into()), T1); // s-alpha answers the poll, s-beta not yet
                                                                   // a binary packet with one of its two attachments received
    let upload = r#"52-["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    s.handle_message("e2", Data::Text(upload.into()), T1);
    s.handle_message("e2", Data::Binary(vec![7]), T1);
    s
}

/// The state the fixture was made from, built by today's code, is the state the fixture
/// restores to; with `WASMIO_WRITE_SNAPSHOT_FIXTURE=1` it rewrites the fixture instead.
#[test]
fn regenerate_fixture() {
    let generated = generate();
    if std::env::var("WASMIO_WRITE_SNAPSHOT_FIXTURE").as_deref() != Ok("1") {
        let restored = restored();
        for nsp in ["/", "/custom", "/dyn-7"] {
            let op = Broadcast::new(nsp);
            assert_eq!(restored.fetch_sockets(&op), generated.fetch_sockets(&op), "sockets of {nsp}");
        }
        // A restored partial packet is kept whatever its size already; the one just made is
        // once it has waited PARTIAL_KEPT_AFTER_MS (a timer the restored one needs no more).
        let mut generated = generated;
        generated.handle_timeout(T1 + PARTIAL_KEPT_AFTER_MS);
        assert_eq!(restored.poll_timeout(), generated.poll_timeout());
        return;
    }
    // v1 (offsets `<time>-<seq>`) is kept as it was written; a rewrite is the next version.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshot-v2");
    std::fs::create_dir_all(&dir).unwrap();
    let (sessions, shared) = snapshot(&generated);
    for (i, text) in sessions.iter().enumerate() {
        std::fs::write(dir.join(format!("session-{}.json", i + 1)), format!("{text}\n")).unwrap();
    }
    std::fs::write(dir.join("shared.json"), format!("{shared}\n")).unwrap();
}

fn socket(sid: &str, nsp: &str, session: &str, rooms: &[&str], data: &str, auth: &str) -> SocketInfo {
    SocketInfo {
        sid: sid.into(),
        nsp: nsp.into(),
        session: session.into(),
        pid: Some(format!("p-{sid}")),
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        data: data.into(),
        auth: auth.into(),
        issued: T0,
        info: if session == "e1" { e1_info() } else { SessionInfo::default() },
        recovered: false,
    }
}

fn sids(sockets: Vec<SocketInfo>) -> Vec<String> {
    sockets.into_iter().map(|s| s.sid).collect()
}

#[test]
fn sockets_keep_their_ids_rooms_and_data() {
    let s = restored();
    let alpha = socket("s-alpha", "/", "e1", &["lobby", "s-alpha"], r#"{"user":"ann"}"#, r#"{"token":"alpha"}"#);
    let beta = socket("s-beta", "/", "e2", &["lobby", "red", "s-beta"], r#"{"user":"bob","score":3}"#, "{}");
    let custom = socket("s-custom", "/custom", "e1", &["blue", "s-custom"], "{}", "{}");
    let dynamic = socket("s-dyn", "/dyn-7", "e2", &["s-dyn"], "{}", "{}");
    for expected in [alpha, beta, custom, dynamic] {
        assert_eq!(s.socket(&expected.sid).as_ref(), Some(&expected));
    }
    assert_eq!(s.socket("s-gone"), None, "a disconnected socket is not live");
    let e2 = BTreeMap::from([("/".into(), "s-beta".into()), ("/dyn-7".into(), "s-dyn".into())]);
    assert_eq!(s.session_sockets("e2"), Some(e2));
    // the namespace and room indexes are rebuilt
    assert_eq!(sids(s.fetch_sockets(&Broadcast::new("/"))), ["s-alpha", "s-beta"]);
    assert_eq!(sids(s.fetch_sockets(&Broadcast::new("/").to("red"))), ["s-beta"]);
    assert_eq!(sids(s.fetch_sockets(&Broadcast::new("/custom").to("blue"))), ["s-custom"]);
}

#[test]
fn broadcasts_reach_exactly_the_sessions_in_the_room() {
    let mut s = restored();
    let mut send = |op: Broadcast| {
        s.broadcast(&op, "ping", "[]", vec![], T2).unwrap();
        let Some(Transmit::Packet { sessions, packet }) = s.poll_transmit() else { panic!("nothing sent") };
        assert_eq!(s.poll_transmit(), None);
        (sessions, packet.text.clone())
    };
    // the recovery log goes on after the 5 entries v1 logged (its own counter, now origin "")
    assert_eq!(send(Broadcast::new("/").to("red")), (vec!["e2".into()], r#"2["ping",":6"]"#.into()));
    assert_eq!(send(Broadcast::new("/").to("lobby")).0, ["e1", "e2"]);
    assert_eq!(send(Broadcast::new("/custom").to("blue")).0, ["e1"]);
    assert_eq!(send(Broadcast::new("/").except("red")).0, ["e1"]);
}

#[test]
fn pending_acks_time_out_at_their_deadlines() {
    let mut s = restored();
    assert_eq!(s.poll_timeout(), Some(BROADCAST_ACK_DEADLINE));
    s.handle_timeout(BROADCAST_ACK_DEADLINE - 1);
    assert_eq!(s.poll_event(), None);
    s.handle_timeout(BROADCAST_ACK_DEADLINE);
    let yes = AckData { args: r#""yes""#.into(), attachments: vec![] };
    assert_eq!(
        s.poll_event(),
        Some(Event::BroadcastAck { id: 0, error: Some(AckError::Timeout), responses: vec![yes] })
    );
    assert_eq!(s.poll_timeout(), Some(ACK_DEADLINE));
    s.handle_timeout(ACK_DEADLINE - 1);
    assert_eq!(s.poll_event(), None);
    s.handle_timeout(ACK_DEADLINE);
    assert_eq!(s.poll_event(), Some(Event::Ack { sid: "s-beta".into(), id: 0, result: Err(AckError::Timeout) }));
    assert_eq!(s.poll_event(), None);
    // ack ids go on where they stopped (0: question, 1: poll)
    assert_eq!(s.emit_with_ack("s-beta", "again", "[]", vec![], None, ACK_DEADLINE), Ok(2));
}

#[test]
fn a_disconnected_socket_recovers_with_the_packets_it_missed() {
    let mut s = restored();
    s.handle_open("e9", SessionInfo::default(), T2).unwrap();
    let connect = format!(r#"0{{"pid":"p-s-gone","offset":"{LAST_SEEN_OFFSET}"}}"#);
    s.handle_message("e9", Data::Text(connect.clone()), T2);
    let recovered = Event::Connection { session: "e9".into(), nsp: "/".into(), sid: "s-gone".into(), recovered: true };
    assert_eq!(s.poll_event(), Some(recovered));
    let sent: Vec<(Vec<String>, String, Vec<Vec<u8>>)> = std::iter::from_fn(|| s.poll_transmit())
        .map(|t| match t {
            Transmit::Packet { sessions, packet } => (sessions, packet.text.clone(), packet.attachments.clone()),
            Transmit::Close { session } => panic!("{session} closed"),
        })
        .collect();
    let e9 = vec!["e9".to_owned()];
    let expected = [
        (e9.clone(), r#"2["missed-red",1,"7d0-1"]"#.to_owned(), vec![]),
        (e9.clone(), r#"51-["bin",{"_placeholder":true,"num":0},"7d0-3"]"#.to_owned(), vec![vec![1, 2, 3]]),
        (e9, r#"0{"sid":"s-gone","pid":"p-s-gone"}"#.to_owned(), vec![]),
    ];
    assert_eq!(sent, expected);
    let info = s.socket("s-gone").unwrap();
    assert_eq!(
        (info.rooms, info.data.as_str(), info.recovered),
        (vec!["red".into(), "s-gone".into()], r#"{"user":"zed"}"#, true)
    );
    // past maxDisconnectionDuration, counted from when it disconnected, the session is gone
    let mut s = restored();
    let late = T_GONE + RecoveryConfig::default().max_disconnection_duration_ms + 1;
    s.handle_open("e9", SessionInfo::default(), late).unwrap();
    s.handle_message("e9", Data::Text(connect), late);
    assert!(matches!(s.poll_event(), Some(Event::ConnectRequest(r)) if !r.recovered));
}

#[test]
fn a_partly_received_binary_packet_completes() {
    let mut s = restored();
    s.handle_message("e2", Data::Binary(vec![9, 9]), T2);
    let Some(Event::Message(m)) = s.poll_event() else { panic!("no message") };
    assert_eq!((m.sid.as_str(), m.name.as_str(), m.attachments), ("s-beta", "upload", vec![vec![7], vec![9, 9]]));
}

#[test]
fn dynamic_namespaces_stay_known() {
    let mut s = restored();
    s.handle_open("e9", SessionInfo::default(), T2).unwrap();
    for (nsp, known) in [("/dyn-7", true), ("/dyn-8", false)] {
        s.handle_message("e9", Data::Text(format!("0{nsp},")), T2);
        let Some(Event::ConnectRequest(r)) = s.poll_event() else { panic!("no connect request") };
        assert_eq!((r.nsp.as_str(), r.check_namespace), (nsp, !known));
    }
}

#[test]
fn restored_snapshots_restore_again() {
    let first = restored();
    let (sessions, shared) = snapshot(&first);
    let second = Server::restore(config(), Some(&shared), sessions.iter().map(String::as_str)).unwrap();
    assert_eq!(snapshot(&second), (sessions, shared));
    for sid in ["s-alpha", "s-beta", "s-custom", "s-dyn"] {
        assert!(first.socket(sid).is_some());
        assert_eq!(second.socket(sid), first.socket(sid));
    }
    assert_eq!(second.poll_timeout(), first.poll_timeout());
}

//! The Engine.IO endpoint (the session table, the timer table, the output queue) driven as a
//! Durable Object drives it: inputs with the time, outputs carried out in order, the alarm
//! set where the endpoint asks. Every lifecycle rule of the endpoint is checked here
//! deterministically: heartbeats on one alarm, dead peers closed at their deadline, closed
//! sessions dropped, the upgrade's probe promoted, eviction (a new endpoint) and resume.

use wasmio_protocol::engine::{
    Channel, CloseReason, Data, Endpoint, EndpointError, Frame, Output, PollOutcome, ServerConfig, ServerError,
    ServerEvent, SessionHandle, TransportKind, CLOSED_SESSION_TTL_MS, POLLING_GRACE_MS,
};

const START: u64 = 1_000_000;

fn config() -> ServerConfig {
    ServerConfig { ping_interval: 25_000, ping_timeout: 20_000, ..ServerConfig::default() }
}

fn drain(endpoint: &mut Endpoint) -> Vec<Output> {
    std::iter::from_fn(|| endpoint.poll_output()).collect()
}

fn text(s: &str) -> Frame {
    Frame::Text(s.to_owned())
}

/// Whether `outputs` has a ping for `handle` on its WebSocket.
fn pinged(outputs: &[Output], handle: SessionHandle) -> bool {
    outputs.iter().any(|o| matches!(o, Output::Send { handle: h, frame, .. } if *h == handle && *frame == text("2")))
}

#[test]
fn a_new_instance_sets_no_alarm_its_previous_instance_left_pending() {
    let mut endpoint = Endpoint::new(config());
    endpoint.resume_websocket("s1", START, Some(START));
    let due = endpoint.poll_timeout().expect("the session's next ping");
    // The previous instance's alarm, still pending at the session's deadline: nothing to set.
    endpoint.alarm_found(Some(due));
    assert_eq!(endpoint.alarm_to_set(None), None);
    // An earlier deadline is still asked for, and then kept over a later find.
    assert_eq!(endpoint.alarm_to_set(Some(due - 10)), Some(due - 10));
    endpoint.alarm_found(Some(due));
    assert_eq!(endpoint.alarm_to_set(Some(due - 5)), None);
    // No alarm pending: the session's deadline is set.
    let mut endpoint = Endpoint::new(config());
    endpoint.resume_websocket("s1", START, Some(START));
    endpoint.alarm_found(None);
    assert_eq!(endpoint.alarm_to_set(None), endpoint.poll_timeout());
    assert!(endpoint.poll_timeout().is_some());
}

#[test]
fn a_ping_overdue_goes_out_with_the_next_input_when_the_alarm_is_late() {
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("s1", TransportKind::WebSocket, START).unwrap();
    drain(&mut endpoint);
    assert_eq!(endpoint.alarm_to_set(None), Some(START + 25_000));
    // Before the ping is due, other input pings nobody.
    endpoint.handle_overdue(START + 24_999, |_| None);
    assert!(!pinged(&drain(&mut endpoint), handle));
    // Once it is due, the first input sends it; the alarm set stays set.
    endpoint.handle_websocket_frame(handle, text("4x"), START + 25_010);
    endpoint.handle_overdue(START + 25_010, |_| None);
    assert!(pinged(&drain(&mut endpoint), handle));
    assert_eq!(endpoint.poll_timeout(), Some(START + 45_010));
    assert_eq!(endpoint.alarm_to_set(None), None);
}

#[test]
fn a_websocket_session_sends_open_first_and_pings_on_the_alarm() {
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("s1", TransportKind::WebSocket, START).unwrap();
    let outputs = drain(&mut endpoint);
    assert!(
        matches!(&outputs[..], [Output::Send { channel: Channel::Transport, frame: Frame::Text(open), .. }] if open.starts_with("0{\"sid\":\"s1\""))
    );
    assert_eq!(endpoint.poll_timeout(), Some(START + 25_000));
    assert_eq!(endpoint.alarm_to_set(None), Some(START + 25_000));
    // An alarm already set at that time is not asked for again; an earlier extra deadline is.
    assert_eq!(endpoint.alarm_to_set(None), None);
    assert_eq!(endpoint.alarm_to_set(Some(START + 5)), Some(START + 5));
    endpoint.handle_alarm(START + 25_000, |_| None);
    assert!(pinged(&drain(&mut endpoint), handle));
    // The pong deadline is the next one.
    assert_eq!(endpoint.poll_timeout(), Some(START + 45_000));
}

#[test]
fn a_peer_that_never_answers_is_closed_at_its_pong_deadline() {
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("dead", TransportKind::WebSocket, START).unwrap();
    drain(&mut endpoint);
    endpoint.handle_alarm(START + 25_000, |_| None);
    drain(&mut endpoint);
    endpoint.handle_alarm(START + 44_999, |_| None);
    assert!(drain(&mut endpoint).is_empty(), "not closed before the deadline");
    endpoint.handle_alarm(START + 45_000, |_| None);
    let outputs = drain(&mut endpoint);
    assert_eq!(
        outputs,
        vec![
            Output::CloseWebSocket { handle, channel: Channel::Transport, code: 1000, reason: "ping timeout" },
            Output::Event { handle, event: ServerEvent::Closed(CloseReason::PingTimeout) },
            Output::Removed { handle },
        ]
    );
    assert_eq!(endpoint.lookup("dead"), None);
    assert_eq!(endpoint.poll_timeout(), None);
}

#[test]
fn a_pong_answered_by_the_runtime_counts_and_heartbeats_share_one_alarm() {
    let mut endpoint = Endpoint::new(config());
    let a = endpoint.open("a", TransportKind::WebSocket, START).unwrap();
    let b = endpoint.open("b", TransportKind::WebSocket, START + 5_000).unwrap();
    drain(&mut endpoint);
    // a's ping is due; b's is within half an interval, so it goes out on the same alarm.
    endpoint.handle_alarm(START + 25_000, |_| None);
    let outputs = drain(&mut endpoint);
    assert!(pinged(&outputs, a) && pinged(&outputs, b));
    // Both pong deadlines are at the same time: one alarm serves both.
    assert_eq!(endpoint.poll_timeout(), Some(START + 45_000));
    // The runtime answered both pongs in time.
    endpoint.handle_alarm(START + 45_000, |_| Some(START + 25_050));
    let outputs = drain(&mut endpoint);
    assert!(!outputs.iter().any(|o| matches!(o, Output::Event { .. })), "nobody closed: {outputs:?}");
    // The next ping is one interval after the last: within half an interval of this alarm,
    // it went out now.
    assert!(pinged(&outputs, a) && pinged(&outputs, b));
    // A pong the runtime answered before the ping does not count.
    endpoint.handle_alarm(START + 65_000, |handle| (handle == b).then_some(START + 45_010));
    let outputs = drain(&mut endpoint);
    assert!(outputs.contains(&Output::Event { handle: a, event: ServerEvent::Closed(CloseReason::PingTimeout) }));
    assert!(!outputs.contains(&Output::Event { handle: b, event: ServerEvent::Closed(CloseReason::PingTimeout) }));
}

#[test]
fn an_alarm_visits_only_the_sessions_that_are_due() {
    let mut endpoint = Endpoint::new(config());
    let handles: Vec<SessionHandle> = (0..1_000u64)
        .map(|i| endpoint.open(format!("s{i}"), TransportKind::WebSocket, START + i * 100).unwrap())
        .collect();
    drain(&mut endpoint);
    assert_eq!(endpoint.poll_timeout(), Some(START + 25_000));
    // At START + 25,000 the horizon is 12,500 ms on: sessions opened up to then are pinged.
    endpoint.handle_alarm(START + 25_000, |_| None);
    let outputs = drain(&mut endpoint);
    let pinged_count = handles.iter().filter(|h| pinged(&outputs, **h)).count();
    assert_eq!(pinged_count, 126);
    assert_eq!(outputs.len(), 126, "nothing but the pings: {:?}", &outputs[..3]);
}

#[test]
fn a_closed_polling_session_never_polled_again_is_dropped_after_the_close_timeout() {
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("p", TransportKind::Polling, START).unwrap();
    assert!(matches!(endpoint.handle_poll(handle, START), Ok(PollOutcome::Respond(_))));
    drain(&mut endpoint);
    endpoint.close(handle, CloseReason::ForcedClose, START + 10);
    assert_eq!(
        drain(&mut endpoint),
        vec![Output::Event { handle, event: ServerEvent::Closed(CloseReason::ForcedClose) }]
    );
    // The close packet waits for a poll that never comes.
    assert_eq!(endpoint.poll_timeout(), Some(START + 10 + CLOSED_SESSION_TTL_MS));
    endpoint.handle_alarm(START + 10 + CLOSED_SESSION_TTL_MS, |_| None);
    assert_eq!(drain(&mut endpoint), vec![Output::Removed { handle }]);
    assert_eq!(endpoint.lookup("p"), None);
}

#[test]
fn a_closed_polling_session_polled_once_more_gets_its_close_packet_then_goes() {
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("p", TransportKind::Polling, START).unwrap();
    endpoint.handle_poll(handle, START).unwrap();
    drain(&mut endpoint);
    endpoint.close(handle, CloseReason::ForcedClose, START + 10);
    drain(&mut endpoint);
    assert_eq!(endpoint.handle_poll(handle, START + 20), Ok(PollOutcome::Respond("1".to_owned())));
    assert_eq!(drain(&mut endpoint), vec![Output::Removed { handle }]);
}

#[test]
fn a_held_poll_is_answered_through_the_output_queue_and_makes_the_session_writable() {
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("p", TransportKind::Polling, START).unwrap();
    endpoint.handle_poll(handle, START).unwrap();
    assert!(!endpoint.is_writable(handle));
    assert_eq!(endpoint.handle_poll(handle, START + 1), Ok(PollOutcome::Hold));
    assert!(endpoint.is_writable(handle));
    endpoint.send(handle, Data::Text("hi".into()), START + 2);
    assert_eq!(drain(&mut endpoint), vec![Output::AnswerPoll { handle, answer: Ok("4hi".to_owned()) }]);
    assert!(!endpoint.is_writable(handle));
}

#[test]
fn a_poll_answer_that_could_not_be_delivered_ends_the_session() {
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("p", TransportKind::Polling, START).unwrap();
    endpoint.handle_poll(handle, START).unwrap();
    endpoint.handle_poll(handle, START + 1).unwrap();
    endpoint.send(handle, Data::Text("lost".into()), START + 2);
    drain(&mut endpoint);
    endpoint.handle_poll_aborted(handle, START + 3);
    let outputs = drain(&mut endpoint);
    assert!(outputs.contains(&Output::Event { handle, event: ServerEvent::Closed(CloseReason::TransportError) }));
}

#[test]
fn a_websocket_that_fails_ends_its_session_with_a_transport_error_one_that_closes_with_a_transport_close() {
    // As the reference: its `ws`'s error event (a message too big among them) is a transport
    // error, its close event a transport close; the application's disconnect handler reads it.
    let mut endpoint = Endpoint::new(config());
    let failed = endpoint.open("f", TransportKind::WebSocket, START).unwrap();
    let closed = endpoint.open("c", TransportKind::WebSocket, START).unwrap();
    drain(&mut endpoint);
    endpoint.handle_websocket_failed(failed, START + 1);
    endpoint.handle_websocket_closed(closed, START + 1);
    let outputs = drain(&mut endpoint);
    let closed_with = |handle| {
        outputs.iter().find_map(|output| match output {
            Output::Event { handle: h, event: ServerEvent::Closed(reason) } if *h == handle => Some(*reason),
            _ => None,
        })
    };
    assert_eq!(closed_with(failed), Some(CloseReason::TransportError));
    assert_eq!(closed_with(closed), Some(CloseReason::TransportClose));
}

#[test]
fn an_upgrade_promotes_the_probe_before_anything_is_written_on_it() {
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("u", TransportKind::Polling, START).unwrap();
    endpoint.handle_poll(handle, START).unwrap();
    assert_eq!(endpoint.handle_websocket_open(handle, START + 1), Ok(()));
    // A second WebSocket while probing is refused (the host accepts and closes it).
    assert_eq!(endpoint.handle_websocket_open(handle, START + 1), Err(ServerError::BadRequest));
    endpoint.send(handle, Data::Text("queued".into()), START + 2);
    drain(&mut endpoint);
    endpoint.handle_websocket_frame(handle, text("2probe"), START + 3);
    assert_eq!(drain(&mut endpoint), vec![Output::Send { handle, channel: Channel::Probe, frame: text("3probe") }]);
    endpoint.handle_websocket_frame(handle, text("5"), START + 4);
    assert_eq!(
        drain(&mut endpoint),
        vec![
            Output::PromoteProbe { handle },
            Output::Send { handle, channel: Channel::Transport, frame: text("4queued") },
            Output::Event { handle, event: ServerEvent::Upgraded },
        ]
    );
    assert_eq!(endpoint.transport(handle), Some(TransportKind::WebSocket));
    assert!(endpoint.writes_messages_directly(handle));
    // The upgraded session's WebSocket closing ends it.
    endpoint.handle_websocket_closed(handle, START + 5);
    assert_eq!(
        drain(&mut endpoint),
        vec![
            Output::Event { handle, event: ServerEvent::Closed(CloseReason::TransportClose) },
            Output::Removed { handle }
        ]
    );
}

#[test]
fn a_session_being_upgraded_is_not_pinged_early_and_answers_before_its_first_ping() {
    // The official Engine.IO suite upgrades within the first ping interval and expects the
    // echo of its first message on the WebSocket before any ping: the reference pings one
    // interval after the handshake. The upgrade check that releases the held poll is not a
    // reason to ping ahead of time (it pinged half an interval early).
    let mut endpoint = Endpoint::new(ServerConfig { ping_interval: 300, ping_timeout: 200, ..ServerConfig::default() });
    let handle = endpoint.open("u", TransportKind::Polling, START).unwrap();
    endpoint.handle_poll(handle, START).unwrap();
    endpoint.handle_websocket_open(handle, START + 50).unwrap();
    endpoint.handle_websocket_frame(handle, text("2probe"), START + 55);
    drain(&mut endpoint);
    assert_eq!(endpoint.handle_poll(handle, START + 60), Ok(PollOutcome::Hold));
    let check = endpoint.poll_timeout().expect("the upgrade check");
    assert_eq!(check, START + 160);
    endpoint.handle_alarm(check, |_| None);
    assert_eq!(drain(&mut endpoint), vec![Output::AnswerPoll { handle, answer: Ok("6".to_owned()) }]);
    endpoint.handle_websocket_frame(handle, text("5"), check + 10);
    endpoint.send(handle, Data::Text("hello".into()), check + 11);
    let outputs = drain(&mut endpoint);
    assert!(!pinged(&outputs, handle), "{outputs:?}");
    assert!(outputs.contains(&Output::Send { handle, channel: Channel::Transport, frame: text("4hello") }));
    // The ping goes out at its time, one interval after the handshake.
    assert_eq!(endpoint.poll_timeout(), Some(START + 300));
    endpoint.handle_alarm(START + 300, |_| None);
    assert!(pinged(&drain(&mut endpoint), handle));
}

#[test]
fn an_abandoned_probe_is_closed_and_the_session_goes_on_polling() {
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("u", TransportKind::Polling, START).unwrap();
    endpoint.handle_poll(handle, START).unwrap();
    endpoint.handle_websocket_open(handle, START + 1).unwrap();
    drain(&mut endpoint);
    assert_eq!(endpoint.poll_timeout(), Some(START + 1 + config().upgrade_timeout));
    endpoint.handle_alarm(START + 1 + config().upgrade_timeout, |_| None);
    let outputs = drain(&mut endpoint);
    assert!(outputs.contains(&Output::CloseWebSocket {
        handle,
        channel: Channel::Probe,
        code: 1000,
        reason: "upgrade abandoned"
    }));
    assert_eq!(endpoint.transport(handle), Some(TransportKind::Polling));
}

#[test]
fn a_handle_is_never_reused_for_another_session() {
    let mut endpoint = Endpoint::new(config());
    let old = endpoint.open("old", TransportKind::WebSocket, START).unwrap();
    endpoint.handle_websocket_closed(old, START + 1);
    drain(&mut endpoint);
    let new = endpoint.open("new", TransportKind::WebSocket, START + 2).unwrap();
    drain(&mut endpoint);
    assert_ne!(old, new);
    // A late call with the old handle reaches nobody.
    endpoint.send(old, Data::Text("stale".into()), START + 3);
    endpoint.close(old, CloseReason::ForcedClose, START + 3);
    assert!(drain(&mut endpoint).is_empty());
    assert_eq!(endpoint.sid(new), Some("new"));
    assert_eq!(endpoint.sid(old), None);
    assert!(endpoint.open("new", TransportKind::Polling, START + 4).is_err(), "one session per sid");
}

#[test]
fn after_an_eviction_a_resumed_websocket_session_of_unknown_liveness_is_pinged_at_once_and_chats_on() {
    let mut endpoint = Endpoint::new(config());
    endpoint.open("ws", TransportKind::WebSocket, START).unwrap();
    drain(&mut endpoint);
    // The instance is evicted: its memory is gone; workerd keeps the WebSocket and its tag.
    drop(endpoint);
    let mut endpoint = Endpoint::new(config());
    let resumed = endpoint.resume_websocket("ws", START + 60_000, None);
    assert_eq!(endpoint.resume_websocket("ws", START + 60_001, None), resumed, "resumed once");
    // The ping is due now (the client's deadline runs from a ping whose time was forgotten).
    assert_eq!(endpoint.alarm_to_set(None), Some(START + 60_000));
    endpoint.handle_websocket_frame(resumed, text("4hello"), START + 60_000);
    assert_eq!(
        drain(&mut endpoint),
        vec![Output::Event { handle: resumed, event: ServerEvent::Message(Data::Text("hello".into())) }]
    );
    endpoint.send(resumed, Data::Text("back".into()), START + 60_001);
    assert_eq!(
        drain(&mut endpoint),
        vec![Output::Send { handle: resumed, channel: Channel::Transport, frame: text("4back") }]
    );
}

#[test]
fn a_resumed_websocket_session_silent_past_its_heartbeat_is_closed_not_pinged_forever() {
    // An object evicted between each ping and its deadline forgets every ping it sent; what
    // survives is when workerd last answered the client's pong by itself.
    let mut endpoint = Endpoint::new(config());
    let now = START + 120_000;
    // answered 60 s ago: the ping one interval after it (35 s ago) went unanswered past its 20 s
    let dead = endpoint.resume_websocket("dead", now, Some(now - 60_000));
    // answered 30 s ago: within an interval and a timeout (and the slack of a shared alarm)
    let live = endpoint.resume_websocket("live", now, Some(now - 30_000));
    // never answered (or no runtime answers): pinged at once, as before
    let unknown = endpoint.resume_websocket("unknown", now, None);
    endpoint.handle_alarm(now, |handle| Some(if handle == dead { now - 60_000 } else { now - 30_000 }));
    let outputs = drain(&mut endpoint);
    let closed =
        |handle| outputs.contains(&Output::Event { handle, event: ServerEvent::Closed(CloseReason::PingTimeout) });
    let pinged = |handle| outputs.contains(&Output::Send { handle, channel: Channel::Transport, frame: text("2") });
    assert!(closed(dead), "the silent client is closed: {outputs:?}");
    assert!(!closed(live) && pinged(live), "the live client is pinged: {outputs:?}");
    assert!(!closed(unknown) && pinged(unknown), "a client of unknown liveness is pinged: {outputs:?}");
}

#[test]
fn a_client_silent_since_the_evicted_instance_pinged_it_is_closed_at_that_pings_deadline() {
    // The first instance pings at 25 s and is evicted before the deadline (45 s); it kept the
    // time of its pings. The instance the deadline's alarm wakes closes the silent client then,
    // as the reference server does, instead of pinging it again; the live one is not closed.
    let mut first = Endpoint::new(config());
    let silent = first.resume_websocket("silent", START, Some(START));
    let live = first.resume_websocket("live", START, Some(START));
    first.handle_alarm(START + 25_000, |_| None);
    let outputs = drain(&mut first);
    assert!(pinged(&outputs, silent) && pinged(&outputs, live), "{outputs:?}");
    let pinged_at = first.take_websocket_ping();
    assert_eq!(pinged_at, Some(START + 25_000));
    assert_eq!(first.take_websocket_ping(), None, "told once");
    // workerd answered the live client's pong by itself at 25.1 s.
    let heard = |handle: SessionHandle| if handle == live { START + 25_100 } else { START };
    for wake in [START + 35_000, START + 45_000] {
        let mut woken = Endpoint::new(config());
        woken.pinged_before(pinged_at.unwrap());
        let silent = woken.resume_websocket("silent", wake, Some(heard(silent)));
        let live = woken.resume_websocket("live", wake, Some(heard(live)));
        // woken at the deadline by the alarm, or before it by another client's message
        woken.handle_alarm(wake, |handle| Some(if handle == live { START + 25_100 } else { START }));
        let outputs = drain(&mut woken);
        let closed =
            |handle| outputs.contains(&Output::Event { handle, event: ServerEvent::Closed(CloseReason::PingTimeout) });
        assert!(!pinged(&outputs, silent), "the silent client is not pinged again: {outputs:?}");
        // (its next ping, due at 50.1 s, goes out early with an alarm within half an interval)
        assert!(!closed(live), "the live client stays: {outputs:?}");
        if wake < START + 45_000 {
            assert!(!closed(silent), "not before its deadline");
            assert_eq!(woken.poll_timeout(), Some(START + 45_000), "the deadline is the next alarm");
        } else {
            assert!(closed(silent), "closed at the deadline: {outputs:?}");
        }
    }
}

#[test]
fn a_resumed_websocket_session_heard_within_its_interval_is_pinged_when_its_ping_is_due() {
    // Woken by a message 10 s after the client answered its last ping: no ping now (the
    // client's heartbeat is on time), the next one an interval after that answer, as the
    // evicted instance would have sent it.
    let mut endpoint = Endpoint::new(config());
    let heard = START;
    let now = START + 10_000;
    let handle = endpoint.resume_websocket("ws", now, Some(heard));
    endpoint.handle_overdue(now, |_| Some(heard));
    endpoint.handle_websocket_frame(handle, text("4hello"), now);
    let outputs = drain(&mut endpoint);
    assert!(!pinged(&outputs, handle), "no ping at the wake: {outputs:?}");
    assert_eq!(endpoint.poll_timeout(), Some(heard + 25_000));
    endpoint.handle_alarm(heard + 25_000, |_| Some(heard));
    assert!(pinged(&drain(&mut endpoint), handle));
}

#[test]
fn an_overlapping_post_is_refused_and_ends_the_session_as_the_reference_does() {
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("p", TransportKind::Polling, START).unwrap();
    endpoint.handle_poll(handle, START).unwrap();
    drain(&mut endpoint);
    assert_eq!(endpoint.begin_post(handle, START + 1), Ok(()));
    // A second POST while the first one's body is read.
    assert_eq!(endpoint.begin_post(handle, START + 2), Err(ServerError::BadRequest));
    assert!(drain(&mut endpoint)
        .contains(&Output::Event { handle, event: ServerEvent::Closed(CloseReason::TransportError) }));
    // One after the other is fine.
    let other = endpoint.open("q", TransportKind::Polling, START).unwrap();
    for at in [START + 3, START + 4] {
        assert_eq!(endpoint.begin_post(other, at), Ok(()));
        assert_eq!(endpoint.handle_post(other, "4hi", at), Ok(()));
    }
    // A POST whose body never came does not count as in progress.
    assert_eq!(endpoint.begin_post(other, START + 5), Ok(()));
    endpoint.handle_post_aborted(other);
    assert_eq!(endpoint.begin_post(other, START + 6), Ok(()));
}

#[test]
fn binary_content_posted_ends_the_session_as_the_reference_does() {
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("p", TransportKind::Polling, START).unwrap();
    drain(&mut endpoint);
    assert_eq!(endpoint.begin_post(handle, START + 1), Ok(()));
    endpoint.handle_post_invalid_content(handle, START + 1);
    assert!(drain(&mut endpoint)
        .contains(&Output::Event { handle, event: ServerEvent::Closed(CloseReason::TransportError) }));
    assert_eq!(endpoint.lookup("p"), None, "the session is over");
    assert_eq!(endpoint.begin_post(handle, START + 2), Err(ServerError::UnknownSid), "no later POST is served");
}

#[test]
fn a_full_endpoint_refuses_handshakes_but_keeps_its_sessions() {
    let mut endpoint = Endpoint::new(ServerConfig { max_sessions: 2, ..config() });
    let a = endpoint.open("a", TransportKind::WebSocket, START).unwrap();
    endpoint.open("b", TransportKind::Polling, START).unwrap();
    assert_eq!(endpoint.open("c", TransportKind::Polling, START), Err(EndpointError::Full));
    // A session resumed after an eviction is not a new one.
    let mut woken = Endpoint::new(ServerConfig { max_sessions: 1, ..config() });
    woken.resume_websocket("a", START, None);
    woken.resume_websocket("z", START, None);
    assert_eq!(woken.open_sessions(), 2);
    // Room again once a session ended.
    endpoint.handle_websocket_closed(a, START + 1);
    assert!(endpoint.open("c", TransportKind::Polling, START + 2).is_ok());
}

#[test]
fn a_polling_client_that_falls_too_far_behind_is_closed() {
    let mut endpoint = Endpoint::new(ServerConfig { max_queued_bytes: 200, ..config() });
    let handle = endpoint.open("slow", TransportKind::Polling, START).unwrap();
    endpoint.handle_poll(handle, START).unwrap();
    let message = || Data::Text("x".repeat(30));
    // Polled in time: never more than 200 bytes wait (the open packet is about 110).
    for i in 0..10 {
        endpoint.send(handle, message(), START + i);
        endpoint.send(handle, message(), START + i);
        assert!(matches!(endpoint.handle_poll(handle, START + i), Ok(PollOutcome::Respond(_))));
    }
    assert!(drain(&mut endpoint).is_empty(), "still open");
    // Polled just now: catching up (a burst between two polls), it may fall four times as far
    // behind.
    for _ in 0..25 {
        endpoint.send(handle, message(), START + 10);
    }
    assert!(drain(&mut endpoint).is_empty(), "still open at 775 bytes, polled within the grace");
    assert!(matches!(endpoint.handle_poll(handle, START + 11), Ok(PollOutcome::Respond(_))));
    // Not polled for longer than the grace: the seventh message of 31 bytes is past the bound.
    let late = START + 11 + POLLING_GRACE_MS;
    for i in 0..6 {
        endpoint.send(handle, message(), late + i);
    }
    assert!(drain(&mut endpoint).is_empty(), "still open at 186 bytes");
    for i in 6..7 {
        endpoint.send(handle, message(), late + i);
    }
    // Its next poll learns the session is gone (400), and the client reconnects.
    assert_eq!(
        drain(&mut endpoint),
        vec![
            Output::Event { handle, event: ServerEvent::Closed(CloseReason::TransportError) },
            Output::Removed { handle }
        ]
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// What a polling-then-upgrading client and the application do to one session.
    #[derive(Debug, Clone)]
    enum Step {
        Send,
        Poll,
        ProbeOpen,
        ProbePing,
        Upgrade,
        ProbeClosed,
        Alarm(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => Just(Step::Send),
            3 => Just(Step::Poll),
            1 => Just(Step::ProbeOpen),
            1 => Just(Step::ProbePing),
            1 => Just(Step::Upgrade),
            1 => Just(Step::ProbeClosed),
            1 => (0u64..200).prop_map(Step::Alarm),
        ]
    }

    /// The messages an output carries to the client.
    fn messages(output: &Output) -> Vec<String> {
        match output {
            Output::AnswerPoll { answer: Ok(body), .. } => {
                body.split('\x1e').filter_map(|p| p.strip_prefix('4')).map(str::to_owned).collect()
            }
            Output::Send { frame: Frame::Text(text), .. } => {
                text.strip_prefix('4').map(str::to_owned).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3_000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever the interleaving of sends, polls and the upgrade's steps, a message leaves
        /// the endpoint at most once, and every message leaves while the session is open.
        #[test]
        fn a_message_is_written_at_most_once_and_never_dropped_while_open(steps in proptest::collection::vec(step(), 1..60)) {
            let mut endpoint = Endpoint::new(config());
            let handle = endpoint.open("p", TransportKind::Polling, START).unwrap();
            endpoint.handle_poll(handle, START).unwrap();
            drain(&mut endpoint);
            let mut now = START;
            let mut sent = 0u32;
            let mut written: Vec<String> = Vec::new();
            for step in steps {
                now += 1;
                match step {
                    Step::Send => {
                        endpoint.send(handle, Data::Text(format!("m{sent}")), now);
                        sent += 1;
                    }
                    Step::Poll => {
                        if let Ok(PollOutcome::Respond(body)) = endpoint.handle_poll(handle, now) {
                            written.extend(messages(&Output::AnswerPoll { handle, answer: Ok(body) }));
                        }
                    }
                    Step::ProbeOpen => {
                        let _ = endpoint.handle_websocket_open(handle, now);
                    }
                    Step::ProbePing => endpoint.handle_websocket_frame(handle, text("2probe"), now),
                    Step::Upgrade => endpoint.handle_websocket_frame(handle, text("5"), now),
                    Step::ProbeClosed => {
                        if endpoint.transport(handle) == Some(TransportKind::Polling) {
                            endpoint.handle_websocket_closed(handle, now);
                        }
                    }
                    Step::Alarm(ms) => {
                        now += ms;
                        endpoint.handle_alarm(now, |_| None);
                    }
                }
                for output in drain(&mut endpoint) {
                    written.extend(messages(&output));
                }
            }
            let mut seen = std::collections::BTreeSet::new();
            for m in &written {
                prop_assert!(seen.insert(m.clone()), "{m} written twice: {written:?}");
            }
            // While the session is open, what was not written yet waits for the next poll
            // (one is not held now) or went out on the WebSocket.
            if endpoint.open_sessions() == 1 {
                if endpoint.transport(handle) == Some(TransportKind::Polling) && !endpoint.is_writable(handle) {
                    if let Ok(PollOutcome::Respond(body)) = endpoint.handle_poll(handle, now + 1) {
                        written.extend(messages(&Output::AnswerPoll { handle, answer: Ok(body) }));
                    }
                }
                let all: std::collections::BTreeSet<String> = (0..sent).map(|i| format!("m{i}")).collect();
                let got: std::collections::BTreeSet<String> = written.into_iter().collect();
                prop_assert_eq!(got, all);
            }
        }
    }
}

#[test]
fn a_websocket_that_takes_no_binary_gets_binary_as_base64_text_through_an_upgrade_and_a_resume() {
    let binary = |endpoint: &mut Endpoint, handle, at| {
        endpoint.send(handle, Data::Binary(vec![1, 2, 3]), at);
        drain(endpoint)
    };
    let of = |outputs: Vec<Output>| -> Vec<Frame> {
        outputs
            .into_iter()
            .filter_map(|o| if let Output::Send { frame, .. } = o { Some(frame) } else { None })
            .collect()
    };
    // WebSocket only: raw binary frames by default, `b<base64>` text once marked.
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.open("w", TransportKind::WebSocket, START).unwrap();
    drain(&mut endpoint);
    assert_eq!(of(binary(&mut endpoint, handle, START + 1)), vec![Frame::Binary(vec![1, 2, 3])]);
    endpoint.send_binary_as_text(handle);
    assert_eq!(of(binary(&mut endpoint, handle, START + 2)), vec![text("bAQID")]);
    // Polling then upgrade: binary queued while polling goes out on the WebSocket as text too.
    let handle = endpoint.open("p", TransportKind::Polling, START).unwrap();
    endpoint.handle_poll(handle, START).unwrap();
    endpoint.handle_websocket_open(handle, START + 1).unwrap();
    endpoint.send_binary_as_text(handle);
    assert!(of(binary(&mut endpoint, handle, START + 2)).is_empty(), "queued for the poll");
    endpoint.handle_websocket_frame(handle, text("2probe"), START + 3);
    endpoint.handle_websocket_frame(handle, text("5"), START + 4);
    assert_eq!(of(drain(&mut endpoint)), vec![text("3probe"), text("bAQID")]);
    assert_eq!(of(binary(&mut endpoint, handle, START + 5)), vec![text("bAQID")]);
    // A session resumed after an eviction is marked again by its host (from the WebSocket's tag).
    let mut endpoint = Endpoint::new(config());
    let handle = endpoint.resume_websocket("w", START, Some(START));
    endpoint.send_binary_as_text(handle);
    drain(&mut endpoint);
    assert_eq!(of(binary(&mut endpoint, handle, START + 1)), vec![text("bAQID")]);
}

#[test]
fn a_handle_kept_as_bits_names_its_session_and_never_the_next_one_in_its_slot() {
    let mut endpoint = Endpoint::new(config());
    let first = endpoint.open("s1", TransportKind::WebSocket, START).unwrap();
    let kept = first.to_bits();
    assert_eq!(SessionHandle::from_bits(kept), first);
    assert_eq!(endpoint.sid(SessionHandle::from_bits(kept)), Some("s1"));
    endpoint.handle_websocket_closed(first, START + 1);
    assert!(drain(&mut endpoint).iter().any(|o| matches!(o, Output::Removed { handle } if *handle == first)));
    // The freed slot's next session gets another handle; the kept bits name no session.
    let second = endpoint.open("s2", TransportKind::WebSocket, START + 2).unwrap();
    // The same slot (the low half), its next generation (the high half).
    assert_eq!(second.to_bits(), kept + (1 << 32));
    assert_eq!(endpoint.sid(SessionHandle::from_bits(kept)), None);
    assert_eq!(endpoint.sid(second), Some("s2"));
}

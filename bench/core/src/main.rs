//! The server core's cost per event, natively (issue 13: core cost apart from glue cost).
//!
//! Three operations on `wasmio_protocol::server::Server`, each driven as the edge drives it
//! (input, the core's events and transmits drained, the snapshot writes taken, as the Durable
//! Object's `settle` does after every event):
//! - an echo: a client event in, an emit back to that socket;
//! - a broadcast to 1,000 sockets (encoded once, one transmit for all);
//! - a server emit with an acknowledgement, and the client's answer in.
//!
//! Prints one JSON object: the medians of `ROUNDS` (default 7) rounds, ns per operation.

use std::hint::black_box;
use std::time::Instant;

use wasmio_protocol::engine::Data;
use wasmio_protocol::server::{Accept, Broadcast, Config, Event, Server, SessionInfo};

/// A server with `sockets` sockets connected to `/`, sessions `e0..`, socket ids `s0..`.
fn server_with(sockets: usize) -> Server {
    let mut server = Server::new(Config::default());
    for i in 0..sockets {
        let session = format!("e{i}");
        server.handle_open(&session, SessionInfo::default(), 0).expect("a new session opens");
        server.handle_message(&session, Data::Text("0".into()), 0);
        while server.poll_event().is_some() {}
        let accept = Accept { sid: format!("s{i}"), pid: None, data: None };
        server.accept_connect(&session, "/", accept, 0).expect("the CONNECT is accepted");
        drain(&mut server);
    }
    server.take_writes();
    server
}

/// Takes every transmit and event out; how many transmits there were.
fn drain(server: &mut Server) -> usize {
    let mut transmits = 0;
    while server.poll_transmit().is_some() {
        transmits += 1;
    }
    while server.poll_event().is_some() {}
    transmits
}

/// ns per call of `op`, over `n` calls.
fn time(n: u32, mut op: impl FnMut(u32)) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        op(i);
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn echo(server: &mut Server, n: u32) -> f64 {
    time(n, |_| {
        server.handle_message("e0", Data::Text(r#"2["echo","hello",{"n":1}]"#.into()), 1);
        while let Some(event) = server.poll_event() {
            if let Event::Message(m) = event {
                server.emit(&m.sid, &m.name, &m.args, m.attachments, 1).expect("the echo is emitted");
            }
        }
        black_box(drain(server));
        black_box(server.take_writes());
    })
}

fn broadcast(server: &mut Server, n: u32) -> f64 {
    let all = Broadcast::new("/");
    time(n, |_| {
        server.broadcast(&all, "news", r#"["hello",{"n":1}]"#, Vec::new(), 1).expect("the broadcast goes out");
        black_box(drain(server));
        black_box(server.take_writes());
    })
}

fn ack(server: &mut Server, n: u32) -> f64 {
    time(n, |_| {
        let id = server.emit_with_ack("s0", "question", r#"["ok?"]"#, Vec::new(), Some(5_000), 1).expect("emitted");
        drain(server);
        server.handle_message("e0", Data::Text(format!(r#"3{id}["ok"]"#)), 2);
        while let Some(event) = server.poll_event() {
            black_box(matches!(event, Event::Ack { .. }));
        }
        black_box(drain(server));
        black_box(server.take_writes());
    })
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(7);
    let (mut one, mut thousand) = (server_with(1), server_with(1_000));
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];
    // One warm-up round, then the measured ones, the operations interleaved.
    for round in 0..=rounds {
        let taken = [echo(&mut one, 20_000), broadcast(&mut thousand, 200), ack(&mut one, 20_000)];
        if round > 0 {
            for (list, ns) in samples.iter_mut().zip(taken) {
                list.push(ns);
            }
        }
    }
    let [echo, broadcast, ack] = samples.map(median);
    println!(
        "{{\"rounds\":{rounds},\"ns_per_op\":{{\"echo\":{echo:.0},\"broadcast_1000\":{broadcast:.0},\"ack\":{ack:.0}}}}}"
    );
}

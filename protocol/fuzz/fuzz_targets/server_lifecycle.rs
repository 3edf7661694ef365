//! Drives the server side as a Durable Object does, from a script cut out of the input: the
//! Engine.IO endpoint and the Socket.IO core, with handshakes, polls, POST bodies, WebSocket
//! frames (text and binary), closes, time, evictions (the core rebuilt from the writes it
//! asked for), and restores of mutated snapshots. Nothing may panic, and what the core asks to
//! persist must read back.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "script.rs"]
mod script;
use wasmio_protocol::engine::{CloseReason, Data, Endpoint, Frame, Output, ServerConfig, ServerEvent, TransportKind};
use wasmio_protocol::server::{Accept, Config, Event, RecoveryConfig, Server, SessionInfo, Transmit, Write};

fuzz_target!(|data: &[u8]| {
    // Snapshots past 200 bytes (a session with a socket) go to storage, their key in the attachment.
    let config =
        Config { recovery: Some(RecoveryConfig::default()), max_inline_snapshot_bytes: 200, ..Config::default() };
    let mut endpoint = Endpoint::new(ServerConfig::default());
    let mut server = Server::new(config.clone());
    // What the WebSockets keep (the last snapshot of each WebSocket session, or its storage
    // key), and storage.
    let mut attachments: std::collections::BTreeMap<String, String> = Default::default();
    let mut storage: std::collections::BTreeMap<String, String> = Default::default();
    let mut now = 1_000u64;
    let mut sids: Vec<String> = Vec::new();
    let mut next = 0u32;
    // Each step: an opcode byte, a session byte, then a chunk up to the next 0xFF.
    for script::Step { op, who, chunk } in script::steps(data) {
        let text = String::from_utf8_lossy(chunk).into_owned();
        let handle = sids.get(who as usize % sids.len().max(1)).and_then(|sid| endpoint.lookup(sid));
        now += u64::from(op >> 4) * 997;
        match op % 12 {
            0 | 1 => {
                next += 1;
                let sid = format!("0-{next}");
                let kind = if op % 2 == 0 { TransportKind::Polling } else { TransportKind::WebSocket };
                if endpoint.open(sid.clone(), kind, now).is_ok() {
                    let info = SessionInfo { query: "{}".into(), ..SessionInfo::default() };
                    if server.handle_open(&sid, info, now).is_err() {
                        endpoint.close(endpoint.lookup(&sid).unwrap(), CloseReason::ForcedClose, now);
                    }
                    sids.push(sid);
                }
            }
            2 => drop(handle.map(|h| endpoint.handle_poll(h, now))),
            3 => drop(handle.map(|h| endpoint.handle_post(h, &text, now))),
            4 => handle.into_iter().for_each(|h| endpoint.handle_websocket_frame(h, Frame::Text(text.clone()), now)),
            5 => {
                handle.into_iter().for_each(|h| endpoint.handle_websocket_frame(h, Frame::Binary(chunk.to_vec()), now))
            }
            6 => drop(handle.map(|h| endpoint.handle_websocket_open(h, now))),
            7 => handle.into_iter().for_each(|h| endpoint.handle_websocket_closed(h, now)),
            8 => {
                endpoint.handle_alarm(now, |_| None);
                server.handle_timeout(now);
            }
            9 => {
                // An eviction: the core comes back from what it asked to keep.
                let header = storage.get(wasmio_protocol::server::SHARED_KEY).map(String::as_str);
                let parts = storage.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                server =
                    Server::restore_stored(config.clone(), header, parts, []).expect("what the core wrote reads back");
                for attachment in attachments.values() {
                    server
                        .restore_attachment(attachment, |key| storage.get(key).cloned())
                        .expect("what the core wrote reads back");
                }
                endpoint = Endpoint::new(ServerConfig::default());
                for sid in &sids {
                    if server.has_session(sid) {
                        // When the runtime last heard the client: unknown, recent or long ago.
                        let heard = (now % 3 != 0).then(|| now.saturating_sub(now % 90_000));
                        endpoint.resume_websocket(sid, now, heard);
                    }
                }
            }
            10 => {
                // A stale or mutated snapshot (or storage key) is refused or restored, never a panic.
                let _ = server.restore_attachment(&text, |key| storage.get(key).cloned());
            }
            _ => {
                let op = wasmio_protocol::server::Broadcast::new("/");
                let _ = server.broadcast(&op, "m", &text, Vec::new(), now);
            }
        }
        run(&mut endpoint, &mut server, now);
        let (writes, _) = server.take_writes();
        for write in writes {
            match write {
                Write::Attachment { session, snapshot } => {
                    if on_websocket(&endpoint, &session) {
                        attachments.insert(session, snapshot);
                    }
                }
                Write::StoredSnapshot { session, key, snapshot } => {
                    if on_websocket(&endpoint, &session) {
                        storage.insert(key.clone(), snapshot);
                        attachments.insert(session, key);
                    }
                }
                Write::Put { key, value } => drop(storage.insert(key, value)),
                Write::Delete { key } => drop(storage.remove(&key)),
            }
        }
        // A WebSocket that is gone takes its attachment with it.
        attachments.retain(|session, _| endpoint.lookup(session).is_some() && server.has_session(session));
    }
});

/// Whether the session is carried by a WebSocket (which keeps its attachment).
fn on_websocket(endpoint: &Endpoint, session: &str) -> bool {
    endpoint.lookup(session).and_then(|h| endpoint.transport(h)) == Some(TransportKind::WebSocket)
}

/// Carries the outputs of both until nothing moves: accepts every CONNECT, echoes events.
fn run(endpoint: &mut Endpoint, server: &mut Server, now: u64) {
    for _ in 0..1_000 {
        let mut moved = false;
        while let Some(output) = endpoint.poll_output() {
            moved = true;
            if let Output::Event { handle, event } = output {
                let Some(sid) = endpoint.sid(handle).map(str::to_owned) else { continue };
                match event {
                    ServerEvent::Message(data) => server.handle_message(&sid, data, now),
                    ServerEvent::Closed(reason) => server.handle_close(&sid, reason, now),
                    ServerEvent::Upgraded => server.handle_upgrade(&sid),
                    ServerEvent::Heartbeat => {}
                }
            }
        }
        while let Some(event) = server.poll_event() {
            moved = true;
            match event {
                Event::ConnectRequest(request) => {
                    let accept =
                        Accept { sid: format!("s{now}{}", request.session), pid: Some(format!("p{now}")), data: None };
                    let _ = server.accept_connect(&request.session, &request.nsp, accept, now);
                }
                Event::Message(message) => {
                    let _ = server.emit(&message.sid, "echo", &message.args, message.attachments, now);
                }
                _ => {}
            }
        }
        while let Some(transmit) = server.poll_transmit() {
            moved = true;
            match transmit {
                Transmit::Packet { sessions, packet } => {
                    for handle in sessions.iter().filter_map(|s| endpoint.lookup(s)).collect::<Vec<_>>() {
                        packet.to_engine_data().into_iter().for_each(|data: Data| endpoint.send(handle, data, now));
                    }
                }
                Transmit::Close { session } => {
                    if let Some(handle) = endpoint.lookup(&session) {
                        endpoint.close(handle, CloseReason::ForcedClose, now);
                    }
                }
            }
        }
        if !moved {
            return;
        }
    }
}

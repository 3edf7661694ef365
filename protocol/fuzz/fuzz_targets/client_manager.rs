//! Drives the client side (a `Manager` with sockets on two namespaces) from a script cut out
//! of the input: whatever a server or the network does (poll answers, frames, errors,
//! closes, time) between the application's connects, emits and disconnects. Nothing may
//! panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "script.rs"]
mod script;
use wasmio_protocol::client::{EmitOptions, Manager, ManagerConfig, SocketOptions};
use wasmio_protocol::engine::{ClientTransmit, Frame, TransportId};

fuzz_target!(|data: &[u8]| {
    let mut manager = Manager::new(ManagerConfig::default(), || 0.5);
    let sockets = [manager.socket("/", SocketOptions::default()), manager.socket("/chat", SocketOptions::default())];
    let mut ids: Vec<TransportId> = Vec::new();
    let mut now = 1_000u64;
    for script::Step { op, who, chunk } in script::steps(data) {
        let text = String::from_utf8_lossy(chunk).into_owned();
        let id = ids.get(who as usize % ids.len().max(1)).copied();
        let socket = sockets[who as usize % 2];
        now += u64::from(op >> 4) * 1_009;
        match op % 10 {
            0 => manager.connect_socket(socket, now),
            1 => {
                let _ = manager.emit(socket, &text, vec![chunk.to_vec()], EmitOptions::default(), now);
            }
            2 => id.into_iter().for_each(|id| manager.handle_poll_response(id, &text, now)),
            3 => id.into_iter().for_each(|id| manager.handle_post_done(id, now)),
            4 => id.into_iter().for_each(|id| manager.handle_websocket_open(id, now)),
            5 => id.into_iter().for_each(|id| manager.handle_websocket_frame(id, Frame::Text(text.clone()), now)),
            6 => id.into_iter().for_each(|id| manager.handle_websocket_frame(id, Frame::Binary(chunk.to_vec()), now)),
            7 => id.into_iter().for_each(|id| manager.handle_transport_error(id, "fuzz", now)),
            8 => id.into_iter().for_each(|id| manager.handle_transport_closed(id, now)),
            _ => {
                if manager.poll_timeout().is_some_and(|at| at <= now) {
                    manager.handle_timeout(now);
                }
                if manager.wants_tick() {
                    manager.handle_tick(now);
                }
                if who == 0 {
                    manager.disconnect_socket(socket, now);
                }
            }
        }
        while let Some(transmit) = manager.poll_transmit() {
            let id = match transmit {
                ClientTransmit::PollGet { id, .. }
                | ClientTransmit::PollPost { id, .. }
                | ClientTransmit::OpenWebSocket { id, .. }
                | ClientTransmit::WebSocket { id, .. }
                | ClientTransmit::Close { id } => id,
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        while manager.poll_event().is_some() {}
    }
});

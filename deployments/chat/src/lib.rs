//! The chat server of the seed article: every `chat message` is broadcast to everyone as
//! `{ id, text, ts }`. Connection state recovery is on: a client cut off for up to two
//! minutes gets the messages it missed, whichever object its reconnection reaches. Each socket
//! may send 30 messages a second (bursts of 60): more are dropped and counted, so that one
//! client cannot make the object relay without end.
//!
//! `make demo` serves it with the page of `www/` under `wrangler dev`; `wrangler deploy` in
//! this folder deploys it.

use serde_json::json;

use wasmio_edge::app::{App, RateKey, RateLimit};
use wasmio_edge::now_ms;

/// The chat application.
fn app(_env: &worker::Env) -> App {
    App::new().connection_state_recovery(120_000).namespace("/", |ns| {
        ns.rate_limit(RateLimit { burst: 60.0, per_second: 30.0, disconnect: false, key: RateKey::Socket }).on(
            "chat message",
            |socket, text: serde_json::Value| {
                let id = socket.id().to_owned();
                Ok(socket.io().emit("chat message", &json!({ "id": id, "text": text, "ts": now_ms() }))?)
            },
        )
    })
}

wasmio_edge::deployment!(app);

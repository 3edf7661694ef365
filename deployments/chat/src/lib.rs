//! The chat deployment: the seed article's chat on `/` (every `chat message` is broadcast to
//! everyone as `{ id, text, ts }`, page `www/index.html`), and the demo app's namespaces and
//! endpoint (page `/app/`, built from `www-app/`):
//!
//! - `/chat` (module `rooms`): chat rooms with presence, "typing…", history in storage and a
//!   resync on reconnect;
//! - `/board` (module `board`): a shared whiteboard, binary stroke batches kept in storage;
//! - `GET /api/ops` (module `ops`): per-object statistics behind a bearer token.
//!
//! Connection state recovery is on: a client cut off for up to two minutes gets the messages
//! it missed, whichever object its reconnection reaches. Each socket of the seed chat may send
//! 30 messages a second (bursts of 60): more are dropped and counted, so that one client
//! cannot make the object relay without end.
//!
//! `make demo` serves it under `wrangler dev`; `wrangler deploy` in this folder deploys it.

mod board;
mod kept_rooms;
mod member;
mod ops;
mod rooms;

use serde_json::json;

use wasmio_edge::app::{App, RateKey, RateLimit};
use wasmio_edge::now_ms;

/// The application: the seed chat and the demo's namespaces.
fn app(_env: &worker::Env) -> App {
    App::new()
        .connection_state_recovery(120_000)
        .namespace("/", |ns| {
            ns.rate_limit(RateLimit { burst: 60.0, per_second: 30.0, disconnect: false, key: RateKey::Socket }).on(
                "chat message",
                |socket, text: serde_json::Value| {
                    let id = socket.id().to_owned();
                    Ok(socket.io().emit("chat message", &json!({ "id": id, "text": text, "ts": now_ms() }))?)
                },
            )
        })
        .namespace("/chat", rooms::namespace)
        .namespace("/board", board::namespace)
}

wasmio_edge::deployment!(app, routes = ops::routes);

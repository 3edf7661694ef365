//! The chat server of the seed article: every `chat message` is broadcast to everyone as
//! `{ id, text, ts }`. Connection state recovery is on: a client cut off for up to two
//! minutes gets the messages it missed, whichever object its reconnection reaches.

use serde_json::json;

use crate::app::App;
use crate::engine_host::now_ms;

/// The chat application.
pub fn app() -> App {
    App::new().connection_state_recovery(120_000).namespace("/", |ns| {
        ns.on("chat message", |socket, text: serde_json::Value| {
            let id = socket.id().to_owned();
            socket.io().emit("chat message", &json!({ "id": id, "text": text, "ts": now_ms() }));
        })
    })
}

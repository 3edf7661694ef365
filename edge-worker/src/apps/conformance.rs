//! The reference handlers of the Socket.IO test suite (`../shared/specs`, "Test suite"):
//! `auth` echo on `/` and `/custom`, `message` -> `message-back`, `message-with-ack`.

use crate::app::{App, Args, Socket};

fn emit_auth(socket: &mut Socket) {
    let auth = socket.info().map(|i| i.auth).unwrap_or_else(|| "{}".to_owned());
    socket.emit_args("auth", Args { json: format!("[{auth}]"), attachments: Vec::new() });
}

/// The conformance application.
pub fn app() -> App {
    App::new()
        .connect_timeout(1000)
        .namespace("/", |ns| {
            ns.on_connection(emit_auth)
                .on_args("message", |socket, args| socket.emit_args("message-back", args))
                .on_args("message-with-ack", |socket, args| socket.ack_args(args))
        })
        .namespace("/custom", |ns| ns.on_connection(emit_auth))
}

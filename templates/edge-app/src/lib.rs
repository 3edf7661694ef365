//! A Socket.IO server of your own, on wasmio-edge: rooms and messages, with connection state
//! recovery (a client cut off for up to two minutes gets what it missed).

use wasmio_edge::app::App;
use worker::Env;

/// The application: its namespaces and handlers (`env` holds the Worker's bindings).
fn app(_env: &Env) -> App {
    App::new().connection_state_recovery(120_000).namespace("/", |ns| {
        ns.on("join", |socket, room: String| {
            socket.join(&room)?; // an error answers the client's ack, if it asked for one
            let id = socket.id().to_owned();
            Ok(socket.to(&room).emit("joined", &id)?)
        })
        .on("say", |socket, text: String| Ok(socket.broadcast().emit("said", &text)?))
    })
}

wasmio_edge::deployment!(app);

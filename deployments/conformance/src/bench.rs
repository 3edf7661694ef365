//! The server benchmark's application (bench/server/): served by this deployment when its
//! `APP` variable is `bench` (deployments/conformance/wrangler.bench.toml). It has exactly the
//! handlers of the benchmark's other two servers, the official socket.io server
//! (bench/server/official.mjs) and the JavaScript floor (bench/server/floor/), so that the
//! three are measured doing the same work: no `auth` event emitted at each connection and no
//! presence handler (whose live record is a storage write at each join), which the
//! conformance application has for the official suites and the others do not.

use wasmio_edge::app::App;

/// `/`: `message` -> `message-back` with the same arguments, `message-with-ack` acknowledged
/// with its arguments; `/rooms`: `join` (acknowledged with the room), `to-room` (room, msg) ->
/// `room-message` (msg) to the room's other members.
pub fn app() -> App {
    App::new()
        .namespace("/", |ns| {
            ns.on_args("message", |socket, args| Ok(socket.emit_args("message-back", args)?))
                .on_args("message-with-ack", |socket, args| Ok(socket.ack_args(args)?))
        })
        .namespace("/rooms", |ns| {
            ns.on("join", |socket, room: String| {
                socket.join(&room)?;
                Ok(socket.ack(&room)?)
            })
            .on_args("to-room", |socket, args| {
                let (room, msg) = args.parse::<(String, serde_json::Value)>()?;
                Ok(socket.to(&room).emit("room-message", &msg)?)
            })
        })
}

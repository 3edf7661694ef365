//! The server benchmark's application (bench/server/): served by this deployment when its
//! `APP` variable is `bench` (deployments/conformance/wrangler.bench.toml). It has exactly the
//! handlers of the benchmark's other two servers, the official socket.io server
//! (bench/server/official.mjs) and the JavaScript floor (bench/server/floor/), so that the
//! three are measured doing the same work: no `auth` event emitted at each connection and no
//! presence handler (whose live record is a storage write at each join), which the
//! conformance application adds to these same handlers for the official suites.

use wasmio_edge::app::{App, Namespace};

/// The benchmark's application: [`echo`] on `/`, [`rooms`] on `/rooms`.
pub fn app() -> App {
    App::new().namespace("/", echo).namespace("/rooms", rooms)
}

/// `message` -> `message-back` with the same arguments; `message-with-ack` acknowledged with
/// its arguments.
pub fn echo(ns: Namespace) -> Namespace {
    ns.on_args("message", |socket, args| Ok(socket.emit_args("message-back", args)?))
        .on_args("message-with-ack", |socket, args| Ok(socket.ack_args(args)?))
}

/// `join` (acknowledged with the room; a refused join is an error, so the client's ack gets
/// `{"error": ...}`); `to-room` (room, msg) -> `room-message` (msg) to the room's other members.
pub fn rooms(ns: Namespace) -> Namespace {
    ns.on("join", |socket, room: String| {
        socket.join(&room)?;
        Ok(socket.ack(&room)?)
    })
    .on_args("to-room", |socket, args| {
        let room: String = args.first()?;
        Ok(socket.to(&room).emit_args("room-message", args.nth(1)?)?)
    })
}

//! `/cluster`: socket.io's adapter operations over every object of the deployment.

use serde_json::json;
use wasmio_edge::app::{HandlerError, Namespace};
use wasmio_edge::{Context, Emitter};

/// The selection an operation of `/cluster` asks for: `{"room": ..., "except": ...}`.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Selection {
    room: Option<String>,
    except: Option<String>,
    /// The rooms to join or leave.
    rooms: Vec<String>,
    /// `disconnectSockets(close)`.
    close: bool,
    /// Milliseconds to wait for acknowledgements.
    timeout: u64,
}

impl Selection {
    fn io<'c>(&self, ctx: &'c Context) -> Result<Emitter<'c>, HandlerError> {
        let mut io = ctx.io()?;
        if let Some(room) = &self.room {
            io = io.to(room);
        }
        if let Some(room) = &self.except {
            io = io.except(room);
        }
        Ok(io)
    }
}

/// `/cluster`: each event takes a [`Selection`] and runs an adapter operation over every object
/// of the deployment, answering the client's acknowledgement with its result (an error answers
/// `{"error": message}`):
/// - `join` (room): the socket joins a room; `set-name` (name): `socket.data.name`;
/// - `fetch`: `fetchSockets()` -> `[{id, rooms, data, headers}]` (`headers`: `handshake.headers`);
/// - `join-all` / `leave-all`: `socketsJoin(rooms)` / `socketsLeave(rooms)`;
/// - `disconnect-all`: `disconnectSockets(close)`;
/// - `poll`: `timeout(ms).emitWithAck("question", <the asker's id>)` -> `{responses, timedOut}`;
/// - `to-room`: (room, msg) `room-message` to the room's members on every object;
/// - `census`: `serverSideEmit("census")` -> each other object's `{sockets}` count of `/cluster`.
pub fn cluster(ns: Namespace) -> Namespace {
    ns.on("join", |socket, room: String| {
        socket.join(&room)?;
        Ok(socket.ack(&room)?)
    })
    .on("set-name", |socket, name: String| {
        socket.set_data(&json!({ "name": name }))?;
        Ok(socket.ack(&name)?)
    })
    .on_args("to-room", |socket, args| {
        let room: String = args.first()?;
        Ok(socket.io().to(&room).emit_args("room-message", args.nth(1)?)?)
    })
    .on_async("fetch", |ctx, selection: Selection| async move {
        let sockets = selection.io(&ctx)?.fetch_sockets().await?;
        let list: Vec<_> = sockets
            .iter()
            .map(|s| json!({ "id": s.id, "rooms": s.rooms, "data": s.data, "headers": s.handshake.headers }))
            .collect();
        ctx.socket(|socket| socket.ack(&list))??;
        Ok(())
    })
    .on_async("join-all", |ctx, selection: Selection| async move {
        let rooms: Vec<&str> = selection.rooms.iter().map(String::as_str).collect();
        selection.io(&ctx)?.sockets_join(&rooms).await?;
        ctx.socket(|socket| socket.ack(&"joined"))??;
        Ok(())
    })
    .on_async("leave-all", |ctx, selection: Selection| async move {
        let rooms: Vec<&str> = selection.rooms.iter().map(String::as_str).collect();
        selection.io(&ctx)?.sockets_leave(&rooms).await?;
        ctx.socket(|socket| socket.ack(&"left"))??;
        Ok(())
    })
    .on_async("disconnect-all", |ctx, selection: Selection| async move {
        // Answered first: the asker may be among the sockets disconnected.
        ctx.socket(|socket| socket.ack(&"disconnecting"))??;
        selection.io(&ctx)?.disconnect_sockets(selection.close).await?;
        Ok(())
    })
    .on_async("poll", |ctx, selection: Selection| async move {
        let asker = ctx.id().to_owned();
        let collected = selection.io(&ctx)?.emit_with_ack("question", &asker, selection.timeout).await?;
        let answer = json!({ "responses": collected.responses, "timedOut": collected.timed_out });
        ctx.socket(|socket| socket.ack(&answer))??;
        Ok(())
    })
    .on_async("census", |ctx, _: serde_json::Value| async move {
        let counts = ctx.io()?.server_side_emit("census", &()).await?;
        ctx.socket(|socket| socket.ack(&counts))??;
        Ok(())
    })
    .on_server_side("census", |local, _| Ok(json!({ "sockets": local.sockets(None).len() })))
}

//! The reference handlers of the Socket.IO test suite (`../shared/specs`, "Test suite"):
//! `auth` echo on `/` and `/custom`, `message` -> `message-back`, `message-with-ack`.
//!
//! The other namespaces exercise what the test suite does not (tests/edge/socketio.test.mjs):
//! - `/auth`: a connection middleware that refuses a handshake without `{"token":"secret"}`
//!   with `connect_error` "not authorized" and `data`;
//! - `/rooms`: `join` / `leave` a room (acknowledged with the room), `to-room` (room, msg):
//!   `room-message` to the room's members but the sender (`socket.to(room)`), `to-room-all`
//!   (room, msg): to every member, the sender included (`io.to(room)`), `broadcast` (msg):
//!   `broadcast-message` to every socket of the namespace but the sender;
//! - `/limited` and `/limited-strict`: `ping` -> `pong` with a rate limit of 3 events (0.5
//!   more per second); over the limit the event is dropped, and `/limited-strict`
//!   disconnects the socket;
//! - `/server-disconnect`: `kick` disconnects the socket from the namespace, `close`
//!   disconnects it and closes the Engine.IO session;
//! - `/server-ack`: `ask` (value) makes the server emit `question` (value) with an
//!   acknowledgement (timeout 1000 ms); the client's answer comes back as `answer` (the
//!   answer's arguments), a timeout as `answer-timeout`; `ask-later` the same with 120 s;
//! - `/typed`: typed handlers over every argument, with binary arguments ([`typed`]);
//! - `/cluster`: socket.io's adapter operations over every object of the deployment
//!   ([`cluster`]).

use serde_json::json;

use wasmio_edge::app::{
    AckError, App, Args, Bytes, ConnectError, HandlerResult, Namespace, RateKey, RateLimit, Socket,
};
use wasmio_edge::Context;

fn emit_auth(socket: &mut Socket) -> HandlerResult {
    let auth = socket.info().map(|i| i.auth).unwrap_or_else(|| "{}".to_owned());
    Ok(socket.emit_args("auth", Args { json: format!("[{auth}]"), attachments: Vec::new() })?)
}

/// `ping` -> `pong` with the same arguments.
fn pong(socket: &mut Socket, args: Args) -> HandlerResult {
    Ok(socket.emit_args("pong", args)?)
}

/// The conformance application.
pub fn app() -> App {
    App::new()
        .connect_timeout(1000)
        .namespace("/", |ns| {
            ns.on_connection(emit_auth)
                .on_args("message", |socket, args| Ok(socket.emit_args("message-back", args)?))
                .on_args("message-with-ack", |socket, args| Ok(socket.ack_args(args)?))
        })
        .namespace("/custom", |ns| ns.on_connection(emit_auth))
        // Dynamic namespaces: every `/dynamic-<n>` exists on first use (`io.of(/^\/dynamic-\d+$/)`).
        .dynamic_namespace(
            |name| {
                name.strip_prefix("/dynamic-").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            },
            |ns| {
                ns.on_connection(emit_auth).on_args("message", |socket, args| {
                    let nsp = socket.nsp().to_owned();
                    Ok(socket.emit("message-back", &serde_json::json!({ "nsp": nsp, "args": args.json }))?)
                })
            },
        )
        .namespace("/auth", |ns| {
            ns.use_connect(|handshake| {
                let auth: serde_json::Value = handshake.auth()?;
                if auth.get("token").and_then(|t| t.as_str()) == Some("secret") {
                    Ok(())
                } else {
                    Err(ConnectError::new("not authorized").with_data(json!({ "reason": "bad token", "retry": false })))
                }
            })
            .on_connection(emit_auth)
        })
        .namespace("/credentials", |ns| {
            // The handshake's Cookie or Authorization header decides.
            ns.use_connect(|handshake| {
                let cookie = handshake.cookie.is_some_and(|c| c.split("; ").any(|kv| kv == "session=abc"));
                match cookie || handshake.authorization == Some("Bearer t0ken") {
                    true => Ok(()),
                    false => Err(ConnectError::new("no credentials")),
                }
            })
        })
        // Async handlers with the Worker's bindings (the NOTES KV namespace) and the object's
        // storage.
        .namespace("/async", |ns| {
            ns.on_async("remember", |ctx, note: String| async move {
                ctx.env().kv("NOTES")?.put(ctx.id(), note)?.execute().await?;
                Ok(ctx.socket(|socket| socket.ack(&"kept"))??)
            })
            .on_async("recall", |ctx, key: String| async move {
                let note = ctx.env().kv("NOTES")?.get(&key).text().await?;
                Ok(ctx.socket(|socket| socket.ack(&note))??)
            })
            // Why each socket left, kept in NOTES under `left:<socket id>`.
            .on_disconnect_async(|ctx, reason| async move {
                ctx.env().kv("NOTES")?.put(&format!("left:{}", ctx.id()), reason)?.execute().await?;
                Ok(())
            })
            .on_async("count", |ctx, _: serde_json::Value| async move {
                let storage = ctx.storage()?;
                let count = storage.get::<u64>("conformance-count").await?.unwrap_or(0) + 1;
                storage.put("conformance-count", count).await?;
                Ok(ctx.socket(|socket| socket.ack(&count))??)
            })
        })
        // An async connection middleware: the token in `auth` must name a note in NOTES.
        .namespace("/kv-auth", |ns| {
            ns.use_connect_async(|handshake| async move {
                let token: String = handshake.auth::<serde_json::Value>()?["token"].as_str().unwrap_or("").to_owned();
                let notes = handshake.env().kv("NOTES").map_err(|e| ConnectError::new(e.to_string()))?;
                match notes.get(&token).text().await {
                    Ok(Some(user)) => handshake.set_data(&json!({ "user": user })),
                    _ => Err(ConnectError::new("not authorized")),
                }
            })
            .on_connection(|socket| {
                let user = socket.data::<serde_json::Value>().and_then(|d| d.get("user").cloned());
                Ok(socket.emit("welcome", &user)?)
            })
        })
        .namespace("/rooms", |ns| {
            ns.on("join", |socket, room: String| {
                // A refused join is an error: the client's ack gets {"error": ...}.
                socket.join(&room)?;
                Ok(socket.ack(&room)?)
            })
            .on("leave", |socket, room: String| {
                socket.leave(&room)?;
                Ok(socket.ack(&room)?)
            })
            .on_args("to-room", |socket, args| {
                let (room, msg) = args.parse::<(String, serde_json::Value)>()?;
                Ok(socket.to(&room).emit("room-message", &msg)?)
            })
            .on_args("to-room-all", |socket, args| {
                let (room, msg) = args.parse::<(String, serde_json::Value)>()?;
                Ok(socket.io().to(&room).emit("room-message", &msg)?)
            })
            .on("broadcast", |socket, msg: serde_json::Value| Ok(socket.broadcast().emit("broadcast-message", &msg)?))
            .on("set-name", |socket, name: String| {
                socket.set_data(&json!({ "name": name }))?;
                Ok(socket.ack(&name)?)
            })
            // Presence: the others of each room hear who left it.
            .on_disconnecting(|socket, leaving| {
                let name = leaving.data::<serde_json::Value>().and_then(|d| d.get("name").cloned());
                let id = socket.id().to_owned();
                for room in leaving.rooms.iter().filter(|room| **room != id) {
                    socket.to(room).emit("left", &json!({ "room": room, "name": name, "reason": leaving.reason }))?;
                }
                Ok(())
            })
        })
        .namespace("/limited", |ns| {
            ns.rate_limit(RateLimit { burst: 3.0, per_second: 0.5, disconnect: false, key: RateKey::Socket })
                .on_args("ping", pong)
        })
        .namespace("/limited-by-address", |ns| {
            // Three at once, then one a minute, per client address: kept across reconnections,
            // evictions and restarts.
            let limit = RateLimit { burst: 3.0, per_second: 1.0 / 60.0, disconnect: false, key: RateKey::Address };
            ns.rate_limit(limit).on_args("ping", pong)
        })
        .namespace("/limited-strict", |ns| {
            ns.rate_limit(RateLimit { burst: 3.0, per_second: 0.5, disconnect: true, key: RateKey::Socket })
                .on_args("ping", pong)
        })
        .namespace("/server-ack", |ns| {
            ns.on("ask", |socket, value: serde_json::Value| {
                Ok(socket.emit_with_ack("question", &value, 1000, "answered")?)
            })
            // An answer that may come after the object was evicted or restarted.
            .on("ask-later", |socket, value: serde_json::Value| {
                Ok(socket.emit_with_ack("question", &value, 120_000, "answered")?)
            })
            .on_ack("answered", |socket, result: Result<Args, AckError>| match result {
                Ok(args) => Ok(socket.emit_args("answer", args)?),
                Err(error) => Ok(socket.emit("answer-timeout", &format!("{error:?}"))?),
            })
        })
        .namespace("/server-disconnect", |ns| {
            ns.on_args("kick", |socket, _| Ok(socket.disconnect(false)?))
                .on_args("close", |socket, _| Ok(socket.disconnect(true)?))
                .on_args("ping", pong)
        })
        .namespace("/cluster", cluster)
        .namespace("/typed", typed)
}

/// A file as `/typed` sends it back: its bytes go as a binary attachment.
#[derive(serde::Serialize)]
struct File {
    name: String,
    data: Bytes,
}

/// `/typed`: handlers typed over every argument, bytes as attachments both ways:
/// - `move` (x, y, label?): acknowledged with `{x, y, label}`;
/// - `upload` (name, bytes): `file` `{name, data: <the bytes reversed>}` back, acknowledged with
///   (length, <the bytes>) as two arguments;
/// - `upload-async`: the same acknowledgement from an async handler.
fn typed(ns: Namespace) -> Namespace {
    ns.on("move", |socket, (x, y, label): (i32, i32, Option<String>)| {
        Ok(socket.ack(&json!({ "x": x, "y": y, "label": label }))?)
    })
    .on("upload", |socket, (name, data): (String, Bytes)| {
        let reversed = Bytes(data.0.iter().rev().copied().collect());
        socket.emit("file", &File { name, data: reversed })?;
        Ok(socket.ack_args(Args::many(&(data.0.len(), data))?)?)
    })
    .on_async("upload-async", |ctx, (_, data): (String, Bytes)| async move {
        ctx.socket(|socket| socket.ack_args(Args::many(&(data.0.len(), data))?))??;
        Ok(())
    })
}

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
    fn io<'c>(&self, ctx: &'c Context) -> Result<wasmio_edge::Emitter<'c>, wasmio_edge::app::HandlerError> {
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
/// - `fetch`: `fetchSockets()` -> `[{id, rooms, data}]`;
/// - `join-all` / `leave-all`: `socketsJoin(rooms)` / `socketsLeave(rooms)`;
/// - `disconnect-all`: `disconnectSockets(close)`;
/// - `poll`: `timeout(ms).emitWithAck("question", <the asker's id>)` -> `{responses, timedOut}`;
/// - `to-room`: (room, msg) `room-message` to the room's members on every object;
/// - `census`: `serverSideEmit("census")` -> each other object's `{sockets}` count of `/cluster`.
fn cluster(ns: Namespace) -> Namespace {
    ns.on("join", |socket, room: String| {
        socket.join(&room)?;
        Ok(socket.ack(&room)?)
    })
    .on("set-name", |socket, name: String| {
        socket.set_data(&json!({ "name": name }))?;
        Ok(socket.ack(&name)?)
    })
    .on_args("to-room", |socket, args| {
        let (room, msg) = args.parse::<(String, serde_json::Value)>()?;
        Ok(socket.io().to(&room).emit("room-message", &msg)?)
    })
    .on_async("fetch", |ctx, selection: Selection| async move {
        let sockets = selection.io(&ctx)?.fetch_sockets().await?;
        let list: Vec<_> = sockets.iter().map(|s| json!({ "id": s.id, "rooms": s.rooms, "data": s.data })).collect();
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

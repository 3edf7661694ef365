//! The conformance deployment (`make conformance`): the reference handlers of the Socket.IO
//! test suite (`../shared/specs`, "Test suite"):
//! `auth` echo on `/` and `/custom`, `message` -> `message-back`, `message-with-ack`.
//!
//! The other namespaces exercise what the test suite does not (tests/edge/socketio.test.mjs):
//! - `/auth`: a connection middleware that refuses a handshake without `{"token":"secret"}`
//!   with `connect_error` "not authorized" and `data`, and keeps its `profile` as `socket.data`;
//! - `/rooms`: `join` / `leave` a room (acknowledged with the room), `to-room` (room, msg):
//!   `room-message` to the room's members but the sender (`socket.to(room)`), `to-room-all`
//!   (room, msg): to every member, the sender included (`io.to(room)`), `broadcast` (msg):
//!   `broadcast-message` to every socket of the namespace but the sender, `enqueue` ({room,
//!   event, value}): a job for the `JOBS` queue, whose consumer emits it to the room;
//!   `divide` (n): acknowledged with 100 / n, a handler with a bug: it panics on 0
//!   (tests/edge/panic.test.mjs);
//! - `/limited` and `/limited-strict`: `ping` -> `pong` with a rate limit of 3 events (0.5
//!   more per second); over the limit the event is dropped, and `/limited-strict`
//!   disconnects the socket;
//! - `/server-disconnect`: `kick` disconnects the socket from the namespace, `close`
//!   disconnects it and closes the Engine.IO session; `name` ([`keep_name`]), and the
//!   namespace hears `left` (name, reason) when a socket disconnects (socket.io's
//!   `socket.on("disconnect", ...)`, which still reads `socket.data`);
//! - `/server-ack`: `ask` (value) makes the server emit `question` (value) with an
//!   acknowledgement (timeout 1000 ms); the client's answer comes back as `answer` (the
//!   answer's arguments), a timeout as `answer-timeout`; `ask-later` the same with 120 s;
//! - `/typed`: typed handlers over every argument, with binary arguments ([`typed::typed`]);
//! - `/cluster`: socket.io's adapter operations over every object of the deployment
//!   ([`cluster::cluster`]).
//!
//! With the variable `APP` set to `client-suite`, the deployment serves the server of
//! socket.io-client's own test suite instead ([`client_suite`]); set to `bench`, the server
//! benchmark's application ([`bench`]).
//!
//! `GET /api/objects` answers each Socket.IO object's [`wasmio_edge::ObjectStats`] (when its
//! instance started, among others): the server benchmark's cold-wake scenario reads it to
//! tell an evicted object from a warm one, with no test hook in the measured path.

use serde_json::json;

use wasmio_edge::app::{AckError, App, Args, ConnectError, HandlerError, HandlerResult, RateKey, RateLimit, Socket};

mod bench;
mod client_suite;
mod cluster;
mod typed;

fn emit_auth(socket: &mut Socket) -> HandlerResult {
    let auth = socket.info().map(|i| i.auth).unwrap_or_else(|| "{}".to_owned());
    Ok(socket.emit_args("auth", Args { json: format!("[{auth}]"), attachments: Vec::new() })?)
}

/// `ping` -> `pong` with the same arguments.
fn pong(socket: &mut Socket, args: Args) -> HandlerResult {
    Ok(socket.emit_args("pong", args)?)
}

wasmio_edge::deployment!(app, routes = routes);

/// The path of the objects' statistics.
const OBJECTS_PATH: &str = "/api/objects";

/// The Worker's routes beside the Engine.IO requests: the objects' statistics, then the
/// library's entry.
async fn routes(req: worker::Request, env: worker::Env) -> worker::Result<worker::Response> {
    if req.path() != OBJECTS_PATH {
        return wasmio_edge::serve(req, env).await;
    }
    match wasmio_edge::Emitter::new(&env).object_stats().await {
        Ok(objects) => worker::Response::from_json(&objects),
        Err(error) => worker::Response::error(format!("the objects did not answer: {error}"), 502),
    }
}

/// A job of the `JOBS` queue: `event` with `value` for the sockets of `room` in `/rooms`.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Job {
    /// The room of `/rooms` to reach.
    pub room: String,
    /// The event name.
    pub event: String,
    /// Its one argument.
    pub value: serde_json::Value,
}

/// The queue consumer: emits each job (its JSON text: a queue carries a `serde_json` map as a
/// JS `Map`, which would arrive empty) with [`wasmio_edge::Emitter`]; a job not emitted is
/// retried by the queue.
#[worker::event(queue)]
pub async fn consume(
    batch: worker::MessageBatch<String>,
    env: worker::Env,
    _ctx: worker::Context,
) -> worker::Result<()> {
    use worker::MessageExt;
    for message in batch.messages()? {
        let job: Job = match serde_json::from_str(message.body()) {
            Ok(job) => job,
            Err(error) => {
                worker::console_error!("an unreadable job was dropped: {error}");
                message.ack();
                continue;
            }
        };
        match wasmio_edge::Emitter::new(&env).of("/rooms").to(&job.room).emit(&job.event, &job.value).await {
            Ok(()) => message.ack(),
            Err(error) => {
                worker::console_error!("the job for room {} was not emitted: {error}", job.room);
                message.retry();
            }
        }
    }
    Ok(())
}

/// A cron trigger (a `[triggers] crons` schedule, or `GET /__scheduled` under
/// `wrangler dev --test-scheduled`) tells the sockets of room `clock` in namespace `/rooms`
/// the time: a broadcast made outside any socket, with [`wasmio_edge::Emitter`].
#[worker::event(scheduled)]
pub async fn scheduled(_event: worker::ScheduledEvent, env: worker::Env, _ctx: worker::ScheduleContext) {
    let tick = wasmio_edge::Emitter::new(&env).of("/rooms").to("clock");
    if let Err(error) = tick.emit("tick", &wasmio_edge::now_ms()).await {
        worker::console_error!("the clock's tick was not emitted: {error}");
    }
}

/// The conformance application, or with `APP = "client-suite"` the server of socket.io-client's
/// own test suite ([`client_suite`]), with `APP = "bench"` the server benchmark's ([`bench`]),
/// with `APP = "rooms-recovery"` that one with connection state recovery (rooms that span
/// objects, whose sessions move between objects: tests/edge/handover.test.mjs).
fn app(env: &worker::Env) -> App {
    match env.var("APP").map(|app| app.to_string()).as_deref() {
        Ok("client-suite") => return client_suite::app(),
        Ok("bench") => return bench::app(),
        Ok("rooms-recovery") => return bench::app().connection_state_recovery(client_suite::RECOVERY_MS),
        _ => {}
    }
    App::new()
        .connect_timeout(1000)
        .namespace("/", |ns| bench::echo(ns.on_connection(emit_auth)))
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
                    // A profile sent with the token is kept as `socket.data`.
                    match auth.get("profile") {
                        Some(profile) => handshake.set_data(&json!({ "profile": profile })),
                        None => Ok(()),
                    }
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
            .on("name", keep_name)
            // Why each socket left (after its name, if it gave one), kept in NOTES under
            // `left:<socket id>`.
            .on_disconnect_async(|ctx, reason| async move {
                let name: Option<String> = ctx.socket(|socket| socket.data())?;
                let left = name.map_or_else(|| reason.clone(), |name| format!("{name}: {reason}"));
                ctx.env().kv("NOTES")?.put(&format!("left:{}", ctx.id()), left)?.execute().await?;
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
            bench::rooms(ns)
                .on("leave", |socket, room: String| {
                    socket.leave(&room)?;
                    Ok(socket.ack(&room)?)
                })
                .on_args("to-room-all", |socket, args| {
                    let room: String = args.first()?;
                    Ok(socket.io().to(&room).emit_args("room-message", args.nth(1)?)?)
                })
                .on_args("broadcast", |socket, args| {
                    Ok(socket.broadcast().emit_args("broadcast-message", args.nth(0)?)?)
                })
                // A job for the queue consumer (`consume`), which emits it to its room.
                .on_async("enqueue", |ctx, job: Job| async move {
                    let text = serde_json::to_string(&job).map_err(|e| HandlerError::Binding(e.to_string()))?;
                    ctx.env().queue("JOBS")?.send(&text).await?;
                    Ok(ctx.socket(|socket| socket.ack(&"queued"))??)
                })
                .on("set-name", |socket, name: String| {
                    socket.set_data(&json!({ "name": name }))?;
                    Ok(socket.ack(&name)?)
                })
                // A handler with a bug: it panics on the input it was not written for (0).
                .on("divide", |socket, divisor: u64| Ok(socket.ack(&(100 / divisor))?))
                // Presence: the others of each room hear who left it.
                .on_disconnecting(|socket, leaving| {
                    let name = leaving.data::<serde_json::Value>().and_then(|d| d.get("name").cloned());
                    let id = socket.id().to_owned();
                    for room in leaving.rooms.iter().filter(|room| **room != id) {
                        socket
                            .to(room)
                            .emit("left", &json!({ "room": room, "name": name, "reason": leaving.reason }))?;
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
            ns.on_args("ask", |socket, args| {
                Ok(socket.emit_args_with_ack("question", args.nth(0)?, 1000, "answered")?)
            })
            // An answer that may come after the object was evicted or restarted.
            .on_args("ask-later", |socket, args| {
                Ok(socket.emit_args_with_ack("question", args.nth(0)?, 120_000, "answered")?)
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
                .on("name", keep_name)
                .on("disconnect", |socket, reason: String| {
                    let name: Option<String> = socket.data();
                    Ok(socket.io().emit_args("left", Args::many(&(name, reason))?)?)
                })
        })
        .namespace("/cluster", cluster::cluster)
        .namespace("/typed", typed::typed)
}

/// `name` (name): kept in `socket.data`, acknowledged with it.
fn keep_name(socket: &mut Socket, name: String) -> HandlerResult {
    socket.set_data(&name)?;
    Ok(socket.ack(&name)?)
}

//! The demo's chat rooms (namespace `/chat`): presence, "typing…", messages numbered per room
//! and kept in the room's Durable Object storage, and a resync for a client that comes back.
//!
//! Events (client to server):
//! - `sync(since, ack)`: the room's version (the number of its last message), its members,
//!   and the messages after `since` (a replay), or its whole kept history with `reset: true`
//!   (a snapshot) when `since` is older than what is kept or absent. A client sends it at
//!   every connection; after a connection state recovery the replay is empty.
//! - `message(text, ack)`: 1 to 500 characters; acknowledged with its number.
//! - `typing()`: tells the others, as a volatile broadcast (the client throttles it).
//! - `latency(ack)`: answered at once, for the client's ping measure.
//!
//! Server to client: `message {seq, id, name, text, ts}`, `presence {event: "join" | "leave",
//! id, name}` (the leave from the `disconnecting` handler), `typing {id, name}`.

use serde::{Deserialize, Serialize};
use wasmio_edge::app::{EventError, HandlerError, HandlerResult, Leaving, Namespace, RateKey, RateLimit, Socket};
use wasmio_edge::{now_ms, Context};

use crate::kept_rooms;
use crate::member::{admit, Member};

/// The most messages a room keeps.
const HISTORY: usize = 100;
/// The longest message, in characters.
const MAX_MESSAGE: usize = 500;

/// A message of a room.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChatMessage {
    /// Its number in the room: the room's version once it is sent.
    seq: u64,
    /// The sender's socket id.
    id: String,
    /// The sender's name.
    name: String,
    text: String,
    /// When the server took it, ms since the epoch.
    ts: u64,
}

/// A room's history, in its object's storage.
#[derive(Debug, Default, Serialize, Deserialize)]
struct RoomLog {
    /// The number of the last message (0: none yet).
    seq: u64,
    /// The last [`HISTORY`] messages, oldest first.
    messages: Vec<ChatMessage>,
}

impl RoomLog {
    /// The messages after `since`, or `None` when some of them are no longer kept.
    fn after(&self, since: u64) -> Option<Vec<ChatMessage>> {
        let first = self.messages.first().map_or(self.seq + 1, |m| m.seq);
        (since + 1 >= first).then(|| self.messages.iter().filter(|m| m.seq > since).cloned().collect())
    }
}

/// A present member, as `sync` lists them.
#[derive(Serialize)]
struct Present {
    id: String,
    name: String,
}

/// The answer to `sync`.
#[derive(Serialize)]
struct Resync {
    /// The room's version.
    version: u64,
    /// Whether `messages` is the whole kept history (the client drops what it shows).
    reset: bool,
    messages: Vec<ChatMessage>,
    members: Vec<Present>,
}

/// The storage key of a room's history.
fn log_key(room: &str) -> String {
    format!("demo-chat:{room}")
}

/// Deletes a room's history (see [`crate::kept_rooms`]).
pub async fn forget(storage: &worker::Storage, room: &str) -> Result<(), HandlerError> {
    Ok(storage.delete(&log_key(room)).await.map(|_| ())?)
}

/// The `/chat` namespace.
pub fn namespace(ns: Namespace) -> Namespace {
    ns.use_connect(admit)
        .rate_limit(RateLimit { burst: 20.0, per_second: 10.0, disconnect: false, key: RateKey::Socket })
        .on_connection(arrive)
        .on_disconnecting(depart)
        .on_async("sync", sync)
        .on_async("message", send)
        .on("typing", |socket, _: serde_json::Value| {
            let member = Member::of(socket)?;
            let id = socket.id().to_owned();
            Ok(socket.to(&member.room).volatile().emit("typing", &Present { id, name: member.name })?)
        })
        .on("latency", |socket, _: serde_json::Value| Ok(socket.ack(&now_ms())?))
}

/// A socket connects (or recovers): it joins its room, and the others hear of it.
fn arrive(socket: &mut Socket) -> HandlerResult {
    let Some(member) = Member::arriving(socket)? else { return Ok(()) };
    socket.join(&member.room)?;
    let id = socket.id().to_owned();
    Ok(socket
        .to(&member.room)
        .emit("presence", &serde_json::json!({ "event": "join", "id": id, "name": member.name }))?)
}

/// A socket leaves (a reload, a cut transport, a `leave`): the others hear of it.
fn depart(socket: &mut Socket, leaving: &Leaving) -> HandlerResult {
    let Some(member) = leaving.data::<Member>() else { return Ok(()) };
    let id = socket.id().to_owned();
    Ok(socket
        .to(&member.room)
        .emit("presence", &serde_json::json!({ "event": "leave", "id": id, "name": member.name }))?)
}

/// `sync(since)`: the room's version, members, and a replay or a snapshot.
async fn sync(ctx: Context, since: Option<u64>) -> HandlerResult {
    let member = ctx.socket(|socket| Member::of(socket))??;
    let log: RoomLog = ctx.storage()?.get(&log_key(&member.room)).await?.unwrap_or_default();
    let (reset, messages) = match since.and_then(|since| log.after(since)) {
        Some(replay) => (false, replay),
        None => (true, log.messages.clone()),
    };
    let present = ctx.io()?.to(&member.room).fetch_sockets().await?;
    let members = present
        .into_iter()
        .filter_map(|socket| {
            let name = socket.data.get("name")?.as_str()?.to_owned();
            Some(Present { id: socket.id, name })
        })
        .collect();
    let answer = Resync { version: log.seq, reset, messages, members };
    Ok(ctx.socket(|socket| socket.ack(&answer))??)
}

/// `message(text)`: numbered, kept, and sent to the room (the sender included).
async fn send(ctx: Context, text: String) -> HandlerResult {
    let text = text.trim().to_owned();
    if text.is_empty() || text.chars().count() > MAX_MESSAGE {
        return Err(EventError::new(format!("a message has 1 to {MAX_MESSAGE} characters")).into());
    }
    let member = ctx.socket(|socket| Member::of(socket))??;
    kept_rooms::write_to(&ctx, &member.room).await?;
    let storage = ctx.storage()?;
    let key = log_key(&member.room);
    // Storage calls hold the object's other events back: nothing else numbers a message of
    // this room between this read and the write below.
    let mut log: RoomLog = storage.get(&key).await?.unwrap_or_default();
    log.seq += 1;
    let message = ChatMessage { seq: log.seq, id: ctx.id().to_owned(), name: member.name, text, ts: now_ms() };
    log.messages.push(message.clone());
    let excess = log.messages.len().saturating_sub(HISTORY);
    log.messages.drain(..excess);
    storage.put(&key, &log).await?;
    Ok(ctx.socket(|socket| {
        socket.io().to(&member.room).emit("message", &message)?;
        socket.ack(&serde_json::json!({ "seq": message.seq }))
    })??)
}

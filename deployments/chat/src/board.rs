//! The demo's shared whiteboard (namespace `/board`): strokes travel as binary batches (the
//! client sends what was drawn every 50 ms), are kept in the room's Durable Object storage,
//! and a late joiner gets the whole drawing from there.
//!
//! A batch is a sequence of 10-byte points, little-endian: `u32` stroke id, `u16` x, `u16` y
//! (0..65535 across the board), `u8` colour (an index in the client's palette of
//! [`COLOURS`]), `u8` width. The server checks the shape of a batch, not its drawing.
//!
//! Events (client to server): `sync(ack)`, answered `{ strokes: <binary> }` (every batch kept,
//! in order); `draw(<binary>, ack?)`, sent to the room's other boards as `draw <binary>`;
//! `clear()`, sent to every board of the room as `clear`.

use wasm_bindgen::JsCast;
use wasmio_edge::app::{Bytes, EventError, HandlerError, HandlerResult, Namespace, RateKey, RateLimit};
use wasmio_edge::Context;

use crate::kept_rooms;
use crate::member::{admit, Member};

/// The bytes of one point.
const POINT: usize = 10;
/// The most points in one batch (50 ms of drawing needs far fewer).
const MAX_BATCH_POINTS: usize = 400;
/// The most bytes a room's board keeps: a full board refuses more strokes until cleared.
const MAX_BOARD_BYTES: u64 = 500_000;
/// The colours of the client's palette.
const COLOURS: u8 = 8;
/// The widest stroke.
const MAX_WIDTH: u8 = 40;
/// Most keys one storage call may delete (workerd's limit).
const STORAGE_BATCH: usize = 128;

/// What the board keeps besides its batches.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct BoardMeta {
    /// Batches stored so far (the next one's number).
    batches: u64,
    /// Their bytes.
    bytes: u64,
}

/// The answer to `sync`: the drawing as one binary attachment (`serde_json::json!` would make
/// the bytes a JSON array of numbers).
#[derive(serde::Serialize)]
struct Drawing {
    strokes: Bytes,
}

/// The storage key of a board's [`BoardMeta`].
fn meta_key(room: &str) -> String {
    format!("demo-board:{room}")
}

/// The storage key prefix of a board's batches.
fn batch_prefix(room: &str) -> String {
    format!("demo-board:{room}:")
}

/// The `/board` namespace.
pub fn namespace(ns: Namespace) -> Namespace {
    ns.use_connect(admit)
        .rate_limit(RateLimit { burst: 40.0, per_second: 25.0, disconnect: false, key: RateKey::Socket })
        .on_connection(|socket| {
            let Some(member) = Member::arriving(socket)? else { return Ok(()) };
            Ok(socket.join(&member.room)?)
        })
        .on_async("sync", sync)
        .on_async("draw", draw)
        .on_async("clear", clear)
}

/// Refuses a batch that is not whole points of the palette, or too long.
fn check_batch(batch: &[u8]) -> Result<(), EventError> {
    if batch.is_empty() || !batch.len().is_multiple_of(POINT) || batch.len() > MAX_BATCH_POINTS * POINT {
        return Err(EventError::new(format!("a batch is 1 to {MAX_BATCH_POINTS} points of {POINT} bytes")));
    }
    let valid = batch.chunks(POINT).all(|point| point[8] < COLOURS && (1..=MAX_WIDTH).contains(&point[9]));
    if !valid {
        return Err(EventError::new(format!("a point has a colour below {COLOURS} and a width of 1 to {MAX_WIDTH}")));
    }
    Ok(())
}

/// The board's batches, in the order they were drawn.
async fn stored_batches(storage: &worker::Storage, room: &str) -> Result<Vec<(String, Vec<u8>)>, HandlerError> {
    let listed = storage.list_with_options(worker::ListOptions::new().prefix(&batch_prefix(room))).await?;
    let mut batches = Vec::new();
    for entry in listed.entries() {
        let pair: js_sys::Array = entry.map_err(|e| HandlerError::Binding(format!("{e:?}")))?.into();
        let key = pair.get(0).as_string().unwrap_or_default();
        let bytes = pair
            .get(1)
            .dyn_into::<js_sys::Uint8Array>()
            .map_err(|_| HandlerError::Binding(format!("the stored batch {key} is not bytes")))?;
        batches.push((key, bytes.to_vec()));
    }
    Ok(batches)
}

/// `sync()`: the whole drawing, for a board that (re)connects.
async fn sync(ctx: Context, _: serde_json::Value) -> HandlerResult {
    let member = ctx.socket(|socket| Member::of(socket))??;
    let batches = stored_batches(&ctx.storage()?, &member.room).await?;
    let drawing = Drawing { strokes: Bytes(batches.into_iter().flat_map(|(_, bytes)| bytes).collect()) };
    Ok(ctx.socket(|socket| socket.ack(&drawing))??)
}

/// `draw(batch)`: kept, then sent to the room's other boards.
async fn draw(ctx: Context, batch: Bytes) -> HandlerResult {
    check_batch(&batch.0)?;
    let member = ctx.socket(|socket| Member::of(socket))??;
    kept_rooms::write_to(&ctx, &member.room).await?;
    let storage = ctx.storage()?;
    let mut meta: BoardMeta = storage.get(&meta_key(&member.room)).await?.unwrap_or_default();
    if meta.bytes + batch.0.len() as u64 > MAX_BOARD_BYTES {
        return Err(EventError::new("the board is full: clear it to draw more").into());
    }
    let key = format!("{}{:010}", batch_prefix(&member.room), meta.batches);
    storage.put_raw(&key, js_sys::Uint8Array::from(batch.0.as_slice())).await?;
    meta.batches += 1;
    meta.bytes += batch.0.len() as u64;
    storage.put(&meta_key(&member.room), &meta).await?;
    Ok(ctx.socket(|socket| {
        socket.to(&member.room).emit("draw", &batch)?;
        socket.ack(&serde_json::json!({ "ok": true }))
    })??)
}

/// `clear()`: the board is emptied, for everyone in the room.
async fn clear(ctx: Context, _: serde_json::Value) -> HandlerResult {
    let member = ctx.socket(|socket| Member::of(socket))??;
    forget(&ctx.storage()?, &member.room).await?;
    Ok(ctx.socket(|socket| socket.io().to(&member.room).emit("clear", &()))??)
}

/// Deletes a room's drawing (a `clear`, or see [`crate::kept_rooms`]).
pub async fn forget(storage: &worker::Storage, room: &str) -> Result<(), HandlerError> {
    let keys: Vec<String> = stored_batches(storage, room).await?.into_iter().map(|(key, _)| key).collect();
    for chunk in keys.chunks(STORAGE_BATCH) {
        storage.delete_multiple(chunk.to_vec()).await?;
    }
    storage.delete(&meta_key(room)).await?;
    Ok(())
}

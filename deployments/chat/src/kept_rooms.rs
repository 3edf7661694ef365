//! The rooms whose history and drawing an object keeps: at most [`DEFAULT_ROOMS_KEPT`] (the
//! `DEMO_ROOMS_KEPT` variable sets another number). Past it, the room least recently written
//! to is forgotten (its history and drawing deleted), so that creating rooms never grows an
//! object's storage without bound: until 2026-12-06 one client filled 30 boards (15 MB) in
//! 21 s, and nothing was ever deleted (found by a hostile-input round).

use std::collections::BTreeMap;

use wasmio_edge::app::HandlerError;
use wasmio_edge::{now_ms, Context};

use crate::{board, rooms};

/// How many rooms an object keeps by default: at most about 36 MB of drawings and histories.
const DEFAULT_ROOMS_KEPT: usize = 64;

/// The storage key of the index: room name to when it was last written to (ms since the epoch).
const INDEX_KEY: &str = "demo-rooms";

/// Notes that `room` is written to now; forgets the rooms past the number kept, least
/// recently written to first. Called before each write of a room's history or drawing.
pub async fn write_to(ctx: &Context, room: &str) -> Result<(), HandlerError> {
    let kept = ctx
        .env()
        .var("DEMO_ROOMS_KEPT")
        .ok()
        .and_then(|v| v.to_string().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_ROOMS_KEPT);
    let storage = ctx.storage()?;
    let mut index: BTreeMap<String, u64> = storage.get(INDEX_KEY).await?.unwrap_or_default();
    index.insert(room.to_owned(), now_ms());
    while index.len() > kept {
        let Some(oldest) =
            index.iter().filter(|(name, _)| *name != room).min_by_key(|(_, at)| **at).map(|(name, _)| name.clone())
        else {
            break;
        };
        rooms::forget(&storage, &oldest).await?;
        board::forget(&storage, &oldest).await?;
        index.remove(&oldest);
    }
    storage.put(INDEX_KEY, &index).await?;
    Ok(())
}

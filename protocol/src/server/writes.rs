//! The persist decisions: after each input, what the driver writes so that a new instance of
//! the server (after an eviction or a restart) continues every session where it was.
//!
//! Each Engine.IO session's snapshot travels with its WebSocket (a hibernatable WebSocket's
//! attachment, read back with [`Server::restore_attachment`]), or, past the attachment's
//! limit, goes to storage under [`SNAPSHOT_PREFIX`] with its key in the attachment; what spans
//! sessions goes to
//! storage under [`SHARED_KEY`] and the keys `stored.rs` lays out (read back with
//! [`Server::restore_stored`]) and a live record per connected socket under [`LIVE_PREFIX`]
//! (read back with [`Server::adopt_orphans`]).

use super::{Server, SnapshotError};

/// Storage key of the shared state's header (the rest has a key per part, see
/// [`super::LOG_PREFIX`]).
pub const SHARED_KEY: &str = "socketio-shared";

/// Storage key prefix of a session snapshot too large for its WebSocket's attachment
/// ([`super::Config::max_inline_snapshot_bytes`]): `snapshot:<session id>`. The attachment then
/// holds this key (a snapshot itself is a JSON object).
pub const SNAPSHOT_PREFIX: &str = "snapshot:";

/// Storage key prefix of the live record of each connected socket: `live:<recovery id>`, or
/// `live:<socket id>` without recovery.
pub const LIVE_PREFIX: &str = "live:";

/// One write for the driver to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// The snapshot of this Engine.IO session, to keep with its WebSocket (a session without
    /// one keeps nothing: it cannot outlive the instance).
    Attachment {
        /// The Engine.IO session id.
        session: String,
        /// Its snapshot ([`Server::session_to_json`]).
        snapshot: String,
    },
    /// The snapshot of this Engine.IO session, too large for its WebSocket's attachment: put
    /// it in storage under `key` and keep `key` with the WebSocket (a session without one
    /// keeps nothing, as with [`Write::Attachment`]).
    StoredSnapshot {
        /// The Engine.IO session id.
        session: String,
        /// Its storage key, `snapshot:<session>` ([`SNAPSHOT_PREFIX`]).
        key: String,
        /// Its snapshot ([`Server::session_to_json`]).
        snapshot: String,
    },
    /// Put this value under this storage key.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Delete this storage key.
    Delete {
        /// The key.
        key: String,
    },
}

/// A session whose state will not survive an eviction, and why (its snapshot is too large).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpersisted {
    /// The Engine.IO session id.
    pub session: String,
    /// Why its snapshot could not be written.
    pub error: SnapshotError,
}

impl Server {
    /// The writes that make what changed since the last call durable, in order; and the
    /// sessions whose snapshot could not be written (the driver reports them).
    pub fn take_writes(&mut self) -> (Vec<Write>, Vec<Unpersisted>) {
        let dirty = self.take_dirty();
        let mut writes = Vec::new();
        let mut unpersisted = Vec::new();
        let key_of = |session: &str| format!("{SNAPSHOT_PREFIX}{session}");
        for session in dirty.sessions {
            let snapshot = self.session_to_json(&session);
            self.sizes.measured(&session, &snapshot);
            match snapshot {
                Ok(snapshot) if snapshot.len() > self.config.max_inline_snapshot_bytes => {
                    self.stored_snapshots.insert(session.clone());
                    writes.push(Write::StoredSnapshot { key: key_of(&session), session, snapshot });
                }
                Ok(snapshot) => {
                    if self.stored_snapshots.remove(&session) {
                        writes.push(Write::Delete { key: key_of(&session) });
                    }
                    writes.push(Write::Attachment { session, snapshot });
                }
                // Gone: nothing to keep.
                Err(_) if !self.has_session(&session) => {
                    if self.stored_snapshots.remove(&session) {
                        writes.push(Write::Delete { key: key_of(&session) });
                    }
                }
                Err(error) => unpersisted.push(Unpersisted { session, error }),
            }
        }
        if dirty.shared {
            self.shared_writes(&mut writes);
        }
        for (key, record) in dirty.live {
            let key = format!("{LIVE_PREFIX}{key}");
            writes.push(match record {
                Some(value) => Write::Put { key, value },
                None => Write::Delete { key },
            });
        }
        (writes, unpersisted)
    }
}

//! What each session's snapshot weighs, known without writing it again.
//!
//! A CONNECT, a join and a `socket.data` are refused when the session's snapshot would pass
//! [`super::Config::max_snapshot_bytes`]. Writing the whole snapshot to check it made one
//! client that sends CONNECT after CONNECT on one connection cost the object about a
//! millisecond per frame near the bound (hundreds of sockets per snapshot). So each session's
//! length is kept: measured when [`Server::take_writes`] writes the snapshot anyway (or when
//! first asked), raised by what a CONNECT, a join or a `socket.data` adds, and dropped
//! ([`Server::touch`]) by any other change, to be measured again when next asked.
//!
//! The kept length is an upper bound: a change that shrinks the snapshot may take off less
//! than it removed, never more. It is exact again after each [`Server::take_writes`].

use std::collections::HashMap;

use crate::json::write_string;

use super::{Server, SnapshotError};

/// An upper bound of each session's snapshot length, for the sessions it is known of.
#[derive(Debug, Default)]
pub(super) struct SnapshotSizes {
    by_session: HashMap<String, usize>,
}

impl SnapshotSizes {
    /// The session's known bound.
    pub(super) fn get(&self, session: &str) -> Option<usize> {
        self.by_session.get(session).copied()
    }

    /// Keeps `len` as the session's bound.
    pub(super) fn set(&mut self, session: &str, len: usize) {
        match self.by_session.get_mut(session) {
            Some(known) => *known = len,
            None => {
                self.by_session.insert(session.to_owned(), len);
            }
        }
    }

    /// The session's snapshot was written: its length is known exactly (the bound kept till
    /// now was at least that: checked in debug builds).
    pub(super) fn measured(&mut self, session: &str, snapshot: &Result<String, SnapshotError>) {
        match snapshot {
            Ok(snapshot) => {
                debug_assert!(
                    self.get(session).is_none_or(|bound| bound >= snapshot.len()),
                    "the kept length of {session} ({:?}) is below its snapshot's ({})",
                    self.get(session),
                    snapshot.len()
                );
                self.set(session, snapshot.len());
            }
            Err(_) => self.forget(session),
        }
    }

    /// The session changed in a way not counted: measured again when next asked.
    pub(super) fn forget(&mut self, session: &str) {
        self.by_session.remove(session);
    }
}

/// The length of `text` written as a JSON string.
pub(super) fn json_string_len(text: &str) -> usize {
    let mut out = String::with_capacity(text.len() + 2);
    write_string(&mut out, text);
    out.len()
}

/// What a pending CONNECT takes in its session's snapshot: `[nsp,auth]`.
pub(super) fn pending_entry_len(nsp: &str, auth: &str) -> usize {
    json_string_len(nsp) + auth.len() + 3
}

/// What a list of a snapshot takes beside its entries: the separator of an entry (`,`) in a
/// list that has others, or the list itself (`,"s":[` and `]`) when the entry is its only one.
pub(super) fn list_overhead(alone: bool) -> usize {
    if alone {
        7
    } else {
        1
    }
}

impl Server {
    /// The length of a session's snapshot, never below the real one: the kept bound, else the
    /// snapshot measured (0 for an unknown session, the length past the limit for one too
    /// large).
    pub(super) fn snapshot_len(&mut self, session: &str) -> usize {
        if let Some(len) = self.sizes.get(session) {
            return len;
        }
        match self.session_to_json(session) {
            Ok(snapshot) => {
                self.sizes.set(session, snapshot.len());
                snapshot.len()
            }
            Err(SnapshotError::TooLarge { len, .. }) => len,
            Err(_) => 0,
        }
    }

    /// The session's snapshot changed: it is to be written, and measured again.
    pub(super) fn touch(&mut self, session: &str) {
        self.dirty.insert(session.to_owned());
        self.sizes.forget(session);
    }

    /// The session's snapshot changed by at most `added` bytes more and at least `removed`
    /// fewer, from the bound `before` taken before the change (none: measured again when
    /// next asked). It is to be written.
    pub(super) fn resize(&mut self, session: &str, before: Option<usize>, added: usize, removed: usize) {
        self.dirty.insert(session.to_owned());
        match before {
            Some(len) => self.sizes.set(session, (len + added).saturating_sub(removed)),
            None => self.sizes.forget(session),
        }
    }

    /// After a change of at most `added` bytes more and at least `removed` fewer from the bound
    /// `before`: whether the session's snapshot still fits [`super::Config::max_snapshot_bytes`],
    /// without writing it when the kept bound says so. Too large: its length and the limit.
    pub(super) fn check_growth(
        &mut self,
        session: &str,
        before: Option<usize>,
        added: usize,
        removed: usize,
    ) -> Result<(), (usize, usize)> {
        let max = self.config.max_snapshot_bytes;
        if before.is_some_and(|len| (len + added).saturating_sub(removed) <= max) {
            self.resize(session, before, added, removed);
            return Ok(());
        }
        match self.session_to_json(session) {
            Ok(snapshot) => {
                self.resize(session, Some(snapshot.len()), 0, 0);
                Ok(())
            }
            Err(SnapshotError::TooLarge { len, max }) => Err((len, max)),
            Err(_) => Ok(()),
        }
    }
}

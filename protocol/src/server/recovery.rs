//! Connection state recovery across servers: a client whose reconnection lands on another
//! server (another Durable Object) than the one that holds its disconnected session.
//!
//! The recovery id (`pid`) names the server that issued it (the driver chooses the pid, see
//! [`super::Accept`]). When a CONNECT asks for a pid this server does not hold,
//! [`super::ConnectRequest::recover_from`] tells the driver, which asks the issuing server
//! for [`Server::export_recovery`] — the session's id, rooms and data, removed there so that it is recovered once (a later reconnection asking there is sent on,
//! [`Server::moved_to`]: the pid stays, since the client tells a recovery by it) — and hands
//! the answer to
//! [`Server::import_recovery`] before accepting the CONNECT as usual: the socket comes back
//! with its id, rooms and data, and the packets it missed, found in this server's own log
//! (see `offsets.rs`), are sent before its CONNECT packet.
//!
//! A restart loses the sockets that were connected (their WebSockets are gone, and no
//! disconnection was recorded). With recovery on, the server therefore keeps a live record of
//! each connected socket ([`super::Dirty::live`], for storage); after a restart,
//! [`Server::adopt_orphans`] turns the records of sockets that did not come back into
//! recoverable sessions, disconnected at that moment.

use super::json::Reader;
use super::snapshot::{read_persisted, write_persisted};
use super::{Persisted, Restored, Server, SnapshotError, SocketState};

/// The recovery a CONNECT asks for, as its `auth` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRef {
    /// The recovery id of the previous session.
    pub pid: String,
    /// The offset of the last packet the client received.
    pub offset: String,
}

/// The live record of connected socket `sid` (recovery id `pid`): what recovering it needs.
pub(super) fn live_record(pid: &str, sid: &str, socket: &SocketState) -> String {
    let p = Persisted {
        sid: sid.to_owned(),
        nsp: socket.nsp.clone(),
        rooms: socket.rooms.iter().cloned().collect(),
        data: socket.data.clone(),
        disconnected_at: 0,
        since: socket.since.clone(),
    };
    let mut out = String::new();
    write_persisted(&mut out, pid, &p);
    out
}

impl Server {
    /// Notes that the live record of socket `sid` changed (with recovery on).
    pub(super) fn note_live(&mut self, sid: &str) {
        if self.config.recovery.is_none() {
            return;
        }
        if let Some(pid) = self.sockets.get(sid).and_then(|s| s.pid.clone()) {
            self.live_dirty.insert(pid, sid.to_owned());
        }
    }

    /// After a restart: the live records found in storage, as (recovery id, record). Each
    /// socket that is not connected now becomes recoverable as if it had
    /// disconnected at `now_ms`, and its record is to be deleted ([`super::Dirty::live`]).
    /// Returns the recovery ids whose record could not be read (deleted as well).
    pub fn adopt_orphans<'a>(
        &mut self,
        records: impl IntoIterator<Item = (&'a str, &'a str)>,
        now_ms: u64,
    ) -> Vec<String> {
        let mut unreadable = Vec::new();
        for (pid, record) in records {
            let read = read_persisted(&mut Reader::new(record)).ok().map(|(_, p)| p);
            let Some(mut p) = read.filter(|p| !p.sid.is_empty() && !p.nsp.is_empty()) else {
                unreadable.push(pid.to_owned());
                continue;
            };
            if self.sockets.contains_key(&p.sid) || self.config.recovery.is_none() {
                continue;
            }
            p.disconnected_at = now_ms;
            self.live_dirty.insert(pid.to_owned(), p.sid.clone());
            self.shared.persisted.insert(pid.to_owned(), p);
            self.shared_dirty = true;
            self.rooms_version += 1;
        }
        unreadable
    }

    /// The session disconnected under `pid` in `nsp` (its socket id, rooms and data), as JSON
    /// text for [`Server::import_recovery`] on server `to`, which the client reached; `None`
    /// when it is not held here (unknown, expired: see [`Server::moved_to`]). The packets it
    /// missed come from `to`'s own log (offsets mean the same on every server). A socket
    /// still connected here under `pid` is taken over first (see `take_over`). The session
    /// is no longer recoverable here afterwards; it keeps its pid, and a later reconnection
    /// asking here is sent on to `to`.
    pub fn export_recovery(&mut self, pid: &str, nsp: &str, to: &str, now_ms: u64) -> Option<String> {
        if self.config.recovery.is_some() {
            self.take_over(pid, nsp, "", now_ms);
        }
        let p = self.persisted_for(pid, nsp, now_ms)?.clone();
        self.shared.persisted.remove(pid);
        self.rooms_version += 1;
        self.shared.moved.insert(pid.to_owned(), (to.to_owned(), now_ms));
        self.shared_dirty = true;
        let mut out = String::new();
        write_persisted(&mut out, pid, &p);
        Some(out)
    }

    /// A socket still connected under `pid` in `nsp`, in another Engine.IO session than
    /// `session`, whose client asks to recover it: the client reconnected (only it knows its
    /// pid, and it reconnects once its transport closed), so that session is dead though this
    /// server has not seen its transport close yet (a busy object may see the close after the
    /// reconnection). It is closed now as if its transport had closed, which makes the socket
    /// recoverable at once instead of lost to a race.
    pub(super) fn take_over(&mut self, pid: &str, nsp: &str, session: &str, now_ms: u64) {
        let old = self
            .sockets
            .values()
            .find(|s| s.pid.as_deref() == Some(pid) && s.nsp == nsp && s.session != session)
            .map(|s| s.session.clone());
        if let Some(old) = old {
            self.close_session(&old, super::DisconnectReason::TransportClose, now_ms);
        }
    }

    /// The server the session of `pid` was last exported to (for a client that reconnects
    /// again, with the same pid, after its session moved).
    pub fn moved_to(&self, pid: &str) -> Option<&str> {
        self.shared.moved.get(pid).map(|(to, _)| to.as_str())
    }

    /// Takes a session exported by another server for the pending CONNECT of `session` to
    /// `nsp`: the next [`Server::accept_connect`] of that CONNECT recovers it.
    pub fn import_recovery(&mut self, session: &str, nsp: &str, exported: &str) -> Result<(), SnapshotError> {
        let (pid, p) = read_persisted(&mut Reader::new(exported))?;
        if p.sid.is_empty() || pid.is_empty() {
            return Err(SnapshotError::Field("i"));
        }
        // The packets it missed come from this server's own log, at accept time.
        let restored = Restored { sid: p.sid, pid, rooms: p.rooms, data: p.data, missed: Vec::new(), since: p.since };
        self.imports.insert((session.to_owned(), nsp.to_owned()), restored);
        Ok(())
    }
}

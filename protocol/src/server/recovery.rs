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

use crate::json::write_string;

use super::json::{write_string_array, Reader};
use super::{Persisted, Restored, Server, SnapshotError, SocketState};

/// The recovery a CONNECT asks for, as its `auth` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRef {
    /// The recovery id of the previous session.
    pub pid: String,
    /// The offset of the last packet the client received.
    pub offset: String,
}

/// The live record of connected socket `sid`: what recovering it needs.
pub(super) fn live_record(sid: &str, socket: &SocketState) -> String {
    let mut out = String::from("{\"i\":");
    write_string(&mut out, sid);
    out.push_str(",\"n\":");
    write_string(&mut out, &socket.nsp);
    out.push_str(",\"r\":");
    write_string_array(&mut out, &socket.rooms);
    out.push_str(",\"d\":");
    out.push_str(&socket.data);
    out.push('}');
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
            let mut p = Persisted {
                sid: String::new(),
                nsp: String::new(),
                rooms: Vec::new(),
                data: "{}".into(),
                disconnected_at: now_ms,
            };
            let read = Reader::new(record).object(|r, key| {
                match key {
                    "i" => p.sid = r.string()?,
                    "n" => p.nsp = r.string()?,
                    "r" => p.rooms = r.strings()?,
                    "d" => p.data = r.raw()?,
                    _ => r.skip()?,
                }
                Ok(())
            });
            if self.sockets.contains_key(&p.sid) {
                continue;
            }
            if read.is_ok() && !p.sid.is_empty() && !p.nsp.is_empty() && self.config.recovery.is_some() {
                self.live_dirty.insert(pid.to_owned(), p.sid.clone());
                self.shared.persisted.insert(pid.to_owned(), p);
                self.shared_dirty = true;
            } else {
                unreadable.push(pid.to_owned());
            }
        }
        unreadable
    }

    /// The session disconnected under `pid` in `nsp` (its socket id, rooms and data), as JSON
    /// text for [`Server::import_recovery`] on server `to`, which the client reached; `None`
    /// when it is not held here (unknown, expired: see [`Server::moved_to`]). The packets it
    /// missed come from `to`'s own log (offsets mean the same on every server). The session
    /// is no longer recoverable here afterwards; it keeps its pid, and a later reconnection
    /// asking here is sent on to `to`.
    pub fn export_recovery(&mut self, pid: &str, nsp: &str, to: &str, now_ms: u64) -> Option<String> {
        let p = self.persisted_for(pid, nsp, now_ms)?.clone();
        self.shared.persisted.remove(pid);
        self.shared.moved.insert(pid.to_owned(), (to.to_owned(), now_ms));
        self.shared_dirty = true;
        let mut out = String::from("{\"i\":");
        write_string(&mut out, &p.sid);
        out.push_str(",\"p\":");
        write_string(&mut out, pid);
        out.push_str(",\"r\":");
        write_string_array(&mut out, &p.rooms);
        out.push_str(",\"d\":");
        out.push_str(&p.data);
        out.push('}');
        Some(out)
    }

    /// The server the session of `pid` was last exported to (for a client that reconnects
    /// again, with the same pid, after its session moved).
    pub fn moved_to(&self, pid: &str) -> Option<&str> {
        self.shared.moved.get(pid).map(|(to, _)| to.as_str())
    }

    /// Takes a session exported by another server for the pending CONNECT of `session` to
    /// `nsp`: the next [`Server::accept_connect`] of that CONNECT recovers it.
    pub fn import_recovery(&mut self, session: &str, nsp: &str, exported: &str) -> Result<(), SnapshotError> {
        let mut restored = Restored {
            sid: String::new(),
            pid: String::new(),
            rooms: Vec::new(),
            data: "{}".into(),
            missed: Vec::new(),
        };
        Reader::new(exported).object(|r, key| {
            match key {
                "i" => restored.sid = r.string()?,
                "p" => restored.pid = r.string()?,
                "r" => restored.rooms = r.strings()?,
                "d" => restored.data = r.raw()?,
                "m" => r.array(|r| {
                    let (mut data, mut attachments, mut first) = (String::new(), Vec::new(), true);
                    r.array(|r| {
                        if std::mem::take(&mut first) {
                            data = r.raw()?;
                        } else {
                            attachments = r.binaries()?;
                        }
                        Ok(())
                    })?;
                    restored.missed.push((data, attachments));
                    Ok(())
                })?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        if restored.sid.is_empty() || restored.pid.is_empty() {
            return Err(SnapshotError::Field("i"));
        }
        self.imports.insert((session.to_owned(), nsp.to_owned()), restored);
        Ok(())
    }
}

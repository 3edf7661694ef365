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
//! with its id, rooms and data, and the packets it missed are sent before its CONNECT packet:
//! those the exporting server's log found (it holds the session's rooms, so their
//! broadcasts reached it), else those of this server's own log (see `offsets.rs`).
//!
//! A restart loses the sockets that were connected (their WebSockets are gone, and no
//! disconnection was recorded), and an eviction loses those of polling sessions (kept in memory
//! only). The server therefore keeps a live record of each connected socket
//! ([`super::Dirty::live`], for storage; with recovery on, or in the namespaces of
//! [`super::Config::announce_lost_sockets`]);
//! the next instance hands them to [`Server::adopt_orphans`], which disconnects the sockets
//! that did not come back, as if their transport had closed at that moment: their
//! `disconnecting` and `disconnect` events run, and with recovery on they become recoverable.

use std::collections::{BTreeMap, BTreeSet};

use super::json::Reader;
use super::offsets;
use super::snapshot::{read_persisted, write_persisted};
use super::{
    Broadcast, ConnectRequest, DisconnectReason, Event, Handed, Import, LostSockets, Moved, Persisted, Server,
    SnapshotError, SocketState,
};

/// The recovery a CONNECT asks for, as its `auth` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRef {
    /// The recovery id of the previous session.
    pub pid: String,
    /// The offset of the last packet the client received.
    pub offset: String,
}

/// The live record of connected socket `sid`: what announcing its loss, or recovering it, needs.
pub(super) fn live_record(sid: &str, socket: &SocketState) -> String {
    let p = socket.to_persisted(sid, 0, socket.since.clone());
    let mut out = String::new();
    write_persisted(&mut out, socket.pid.as_deref().unwrap_or_default(), &p);
    out
}

impl SocketState {
    /// Socket `sid` as a session persisted for recovery, disconnected at `disconnected_at`,
    /// recovering from `since` without offset.
    pub(super) fn to_persisted(&self, sid: &str, disconnected_at: u64, since: Option<String>) -> Persisted {
        Persisted {
            sid: sid.to_owned(),
            nsp: self.nsp.clone(),
            rooms: self.rooms.iter().cloned().collect(),
            data: self.data.clone(),
            disconnected_at,
            since,
            connected_with: self.connected_with.clone(),
            handed_through: self.handed_through.clone(),
            handed: None,
        }
    }

    /// Where a reconnection without offset recovers from once it disconnected with the log at
    /// `seen`: past every packet logged before, when none was sent to it.
    pub(super) fn since_at_disconnection(&self, seen: &BTreeMap<String, u64>) -> Option<String> {
        match &self.since {
            Some(_) if self.awaits_logged => Some(offsets::encode(seen)),
            since => since.clone(),
        }
    }

    /// The key of its live record: its recovery id, or its socket id without recovery.
    pub(super) fn live_key<'a>(&'a self, sid: &'a str) -> &'a str {
        self.pid.as_deref().unwrap_or(sid)
    }
}

impl Server {
    /// Whether the connected sockets of `nsp` keep a live record in storage.
    fn keeps_live_records(&self, nsp: &str) -> bool {
        let config = &self.config;
        config.recovery.is_some()
            || match &config.announce_lost_sockets {
                LostSockets::AllNamespaces => true,
                LostSockets::Namespaces { names, dynamic } => {
                    names.iter().any(|n| n == nsp) || (*dynamic && !config.namespaces.iter().any(|n| n == nsp))
                }
            }
    }

    /// Notes that the live record of socket `sid` changed.
    pub(super) fn note_live(&mut self, sid: &str) {
        let Some(socket) = self.sockets.get(sid) else { return };
        if self.keeps_live_records(&socket.nsp) {
            self.live_dirty.insert(socket.live_key(sid).to_owned(), sid.to_owned());
        }
    }

    /// On a new instance: the live records found in storage, as (record key, record). Each
    /// socket that is not connected now was lost with the previous instance's memory: it
    /// disconnects as if its transport had closed at `now_ms` ([`Event::Disconnecting`] with
    /// its rooms and data, then [`Event::Disconnect`], both with reason `transport close` and
    /// an empty session id), becomes recoverable with recovery on, and its record is to be
    /// deleted ([`super::Dirty::live`]). Returns the keys whose record could not be read
    /// (to delete as well).
    pub fn adopt_orphans<'a>(
        &mut self,
        records: impl IntoIterator<Item = (&'a str, &'a str)>,
        now_ms: u64,
    ) -> Vec<String> {
        let mut unreadable = Vec::new();
        for (key, record) in records {
            let read = read_persisted(&mut Reader::new(record)).ok();
            let Some((pid, mut p)) = read.filter(|(_, p)| !p.sid.is_empty() && !p.nsp.is_empty()) else {
                unreadable.push(key.to_owned());
                continue;
            };
            if self.sockets.contains_key(&p.sid) {
                continue;
            }
            self.live_dirty.insert(key.to_owned(), p.sid.clone());
            let reason = DisconnectReason::TransportClose;
            let (session, nsp, sid, data) = (String::new(), p.nsp.clone(), p.sid.clone(), p.data.clone());
            self.events.push_back(Event::Disconnecting {
                session: session.clone(),
                nsp: nsp.clone(),
                sid: sid.clone(),
                reason,
                rooms: p.rooms.clone(),
                data: data.clone(),
            });
            if self.config.recovery.is_some() && !pid.is_empty() {
                p.disconnected_at = now_ms;
                self.shared.persisted.insert(pid, p);
                self.prune_after(now_ms);
                self.shared_dirty = true;
                self.rooms_version += 1;
            }
            self.events.push_back(Event::Disconnect { session, nsp, sid, reason, data });
        }
        unreadable
    }

    /// The session disconnected under `pid` in `nsp` (its socket id, rooms and data), as JSON
    /// text for [`Server::import_recovery`] on server `to`, which the client reached; `None`
    /// when it is not held here (unknown, expired: see [`Server::moved_to`]). With it go the
    /// packets the client missed after `offset` (its recovery offset, if it sent one), from
    /// this server's log, which has its rooms' broadcasts (`to` may never have been sent
    /// them); when this log cannot tell, `to` looks in its own. A socket still connected here
    /// under `pid` is taken over first (see `take_over`). The session is no longer
    /// recoverable here afterwards; it keeps its pid, and a later reconnection asking here is
    /// sent on to `to`.
    pub fn export_recovery(
        &mut self,
        pid: &str,
        nsp: &str,
        offset: Option<&str>,
        to: &str,
        now_ms: u64,
    ) -> Option<String> {
        if self.config.recovery.is_some() {
            self.take_over(pid, nsp, "", now_ms);
        }
        let mut p = self.persisted_for(pid, nsp, now_ms)?.clone();
        let missed = match &p.handed {
            // Taken from another server and not connected here since: what that one handed,
            // then this log's past its position.
            Some(handed) => self.missed_after_handover(handed, &p),
            None => {
                let offset = p.recovers_from(offset.filter(|offset| !offset.is_empty()).map(str::to_owned));
                offset.and_then(|offset| self.missed_since(&offset, &p)).map(|missed| (missed, BTreeMap::new()))
            }
        };
        self.shared.persisted.remove(pid);
        self.rooms_version += 1;
        let rooms = p.rooms.iter().filter(|room| **room != p.sid).cloned().collect();
        let moved = Moved { to: to.to_owned(), at: now_ms, nsp: p.nsp.clone(), rooms };
        self.shared.moved.insert(pid.to_owned(), moved);
        self.prune_after(now_ms);
        self.shared_dirty = true;
        // The missed packets go with it, with the log's position and what the client was
        // handed beyond it: past that, what `to`'s log has (see `handover.rs`).
        p.handed = missed.map(|(packets, handed_through)| {
            let mut through = self.shared.seen.clone();
            let handed = p.handed_through.iter().chain(&handed_through);
            offsets::advance(&mut through, handed.map(|(origin, seq)| (origin.clone(), *seq)));
            Handed { packets, through: Some(through) }
        });
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
            self.close_session(&old, DisconnectReason::TransportClose, now_ms);
        }
    }

    /// The session imported for the CONNECT of `session` to `nsp`, if any, is not taken by it
    /// (refused, or its connection closed first): it stays recoverable here, as a session
    /// socket.io's adapter restores stays until it expires, with the packets the exporting
    /// server handed ([`Persisted::handed`]). Without them (that server could not tell what
    /// the client missed) it is dropped: no recovery could tell either.
    pub(super) fn give_back_import(&mut self, session: &str, nsp: &str) {
        let Some(Import { pid, persisted }) = self.imports.remove(&(session.to_owned(), nsp.to_owned())) else {
            return;
        };
        if self.shared.persisted.contains_key(&pid) || self.sockets.contains_key(&persisted.sid) {
            return;
        }
        if persisted.handed.is_none() {
            return;
        }
        self.prune_after(persisted.disconnected_at);
        self.shared.persisted.insert(pid.clone(), persisted);
        // It is here now, whatever this server knew of an earlier move.
        self.shared.moved.remove(&pid);
        self.rooms_version += 1;
        self.shared_dirty = true;
    }

    /// The servers that took, from here, sessions broadcast `op` reaches: `op` was relayed
    /// here, to rooms, maybe looked up in the room directory before those servers joined the
    /// rooms for them, and they may not have been sent it ([`super::Delivery::moved_to`]).
    pub(super) fn moved_holders(&self, op: &Broadcast) -> Vec<String> {
        if op.rooms.is_empty() || self.shared.moved.is_empty() {
            return Vec::new(); // a broadcast to every socket reaches every server
        }
        let rooms: Vec<String> = op.rooms.iter().cloned().collect();
        let except: Vec<String> = op.except.iter().cloned().collect();
        let reached = self.shared.moved.values().filter(|m| {
            !m.rooms.is_empty() && m.to != self.origin && offsets::reaches(&op.nsp, &rooms, &except, &m.nsp, &m.rooms)
        });
        let holders: BTreeSet<&String> = reached.map(|m| &m.to).collect();
        holders.into_iter().cloned().collect()
    }

    /// The server the session of `pid` was last exported to (for a client that reconnects
    /// again, with the same pid, after its session moved).
    pub fn moved_to(&self, pid: &str) -> Option<&str> {
        self.shared.moved.get(pid).map(|m| m.to.as_str())
    }

    /// Server `to` took the session of `pid` at `at_ms`: told by it to the server the pid
    /// names, so that a reconnection asking there is sent straight to `to`, however often the
    /// session moved since it left. Kept unless this server knows of a later move.
    pub fn note_moved(&mut self, pid: &str, to: &str, at_ms: u64) {
        if self.shared.moved.get(pid).is_some_and(|m| m.at >= at_ms) {
            return;
        }
        // The rooms it left from here with stay: a late relay goes to where it is now.
        let left = self.shared.moved.remove(pid).unwrap_or_default();
        self.shared.moved.insert(pid.to_owned(), Moved { to: to.to_owned(), at: at_ms, ..left });
        self.prune_after(at_ms);
        self.shared_dirty = true;
    }

    /// Takes a session exported by another server for the pending CONNECT `request`: the next
    /// [`Server::accept_connect`] of that CONNECT recovers it. `request` now tells what a
    /// CONNECT recovering a session held here would: whether it recovers (the packets it
    /// missed are all in this server's log), and, with `skipMiddlewares`, that the namespace
    /// middlewares do not run (the socket keeps its `data`, and an expired token does not
    /// refuse it), as socket.io skips them for a recovered socket.
    pub fn import_recovery(
        &mut self,
        request: &mut ConnectRequest,
        exported: &str,
        now_ms: u64,
    ) -> Result<(), SnapshotError> {
        let (pid, p) = read_persisted(&mut Reader::new(exported))?;
        if p.sid.is_empty() || pid.is_empty() {
            return Err(SnapshotError::Field("i"));
        }
        // With it, the packets it missed as the exporting server found them (`p.handed`).
        let import = Import { pid, persisted: p };
        self.imports.insert((request.session.clone(), request.nsp.clone()), import);
        // Its CONNECT is gone already (the connection closed while the holder was asked): the
        // session, which the holder gave away, stays recoverable here rather than lost.
        if !self.sessions.get(&request.session).is_some_and(|s| s.pending.contains_key(&request.nsp)) {
            self.give_back_import(&request.session, &request.nsp);
            request.recovered = false;
            return Ok(());
        }
        request.recovered = self.try_restore(&request.session, &request.nsp, &request.auth, now_ms).is_some();
        let skip = self.config.recovery.as_ref().is_some_and(|r| r.skip_middlewares);
        request.run_middlewares &= !(request.recovered && skip);
        Ok(())
    }
}

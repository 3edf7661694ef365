//! Namespace CONNECTs: the driver's decisions (accept, reject, refuse a namespace), and the
//! core's side of a CONNECT (the request to the driver, a recoverable session restored, the
//! socket created and told).

use super::handover;
use super::snapshot::write_socket;
use super::snapshot_sizes::{list_overhead, pending_entry_len};
use super::*;

/// The offset a socket recovered with packets to send keeps as its `connected_with` when its
/// CONNECT carried none, and that every packet handed to it but the last carries: a
/// reconnection carrying it is refused (see `do_connect`). No server writes it for a log
/// position.
const UNCONFIRMED_OFFSET: &str = "handed";

impl Server {
    /// Accepts a pending CONNECT: the socket joins the namespace (and its own room), CONNECT
    /// `{"sid":..,"pid":..}` is sent (after the missed packets of a recovered session). Refused
    /// ([`ApiError::StateTooLarge`], the CONNECT still pending) when the socket's data and auth
    /// would not fit in the session's snapshot.
    pub fn accept_connect(&mut self, session: &str, nsp: &str, accept: Accept, now_ms: u64) -> Result<(), ApiError> {
        if let Some(data) = &accept.data {
            if crate::json::validate(data).is_err() {
                return Err(ApiError::InvalidJson);
            }
        }
        let s = self.sessions.get(session).ok_or(ApiError::UnknownSession)?;
        let auth = s.pending.get(nsp).ok_or(ApiError::NoPendingConnect)?.clone();
        let restored = self.try_restore(session, nsp, &auth, now_ms);
        if restored.is_none() {
            if self.sockets.contains_key(&accept.sid) {
                return Err(ApiError::DuplicateSocketId);
            }
            if self.config.recovery.is_some() && accept.pid.is_none() {
                return Err(ApiError::MissingPid);
            }
        }
        // The socket's data travels in the session's snapshot with its auth: a socket that could
        // not be kept across hibernation is refused now, not lost at the next eviction. The
        // pending CONNECT (its namespace and auth, counted already) becomes the socket's entry,
        // as `on_connect` reckoned it, with the data besides.
        let data_len = accept.data.as_ref().map_or(0, String::len);
        let pending = pending_entry_len(nsp, &auth) + list_overhead(false);
        let with_socket = (self.snapshot_len(session) + nsp.len() + auth.len() + SOCKET_SNAPSHOT_RESERVE + data_len)
            .saturating_sub(pending);
        if with_socket > self.config.max_snapshot_bytes {
            return Err(ApiError::StateTooLarge { len: with_socket, max: self.config.max_snapshot_bytes });
        }
        // Checked again: CONNECTs to new names may have been pending together.
        if !self.is_known(nsp) && !self.dynamic_namespace_fits(nsp) {
            return Err(ApiError::TooManyNamespaces);
        }
        self.remove_pending(session, nsp)?;
        self.imports.remove(&(session.to_owned(), nsp.to_owned()));
        if !self.is_known(nsp) && self.shared.dynamic.insert(nsp.to_owned()) {
            self.shared_dirty = true;
        }
        match restored {
            Some(r) => self.do_connect(session, nsp, auth, r, accept.data, true, now_ms),
            None => {
                let fresh = Restored {
                    sid: accept.sid,
                    pid: accept.pid.unwrap_or_default(),
                    rooms: Vec::new(),
                    data: "{}".into(),
                    missed: Vec::new(),
                    handed_through: BTreeMap::new(),
                    handed: 0,
                };
                self.do_connect(session, nsp, auth, fresh, accept.data, false, now_ms)
            }
        }
        Ok(())
    }

    /// Refuses a pending CONNECT as a middleware error does: CONNECT_ERROR
    /// `{"message":..,"data":..}` (`data` omitted when `None`).
    pub fn reject_connect(
        &mut self,
        session: &str,
        nsp: &str,
        message: &str,
        data: Option<&str>,
    ) -> Result<(), ApiError> {
        if data.is_some_and(|d| crate::json::validate(d).is_err()) {
            return Err(ApiError::InvalidJson);
        }
        self.remove_pending(session, nsp)?;
        self.give_back_import(session, nsp);
        let mut body = String::from("{\"message\":");
        write_string(&mut body, message);
        if let Some(data) = data {
            body.push_str(",\"data\":");
            body.push_str(data);
        }
        body.push('}');
        self.connect_error(session, nsp, body);
        Ok(())
    }

    /// Refuses a pending CONNECT to a namespace no dynamic predicate matched: CONNECT_ERROR
    /// `{"message":"Invalid namespace"}`.
    pub fn refuse_namespace(&mut self, session: &str, nsp: &str) -> Result<(), ApiError> {
        self.remove_pending(session, nsp)?;
        self.give_back_import(session, nsp);
        self.connect_error(session, nsp, "{\"message\":\"Invalid namespace\"}".into());
        Ok(())
    }

    /// Whether a new dynamic namespace keeps the names in use within their bound.
    fn dynamic_namespace_fits(&self, nsp: &str) -> bool {
        self.shared.dynamic.iter().map(String::len).sum::<usize>() + nsp.len() <= MAX_DYNAMIC_NAMESPACE_BYTES
    }

    pub(super) fn on_connect(&mut self, session: &str, nsp: String, auth: String, now_ms: u64) {
        let known = self.is_known(&nsp);
        if !known && (!self.config.dynamic_namespaces || nsp.len() > MAX_DYNAMIC_NAMESPACE_LEN) {
            self.connect_error(session, &nsp, "{\"message\":\"Invalid namespace\"}".into());
            return;
        }
        if !known && !self.dynamic_namespace_fits(&nsp) {
            let message = ApiError::TooManyNamespaces.to_string();
            self.connect_error(session, &nsp, format!("{{\"message\":\"{message}\"}}"));
            return;
        }
        // The socket's auth travels in its session's snapshot: one that could not be kept
        // across hibernation is refused now rather than lost at the next eviction.
        let used = self.snapshot_len(session);
        let without_auth = used.saturating_add(nsp.len() + SOCKET_SNAPSHOT_RESERVE);
        if without_auth.saturating_add(auth.len()) > self.config.max_snapshot_bytes {
            // The auth's room left (its `limit`), or none: the connection's other sockets
            // (their namespaces, rooms, data) fill the snapshot already.
            let body = match self.config.max_snapshot_bytes.checked_sub(without_auth) {
                Some(limit) => format!("{{\"message\":\"auth too large\",\"data\":{{\"limit\":{limit}}}}}"),
                None => format!(
                    "{{\"message\":\"connection state too large\",\"data\":{{\"limit\":{}}}}}",
                    self.config.max_snapshot_bytes
                ),
            };
            self.connect_error(session, &nsp, body);
            return;
        }
        if let Some(pid) = self.config.recovery.as_ref().and_then(|_| string_member(&auth, "pid")) {
            self.take_over(&pid, &nsp, session, now_ms);
        }
        let restorable = self.try_restore(session, &nsp, &auth, now_ms).is_some();
        let skip = self.config.recovery.as_ref().is_some_and(|r| r.skip_middlewares) && restorable;
        if known && skip {
            let restored = self.try_restore(session, &nsp, &auth, now_ms).expect("restorable");
            self.do_connect(session, &nsp, auth, restored, None, true, now_ms);
            return;
        }
        let before = self.sizes.get(session);
        let pending = &mut self.sessions.get_mut(session).expect("session").pending;
        pending.insert(nsp.clone(), auth.clone());
        let added = pending_entry_len(&nsp, &auth) + list_overhead(pending.len() == 1);
        self.resize(session, before, added, 0);
        let recover_from = match (&self.config.recovery, restorable) {
            // A client that received no broadcast has no offset: the holder knows its since.
            (Some(_), false) => string_member(&auth, "pid")
                .map(|pid| RecoveryRef { pid, offset: string_member(&auth, "offset").unwrap_or_default() }),
            _ => None,
        };
        self.events.push_back(Event::ConnectRequest(ConnectRequest {
            session: session.to_owned(),
            nsp,
            auth,
            check_namespace: !known,
            run_middlewares: !skip,
            recovered: restorable,
            recover_from,
        }));
    }

    /// Takes a pending CONNECT off its session.
    fn remove_pending(&mut self, session: &str, nsp: &str) -> Result<(), ApiError> {
        let s = self.sessions.get_mut(session).ok_or(ApiError::UnknownSession)?;
        let auth = s.pending.remove(nsp).ok_or(ApiError::NoPendingConnect)?;
        let removed = pending_entry_len(nsp, &auth) + list_overhead(s.pending.is_empty());
        let before = self.sizes.get(session);
        self.resize(session, before, 0, removed);
        Ok(())
    }

    /// adapter.restoreSession: the session persisted for `auth.pid`, unexpired, with the
    /// packets sent after `auth.offset` that it should have received.
    /// A session exported by another server for this CONNECT counts too, with the packets
    /// it missed as `handover.rs` finds them; not when the other handed none.
    /// Without `auth.offset` (a client that received no broadcast before it lost its
    /// connection), the packets missed since the socket connected.
    pub(super) fn try_restore(&self, session: &str, nsp: &str, auth: &str, now_ms: u64) -> Option<Restored> {
        let offset = string_member(auth, "offset");
        if let Some(Import { pid, persisted: p }) = self.imports.get(&(session.to_owned(), nsp.to_owned())) {
            if self.sockets.contains_key(&p.sid) {
                return None;
            }
            // The other could not tell (a hole in its log, or no position): neither can this
            // log, which was not sent the broadcasts to the session's rooms while the other
            // held them. Until 2026-12-07 it looked, found none, and the client was told it
            // recovered.
            p.handed.as_ref()?;
            return self.restored(pid, p, offset);
        }
        let pid = string_member(auth, "pid")?;
        self.restorable(&pid, offset, nsp, now_ms)
    }

    /// The session persisted for `pid` in `nsp`, if unexpired and not connected again.
    pub(super) fn persisted_for(&self, pid: &str, nsp: &str, now_ms: u64) -> Option<&Persisted> {
        let recovery = self.config.recovery.as_ref()?;
        let p = self.shared.persisted.get(pid)?;
        let live = p.nsp == nsp
            && p.disconnected_at + recovery.max_disconnection_duration_ms >= now_ms
            && !self.sockets.contains_key(&p.sid);
        live.then_some(p)
    }

    /// The session persisted for `pid` in `nsp`, unexpired, with the packets after `offset`
    /// (after its `since` without one).
    pub(super) fn restorable(&self, pid: &str, offset: Option<String>, nsp: &str, now_ms: u64) -> Option<Restored> {
        self.restored(pid, self.persisted_for(pid, nsp, now_ms)?, offset)
    }

    /// Session `p` of `pid` with the packets it missed after `offset` (its `since` without
    /// one): from this log, or, taken from another server and not connected here since, what
    /// that one handed and this log's past its position (see `handover.rs`).
    fn restored(&self, pid: &str, p: &Persisted, offset: Option<String>) -> Option<Restored> {
        let since = p.recovers_from(offset)?;
        match &p.handed {
            Some(handed) => {
                let (missed, handed_through) = self.missed_after_handover(handed, p)?;
                let handed = handed.packets.len();
                Some(Restored { handed_through, handed, ..Restored::of(pid, p, missed) })
            }
            None => Some(Restored::of(pid, p, self.missed_since(&since, p)?)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn do_connect(
        &mut self,
        session: &str,
        nsp: &str,
        auth: String,
        r: Restored,
        data: Option<String>,
        recovered: bool,
        now_ms: u64,
    ) {
        let before = self.sizes.get(session);
        let recovery = self.config.recovery.is_some();
        // Packets it missed are sent again, logged ones: a client that gets none of them
        // recovers from the same position next time.
        let awaits_logged = recovery && r.missed.is_empty();
        // Sent packets it missed, the client is told nothing new until its CONNECT: it keeps
        // the offset it came with, and socket.io-client holds the packets that arrived before
        // the CONNECT until one comes. Cut before it did, the client reconnects with the offset
        // it recovered with, and may have some of them: that reconnection is refused (no
        // `since` to recover from) rather than sending them twice (until 2026-12-08), or,
        // handed by another server (`handed_through`: this log cannot send them again),
        // rather than without them (until 2026-12-07). A client that applies packets as they
        // arrive has the offset of the last one it got: each handed packet but the last
        // carries the offset the client came with, since their own are the other server's,
        // which this log cannot place (one cut between two of them was recovered without the
        // rest until 2026-12-08).
        let missed_unconfirmed = recovery && !r.missed.is_empty();
        let since = awaits_logged.then(|| offsets::encode(&self.shared.seen));
        let connected_with = match missed_unconfirmed {
            true => Some(string_member(&auth, "offset").unwrap_or_else(|| UNCONFIRMED_OFFSET.to_owned())),
            false => string_member(&auth, "offset").filter(|_| awaits_logged),
        };
        // the reference sends the missed packets from the Socket constructor, before CONNECT
        for (i, (mut missed, attachments)) in r.missed.into_iter().enumerate() {
            if let Some(offset) = connected_with.as_deref().filter(|_| i + 1 < r.handed) {
                missed = handover::with_offset(&missed, offset);
            }
            let packet =
                Packet { kind: PacketType::Event, nsp: nsp.to_owned(), id: None, data: Some(missed), attachments };
            self.send_packet(session, &packet);
        }
        let pid = recovery.then_some(r.pid);
        self.awaiting_logged += usize::from(awaits_logged);
        self.sockets.insert(
            r.sid.clone(),
            SocketState {
                session: session.to_owned(),
                nsp: nsp.to_owned(),
                pid: pid.clone(),
                rooms: BTreeSet::new(),
                data: data.unwrap_or(r.data),
                auth,
                issued: now_ms,
                next_ack: 0,
                recovered,
                since,
                awaits_logged,
                handed_through: r.handed_through,
                connected_with,
            },
        );
        self.handover_filters.note(&r.sid, &self.sockets[&r.sid].handed_through, &self.shared.seen);
        self.nsps.entry(nsp.to_owned()).or_default().sockets.insert(r.sid.clone());
        self.note_live(&r.sid);
        for room in r.rooms {
            self.add_room(&r.sid, room);
        }
        self.add_room(&r.sid, r.sid.clone());
        let s = self.sessions.get_mut(session).expect("session");
        s.sockets.insert(nsp.to_owned(), r.sid.clone());
        s.connect_deadline = None;
        self.timers.cancel(&Timer::Connect(session.to_owned()));
        let alone = s.sockets.len() == 1;
        let mut entry = String::new();
        write_socket(&mut entry, nsp, &r.sid, &self.sockets[&r.sid]);
        self.resize(session, before, entry.len() + list_overhead(alone), 0);
        let mut body = String::from("{\"sid\":");
        write_string(&mut body, &r.sid);
        if let Some(pid) = &pid {
            body.push_str(",\"pid\":");
            write_string(&mut body, pid);
        }
        body.push('}');
        let mut packet = Packet::new(PacketType::Connect, nsp);
        packet.data = Some(body);
        self.send_packet(session, &packet);
        self.events.push_back(Event::Connection {
            session: session.to_owned(),
            nsp: nsp.to_owned(),
            sid: r.sid,
            recovered,
        });
    }
}

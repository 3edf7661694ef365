//! The socket API the driver's handlers call: emits and acknowledgements, rooms, data,
//! disconnection, and what a socket or session looks like.

use super::snapshot_sizes::{json_string_len, list_overhead};
use super::*;

impl Server {
    /// `socket.emit(event, ...args)`: `args` is a JSON array text, placeholders referring to
    /// `attachments`. With recovery enabled it is logged with an offset, as the reference
    /// routes it through the adapter; without, it goes straight to the socket's session (no
    /// selection of recipients: the hot path of a handler answering its client).
    pub fn emit(
        &mut self,
        sid: &str,
        event: &str,
        args: &str,
        attachments: Vec<Vec<u8>>,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        let socket = self.socket_state(sid)?;
        let nsp = socket.nsp.clone();
        if self.config.recovery.is_some() {
            // The socket's own room has no other member: `join` refuses rooms named after a
            // socket, connected or recoverable.
            let op = Broadcast::new(nsp).to(sid);
            return self.broadcast(&op, event, args, attachments, now_ms).map(drop);
        }
        let session = socket.session.clone();
        check_emit(event, args, &attachments)?;
        let data = event_data(event, args, None);
        self.send_packet(&session, &Packet { kind: PacketType::Event, nsp, id: None, data: Some(data), attachments });
        Ok(())
    }

    /// `socket.timeout(ms).emitWithAck(event, ...args)` (no timeout when `None`): returns the ack
    /// id; the answer comes as [`Event::Ack`].
    pub fn emit_with_ack(
        &mut self,
        sid: &str,
        event: &str,
        args: &str,
        attachments: Vec<Vec<u8>>,
        timeout_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<u64, ApiError> {
        let socket = self.socket_state(sid)?;
        let (nsp, session, id) = (socket.nsp.clone(), socket.session.clone(), socket.next_ack);
        check_emit(event, args, &attachments)?;
        let data = event_data(event, args, None);
        let packet = Packet { kind: PacketType::Event, nsp, id: Some(id), data: Some(data), attachments };
        self.socket_mut(sid).next_ack = id + 1;
        let deadline = timeout_ms.map(|t| now_ms + t);
        self.shared.acks.insert((sid.to_owned(), id), PendingAck { deadline, broadcast: None });
        if let Some(at) = deadline {
            self.timers.set(Timer::Ack(sid.to_owned(), id), at);
        }
        self.shared_dirty = true;
        let encoded = self.encode(&packet);
        self.transmits.push_back(Transmit::Packet { sessions: vec![session], packet: encoded });
        Ok(id)
    }

    /// Answers the client's EVENT that carried ack id `id` ([`Message::ack`]).
    pub fn ack(&mut self, sid: &str, id: u64, args: &str, attachments: Vec<Vec<u8>>) -> Result<(), ApiError> {
        check_args(args, &attachments)?;
        let socket = self.socket_state(sid)?;
        let packet = Packet {
            kind: PacketType::Ack,
            nsp: socket.nsp.clone(),
            id: Some(id),
            data: Some(args.to_owned()),
            attachments,
        };
        let session = socket.session.clone();
        self.send_packet(&session, &packet);
        Ok(())
    }

    /// `socket.join(rooms)`.
    /// A room named after another socket's id (connected, or disconnected and recoverable)
    /// is refused, and nothing is joined then: its member would receive that socket's private
    /// emits, which travel through its own room. So are rooms that would make the session's
    /// snapshot too large to keep across hibernation ([`ApiError::StateTooLarge`]): this
    /// bounds the rooms per socket and their names.
    pub fn join<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, sid: &str, rooms: I) -> Result<(), ApiError> {
        let socket = self.socket_state(sid)?;
        let session = socket.session.clone();
        let mut added: Vec<String> = rooms.into_iter().map(Into::into).filter(|r| !socket.rooms.contains(r)).collect();
        added.dedup();
        let is_socket =
            |room: &String| self.sockets.contains_key(room) || self.shared.persisted.values().any(|p| p.sid == *room);
        if let Some(room) = added.iter().find(|room| *room != sid && is_socket(room)) {
            return Err(ApiError::RoomIsSocketId(room.clone()));
        }
        // Rooms but its own travel in the session's snapshot: a join it could not keep is
        // refused whole.
        let listed = socket.rooms.iter().any(|room| room != sid);
        let grown = match added.iter().map(|room| json_string_len(room) + 1).sum::<usize>() {
            0 => 0,
            // `,"r":[` and `]` in place of a first separator
            len if !listed => len + list_overhead(true) - list_overhead(false),
            len => len,
        };
        let before = self.sizes.get(&session);
        for room in &added {
            self.add_room(sid, room.clone());
        }
        if let Err((len, max)) = self.check_growth(&session, before, grown, 0) {
            for room in &added {
                self.del_room(sid, room);
            }
            return Err(ApiError::StateTooLarge { len, max });
        }
        Ok(())
    }

    /// `socket.leave(room)`.
    pub fn leave(&mut self, sid: &str, room: &str) -> Result<(), ApiError> {
        self.socket_state(sid)?;
        self.del_room(sid, room);
        Ok(())
    }

    /// Sets `socket.data` (a JSON text).
    pub fn set_data(&mut self, sid: &str, data: &str) -> Result<(), ApiError> {
        if crate::json::validate(data).is_err() {
            return Err(ApiError::InvalidJson);
        }
        let session = self.socket_state(sid)?.session.clone();
        let before = self.sizes.get(&session);
        let old = std::mem::replace(&mut self.socket_mut(sid).data, data.to_owned());
        // `data` travels in the session's snapshot (`,"d":data`, unless `{}`): refused if it
        // could not be kept.
        let weight = |data: &str| if data == "{}" { 0 } else { data.len() + 5 };
        if let Err((len, max)) = self.check_growth(&session, before, weight(data), weight(&old)) {
            self.socket_mut(sid).data = old;
            return Err(ApiError::StateTooLarge { len, max });
        }
        self.note_live(sid);
        Ok(())
    }

    /// `socket.disconnect(close)`: DISCONNECT is sent and the socket leaves with "server
    /// namespace disconnect"; with `close`, every socket of its session does and the Engine.IO
    /// session is closed.
    pub fn disconnect(&mut self, sid: &str, close: bool, now_ms: u64) -> Result<(), ApiError> {
        let socket = self.socket_state(sid)?;
        if close {
            let session = socket.session.clone();
            let sids: Vec<String> = self.sessions[&session].sockets.values().cloned().collect();
            for sid in sids {
                self.server_disconnect(&sid, now_ms);
            }
            self.close_session(&session, DisconnectReason::ForcedServerClose, now_ms);
        } else {
            self.server_disconnect(sid, now_ms);
        }
        Ok(())
    }

    /// A socket's `broadcast` operator: its namespace, every socket but itself.
    pub fn socket_broadcast(&self, sid: &str) -> Result<Broadcast, ApiError> {
        Ok(Broadcast::new(self.socket_state(sid)?.nsp.clone()).except(sid))
    }

    /// A connected socket.
    pub fn socket(&self, sid: &str) -> Option<SocketInfo> {
        self.sockets.get(sid).map(|s| self.info(sid, s))
    }

    /// The socket ids connected on an Engine.IO session, by namespace.
    pub fn session_sockets(&self, session: &str) -> Option<BTreeMap<String, String>> {
        self.sessions.get(session).map(|s| s.sockets.clone())
    }

    /// What the handshake request of an Engine.IO session told (query, headers, address).
    pub fn session_info(&self, session: &str) -> Option<SessionInfo> {
        self.sessions.get(session).map(|s| s.info.clone())
    }

    /// Whether an Engine.IO session is known (open, not closed by the core).
    pub fn has_session(&self, session: &str) -> bool {
        self.sessions.contains_key(session)
    }

    /// How many packets were encoded so far (a broadcast counts once).
    pub fn encode_count(&self) -> u64 {
        self.encodes
    }

    /// `socket.disconnect()` from the server: DISCONNECT is sent, then the socket closes.
    pub(super) fn server_disconnect(&mut self, sid: &str, now_ms: u64) {
        let Some(socket) = self.sockets.get(sid) else { return };
        let (session, nsp) = (socket.session.clone(), socket.nsp.clone());
        self.send_packet(&session, &Packet::new(PacketType::Disconnect, nsp));
        self.close_socket(sid, DisconnectReason::ServerNamespaceDisconnect, now_ms);
    }

    /// socket._onclose: `disconnecting` (rooms visible), persist for recovery, leave, `disconnect`.
    pub(super) fn close_socket(&mut self, sid: &str, reason: DisconnectReason, now_ms: u64) {
        let Some(socket) = self.sockets.get(sid).cloned() else { return };
        let rooms: Vec<String> = socket.rooms.iter().cloned().collect();
        self.events.push_back(Event::Disconnecting {
            session: socket.session.clone(),
            nsp: socket.nsp.clone(),
            sid: sid.to_owned(),
            reason,
            rooms: rooms.clone(),
            data: socket.data.clone(),
        });
        if let (Some(_), Some(pid), true) = (&self.config.recovery, &socket.pid, reason.is_recoverable()) {
            self.shared.persisted.insert(
                pid.clone(),
                socket.to_persisted(sid, now_ms, socket.since_at_disconnection(&self.shared.seen)),
            );
            self.prune_after(now_ms);
            self.shared_dirty = true;
            self.rooms_version += 1;
        }
        for room in &socket.rooms {
            self.del_room(sid, room);
        }
        if let Some(n) = self.nsps.get_mut(&socket.nsp) {
            n.sockets.remove(sid);
            if n.sockets.is_empty() {
                self.nsps.remove(&socket.nsp);
                self.prune_dynamic();
            }
        }
        if self.sockets.remove(sid).is_some_and(|s| s.awaits_logged) {
            self.awaiting_logged -= 1;
        }
        self.handover_filters.forget(sid);
        // acks without a timer can never complete; timers still fire, as in the reference
        let before = self.shared.acks.len();
        self.shared.acks.retain(|(s, _), a| s != sid || a.deadline.is_some() || a.broadcast.is_some());
        self.shared_dirty |= before != self.shared.acks.len();
        if let Some(s) = self.sessions.get_mut(&socket.session) {
            s.sockets.remove(&socket.nsp);
        }
        self.touch(&socket.session);
        self.events.push_back(Event::Disconnect {
            session: socket.session,
            nsp: socket.nsp,
            sid: sid.to_owned(),
            reason,
            data: socket.data,
        });
    }
}

//! socket.js, for the manager's sockets: CONNECT and its answer, the packets of a socket,
//! emits with their acknowledgements and timeouts, the send and receive buffers, the retry
//! queue, and the end of a socket.

use super::*;

impl Manager {
    /// `socket.onopen()`: sends CONNECT, or asks the driver for the auth first.
    pub(super) fn socket_on_open(&mut self, socket: SocketId) {
        match self.socket_mut(socket).auth.clone() {
            Auth::Callback => self.push_socket(socket, SocketEvent::AuthRequest),
            Auth::Json(auth) => self.send_connect(socket, Some(&auth)),
            Auth::None => self.send_connect(socket, None),
        }
    }

    /// `_sendConnectPacket(auth)`: the recovery fields are merged in when there is a `pid`.
    pub(super) fn send_connect(&mut self, socket: SocketId, auth: Option<&str>) {
        let s = self.socket_mut(socket);
        let data = match &s.pid {
            Some(pid) => Some(merge_recovery(pid, s.last_offset.as_deref(), auth)),
            None => auth.map(str::to_owned),
        };
        let mut packet = Packet::new(PacketType::Connect, s.nsp.clone());
        packet.data = data;
        self.write_packet(packet);
    }

    /// `socket.onclose(reason, description)`.
    pub(super) fn socket_on_close(
        &mut self,
        socket: SocketId,
        reason: DisconnectReason,
        description: Option<String>,
        now_ms: u64,
    ) {
        let s = self.socket_mut(socket);
        s.connected = false;
        s.sid = None;
        // Events a recovering server replayed ahead of a CONNECT that never came. The offset
        // did not move, so each attempt replayed from the same one: the longest replay holds
        // the others. socket.io-client keeps them all and delivers them at the next CONNECT,
        // twice where that one recovers.
        if s.receive_buffer.len() > s.cut_replay.len() {
            std::mem::swap(&mut s.receive_buffer, &mut s.cut_replay);
        }
        s.receive_buffer.clear();
        self.push_socket(socket, SocketEvent::Disconnect { reason, description });
        // _clearAcks: acks of buffered packets survive; the others are dropped, and those
        // taking an error are told.
        let s = self.socket_mut(socket);
        let mut cleared = Vec::new();
        for (&id, &ack) in s.acks.iter() {
            if !s.send_buffer.iter().any(|p| p.id == Some(id)) {
                cleared.push((id, ack));
            }
        }
        for (id, ack) in cleared {
            self.socket_mut(socket).acks.remove(&id);
            match (ack.with_error, ack.target) {
                (true, _) => self.ack_error(socket, id, ack.target, AckError::Disconnected, now_ms),
                (false, AckTarget::User) => {
                    self.push_socket(socket, SocketEvent::AckDropped { handle: AckHandle::Id(id) })
                }
                (false, _) => {}
            }
        }
    }

    /// The socket of namespace `nsp` that listens to the engine's packets, if any.
    fn listening_socket(&self, nsp: &str) -> Option<SocketId> {
        self.subscribed.iter().copied().find(|&id| self.sockets[id.0 as usize].nsp == nsp)
    }

    /// A packet decoded from the engine: `socket.onpacket(packet)` for the socket of its
    /// namespace, if it listens.
    pub(super) fn on_packet(&mut self, packet: Packet, now_ms: u64) {
        if let Some(socket) = self.listening_socket(&packet.nsp) {
            self.socket_on_packet(socket, packet, now_ms);
        }
    }

    /// `socket.onpacket(packet)` called by the application (socket.io-client's test suite
    /// does, to play a server's answer): `packet` reaches socket `socket` as if it had been
    /// received for it, whether the socket listens to the manager or not. A packet of another
    /// namespace is ignored, as socket.io-client ignores it.
    pub fn handle_socket_packet(&mut self, socket: SocketId, packet: Packet, now_ms: u64) {
        if self.sockets.get(socket.0 as usize).is_some_and(|s| s.nsp == packet.nsp) {
            self.socket_on_packet(socket, packet, now_ms);
            self.pump(now_ms);
        }
    }

    /// `socket.onpacket(packet)`: what a packet of its namespace does to socket `socket`.
    fn socket_on_packet(&mut self, socket: SocketId, packet: Packet, now_ms: u64) {
        match packet.kind {
            PacketType::Connect => {
                let members = packet.data.as_deref().and_then(object_members).unwrap_or_default();
                let sid = member(&members, "sid").filter(|raw| truthy(raw));
                match sid {
                    Some(sid) => {
                        let sid = string_value(sid).unwrap_or_else(|| sid.to_owned());
                        let pid = member(&members, "pid")
                            .filter(|raw| truthy(raw))
                            .map(|raw| string_value(raw).unwrap_or_else(|| raw.to_owned()));
                        self.on_connect(socket, sid, pid, now_ms);
                    }
                    None => self.push_socket(
                        socket,
                        SocketEvent::ConnectError { message: ErrorMessage::Text(V2_SERVER.to_owned()), data: None },
                    ),
                }
            }
            PacketType::Event | PacketType::BinaryEvent => {
                let received = Received {
                    data: packet.data.unwrap_or_else(|| "[]".to_owned()),
                    attachments: packet.attachments,
                    ack_id: packet.id,
                };
                if self.socket_mut(socket).connected {
                    self.emit_event(socket, received);
                } else {
                    self.socket_mut(socket).receive_buffer.push(received);
                }
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let Some(id) = packet.id else { return };
                let Some(ack) = self.socket_mut(socket).acks.remove(&id) else { return };
                let args = packet.data.unwrap_or_else(|| "[]".to_owned());
                self.ack_response(socket, id, ack, args, packet.attachments, now_ms);
            }
            PacketType::Disconnect => {
                self.destroy(socket, now_ms);
                self.socket_on_close(socket, DisconnectReason::IoServerDisconnect, None, now_ms);
            }
            PacketType::ConnectError => {
                self.destroy(socket, now_ms);
                let (message, data) = match packet.data.as_deref().and_then(object_members) {
                    Some(members) => (
                        member(&members, "message").map_or_else(
                            || ErrorMessage::Text(String::new()),
                            |raw| ErrorMessage::Json(raw.to_owned()),
                        ),
                        member(&members, "data").map(str::to_owned),
                    ),
                    // a string: `new Error("...".message)`, an empty message
                    None => (ErrorMessage::Text(String::new()), None),
                };
                self.push_socket(socket, SocketEvent::ConnectError { message, data });
            }
        }
    }

    /// The WebSocket whose text frames may be routed from their heads now
    /// ([`Manager::handle_websocket_head`]): the application parses the payloads, the manager
    /// is open, no event waits to be polled (a frame's would overtake it), no binary packet is
    /// being put together, and the engine hands that WebSocket's messages on as they are
    /// (packets are not reported).
    pub(super) fn head_routing_websocket(&self) -> Option<TransportId> {
        let routes = self.application_json
            && self.state == ReadyState::Open
            && self.events.is_empty()
            && !self.decoder.is_reconstructing();
        routes.then(|| self.engine.message_websocket()).flatten()
    }

    /// The shortcut for received events, good until the manager's next input: while it
    /// holds, a text frame of its WebSocket made of the head of one of its sockets (see
    /// [`EventShortcut`]), then JSON data starting with `[`, is that socket's event without
    /// ack id, which the manager would hand to the application as it came, changing nothing
    /// else than the recovery offset of a socket that keeps one (its last argument, when a
    /// string, as socket.io-client's `emitEvent` keeps it). The driver may then hand the data
    /// to the application without telling the manager, and reports the offset of the last
    /// event it so handed to a socket ([`Manager::handle_event_offset`]) by the socket's
    /// [`SocketEvent::Disconnect`] at the latest, unless the manager handed the socket an
    /// event with an offset since (the manager reads a packet's offset as it takes the packet
    /// in, before it hands over the events queued ahead of it). `None` while every frame must
    /// come to the manager.
    pub fn event_shortcut(&self) -> Option<EventShortcut> {
        let websocket = self.head_routing_websocket()?;
        // (a subscribed socket is its namespace's listening socket: one socket a namespace)
        let mut sockets = 0;
        for &id in &self.subscribed {
            let s = &self.sockets[id.0 as usize];
            if id.0 < 32 && s.connected && has_plain_head(&s.nsp) {
                sockets |= 1 << id.0;
            }
        }
        Some(EventShortcut { websocket, sockets })
    }

    /// The recovery offset of the last event the driver handed to socket `socket` by the
    /// shortcut ([`Manager::event_shortcut`]), which the manager did not read: what the
    /// socket's next CONNECT asks the server to recover from. Ignored for a socket that keeps
    /// no offset (its server offers no recovery).
    pub fn handle_event_offset(&mut self, socket: SocketId, offset: String) {
        if let Some(s) = self.sockets.get_mut(socket.0 as usize).filter(|s| s.pid.is_some()) {
            s.last_offset = Some(offset);
        }
    }

    /// Where an EVENT or ACK goes from its header alone (see
    /// [`Manager::handle_websocket_head`]): an event for a connected socket that tracks no
    /// recovery offset (the offset is in the data), or the answer to an application's ack,
    /// whose entry it takes out. `None` for anything else.
    pub(super) fn route_unread(&mut self, header: &Header<'_>) -> Option<UnreadPayload> {
        let socket = self.listening_socket(header.nsp)?;
        let s = self.socket_mut(socket);
        match header.wire {
            PacketType::Event if s.connected && s.pid.is_none() => {
                Some(UnreadPayload::Event { socket, ack_id: header.id })
            }
            PacketType::Ack => {
                let id = header.id?;
                let with_error = s.acks.get(&id).filter(|ack| ack.target == AckTarget::User)?.with_error;
                s.acks.remove(&id);
                Some(UnreadPayload::AckResponse { socket, handle: AckHandle::Id(id), with_error })
            }
            _ => None,
        }
    }

    /// `socket.onconnect(id, pid)`.
    pub(super) fn on_connect(&mut self, socket: SocketId, sid: String, pid: Option<String>, now_ms: u64) {
        let s = self.socket_mut(socket);
        s.sid = Some(sid);
        s.recovered = pid.as_ref().map(|_| s.pid == pid);
        s.pid = pid;
        s.connected = true;
        // emitBuffered; a recovery replays again what a cut one held, a new session does not.
        let mut buffered = std::mem::take(&mut s.cut_replay);
        if s.recovered == Some(true) {
            buffered.clear();
        }
        buffered.append(&mut s.receive_buffer);
        for received in buffered {
            self.emit_event(socket, received);
        }
        for packet in std::mem::take(&mut self.socket_mut(socket).send_buffer) {
            self.write_packet(packet);
        }
        self.drain_queue(socket, true, now_ms);
        self.push_socket(socket, SocketEvent::Connect);
    }

    /// `socket.emitEvent(args)`, which also tracks the recovery offset.
    pub(super) fn emit_event(&mut self, socket: SocketId, received: Received) {
        let s = self.socket_mut(socket);
        // The offset is the last argument when it is a string (with an ack id, the last
        // argument is the ack callback).
        if s.pid.is_some() && received.ack_id.is_none() {
            if let Some(last) =
                array_elements(&received.data).and_then(|e| e.last().map(|e| e.1)).and_then(string_value)
            {
                s.last_offset = Some(last);
            }
        }
        self.push_socket(
            socket,
            SocketEvent::Event { data: received.data, attachments: received.attachments, ack_id: received.ack_id },
        );
    }

    /// The EVENT part of `socket.emit()`, after the queue: registers the ack, then sends,
    /// buffers or drops the packet. Returns the ack id.
    pub(super) fn emit_packet(
        &mut self,
        socket: SocketId,
        data: String,
        attachments: Vec<Vec<u8>>,
        options: EmitOptions,
        target: Option<AckTarget>,
        now_ms: u64,
    ) -> Option<u64> {
        let (writable, ping_deadline) = match self.engine.session() {
            Some(engine) => (engine.is_writable(), engine.poll_timeout()),
            None => (false, None),
        };
        let s = self.socket_mut(socket);
        let mut packet = Packet::event(s.nsp.clone(), data).with_attachments(attachments);
        let ack_id = target.map(|target| {
            let id = s.ids;
            s.ids += 1;
            let ack = match options.timeout.or(s.ack_timeout) {
                Some(timeout) => PendingAck { target, with_error: true, deadline: Some(now_ms + timeout) },
                None => PendingAck { target, with_error: options.ack == AckMode::WithError, deadline: None },
            };
            s.acks.insert(id, ack);
            packet.id = Some(id);
            id
        });
        // _hasPingExpired: a heartbeat deadline passed while timers were throttled
        let ping_expired = s.connected && ping_deadline.is_none_or(|deadline| now_ms > deadline);
        let connected = s.connected && !ping_expired;
        if options.volatile && !writable {
            // dropped
        } else if connected {
            self.write_packet(packet);
        } else {
            s.send_buffer.push(packet);
        }
        if ping_expired {
            if let Some(engine) = self.engine.session_mut() {
                engine.handle_timeout(now_ms);
            }
        }
        ack_id
    }

    /// `_drainQueue(force)`: sends the head of the retry queue.
    pub(super) fn drain_queue(&mut self, socket: SocketId, force: bool, now_ms: u64) {
        let s = self.socket_mut(socket);
        if !s.connected {
            return;
        }
        let Some((seq, packet)) = s.queued.first_mut() else { return };
        let seq = *seq;
        if packet.pending && !force {
            return;
        }
        packet.pending = true;
        packet.try_count += 1;
        let (data, attachments, options) = (packet.data.clone(), packet.attachments.clone(), packet.options);
        self.emit_packet(socket, data, attachments, options, Some(AckTarget::Queue(seq)), now_ms);
    }

    /// An ACK arrived for `id`.
    pub(super) fn ack_response(
        &mut self,
        socket: SocketId,
        id: u64,
        ack: PendingAck,
        args: String,
        attachments: Vec<Vec<u8>>,
        now_ms: u64,
    ) {
        match ack.target {
            AckTarget::User => self.push_socket(
                socket,
                SocketEvent::AckResponse { handle: AckHandle::Id(id), args, attachments, with_error: ack.with_error },
            ),
            AckTarget::Queue(seq) => {
                // The queue's callback is `(err, ...responseArgs)`: with `withError` the answer
                // comes after a null, otherwise the server's first argument is `err`.
                let elements = array_elements(&args).unwrap_or_default();
                let outcome = if ack.with_error {
                    Ok(args.clone())
                } else {
                    match elements.first() {
                        Some((_, first)) if json::trim(first) == "null" => Ok(rest_of_array(&elements[1..], None)),
                        Some((_, first)) => Err(QueueError::Value(crate::concat(&["[", first, "]"]))),
                        // `undefined !== null`
                        None => Err(QueueError::Value("[]".to_owned())),
                    }
                };
                self.queue_callback(socket, seq, outcome, attachments, now_ms);
            }
        }
    }

    /// An acknowledgement failed (timeout, disconnection).
    pub(super) fn ack_error(&mut self, socket: SocketId, id: u64, target: AckTarget, error: AckError, now_ms: u64) {
        match target {
            AckTarget::User => self.push_socket(socket, SocketEvent::AckError { handle: AckHandle::Id(id), error }),
            AckTarget::Queue(seq) => {
                self.queue_callback(socket, seq, Err(QueueError::Ack(error)), Vec::new(), now_ms);
            }
        }
    }

    pub(super) fn on_ack_timeout(&mut self, socket: SocketId, id: u64, now_ms: u64) {
        let s = self.socket_mut(socket);
        let Some(ack) = s.acks.remove(&id) else { return };
        s.send_buffer.retain(|p| p.id != Some(id));
        match ack.target {
            AckTarget::User => {
                self.push_socket(socket, SocketEvent::AckError { handle: AckHandle::Id(id), error: AckError::Timeout })
            }
            AckTarget::Queue(seq) => {
                self.queue_callback(socket, seq, Err(QueueError::Ack(AckError::Timeout)), Vec::new(), now_ms)
            }
        }
    }

    /// The callback `_addToQueue` appends to a queued packet's arguments.
    pub(super) fn queue_callback(
        &mut self,
        socket: SocketId,
        seq: u64,
        outcome: Result<String, QueueError>,
        attachments: Vec<Vec<u8>>,
        now_ms: u64,
    ) {
        let s = self.socket_mut(socket);
        let retries = s.retries;
        let Some(packet) = s.queued.iter_mut().find(|(k, _)| *k == seq).map(|(_, p)| p) else { return };
        let (try_count, wants_ack) = (packet.try_count, packet.options.ack != AckMode::None);
        packet.pending = false;
        let deliver = match &outcome {
            Err(_) => try_count > retries,
            Ok(_) => true,
        };
        if deliver {
            // `this._queue.shift()`: the head, which is this packet
            if !s.queued.is_empty() {
                s.queued.remove(0);
            }
            if wants_ack {
                let handle = AckHandle::Queued(seq);
                let event = match outcome {
                    Ok(args) => {
                        let elements = array_elements(&args).unwrap_or_default();
                        SocketEvent::AckResponse {
                            handle,
                            args: rest_of_array(&elements, Some("null")),
                            attachments,
                            with_error: false,
                        }
                    }
                    Err(QueueError::Value(args)) => {
                        SocketEvent::AckResponse { handle, args, attachments, with_error: false }
                    }
                    Err(QueueError::Ack(error)) => SocketEvent::AckError { handle, error },
                };
                self.push_socket(socket, event);
            }
        }
        self.drain_queue(socket, false, now_ms);
    }
}

/// Whether the head of an event of namespace `nsp` (see [`EventShortcut`]) reads back as that
/// namespace ([`Header::parse`] reads one only after a `/` and ends it at its first `,`) and
/// holds no `[` (where the driver cuts a frame).
fn has_plain_head(nsp: &str) -> bool {
    nsp == "/" || nsp.starts_with("/") && !nsp.bytes().any(|b| b == b',' || b == b'[')
}

//! The room index and the broadcast operator: which sockets a selection of namespace and
//! rooms reaches, one encoded packet delivered to all of them (logged for recovery, or with
//! acknowledgements collected), the adapter operations on a selection, and the rooms this
//! server holds (for a deployment of many servers).

use std::collections::BTreeSet;
use std::rc::Rc;

use super::*;

/// A selection of sockets in one namespace (socket.io's `BroadcastOperator`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Broadcast {
    /// The namespace.
    pub nsp: String,
    /// Send to the sockets in any of these rooms (all sockets when empty).
    pub rooms: BTreeSet<String>,
    /// Leave out the sockets in any of these rooms.
    pub except: BTreeSet<String>,
    /// Skip sockets whose transport is not writable ([`Server::set_writable`]); not logged
    /// for recovery.
    pub volatile: bool,
    /// Only the sockets of this server: a driver relaying broadcasts to other Durable Objects
    /// must not relay this one. The core itself only knows local sockets.
    pub local: bool,
    /// A broadcast another server logged, relayed here with the (origin, sequence) it was
    /// logged under there ([`Delivery::logged`]): logged here under the same, and applied once.
    pub relayed: Option<(String, u64)>,
    /// For a relayed broadcast: the sequence of the last broadcast of the same origin relayed
    /// here before it (0: none). Those in between went to other servers only, none reaching
    /// a socket here, so a recovery passes over them; without it, every sequence before
    /// must have been logged here (see `offsets.rs`).
    pub relayed_after: Option<u64>,
}

impl Broadcast {
    /// All sockets of namespace `nsp`.
    pub fn new(nsp: impl Into<String>) -> Self {
        Broadcast { nsp: nsp.into(), ..Default::default() }
    }

    /// A broadcast another server logged under (`origin`, `seq`), relayed here.
    pub fn relayed(mut self, origin: impl Into<String>, seq: u64) -> Self {
        self.relayed = Some((origin.into(), seq));
        self
    }

    /// A relayed broadcast whose origin relayed `prev` here before it, and none in between
    /// ([`Broadcast::relayed_after`]).
    pub fn after(mut self, prev: u64) -> Self {
        self.relayed_after = Some(prev);
        self
    }

    /// `to(room)` / `in(room)`: add a target room.
    pub fn to(mut self, room: impl Into<String>) -> Self {
        self.rooms.insert(room.into());
        self
    }

    /// `except(room)`: add an excluded room.
    pub fn except(mut self, room: impl Into<String>) -> Self {
        self.except.insert(room.into());
        self
    }

    /// The `volatile` flag.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// The `local` flag.
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }
}

/// Who a broadcast went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The socket ids selected (volatile skips included, as the reference counts them).
    pub sids: Vec<String>,
    /// The Engine.IO sessions the packet is written to.
    pub sessions: Vec<String>,
    /// The packet, encoded once; `None` when nobody was selected.
    pub packet: Option<Rc<EncodedPacket>>,
    /// The (origin, sequence) the broadcast was logged under for recovery, to relay with it.
    pub logged: Option<(String, u64)>,
    /// For a broadcast relayed here, to rooms, seen here for the first time: the servers that
    /// took sessions it reaches from this one (their clients reconnected there). Its sender
    /// looked the rooms' holders up maybe before those servers joined the rooms for them:
    /// it relays the broadcast to them too (where it arrived already it is applied once), or
    /// those sessions would miss it, told they recovered.
    pub moved_to: Vec<String>,
}

impl Server {
    /// `io.of(nsp).to(..).except(..).emit(event, ...args)`: encodes once, queues one
    /// [`Transmit::Packet`] for all recipients, logs it for recovery (event without ack, not
    /// volatile) with its offset appended as the last argument.
    pub fn broadcast(
        &mut self,
        op: &Broadcast,
        event: &str,
        args: &str,
        attachments: Vec<Vec<u8>>,
        now_ms: u64,
    ) -> Result<Delivery, ApiError> {
        check_emit(event, args, &attachments)?;
        // A relay behind its origin's last one here: sent on by a server a session moved from
        // ([`Delivery::moved_to`]), after later ones reached this server directly.
        let late = op
            .relayed
            .as_ref()
            .is_some_and(|(origin, seq)| self.shared.seen.get(origin).is_some_and(|last| last > seq));
        let logged = match (&op.relayed, self.config.recovery.is_some() && !op.volatile) {
            (_, false) => None,
            // A relay seen before (sent again): applied once.
            // (A sequence past the last one seen from its origin is new without a look at the log.)
            (Some((origin, seq)), true)
                if self.shared.seen.get(origin).is_some_and(|last| last >= seq)
                    && (self.shared.log.iter().any(|e| e.seq == *seq && e.origin == *origin)
                        || self.pruned.contains(origin, *seq)) =>
            {
                return Ok(Delivery {
                    sids: Vec::new(),
                    sessions: Vec::new(),
                    packet: None,
                    logged: None,
                    moved_to: Vec::new(),
                });
            }
            (Some(relayed), true) => Some(relayed.clone()),
            (None, true) => {
                self.shared.next_offset += 1;
                Some((self.origin.clone(), self.shared.next_offset))
            }
        };
        let offset = logged.as_ref().map(|(origin, seq)| {
            let last = self.shared.seen.entry(origin.clone()).or_default();
            *last = (*last).max(*seq);
            offsets::encode(&self.shared.seen)
        });
        let data = event_data(event, args, offset.as_deref());
        if let (Some(offset), Some((origin, seq))) = (offset, logged.clone()) {
            self.shared.log_bytes += data.len() + attachments.iter().map(Vec::len).sum::<usize>();
            self.shared.next_log_key += 1;
            if self.shared.log.is_empty() {
                self.prune_after(now_ms); // else armed for an older entry already
            }
            self.shared.log.push_back(LogEntry {
                key: self.shared.next_log_key,
                offset,
                origin,
                seq,
                after: op.relayed_after.filter(|_| op.relayed.is_some()),
                nsp: op.nsp.clone(),
                rooms: op.rooms.iter().cloned().collect(),
                except: op.except.iter().cloned().collect(),
                data: data.clone(),
                attachments: attachments.clone(),
                emitted_at: now_ms,
            });
            self.shared_dirty = true;
            self.prune(now_ms);
        }
        let mut sids = self.select(op);
        if let (Some((origin, seq)), true) = (&op.relayed, self.awaits_handed_relays() || late) {
            sids.retain(|sid| !self.was_handed(sid, origin, *seq, late));
            self.relays_arrived();
        }
        if let Some((origin, seq)) = &logged {
            self.note_first_logged(&sids, origin, *seq);
        }
        let moved_to = match (&op.relayed, &logged) {
            (Some(_), Some(_)) => self.moved_holders(op),
            _ => Vec::new(),
        };
        let packet = Packet { kind: PacketType::Event, nsp: op.nsp.clone(), id: None, data: Some(data), attachments };
        Ok(Delivery { logged, moved_to, ..self.deliver(op, sids, &packet) })
    }

    /// The recipients of logged entry `origin:seq` that were sent no logged packet before keep
    /// the log's position before it: should the client get none of them, its reconnection
    /// (without offset) recovers from there, whatever was logged and pruned before.
    /// Once every socket was sent one, a broadcast pays nothing for this.
    fn note_first_logged(&mut self, sids: &[String], origin: &str, seq: u64) {
        let mut before = None;
        for sid in sids {
            if self.awaiting_logged == 0 {
                return;
            }
            if self.sockets[sid].awaits_logged {
                let position = before.get_or_insert_with(|| {
                    let mut position = self.shared.seen.clone();
                    position.insert(origin.to_owned(), seq - 1);
                    offsets::encode(&position)
                });
                let socket = self.socket_mut(sid);
                socket.since = Some(position.clone());
                socket.awaits_logged = false;
                self.awaiting_logged -= 1;
            }
        }
    }

    /// `...timeout(ms).emitWithAck(event, ...args)` on a selection: every recipient gets the
    /// same packet and ack id; [`Event::BroadcastAck`] comes when all answered or at the
    /// timeout. Returns the broadcast id and the delivery.
    pub fn broadcast_with_ack(
        &mut self,
        op: &Broadcast,
        event: &str,
        args: &str,
        attachments: Vec<Vec<u8>>,
        timeout_ms: u64,
        now_ms: u64,
    ) -> Result<(u64, Delivery), ApiError> {
        check_emit(event, args, &attachments)?;
        let data = event_data(event, args, None);
        let sids = self.select(op);
        let ack_id = sids.iter().map(|sid| self.sockets[sid].next_ack).max().unwrap_or(0);
        let bid = self.shared.next_broadcast;
        self.shared.next_broadcast += 1;
        for sid in &sids {
            self.socket_mut(sid).next_ack = ack_id + 1;
            self.shared.acks.insert((sid.clone(), ack_id), PendingAck { deadline: None, broadcast: Some(bid) });
        }
        self.shared_dirty = true;
        let packet =
            Packet { kind: PacketType::Event, nsp: op.nsp.clone(), id: Some(ack_id), data: Some(data), attachments };
        let delivery = self.deliver(op, sids, &packet);
        if delivery.sids.is_empty() {
            self.events.push_back(Event::BroadcastAck { id: bid, error: None, responses: Vec::new() });
        } else {
            self.shared.collects.insert(
                bid,
                Collect { expected: delivery.sids.len(), responses: Vec::new(), deadline: now_ms + timeout_ms },
            );
            self.timers.set(Timer::Collect(bid), now_ms + timeout_ms);
        }
        Ok((bid, delivery))
    }

    /// `fetchSockets()` on a selection.
    pub fn fetch_sockets(&self, op: &Broadcast) -> Vec<SocketInfo> {
        self.select(op).iter().map(|sid| self.info(sid, &self.sockets[sid])).collect()
    }

    /// `socketsJoin(rooms)` on a selection.
    pub fn sockets_join(&mut self, op: &Broadcast, rooms: &[&str]) {
        for sid in self.select(op) {
            for room in rooms {
                self.add_room(&sid, (*room).to_owned());
            }
        }
    }

    /// `socketsLeave(rooms)` on a selection.
    pub fn sockets_leave(&mut self, op: &Broadcast, rooms: &[&str]) {
        for sid in self.select(op) {
            for room in rooms {
                self.del_room(&sid, room);
            }
        }
    }

    /// `disconnectSockets(close)` on a selection.
    pub fn disconnect_sockets(&mut self, op: &Broadcast, close: bool, now_ms: u64) {
        for sid in self.select(op) {
            // Its only error, an unknown socket, is excluded here: a socket whose session an
            // earlier one closed (`close`) has left `sockets` by now.
            if self.sockets.contains_key(&sid) {
                let _ = self.disconnect(&sid, close, now_ms);
            }
        }
    }

    pub(super) fn add_room(&mut self, sid: &str, room: String) {
        let socket = self.socket_mut(sid);
        if socket.rooms.insert(room.clone()) {
            let nsp = socket.nsp.clone();
            let members = self.nsps.entry(nsp).or_default().rooms.entry(room).or_default();
            if members.is_empty() {
                self.rooms_version += 1; // a room held here now
            }
            members.insert(sid.to_owned());
            self.note_live(sid);
        }
    }

    pub(super) fn del_room(&mut self, sid: &str, room: &str) {
        self.note_live(sid);
        let socket = self.socket_mut(sid);
        socket.rooms.remove(room);
        let nsp = socket.nsp.clone();
        if let Some(n) = self.nsps.get_mut(&nsp) {
            if let Some(members) = n.rooms.get_mut(room) {
                members.remove(sid);
                if members.is_empty() {
                    n.rooms.remove(room);
                    self.rooms_version += 1;
                }
            }
        }
    }

    /// adapter.apply: the socket ids a selection reaches.
    pub(super) fn select(&self, op: &Broadcast) -> Vec<String> {
        let Some(n) = self.nsps.get(&op.nsp) else { return Vec::new() };
        let except: BTreeSet<&String> = op.except.iter().filter_map(|r| n.rooms.get(r)).flatten().collect();
        if op.rooms.is_empty() {
            return n.sockets.iter().filter(|sid| !except.contains(sid)).cloned().collect();
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for room in &op.rooms {
            for sid in n.rooms.get(room).into_iter().flatten() {
                if !except.contains(sid) && seen.insert(sid) {
                    out.push(sid.clone());
                }
            }
        }
        out
    }

    pub(super) fn deliver(&mut self, op: &Broadcast, sids: Vec<String>, packet: &Packet) -> Delivery {
        let sessions: Vec<String> = sids
            .iter()
            .map(|sid| &self.sockets[sid].session)
            .filter(|session| !op.volatile || self.sessions.get(*session).is_some_and(|s| s.writable))
            .cloned()
            .collect();
        if sids.is_empty() {
            return Delivery { sids, sessions, packet: None, logged: None, moved_to: Vec::new() };
        }
        let encoded = self.encode(packet);
        if !sessions.is_empty() {
            self.transmits.push_back(Transmit::Packet { sessions: sessions.clone(), packet: encoded.clone() });
        }
        Delivery { sids, sessions, packet: Some(encoded), logged: None, moved_to: Vec::new() }
    }

    /// Changes when [`Server::held_rooms`] may have changed (a room gained its first member or
    /// lost its last, a recoverable session came or went): a driver recomputes them only then.
    pub fn rooms_version(&self) -> u64 {
        self.rooms_version
    }

    /// Every (namespace, room) that a connected socket or a recoverable session of this server
    /// is in, sockets' own-id rooms aside (a socket id names its server by itself). A
    /// recoverable session counts: the broadcasts it misses must be logged here, where its
    /// reconnection recovers them. So does one that moved to another server, while this one
    /// remembers the move: a broadcast looked up before that server joined its rooms still
    /// reaches this one, which names that server to its sender ([`Delivery::moved_to`]).
    /// Until 2026-12-07 this server left the directory at the move, and a broadcast looked
    /// up before the other joined reached neither.
    pub fn held_rooms(&self) -> BTreeSet<(String, String)> {
        let live = self.nsps.iter().flat_map(|(nsp, n)| {
            n.rooms.keys().filter(|room| !self.sockets.contains_key(*room)).map(move |room| (nsp.clone(), room.clone()))
        });
        let recoverable =
            self.shared.persisted.values().flat_map(|p| {
                p.rooms.iter().filter(|room| **room != p.sid).map(move |room| (p.nsp.clone(), room.clone()))
            });
        let moved = self.shared.moved.values().flat_map(|m| m.rooms.iter().map(|room| (m.nsp.clone(), room.clone())));
        live.chain(recoverable).chain(moved).collect()
    }
}

//! Snapshots: per Engine.IO session (for WebSocket attachments) and shared (for storage).
//!
//! Session snapshot, defaults omitted:
//! `{"id":session,"q":query,"h":headers,"a":address,"w":false,"t":connect deadline,
//!   "s":[{"n":nsp,"i":sid,"p":pid,"r":[rooms but its own],"d":data,"u":auth,"at":issued,
//!         "k":next ack id,"rc":true,"o":log position it recovers from without offset,
//!         "w":true while no logged packet was sent to it}],
//!   "c":[[nsp,auth],..],"b":[header text,expected,[base64 attachments]]}`

use std::collections::{BTreeMap, BTreeSet};

use crate::json::write_string;
use crate::socket::{decode_text, Packet};

use super::json::{write_binaries, write_string_array, Reader};
use super::offsets::{self, legacy_entry};
use super::reassembly::Reassembly;
use super::timers::Timer;
use super::writes::SNAPSHOT_PREFIX;
use super::{
    AckData, Collect, Handed, LogEntry, Moved, PendingAck, Persisted, Server, SessionInfo, SessionState, Shared,
    SnapshotError, SocketState,
};

fn push_u64(out: &mut String, key: &str, n: u64) {
    out.push_str(key);
    crate::number::push_u64(out, n);
}

/// One socket's entry in its session's snapshot (`{"n":..,"i":..,..}`).
pub(super) fn write_socket(out: &mut String, nsp: &str, sid: &str, k: &SocketState) {
    out.push_str("{\"n\":");
    write_string(out, nsp);
    out.push_str(",\"i\":");
    write_string(out, sid);
    if let Some(pid) = &k.pid {
        out.push_str(",\"p\":");
        write_string(out, pid);
    }
    if k.rooms.len() > 1 || !k.rooms.contains(sid) {
        out.push_str(",\"r\":");
        write_string_array(out, k.rooms.iter().filter(|r| *r != sid));
    }
    if k.data != "{}" {
        out.push_str(",\"d\":");
        out.push_str(&k.data);
    }
    if k.auth != "{}" {
        out.push_str(",\"u\":");
        out.push_str(&k.auth);
    }
    push_u64(out, ",\"at\":", k.issued);
    if k.next_ack != 0 {
        push_u64(out, ",\"k\":", k.next_ack);
    }
    if k.recovered {
        out.push_str(",\"rc\":true");
    }
    if let Some(since) = &k.since {
        out.push_str(",\"o\":");
        write_string(out, since);
    }
    if k.awaits_logged {
        out.push_str(",\"w\":true");
    }
    write_handover(out, &k.handed_through, &k.connected_with);
    out.push('}');
}

impl Server {
    /// The snapshot of one Engine.IO session and its sockets, at most
    /// [`super::Config::max_snapshot_bytes`] long.
    pub fn session_to_json(&self, session: &str) -> Result<String, SnapshotError> {
        let s = self.sessions.get(session).ok_or(SnapshotError::UnknownSession)?;
        let mut out = String::with_capacity(256);
        out.push_str("{\"id\":");
        write_string(&mut out, session);
        if s.info.query != "{}" {
            out.push_str(",\"q\":");
            out.push_str(&s.info.query);
        }
        if s.info.headers != "{}" {
            out.push_str(",\"h\":");
            out.push_str(&s.info.headers);
        }
        if !s.info.address.is_empty() {
            out.push_str(",\"a\":");
            write_string(&mut out, &s.info.address);
        }
        if !s.writable {
            out.push_str(",\"w\":false");
        }
        if let Some(t) = s.connect_deadline {
            push_u64(&mut out, ",\"t\":", t);
        }
        if !s.sockets.is_empty() {
            out.push_str(",\"s\":[");
            for (i, (nsp, sid)) in s.sockets.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_socket(&mut out, nsp, sid, &self.sockets[sid]);
            }
            out.push(']');
        }
        if !s.pending.is_empty() {
            out.push_str(",\"c\":[");
            for (i, (nsp, auth)) in s.pending.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('[');
                write_string(&mut out, nsp);
                out.push(',');
                out.push_str(auth);
                out.push(']');
            }
            out.push(']');
        }
        // The partial packet's attachments, once kept, count beyond the snapshot's limit.
        let mut kept_bytes = 0;
        // Until the packet has waited PARTIAL_KEPT_AFTER_MS, its attachments are kept only
        // within the inline limit: large binary is not written to storage frame by frame while
        // it comes fast. Nothing is lost by leaving it out meanwhile: an eviction comes after
        // seconds of silence, when it is kept, and a restart ends the WebSocket it comes on.
        // Its attachments go in base64 (4 characters per 3 bytes).
        let partial = s.reassembly.packet.as_ref().map(|(packet, expected)| {
            (packet, expected, packet.attachments.iter().map(|a| a.len().div_ceil(3) * 4).sum::<usize>())
        });
        let partial =
            partial.filter(|&(_, _, encoded)| s.reassembly.kept || encoded <= self.config.max_inline_snapshot_bytes);
        if let Some((packet, expected, encoded)) = partial {
            if s.reassembly.kept {
                kept_bytes = encoded;
            }
            // A snapshot that cannot fit is refused before they are encoded (each attachment
            // frame asks again).
            let max = self.config.max_snapshot_bytes + kept_bytes;
            if out.len() + encoded > max {
                return Err(SnapshotError::TooLarge { len: out.len() + encoded, max });
            }
            let header = Packet { attachments: vec![Vec::new(); *expected], ..packet.clone() }.encode();
            out.push_str(",\"b\":[");
            write_string(&mut out, &header);
            out.push(',');
            write_binaries(&mut out, &packet.attachments);
            out.push(']');
            if let Some(at) = s.reassembly.deadline {
                push_u64(&mut out, ",\"bt\":", at);
            }
        }
        out.push('}');
        let max = self.config.max_snapshot_bytes + kept_bytes;
        if out.len() > max {
            return Err(SnapshotError::TooLarge { len: out.len(), max });
        }
        Ok(out)
    }

    /// The state shared by all sessions (recovery log, disconnected sessions, pending acks,
    /// broadcast acks being collected, dynamic namespaces) as one text: what
    /// [`Server::restore`] reads. Storage keeps it in parts ([`Server::take_writes`]).
    pub fn shared_to_json(&self) -> String {
        let sh = &self.shared;
        let mut out = String::with_capacity(256);
        self.write_shared_header(&mut out);
        out.push_str(",\"log\":[");
        for (i, e) in sh.log.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_log_entry(&mut out, e);
        }
        out.push_str("],\"ps\":[");
        for (i, (pid, p)) in sh.persisted.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_persisted(&mut out, pid, p);
        }
        out.push_str("],\"acks\":[");
        for (i, ((sid, id), a)) in sh.acks.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            write_string(&mut out, sid);
            push_u64(&mut out, ",", *id);
            out.push(',');
            write_ack(&mut out, a);
            out.push(']');
        }
        out.push_str("]}");
        out
    }

    /// The shared state but the log, the disconnected sessions and the acks, which storage
    /// keeps one per key: `{"o","nb","dn","sv","mv","ba","lk"}`.
    pub(super) fn shared_header_to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write_shared_header(&mut out);
        out.push('}');
        out
    }

    /// `{"o":..,"nb":..,"dn":..,"sv":..,"mv":..,"ba":..,"lk":..` (left open).
    fn write_shared_header(&self, out: &mut String) {
        let sh = &self.shared;
        push_u64(out, "{\"o\":", sh.next_offset);
        push_u64(out, ",\"nb\":", sh.next_broadcast);
        push_u64(out, ",\"lk\":", sh.next_log_key);
        out.push_str(",\"dn\":");
        write_string_array(out, &sh.dynamic);
        out.push_str(",\"sv\":[");
        for (i, (origin, seq)) in sh.seen.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            write_string(out, origin);
            push_u64(out, ",", *seq);
            out.push(']');
        }
        out.push(']');
        out.push_str(",\"mv\":[");
        for (i, (pid, moved)) in sh.moved.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            write_string(out, pid);
            out.push(',');
            write_string(out, &moved.to);
            push_u64(out, ",", moved.at);
            // Its namespace and rooms when it left from here (read as absent by versions
            // before 2026-12-07, which skip them).
            if !moved.rooms.is_empty() {
                out.push(',');
                write_string(out, &moved.nsp);
                out.push(',');
                write_string_array(out, &moved.rooms);
            }
            out.push(']');
        }
        out.push(']');
        out.push_str(",\"ba\":[");
        for (i, (id, c)) in sh.collects.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!("{{\"i\":{id},\"e\":{},\"t\":{},\"r\":[", c.expected, c.deadline));
            for (j, r) in c.responses.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push('[');
                out.push_str(&r.args);
                out.push(',');
                write_binaries(out, &r.attachments);
                out.push(']');
            }
            out.push_str("]}");
        }
        out.push(']');
    }

    /// Rebuilds a server from the shared snapshot (`None`: nothing shared yet) and the
    /// snapshots of its sessions, rebuilding the namespaces and the room index.
    pub fn restore<'a>(
        config: super::Config,
        shared: Option<&str>,
        sessions: impl IntoIterator<Item = &'a str>,
    ) -> Result<Server, SnapshotError> {
        let shared = shared.map(read_shared).transpose()?.unwrap_or_default();
        Server::from_shared(config, shared, sessions)
    }

    /// A server with this shared state and these sessions (see [`Server::restore`]).
    pub(super) fn from_shared<'a>(
        config: super::Config,
        shared: Shared,
        sessions: impl IntoIterator<Item = &'a str>,
    ) -> Result<Server, SnapshotError> {
        let mut server = Server::new(config);
        server.shared = shared;
        for (key, ack) in &server.shared.acks {
            if let (Some(at), None) = (ack.deadline, ack.broadcast) {
                server.timers.set(Timer::Ack(key.0.clone(), key.1), at);
            }
        }
        for (id, collect) in &server.shared.collects {
            server.timers.set(Timer::Collect(*id), collect.deadline);
        }
        if let Some(oldest) = server.oldest_recovery_item() {
            server.prune_after(oldest);
        }
        for text in sessions {
            server.restore_session(text)?;
        }
        Ok(server)
    }

    /// Adds one session from what its WebSocket's attachment holds: its snapshot
    /// ([`super::Write::Attachment`]), or the storage key of it
    /// ([`super::Write::StoredSnapshot`]), which `stored` reads from the entries the driver
    /// listed. Returns its id.
    pub fn restore_attachment(
        &mut self,
        attachment: &str,
        stored: impl FnOnce(&str) -> Option<String>,
    ) -> Result<String, SnapshotError> {
        if !attachment.starts_with(SNAPSHOT_PREFIX) {
            return self.restore_session(attachment);
        }
        let snapshot = stored(attachment).ok_or_else(|| SnapshotError::Missing(attachment.to_owned()))?;
        let id = self.restore_session(&snapshot)?;
        self.stored_snapshots.insert(id.clone());
        Ok(id)
    }

    /// Adds one session from its [`Server::session_to_json`] text (restores are per session:
    /// one that fails leaves the others and the server as they were). Returns its id.
    pub fn restore_session(&mut self, text: &str) -> Result<String, SnapshotError> {
        let (id, session, sockets) = read_session(text, self.config.max_attachments)?;
        // A stale snapshot may name a session or socket that exists already: refused whole.
        if self.sessions.contains_key(&id) {
            return Err(SnapshotError::Duplicate(id));
        }
        let mut seen = BTreeSet::new();
        if let Some((sid, _)) = sockets.iter().find(|(sid, _)| self.sockets.contains_key(sid) || !seen.insert(sid)) {
            return Err(SnapshotError::Duplicate(sid.clone()));
        }
        for (sid, socket) in sockets {
            let nsp = self.nsps.entry(socket.nsp.clone()).or_default();
            nsp.sockets.insert(sid.clone());
            for room in &socket.rooms {
                nsp.rooms.entry(room.clone()).or_default().insert(sid.clone());
            }
            self.awaiting_logged += usize::from(socket.awaits_logged);
            self.handover_filters.note(&sid, &socket.handed_through, &self.shared.seen);
            self.sockets.insert(sid, socket);
        }
        if let Some(at) = session.connect_deadline {
            self.timers.set(Timer::Connect(id.clone()), at);
        }
        if let Some(at) = session.reassembly.deadline() {
            self.timers.set(Timer::Reassembly(id.clone()), at);
        }
        self.sessions.insert(id.clone(), session);
        Ok(id)
    }
}

type SessionParts = (String, SessionState, Vec<(String, SocketState)>);

fn read_session(text: &str, max_attachments: usize) -> Result<SessionParts, SnapshotError> {
    let mut r = Reader::new(text);
    let mut id = None;
    let mut state = SessionState {
        info: SessionInfo::default(),
        writable: true,
        sockets: BTreeMap::new(),
        pending: BTreeMap::new(),
        connect_deadline: None,
        reassembly: Reassembly::default(),
    };
    let mut sockets = Vec::new();
    r.object(|r, key| {
        match key {
            "id" => id = Some(r.string()?),
            "q" => state.info.query = r.raw()?,
            "h" => state.info.headers = r.raw()?,
            "a" => state.info.address = r.string()?,
            "w" => state.writable = r.bool()?,
            "t" => state.connect_deadline = r.opt_u64()?,
            "bt" => state.reassembly.deadline = r.opt_u64()?,
            "s" => r.array(|r| {
                sockets.push(read_socket(r)?);
                Ok(())
            })?,
            "c" => r.array(|r| {
                let mut pair = (None, None);
                r.array(|r| {
                    if pair.0.is_none() {
                        pair.0 = Some(r.string()?);
                    } else {
                        pair.1 = Some(r.raw()?);
                    }
                    Ok(())
                })?;
                let (Some(nsp), Some(auth)) = pair else { return Err(SnapshotError::Field("c")) };
                state.pending.insert(nsp, auth);
                Ok(())
            })?,
            "b" => {
                let mut header = None;
                let mut attachments = Vec::new();
                r.array(|r| {
                    if header.is_none() {
                        header = Some(r.string()?);
                    } else {
                        attachments = r.binaries()?;
                    }
                    Ok(())
                })?;
                let header = header.ok_or(SnapshotError::Field("b"))?;
                let (mut packet, expected) =
                    decode_text(&header, max_attachments).map_err(|_| SnapshotError::Field("b"))?;
                if expected == 0 || attachments.len() >= expected {
                    return Err(SnapshotError::Field("b"));
                }
                packet.attachments = attachments;
                state.reassembly.packet = Some((packet, expected));
                // It outlived an instance: kept from now on, whatever its size.
                state.reassembly.kept = true;
            }
            _ => r.skip()?,
        }
        Ok(())
    })?;
    r.end()?;
    let id = id.ok_or(SnapshotError::Field("id"))?;
    let mut out = Vec::new();
    for (sid, mut socket) in sockets {
        socket.session = id.clone();
        socket.rooms.insert(sid.clone());
        state.sockets.insert(socket.nsp.clone(), sid.clone());
        out.push((sid, socket));
    }
    Ok((id, state, out))
}

fn read_socket(r: &mut Reader<'_>) -> Result<(String, SocketState), SnapshotError> {
    let mut sid = None;
    let mut s = SocketState {
        session: String::new(),
        nsp: String::new(),
        pid: None,
        rooms: BTreeSet::new(),
        data: "{}".into(),
        auth: "{}".into(),
        issued: 0,
        next_ack: 0,
        recovered: false,
        since: None,
        awaits_logged: false,
        handed_through: BTreeMap::new(),
        connected_with: None,
    };
    let mut nsp = None;
    r.object(|r, key| {
        match key {
            "n" => nsp = Some(r.string()?),
            "i" => sid = Some(r.string()?),
            "p" => s.pid = Some(r.string()?),
            "r" => s.rooms = r.strings()?.into_iter().collect(),
            "d" => s.data = r.raw()?,
            "u" => s.auth = r.raw()?,
            "at" => s.issued = r.u64()?,
            "k" => s.next_ack = r.u64()?,
            "rc" => s.recovered = r.bool()?,
            "o" => s.since = Some(r.string()?),
            "w" => s.awaits_logged = r.bool()?,
            "h" => s.handed_through = offsets::decode(&r.string()?).ok_or(SnapshotError::Field("h"))?,
            "c" => s.connected_with = Some(r.string()?),
            _ => r.skip()?,
        }
        Ok(())
    })?;
    s.nsp = nsp.ok_or(SnapshotError::Field("n"))?;
    Ok((sid.ok_or(SnapshotError::Field("i"))?, s))
}

/// One disconnected (or, as a live record, connected) session:
/// `{"p":pid,"i":sid,"n":nsp,"r":[rooms],"d":data,"t":disconnected at,"o":since}`. The same text is an
/// entry of the shared snapshot, a live record in storage and a recovery export.
pub(super) fn write_persisted(out: &mut String, pid: &str, p: &Persisted) {
    out.push_str("{\"p\":");
    write_string(out, pid);
    out.push_str(",\"i\":");
    write_string(out, &p.sid);
    out.push_str(",\"n\":");
    write_string(out, &p.nsp);
    out.push_str(",\"r\":");
    write_string_array(out, &p.rooms);
    out.push_str(",\"d\":");
    out.push_str(&p.data);
    push_u64(out, ",\"t\":", p.disconnected_at);
    if let Some(since) = &p.since {
        out.push_str(",\"o\":");
        write_string(out, since);
    }
    write_handover(out, &p.handed_through, &p.connected_with);
    if let Some(handed) = &p.handed {
        write_handed(out, handed);
    }
    out.push('}');
}

/// What another server handed over with a session ([`Handed`]): `,"x":[[data,[binaries]],..]`
/// and `,"xh":through`.
fn write_handed(out: &mut String, handed: &Handed) {
    out.push_str(",\"x\":[");
    for (i, (data, attachments)) in handed.packets.iter().enumerate() {
        out.push_str(if i > 0 { ",[" } else { "[" });
        write_string(out, data);
        out.push(',');
        write_binaries(out, attachments);
        out.push(']');
    }
    out.push(']');
    if let Some(through) = &handed.through {
        out.push_str(",\"xh\":");
        write_string(out, &offsets::encode(through));
    }
}

/// A socket's or persisted session's `handed_through` and `connected_with`, when it has them.
fn write_handover(out: &mut String, handed_through: &BTreeMap<String, u64>, connected_with: &Option<String>) {
    if !handed_through.is_empty() {
        out.push_str(",\"h\":");
        write_string(out, &offsets::encode(handed_through));
    }
    if let Some(offset) = connected_with {
        out.push_str(",\"c\":");
        write_string(out, offset);
    }
}

/// Reads what [`write_persisted`] wrote (absent fields keep their defaults).
pub(super) fn read_persisted(r: &mut Reader) -> Result<(String, Persisted), SnapshotError> {
    let mut pid = String::new();
    let mut p = Persisted {
        sid: String::new(),
        nsp: String::new(),
        rooms: Vec::new(),
        data: "{}".into(),
        disconnected_at: 0,
        since: None,
        connected_with: None,
        handed_through: BTreeMap::new(),
        handed: None,
    };
    r.object(|r, key| {
        match key {
            "p" => pid = r.string()?,
            "i" => p.sid = r.string()?,
            "n" => p.nsp = r.string()?,
            "r" => p.rooms = r.strings()?,
            "d" => p.data = r.raw()?,
            "t" => p.disconnected_at = r.u64()?,
            "o" => p.since = Some(r.string()?),
            "h" => p.handed_through = offsets::decode(&r.string()?).ok_or(SnapshotError::Field("h"))?,
            "c" => p.connected_with = Some(r.string()?),
            "x" => {
                let mut missed = Vec::new();
                r.array(|r| {
                    let (mut i, mut data, mut attachments) = (0, String::new(), Vec::new());
                    r.array(|r| {
                        match i {
                            0 => data = r.string()?,
                            1 => attachments = r.binaries()?,
                            _ => r.skip()?,
                        }
                        i += 1;
                        Ok(())
                    })?;
                    missed.push((data, attachments));
                    Ok(())
                })?;
                p.handed.get_or_insert(Handed { packets: Vec::new(), through: None }).packets = missed;
            }
            "xh" => {
                let through = offsets::decode(&r.string()?).ok_or(SnapshotError::Field("xh"))?;
                p.handed.get_or_insert(Handed { packets: Vec::new(), through: None }).through = Some(through);
            }
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok((pid, p))
}

pub(super) fn read_shared(text: &str) -> Result<Shared, SnapshotError> {
    let mut r = Reader::new(text);
    let mut sh = Shared::default();
    r.object(|r, key| {
        match key {
            "o" => sh.next_offset = r.u64()?,
            "nb" => sh.next_broadcast = r.u64()?,
            "dn" => sh.dynamic = r.strings()?.into_iter().collect(),
            "sv" => r.array(|r| {
                let (mut i, mut origin, mut seq) = (0, String::new(), 0);
                r.array(|r| {
                    match i {
                        0 => origin = r.string()?,
                        1 => seq = r.u64()?,
                        _ => r.skip()?,
                    }
                    i += 1;
                    Ok(())
                })?;
                sh.seen.insert(origin, seq);
                Ok(())
            })?,
            "mv" => r.array(|r| {
                let (mut i, mut pid, mut moved) = (0, String::new(), Moved::default());
                r.array(|r| {
                    match i {
                        0 => pid = r.string()?,
                        1 => moved.to = r.string()?,
                        2 => moved.at = r.u64()?,
                        3 => moved.nsp = r.string()?,
                        4 => moved.rooms = r.strings()?,
                        _ => r.skip()?,
                    }
                    i += 1;
                    Ok(())
                })?;
                sh.moved.insert(pid, moved);
                Ok(())
            })?,
            "lk" => sh.next_log_key = r.u64()?,
            "log" => r.array(|r| {
                let e = read_log_entry(r)?;
                sh.log_bytes += e.size();
                sh.log.push_back(e);
                Ok(())
            })?,
            "ps" => r.array(|r| {
                let (pid, p) = read_persisted(r)?;
                sh.persisted.insert(pid, p);
                Ok(())
            })?,
            "acks" => r.array(|r| {
                let mut i = 0;
                let (mut sid, mut id, mut ack) = (String::new(), 0, PendingAck { deadline: None, broadcast: None });
                r.array(|r| {
                    match i {
                        0 => sid = r.string()?,
                        1 => id = r.u64()?,
                        2 => ack.deadline = r.opt_u64()?,
                        3 => ack.broadcast = r.opt_u64()?,
                        _ => r.skip()?,
                    }
                    i += 1;
                    Ok(())
                })?;
                sh.acks.insert((sid, id), ack);
                Ok(())
            })?,
            "ba" => r.array(|r| {
                let mut id = 0;
                let mut c = Collect { expected: 0, responses: Vec::new(), deadline: 0 };
                r.object(|r, key| {
                    match key {
                        "i" => id = r.u64()?,
                        "e" => c.expected = r.u64()? as usize,
                        "t" => c.deadline = r.u64()?,
                        "r" => r.array(|r| {
                            let mut response = AckData { args: String::new(), attachments: Vec::new() };
                            let mut first = true;
                            r.array(|r| {
                                if first {
                                    response.args = r.raw()?;
                                    first = false;
                                } else {
                                    response.attachments = r.binaries()?;
                                }
                                Ok(())
                            })?;
                            c.responses.push(response);
                            Ok(())
                        })?,
                        _ => r.skip()?,
                    }
                    Ok(())
                })?;
                sh.collects.insert(id, c);
                Ok(())
            })?,
            _ => r.skip()?,
        }
        Ok(())
    })?;
    r.end()?;
    number_unkeyed_entries(&mut sh);
    if sh.seen.is_empty() {
        // Written by the previous version: the position its log reached.
        for e in &sh.log {
            let last = sh.seen.entry(e.origin.clone()).or_default();
            *last = (*last).max(e.seq);
        }
    }
    Ok(sh)
}

/// Gives the log entries written without a key (by a previous version) the next ones.
pub(super) fn number_unkeyed_entries(sh: &mut Shared) {
    let last = sh.log.iter().map(|e| e.key).max().unwrap_or(0);
    sh.next_log_key = sh.next_log_key.max(last);
    for e in sh.log.iter_mut().filter(|e| e.key == 0) {
        sh.next_log_key += 1;
        e.key = sh.next_log_key;
    }
}

/// One recovery-log entry: `{"k":key,"o":offset,"g":origin,"q":seq,"a":after,"n":nsp,"r":[rooms],
/// "x":[except],"d":data,"b":[attachments],"t":emitted at}`.
pub(super) fn write_log_entry(out: &mut String, e: &LogEntry) {
    push_u64(out, "{\"k\":", e.key);
    out.push_str(",\"o\":");
    write_string(out, &e.offset);
    out.push_str(",\"g\":");
    write_string(out, &e.origin);
    push_u64(out, ",\"q\":", e.seq);
    if let Some(after) = e.after {
        push_u64(out, ",\"a\":", after);
    }
    out.push_str(",\"n\":");
    write_string(out, &e.nsp);
    out.push_str(",\"r\":");
    write_string_array(out, &e.rooms);
    out.push_str(",\"x\":");
    write_string_array(out, &e.except);
    out.push_str(",\"d\":");
    out.push_str(&e.data);
    out.push_str(",\"b\":");
    write_binaries(out, &e.attachments);
    push_u64(out, ",\"t\":", e.emitted_at);
    out.push('}');
}

/// Reads what [`write_log_entry`] wrote (an entry of a previous version has no key: 0).
pub(super) fn read_log_entry(r: &mut Reader) -> Result<LogEntry, SnapshotError> {
    let mut e = LogEntry {
        key: 0,
        offset: String::new(),
        origin: String::new(),
        seq: 0,
        after: None,
        nsp: String::new(),
        rooms: Vec::new(),
        except: Vec::new(),
        data: String::new(),
        attachments: Vec::new(),
        emitted_at: 0,
    };
    r.object(|r, key| {
        match key {
            "k" => e.key = r.u64()?,
            "o" => e.offset = r.string()?,
            "g" => e.origin = r.string()?,
            "q" => e.seq = r.u64()?,
            "a" => e.after = Some(r.u64()?),
            "n" => e.nsp = r.string()?,
            "r" => e.rooms = r.strings()?,
            "x" => e.except = r.strings()?,
            "d" => e.data = r.raw()?,
            "b" => e.attachments = r.binaries()?,
            "t" => e.emitted_at = r.u64()?,
            _ => r.skip()?,
        }
        Ok(())
    })?;
    if e.seq == 0 {
        // Written by the previous version: its own counter, in the offset.
        (e.origin, e.seq) = legacy_entry(&e.offset).ok_or(SnapshotError::Field("o"))?;
    }
    Ok(e)
}

/// A pending ack's state: `[deadline,broadcast]` (`null` for none).
pub(super) fn write_ack(out: &mut String, a: &PendingAck) {
    out.push_str(&a.deadline.map_or("null".into(), |d| d.to_string()));
    out.push(',');
    out.push_str(&a.broadcast.map_or("null".into(), |d| d.to_string()));
}

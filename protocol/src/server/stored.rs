//! How the shared state lies in storage, one key per part, so that a change writes what
//! changed and no value grows with the log or the number of sessions: a small header under
//! [`SHARED_KEY`] (offsets, dynamic namespaces, moved sessions, broadcast-ack collections),
//! then one key per recovery-log entry ([`LOG_PREFIX`]), per disconnected session awaiting
//! recovery ([`PERSISTED_PREFIX`]) and per pending ack ([`ACK_PREFIX`]).
//!
//! [`StoredShared`] remembers what storage holds, so that [`Server::take_writes`] puts and
//! deletes the difference. [`Server::restore_stored`] reads the parts back, and also the one
//! value the previous versions wrote under [`SHARED_KEY`] (its parts move to their own keys
//! at the next change).

use std::collections::{BTreeMap, BTreeSet};

use super::json::Reader;
use super::snapshot::{
    number_unkeyed_entries, read_log_entry, read_persisted, read_shared, write_ack, write_log_entry, write_persisted,
};
use super::writes::{Write, SHARED_KEY};
use super::{Config, PendingAck, Persisted, Server, SnapshotError};

/// Storage key prefix of each recovery-log entry: `log:<key, 20 digits>`.
pub const LOG_PREFIX: &str = "log:";

/// Storage key prefix of each disconnected session awaiting recovery: `ps:<recovery id>`.
pub const PERSISTED_PREFIX: &str = "ps:";

/// Storage key prefix of each pending ack: `ack:<ack id>:<socket id>`.
pub const ACK_PREFIX: &str = "ack:";

/// What storage holds of the shared state, as last written or read.
#[derive(Debug, Clone, Default)]
pub(super) struct StoredShared {
    header: Option<String>,
    log: BTreeSet<u64>,
    persisted: BTreeMap<String, Persisted>,
    acks: BTreeMap<(String, u64), PendingAck>,
}

fn log_key(key: u64) -> String {
    format!("{LOG_PREFIX}{key:020}")
}

fn ack_key(sid: &str, id: u64) -> String {
    format!("{ACK_PREFIX}{id}:{sid}")
}

impl Server {
    /// The writes that bring storage's parts of the shared state up to date.
    pub(super) fn shared_writes(&mut self, writes: &mut Vec<Write>) {
        let sh = &self.shared;
        let stored = &mut self.stored;
        // The log grows at its back and is pruned at its front, with increasing keys: what
        // storage lacks is the newest entries, what it has too many of the oldest.
        let first = sh.log.front().map_or(u64::MAX, |e| e.key);
        let kept = stored.log.split_off(&first);
        for gone in std::mem::replace(&mut stored.log, kept) {
            writes.push(Write::Delete { key: log_key(gone) });
        }
        let last = stored.log.last().copied().unwrap_or(0);
        let new = sh.log.iter().rev().take_while(|e| e.key > last).count();
        for e in sh.log.iter().skip(sh.log.len() - new) {
            let mut value = String::with_capacity(e.data.len() + 128);
            write_log_entry(&mut value, e);
            writes.push(Write::Put { key: log_key(e.key), value });
            stored.log.insert(e.key);
        }
        for pid in stored.persisted.keys().filter(|pid| !sh.persisted.contains_key(*pid)) {
            writes.push(Write::Delete { key: format!("{PERSISTED_PREFIX}{pid}") });
        }
        for (pid, p) in sh.persisted.iter().filter(|(pid, p)| stored.persisted.get(*pid) != Some(p)) {
            let mut value = String::new();
            write_persisted(&mut value, pid, p);
            writes.push(Write::Put { key: format!("{PERSISTED_PREFIX}{pid}"), value });
        }
        stored.persisted.clone_from(&sh.persisted);
        for (sid, id) in stored.acks.keys().filter(|key| !sh.acks.contains_key(*key)) {
            writes.push(Write::Delete { key: ack_key(sid, *id) });
        }
        for ((sid, id), a) in sh.acks.iter().filter(|(key, a)| stored.acks.get(*key) != Some(a)) {
            let mut value = String::from("[");
            write_ack(&mut value, a);
            value.push(']');
            writes.push(Write::Put { key: ack_key(sid, *id), value });
        }
        stored.acks.clone_from(&sh.acks);
        let header = self.shared_header_to_json();
        if self.stored.header.as_deref() != Some(header.as_str()) {
            writes.push(Write::Put { key: SHARED_KEY.to_owned(), value: header.clone() });
            self.stored.header = Some(header);
        }
    }

    /// Rebuilds a server from what [`Server::take_writes`] stored: the value under
    /// [`SHARED_KEY`] (`None`: nothing shared yet), the entries under [`LOG_PREFIX`],
    /// [`PERSISTED_PREFIX`] and [`ACK_PREFIX`] (other keys are ignored), and the snapshots of
    /// its sessions. An unreadable part fails the whole restore.
    pub fn restore_stored<'a>(
        config: Config,
        header: Option<&str>,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
        sessions: impl IntoIterator<Item = &'a str>,
    ) -> Result<Server, SnapshotError> {
        let mut shared = header.map(read_shared).transpose()?.unwrap_or_default();
        let mut stored = StoredShared { header: header.map(str::to_owned), ..StoredShared::default() };
        let mut log = BTreeMap::new();
        for (key, value) in entries {
            let mut r = Reader::new(value);
            if key.starts_with(LOG_PREFIX) {
                let entry = read_log_entry(&mut r)?;
                stored.log.insert(entry.key);
                log.insert(entry.key, entry);
            } else if key.starts_with(PERSISTED_PREFIX) {
                let (pid, p) = read_persisted(&mut r)?;
                stored.persisted.insert(pid.clone(), p.clone());
                shared.persisted.insert(pid, p);
            } else if let Some((id, sid)) = key.strip_prefix(ACK_PREFIX).and_then(|rest| rest.split_once(':')) {
                let id = id.parse().map_err(|_| SnapshotError::Field("ack"))?;
                let mut ack = PendingAck { deadline: None, broadcast: None };
                let mut i = 0;
                r.array(|r| {
                    match i {
                        0 => ack.deadline = r.opt_u64()?,
                        1 => ack.broadcast = r.opt_u64()?,
                        _ => r.skip()?,
                    }
                    i += 1;
                    Ok(())
                })?;
                stored.acks.insert((sid.to_owned(), id), ack.clone());
                shared.acks.insert((sid.to_owned(), id), ack);
            } else {
                continue;
            }
            r.end()?;
        }
        // Entries under their own keys are newer than a log inside the header (a previous
        // version's), which only a write cut short would leave beside them.
        if !log.is_empty() {
            shared.log = log.into_values().collect();
            shared.log_bytes = shared.log.iter().map(|e| e.size()).sum();
            number_unkeyed_entries(&mut shared);
        }
        let mut server = Server::from_shared(config, shared, sessions)?;
        server.stored = stored;
        Ok(server)
    }
}

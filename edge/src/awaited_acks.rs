//! The acknowledgements a server `emit_with_ack` awaits from clients, with the name of the
//! handler each answer goes to. The core keeps the pending ack itself (and its timeout) across
//! evictions; the names are kept here and in storage (`awaited:<ack id>:<socket id>`), so an
//! answer that arrives after the object was evicted or restarted still reaches its handler.

use std::collections::HashMap;

/// Storage key prefix of the awaited acknowledgements.
pub const AWAITED_PREFIX: &str = "awaited:";

/// The handler names by (socket id, ack id), and the storage writes they need.
#[derive(Debug, Default)]
pub struct AwaitedAcks {
    names: HashMap<(String, u64), String>,
    /// Puts (`Some`) and deletes (`None`) for storage, by full key.
    writes: Vec<(String, Option<String>)>,
}

fn key(sid: &str, id: u64) -> String {
    format!("{AWAITED_PREFIX}{id}:{sid}")
}

impl AwaitedAcks {
    /// The answer to ack `id` of socket `sid` goes to handler `name`.
    pub fn insert(&mut self, sid: &str, id: u64, name: &str) {
        self.names.insert((sid.to_owned(), id), name.to_owned());
        self.writes.push((key(sid, id), Some(name.to_owned())));
    }

    /// The handler of ack `id` of socket `sid`, once: it is answered (or timed out).
    pub fn take(&mut self, sid: &str, id: u64) -> Option<String> {
        let name = self.names.remove(&(sid.to_owned(), id))?;
        self.writes.push((key(sid, id), None));
        Some(name)
    }

    /// Forgets the acks of a socket that disconnected.
    pub fn forget_socket(&mut self, sid: &str) {
        let gone: Vec<u64> = self.names.keys().filter(|(socket, _)| socket == sid).map(|(_, id)| *id).collect();
        for id in gone {
            self.take(sid, id);
        }
    }

    /// Takes back what storage held (`awaited:` keys and values); unreadable keys are deleted.
    pub fn restore(&mut self, entries: impl IntoIterator<Item = (String, String)>) {
        for (stored_key, name) in entries {
            let parsed = stored_key.strip_prefix(AWAITED_PREFIX).and_then(|rest| rest.split_once(':'));
            match parsed.and_then(|(id, sid)| Some((id.parse::<u64>().ok()?, sid))) {
                Some((id, sid)) => drop(self.names.insert((sid.to_owned(), id), name)),
                None => self.writes.push((stored_key, None)),
            }
        }
    }

    /// Forgets everything held in memory (storage stays).
    pub fn clear(&mut self) {
        self.names.clear();
        self.writes.clear();
    }

    /// The storage writes since the last call.
    pub fn take_writes(&mut self) -> Vec<(String, Option<String>)> {
        std::mem::take(&mut self.writes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_outlives_an_eviction_through_storage() {
        let mut acks = AwaitedAcks::default();
        acks.insert("s1", 3, "answered");
        let writes = acks.take_writes();
        assert_eq!(writes, vec![("awaited:3:s1".to_owned(), Some("answered".to_owned()))]);
        let mut woken = AwaitedAcks::default();
        woken.restore(
            writes.into_iter().map(|(k, v)| (k, v.unwrap())).chain([("awaited:x".to_owned(), "?".to_owned())]),
        );
        assert_eq!(woken.take("s1", 3).as_deref(), Some("answered"));
        assert_eq!(woken.take("s1", 3), None, "once");
        assert_eq!(
            woken.take_writes(),
            vec![("awaited:x".to_owned(), None), ("awaited:3:s1".to_owned(), None)],
            "the unreadable key and the answered ack are deleted"
        );
    }

    #[test]
    fn a_socket_that_leaves_takes_its_acks_along() {
        let mut acks = AwaitedAcks::default();
        acks.insert("s1", 0, "a");
        acks.insert("s2", 0, "b");
        acks.take_writes();
        acks.forget_socket("s1");
        assert_eq!(acks.take_writes(), vec![("awaited:0:s1".to_owned(), None)]);
        assert_eq!(acks.take("s2", 0).as_deref(), Some("b"));
    }
}

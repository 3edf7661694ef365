//! Recovery offsets that mean the same on every server of a deployment.
//!
//! Servers that relay broadcasts to each other (Durable Objects) each log the broadcasts that
//! reach them (a room's only where the room has members), not always in the same order. So a broadcast is logged under its origin (the server that
//! logged it first) and that origin's sequence number, carried by the relay; and the offset a
//! client gets is the log's position as a vector: the last sequence of each origin, written
//! `origin:seq,origin:seq` (sorted; a single server's origin is the empty name). Any server
//! finds what a client missed in its own log: the entries whose sequence is past the client's
//! for their origin (all of an origin the position does not name: it began later). Each
//! origin's entries reach every log in order, so a gap (pruned, or a relay that never arrived)
//! shows as a missing sequence, and a log behind the client's position on an origin cannot
//! tell what followed it there: either way the session is not recovered, rather than
//! recovered with a hole.
//!
//! Offsets written by the previous version (`<emitted at, hex>-<sequence, hex>`, one server's
//! own counter) read as that sequence for the empty origin, which is what that version logged.

use std::collections::BTreeMap;

use super::Server;

/// The offset naming a log position.
pub(super) fn encode(seen: &BTreeMap<String, u64>) -> String {
    let mut out = String::new();
    for (i, (origin, seq)) in seen.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(origin);
        out.push(':');
        out.push_str(&seq.to_string());
    }
    out
}

/// The position an offset names; `None` when it is not one of ours.
pub(super) fn decode(offset: &str) -> Option<BTreeMap<String, u64>> {
    if let Some((at, seq)) = offset.split_once('-').filter(|_| !offset.contains(':')) {
        u64::from_str_radix(at, 16).ok()?;
        return Some(BTreeMap::from([(String::new(), u64::from_str_radix(seq, 16).ok()? + 1)]));
    }
    offset
        .split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (origin, seq) = part.rsplit_once(':')?;
            Some((origin.to_owned(), seq.parse().ok()?))
        })
        .collect()
}

/// The origin and sequence of a log entry written by the previous version, from its offset.
pub(super) fn legacy_entry(offset: &str) -> Option<(String, u64)> {
    let position = decode(offset)?;
    position.get("").map(|seq| (String::new(), *seq))
}

impl Server {
    /// Names this server among those that relay broadcasts to each other: what it logs has
    /// this origin from now on.
    pub fn set_origin(&mut self, origin: &str) {
        self.origin = origin.to_owned();
    }

    /// The packets of `nsp` logged after the position `offset` names that a socket in `rooms`
    /// should have received, in log order; `None` when the log cannot tell (unknown offset,
    /// entries missing in between, or pruned after the position: as the reference, a session
    /// whose packets expired is not recovered rather than recovered with a gap).
    pub(super) fn missed_since(
        &self,
        offset: &str,
        nsp: &str,
        rooms: &[String],
    ) -> Option<Vec<(String, Vec<Vec<u8>>)>> {
        let position = decode(offset)?;
        // A log that has not reached the client's position on one of its origins cannot tell
        // what came after it there (a server that took the session from another, whose room
        // broadcasts were relayed to that one only; a server new to the deployment).
        if !position.iter().all(|(origin, seq)| self.shared.seen.get(origin).is_some_and(|last| last >= seq)) {
            return None;
        }
        let mut next: BTreeMap<&str, u64> = position.iter().map(|(o, s)| (o.as_str(), s + 1)).collect();
        let mut missed = Vec::new();
        for e in &self.shared.log {
            // An origin the client's position does not name began after it: from its first
            // sequence, which must still be in the log.
            let expected = next.entry(e.origin.as_str()).or_insert(1);
            if e.seq < *expected {
                continue; // received already
            }
            if e.seq > *expected {
                return None; // a hole: pruned, or never relayed here
            }
            *expected += 1;
            let reaches = e.nsp == nsp
                && (e.rooms.is_empty() || rooms.iter().any(|r| e.rooms.contains(r)))
                && rooms.iter().all(|r| !e.except.contains(r));
            if reaches {
                missed.push((e.data.clone(), e.attachments.clone()));
            }
        }
        // Entries logged here and since pruned (too old, or past the log's bound) may be
        // missed too: every sequence up to the last seen of each origin must have been found.
        let complete =
            self.shared.seen.iter().all(|(origin, last)| next.get(origin.as_str()).is_some_and(|n| n > last));
        complete.then_some(missed)
    }
}

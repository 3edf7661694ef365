//! Recovery offsets that mean the same on every server of a deployment.
//!
//! Servers that relay broadcasts to each other (Durable Objects) each log the broadcasts that
//! reach them (a room's only where the room has members), not always in the same order. So a broadcast is logged under its origin (the server that
//! logged it first) and that origin's sequence number, carried by the relay; and the offset a
//! client gets is the log's position as a vector: the last sequence of each origin, written
//! `origin:seq,origin:seq` (sorted; a single server's origin is the empty name). Any server
//! finds what a client missed in its own log: the entries whose sequence is past the client's
//! for their origin (all of an origin the position does not name: it began later). Each
//! origin's entries reach a log in order; a relayed one names the origin's sequence relayed
//! there before it (`after`): those in between went only to servers holding their rooms, and
//! reached no socket here. So a gap (pruned, or a relay that never arrived) shows as a missing
//! sequence, and a log behind the client's position on an origin cannot tell what followed it
//! there: either way the session is not recovered, rather than recovered with a hole.
//!
//! Offsets written by the previous version (`<emitted at, hex>-<sequence, hex>`, one server's
//! own counter) read as that sequence for the empty origin, which is what that version logged.

use std::collections::{BTreeMap, VecDeque};

use super::{LogEntry, Persisted, Server};

/// The most pruned entries [`PrunedEntries`] remembers.
const MAX_PRUNED: usize = 4096;

/// What the log remembers, in memory, of the entries it pruned (past its bound, or too old):
/// where each came from and whom it reached, not its packet. A reconnection that one would not
/// have reached recovers past it; one it would have reached does not (its packet is gone).
/// Without them, a client of a quiet room was refused once broadcasts to other rooms or
/// namespaces had filled the log (1,000 entries) while it was away, where socket.io keeps a
/// log per namespace (found by a recovery round). Lost with the instance (an evicted object
/// is an idle one): such a gap then refuses the recovery, as before.
#[derive(Debug, Default)]
pub(super) struct PrunedEntries(VecDeque<Reach>);

/// Where a pruned entry came from and whom it reached.
#[derive(Debug)]
struct Reach {
    origin: String,
    seq: u64,
    after: Option<u64>,
    nsp: String,
    rooms: Vec<String>,
    except: Vec<String>,
}

impl PrunedEntries {
    /// Remembers `entry`, pruned from the front of the log, forgetting the oldest past
    /// [`MAX_PRUNED`].
    pub(super) fn remember(&mut self, entry: LogEntry) {
        if self.0.len() == MAX_PRUNED {
            self.0.pop_front();
        }
        let LogEntry { origin, seq, after, nsp, rooms, except, .. } = entry;
        self.0.push_back(Reach { origin, seq, after, nsp, rooms, except });
    }

    /// Whether the entry `origin:seq` was logged here and pruned since.
    pub(super) fn contains(&self, origin: &str, seq: u64) -> bool {
        self.0.iter().any(|r| r.seq == seq && r.origin == origin)
    }
}

/// Whether a broadcast to `rooms` (all when empty) of `nsp` but `except` reaches a socket of
/// `socket_nsp` in `socket_rooms`.
pub(super) fn reaches(
    nsp: &str,
    rooms: &[String],
    except: &[String],
    socket_nsp: &str,
    socket_rooms: &[String],
) -> bool {
    nsp == socket_nsp
        && (rooms.is_empty() || socket_rooms.iter().any(|r| rooms.contains(r)))
        && socket_rooms.iter().all(|r| !except.contains(r))
}

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

/// Moves `position` forward to each (origin, sequence) of `more` that is past it.
pub(super) fn advance(position: &mut BTreeMap<String, u64>, more: impl IntoIterator<Item = (String, u64)>) {
    for (origin, seq) in more {
        let at = position.entry(origin).or_default();
        *at = (*at).max(seq);
    }
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

    /// The packets logged after the position `offset` names that session `p` should have
    /// received (of its namespace, to its rooms, not handed to it already), in log order;
    /// `None` when the log cannot tell (unknown offset, entries missing in between, or pruned
    /// after the position: as the reference, a session whose packets expired is not recovered
    /// rather than recovered with a gap).
    pub(super) fn missed_since(&self, offset: &str, p: &Persisted) -> Option<Vec<(String, Vec<Vec<u8>>)>> {
        let position = decode(offset)?;
        // A log that has not reached the client's position on one of its origins cannot tell
        // what came after it there (a server that took the session from another, whose room
        // broadcasts were relayed to that one only; a server new to the deployment).
        if !position.iter().all(|(origin, seq)| self.shared.seen.get(origin).is_some_and(|last| last >= seq)) {
            return None;
        }
        self.missed_after(&position, p)
    }

    /// The packets logged after `position` that session `p` should have received, as
    /// [`Server::missed_since`] finds them, whether or not the log has reached `position`
    /// (what it has not reached is on its way: see `handover.rs`).
    pub(super) fn missed_after(
        &self,
        position: &BTreeMap<String, u64>,
        p: &Persisted,
    ) -> Option<Vec<(String, Vec<Vec<u8>>)>> {
        let mut next: BTreeMap<&str, u64> = position.iter().map(|(o, s)| (o.as_str(), s + 1)).collect();
        let mut missed = Vec::new();
        // The pruned entries came before the log's, in the same order.
        let pruned = self.pruned.0.iter().map(|r| (&r.origin, (r.seq, r.after), (&r.nsp, &r.rooms, &r.except), None));
        let logged =
            self.shared.log.iter().map(|e| (&e.origin, (e.seq, e.after), (&e.nsp, &e.rooms, &e.except), Some(e)));
        for (origin, (seq, after), (to_nsp, to_rooms, except), entry) in pruned.chain(logged) {
            // An origin the client's position does not name began after it: from its first
            // sequence, which must still be known.
            let expected = next.entry(origin.as_str()).or_insert(1);
            if seq < *expected {
                continue; // received already
            }
            // Sequences skipped since the client's position must be ones its origin relayed
            // elsewhere only (for other servers' rooms); any other is a hole: forgotten, or a
            // relay that never arrived.
            if seq > *expected && after.is_none_or(|after| after >= *expected) {
                return None;
            }
            *expected = seq + 1;
            let handed = p.handed_through.get(origin.as_str()).is_some_and(|through| *through >= seq);
            if !handed && reaches(to_nsp, to_rooms, except, &p.nsp, &p.rooms) {
                // A pruned one: its packet is gone.
                let e = entry?;
                missed.push((e.data.clone(), e.attachments.clone()));
            }
        }
        // Entries logged here and since pruned (too old, or past the log's bound) may be
        // missed too: every sequence up to the last seen of each origin must have been found.
        let complete =
            self.shared.seen.iter().all(|(origin, last)| next.get(origin.as_str()).is_some_and(|n| n > last));
        complete.then_some(missed)
    }

    /// The origin and sequence of every entry pruned from the log and remembered, then of
    /// every entry in it, in log order.
    pub(super) fn pruned_and_logged(&self) -> impl Iterator<Item = (&String, u64)> {
        let pruned = self.pruned.0.iter().map(|r| (&r.origin, r.seq));
        pruned.chain(self.shared.log.iter().map(|e| (&e.origin, e.seq)))
    }
}

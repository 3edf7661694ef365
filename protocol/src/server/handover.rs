//! A session another server handed over ([`Server::export_recovery`] there,
//! [`Server::import_recovery`] here), and the broadcasts on their way to both servers while it
//! moves.
//!
//! A broadcast's relays reach the servers at slightly different times. What the client missed
//! is what the other server's log found up to its position when it let the session go (the
//! `through` position, sent with the packets), then what this server's log has past that
//! position: a broadcast that reached this server first, and the other after it let the
//! session go, is delivered from here. The socket remembers the other's position: the relays
//! of broadcasts it was handed, still on their way here, are not sent to it again, nor does a
//! later recovery send it what this log has up to that position. Until 2026-12-06 this server
//! took the handed packets only: the first kind was lost and the second delivered twice (the
//! delivery bench, 0.2% lost under cuts).

use std::collections::{BTreeMap, BTreeSet};

use crate::json::write_string;

use super::offsets;
use super::{Missed, Persisted, Server};

/// What another server handed over with a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Handed {
    /// The packets the client missed, as that server's log found them.
    pub(super) packets: Missed,
    /// That log's position when the session left it; `None` from a server of a version that
    /// did not send it.
    pub(super) through: Option<BTreeMap<String, u64>>,
}

/// The sockets restored with handed packets whose relays this server has not all received
/// ([`super::SocketState::handed_through`] past its log's position): a relayed broadcast
/// looks among its recipients for them only while there are some.
#[derive(Debug, Default)]
pub(super) struct HandoverFilters(BTreeSet<String>);

impl HandoverFilters {
    /// Socket `sid`, handed what it missed up to `through`, waits for relays while the log's
    /// position `seen` is behind it on some origin.
    pub(super) fn note(&mut self, sid: &str, through: &BTreeMap<String, u64>, seen: &BTreeMap<String, u64>) {
        if through.iter().any(|(origin, seq)| seen.get(origin).is_none_or(|last| last < seq)) {
            self.0.insert(sid.to_owned());
        } else {
            self.0.remove(sid);
        }
    }

    /// Socket `sid` is gone.
    pub(super) fn forget(&mut self, sid: &str) {
        self.0.remove(sid);
    }
}

impl Server {
    /// The packets session `p`, handed over, missed: the handed ones, then this log's past the
    /// other's position (`None` when a gap there hides some); the last one carries an offset
    /// this log can place. With them, the position the client was handed up to.
    pub(super) fn missed_after_handover(
        &self,
        handed: &Handed,
        p: &Persisted,
    ) -> Option<(Missed, BTreeMap<String, u64>)> {
        let seen = &self.shared.seen;
        let mut missed = handed.packets.clone();
        let handed_last = missed.len();
        // From a server that did not send its position: its last packet's offset.
        let last_offset =
            || missed.last().and_then(|(data, _)| split_offset(data)).and_then(|(_, o)| offsets::decode(o));
        let through = handed.through.clone().or_else(last_offset).unwrap_or_default();
        let handed_through = match &handed.through {
            Some(through) => {
                missed.extend(self.missed_after(&self.handover_start(through), p)?);
                through.clone()
            }
            None => BTreeMap::new(),
        };
        // Each origin the other's position names, no further than this log has reached; the
        // other's own could name sequences of its rooms this log never had, and a client cut
        // again before this server sent it anything would be refused though it missed nothing.
        // Nothing is claimed past what the other handed and this log has.
        let placed = through.iter().filter_map(|(origin, seq)| Some((origin.clone(), (*seq).min(*seen.get(origin)?))));
        let last_here = missed.len() > handed_last;
        if let Some((data, _)) = missed.last_mut() {
            if let Some((head, offset)) = split_offset(data) {
                let mut position =
                    if last_here { offsets::decode(offset).unwrap_or_default() } else { BTreeMap::new() };
                offsets::advance(&mut position, placed);
                *data = format!("{head}\"{}\"]", offsets::encode(&position));
            }
        }
        Some((missed, handed_through))
    }

    /// `through`, with each origin this log has and `through` does not name taken from just
    /// before its first entry here (the other server never logged one: those before reached it
    /// no socket of its rooms), or from its last when all were pruned.
    fn handover_start(&self, through: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
        let mut position = through.clone();
        for (origin, seq) in self.pruned_and_logged() {
            if !through.contains_key(origin) {
                position.entry(origin.clone()).or_insert(seq - 1);
            }
        }
        for (origin, last) in &self.shared.seen {
            position.entry(origin.clone()).or_insert(*last);
        }
        position
    }

    /// Whether relayed broadcast `origin:seq` was handed over already with socket `sid`: if it
    /// waits for relays it was handed, or for a `late` relay (behind its origin's last one
    /// here), which may come after the socket stopped waiting.
    pub(super) fn was_handed(&self, sid: &str, origin: &str, seq: u64, late: bool) -> bool {
        (late || self.handover_filters.0.contains(sid))
            && self.sockets[sid].handed_through.get(origin).is_some_and(|through| *through >= seq)
    }

    /// A relay arrived (the log's position moved): the sockets whose handed relays all
    /// arrived stop waiting.
    pub(super) fn relays_arrived(&mut self) {
        let waiting: Vec<String> = self.handover_filters.0.iter().cloned().collect();
        for sid in waiting {
            self.handover_filters.note(&sid, &self.sockets[&sid].handed_through, &self.shared.seen);
        }
    }

    /// Whether some socket waits for relays it was handed.
    pub(super) fn awaits_handed_relays(&self) -> bool {
        !self.handover_filters.0.is_empty()
    }
}

/// Logged packet `data` carrying `offset` instead of its own (unchanged if it has none).
pub(super) fn with_offset(data: &str, offset: &str) -> String {
    match split_offset(data) {
        Some((head, _)) => {
            let mut out = String::with_capacity(head.len() + offset.len() + 3);
            out.push_str(head);
            write_string(&mut out, offset);
            out.push(']');
            out
        }
        None => data.to_owned(),
    }
}

/// A logged packet's data (`[event, ...args, "offset"]`) before its offset's opening quote, and
/// the offset; `None` if it does not end with an offset as this server writes them.
fn split_offset(data: &str) -> Option<(&str, &str)> {
    let body = data.strip_suffix("\"]")?;
    let start = body.rfind('"')?;
    let offset = &body[start + 1..];
    let plain = !offset.is_empty() && !offset.contains('\\');
    (plain && body[..start].ends_with(',')).then_some((&body[..start], offset))
}

#[cfg(test)]
mod tests {
    use super::{split_offset, with_offset};

    #[test]
    fn a_logged_packet_splits_before_its_offset_and_nothing_else_does() {
        assert_eq!(split_offset(r#"["m",1,"a:3"]"#), Some((r#"["m",1,"#, "a:3")));
        assert_eq!(split_offset(r#"["m","x\"y","a:3"]"#), Some((r#"["m","x\"y","#, "a:3")));
        assert_eq!(split_offset(r#"["m"]"#), None, "no offset");
        assert_eq!(split_offset(r#"["m","a\"b"]"#), None, "a string argument, not an offset");
    }

    #[test]
    fn a_packet_takes_another_offset_escaped_and_one_without_stays_as_it_is() {
        assert_eq!(with_offset(r#"["m",1,"a:3"]"#, "c:1"), r#"["m",1,"c:1"]"#);
        assert_eq!(with_offset(r#"["m",1,"a:3"]"#, r#"x"y"#), r#"["m",1,"x\"y"]"#);
        assert_eq!(with_offset(r#"["m"]"#, "c:1"), r#"["m"]"#);
    }
}

//! The server's timer table: connect timeouts, ack timeouts, broadcast-ack collections,
//! attachments waited for and the expiry of the recovery state, sorted by deadline so that the next one is found, and the due ones taken, without a scan
//! of the sessions and acks.
//!
//! The deadlines themselves live in the state they belong to (and travel in its snapshots);
//! this table indexes them. An entry whose state went away or changed is dropped when it
//! comes due ([`Server::handle_timeout`](super::Server::handle_timeout) checks each).

use std::collections::{BTreeMap, BTreeSet};

/// What a deadline is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    /// An Engine.IO session that has not connected to any namespace yet.
    Connect(String),
    /// A server-to-client ack with a timeout: (socket id, ack id).
    Ack(String, u64),
    /// The collection of a broadcast's acks.
    Collect(u64),
    /// A session's binary packet waiting for its attachments.
    Reassembly(String),
    /// A session's binary packet still waiting for its attachments [`PARTIAL_KEPT_AFTER_MS`]
    /// after its header: from then on its snapshot keeps them, however large.
    ///
    /// [`PARTIAL_KEPT_AFTER_MS`]: super::PARTIAL_KEPT_AFTER_MS
    KeepPartial(String),
    /// The recovery state's oldest item (a disconnected session, a log entry, a move) expired
    /// a while ago: pruning it then, on an object with no other reason to wake, takes it out
    /// of storage.
    Prune,
}

/// Deadlines by time, and by timer.
#[derive(Debug, Clone, Default)]
pub(super) struct Timers {
    by_time: BTreeSet<(u64, Timer)>,
    by_timer: BTreeMap<Timer, u64>,
}

impl Timers {
    /// Sets (or moves) a timer.
    pub(super) fn set(&mut self, timer: Timer, at: u64) {
        if let Some(old) = self.by_timer.insert(timer.clone(), at) {
            self.by_time.remove(&(old, timer.clone()));
        }
        self.by_time.insert((at, timer));
    }

    /// When a timer is due, if set.
    pub(super) fn at(&self, timer: &Timer) -> Option<u64> {
        self.by_timer.get(timer).copied()
    }

    /// Removes a timer, if set.
    pub(super) fn cancel(&mut self, timer: &Timer) {
        if let Some(at) = self.by_timer.remove(timer) {
            self.by_time.remove(&(at, timer.clone()));
        }
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<u64> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Removes and returns the timers due at `now_ms`, earliest first.
    pub(super) fn take_due(&mut self, now_ms: u64) -> Vec<Timer> {
        let mut due = Vec::new();
        while self.by_time.first().is_some_and(|(at, _)| *at <= now_ms) {
            let (_, timer) = self.by_time.pop_first().expect("a first entry");
            self.by_timer.remove(&timer);
            due.push(timer);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_deadline_moves_with_set_and_cancel() {
        let mut timers = Timers::default();
        timers.set(Timer::Ack("a".into(), 1), 30);
        timers.set(Timer::Connect("s".into()), 10);
        timers.set(Timer::Collect(7), 20);
        assert_eq!(timers.next(), Some(10));
        timers.set(Timer::Connect("s".into()), 40);
        assert_eq!(timers.next(), Some(20));
        timers.cancel(&Timer::Collect(7));
        assert_eq!(timers.take_due(35), vec![Timer::Ack("a".into(), 1)]);
        assert_eq!(timers.next(), Some(40));
        assert!(timers.take_due(39).is_empty());
    }
}

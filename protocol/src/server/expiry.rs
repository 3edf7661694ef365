//! Expiry of the recovery state: disconnected sessions, the log and the notes of sessions that
//! moved leave it once older than the recovery window (the log also past its bounds), as
//! socket.io's adapter prunes them, and an idle server wakes to prune them.

use super::timers::Timer;
use super::Server;

/// How long after the recovery state's oldest item expired an object that does not wake for
/// anything else wakes to prune it: about as often as socket.io's adapter prunes (every
/// minute), its expired sessions and log then leave storage, and its rooms the directory.
const PRUNE_DELAY_MS: u64 = 60_000;

impl Server {
    /// Wakes the server ([`Timer::Prune`]) to prune the recovery state [`PRUNE_DELAY_MS`]
    /// after what happened at `at_ms` expired, unless it wakes for that earlier already.
    pub(super) fn prune_after(&mut self, at_ms: u64) {
        let Some(recovery) = &self.config.recovery else { return };
        let due = at_ms.saturating_add(recovery.max_disconnection_duration_ms).saturating_add(PRUNE_DELAY_MS);
        if self.timers.at(&Timer::Prune).is_none_or(|armed| armed > due) {
            self.timers.set(Timer::Prune, due);
        }
    }

    /// When the oldest item of the recovery state (a disconnected session, a log entry, a
    /// move) happened.
    pub(super) fn oldest_recovery_item(&self) -> Option<u64> {
        let sessions = self.shared.persisted.values().map(|p| p.disconnected_at);
        let moves = self.shared.moved.values().map(|m| m.at);
        sessions.chain(moves).chain(self.shared.log.front().map(|e| e.emitted_at)).min()
    }

    /// Drops what of the recovery state the window left behind at `now_ms`, and the log's
    /// oldest entries past its bounds (remembered as pruned).
    pub(super) fn prune(&mut self, now_ms: u64) {
        let Some(recovery) = &self.config.recovery else { return };
        let threshold = now_ms.saturating_sub(recovery.max_disconnection_duration_ms);
        let before = (self.shared.persisted.len(), self.shared.log.len(), self.shared.moved.len());
        self.shared.persisted.retain(|_, p| p.disconnected_at >= threshold);
        if self.shared.persisted.len() != before.0 {
            self.rooms_version += 1;
        }
        let moves = self.shared.moved.len();
        self.shared.moved.retain(|_, m| m.at >= threshold || m.rooms.is_empty());
        if self.shared.moved.len() != moves {
            self.rooms_version += 1; // their rooms are no longer held
        }
        self.shared.moved.retain(|_, m| m.at >= threshold);
        while self.shared.log.front().is_some_and(|e| e.emitted_at < threshold)
            || self.shared.log.len() > recovery.max_log_len
            || self.shared.log_bytes > recovery.max_log_bytes
        {
            let Some(entry) = self.shared.log.pop_front() else { break };
            self.shared.log_bytes -= entry.size();
            self.pruned.remember(entry);
        }
        let after = (self.shared.persisted.len(), self.shared.log.len(), self.shared.moved.len());
        if after.0 != before.0 {
            self.prune_dynamic();
        }
        self.shared_dirty |= before != after;
    }
}

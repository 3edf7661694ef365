//! The manager's reconnection (manager.js `reconnect()` and the fields it reads): the
//! settings, the backoff, and the attempt scheduled.

use super::super::backoff::Backoff;
use super::ManagerConfig;

/// socket.io-client's reconnection state of one manager.
pub(super) struct Reconnection {
    /// `reconnection`.
    enabled: bool,
    /// `reconnectionAttempts`, `None` for Infinity.
    max_attempts: Option<u32>,
    backoff: Backoff,
    /// The driver's `Math.random`, one call per delay.
    random: Box<dyn FnMut() -> f64>,
    /// `skipReconnect`: the manager was closed on purpose (or reconnection is off).
    skip: bool,
    /// `_reconnecting`: an attempt is scheduled or under way.
    active: bool,
    /// When the scheduled attempt is due.
    due: Option<u64>,
}

impl std::fmt::Debug for Reconnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconnection").field("active", &self.active).field("backoff", &self.backoff).finish()
    }
}

impl Reconnection {
    /// The reconnection of a new manager with `config`.
    pub(super) fn new(config: &ManagerConfig, random: impl FnMut() -> f64 + 'static) -> Self {
        let delay = if config.reconnection_delay == 0 { 1000 } else { config.reconnection_delay };
        let delay_max = if config.reconnection_delay_max == 0 { 5000 } else { config.reconnection_delay_max };
        Reconnection {
            enabled: config.reconnection,
            max_attempts: config.reconnection_attempts.filter(|&n| n != 0),
            backoff: Backoff::new(delay as f64, delay_max as f64, config.randomization_factor),
            random: Box::new(random),
            skip: !config.reconnection,
            active: false,
            due: None,
        }
    }

    /// `reconnection(v)`; disabling it also stops a pending reconnection, and forgets one
    /// scheduled: socket.io-client decides to reconnect after its `close` and `disconnect`
    /// listeners ran, so one that turns reconnection off leaves no attempt behind, and a later
    /// `connect()` opens a new connection. (An attempt under way goes on, as there.)
    pub(super) fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        if !enabled {
            self.stop();
        }
    }

    /// `reconnectionAttempts(v)`, `None` for Infinity.
    pub(super) fn set_max_attempts(&mut self, attempts: Option<u32>) {
        self.max_attempts = attempts;
    }

    /// The backoff, whose delays and jitter the application may change.
    pub(super) fn backoff_mut(&mut self) -> &mut Backoff {
        &mut self.backoff
    }

    /// The backoff (its `attempts()` is the current reconnection attempt).
    pub(super) fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// Whether an attempt is scheduled or under way (`_reconnecting`).
    pub(super) fn is_active(&self) -> bool {
        self.active
    }

    /// Whether the manager reconnects after an engine closes: on, and not closed on purpose.
    pub(super) fn wanted(&self) -> bool {
        self.enabled && !self.skip
    }

    /// Whether a failed first open starts reconnecting (`maybeReconnectOnOpen`).
    pub(super) fn wanted_on_open(&self) -> bool {
        !self.active && self.enabled && self.backoff.attempts() == 0
    }

    /// An engine is opening: a later close may reconnect again.
    pub(super) fn allow(&mut self) {
        self.skip = false;
    }

    /// The manager was closed on purpose (`_close()`), or reconnection turned off: no
    /// reconnection, and none scheduled.
    pub(super) fn stop(&mut self) {
        self.skip = true;
        self.active = false;
        self.due = None;
    }

    /// The attempt under way failed or ended: the next [`Reconnection::schedule`] may start
    /// one.
    pub(super) fn attempt_ended(&mut self) {
        self.active = false;
    }

    /// The attempt under way opened the engine: its number, and the backoff starts again.
    pub(super) fn succeeded(&mut self) -> u32 {
        let attempt = self.backoff.attempts();
        self.active = false;
        self.backoff.reset();
        attempt
    }

    /// An engine closed: the next reconnection starts from the first delay.
    pub(super) fn reset(&mut self) {
        self.backoff.reset();
    }

    /// When the scheduled attempt is due.
    pub(super) fn due(&self) -> Option<u64> {
        self.due
    }

    /// Forgets the scheduled attempt (`cleanup()` clears its timer).
    pub(super) fn cancel_timer(&mut self) {
        self.due = None;
    }

    /// The scheduled attempt is due: its number, unless the manager was closed meanwhile.
    pub(super) fn fire(&mut self) -> Option<u32> {
        self.due = None;
        (!self.skip).then(|| self.backoff.attempts())
    }

    /// `reconnect()`: schedules the next attempt at `now_ms` plus the backoff's delay. False
    /// when the attempts are exhausted (the manager emits `reconnect_failed`); nothing
    /// happens while an attempt is already scheduled or the manager was closed on purpose.
    pub(super) fn schedule(&mut self, now_ms: u64) -> bool {
        if self.active || self.skip {
            return true;
        }
        if self.max_attempts.is_some_and(|max| self.backoff.attempts() >= max) {
            self.backoff.reset();
            self.active = false;
            return false;
        }
        let delay = self.backoff.duration((self.random)());
        self.active = true;
        self.due = Some(now_ms + delay);
        true
    }
}

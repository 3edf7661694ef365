//! The manager's timers (socket.io-client's `setTimeout`s): the connect timeout, the
//! reconnection delay, the acknowledgements' timeouts and the engine's heartbeat, fired
//! earliest first.

use super::*;

/// The most timers one `handle_timeout` call fires (zero delays cannot spin it forever).
const MAX_TIMERS_PER_CALL: usize = 1_000;

/// One timer of the manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Connect,
    Reconnect,
    Engine,
    Ack(SocketId, u64),
}

impl Manager {
    /// When [`Manager::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        self.each_deadline(|at, _| next = Some(next.map_or(at, |next| next.min(at))));
        next
    }

    /// The time is now `now_ms`: fires every timer due (connect timeout, reconnection delay,
    /// acknowledgement timeouts, the engine's heartbeat), earliest first.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        for _ in 0..MAX_TIMERS_PER_CALL {
            let Some(timer) = self.next_due_timer(now_ms) else { return };
            match timer {
                Timer::Connect => self.fail_open(ManagerError::Timeout, now_ms),
                Timer::Reconnect => {
                    if let Some(attempt) = self.reconnection.fire() {
                        self.push(ManagerEvent::ReconnectAttempt(attempt));
                        self.open_engine(now_ms, true);
                        // The attempt's own timers run at a later call, once `reconnect_attempt`
                        // was handed out, as socket.io-client's `setTimeout`s do: a listener that
                        // closes the manager (`socket.disconnect()`) cancels them, even the
                        // connect timeout of `timeout: 0`, which is due at once.
                        return self.pump(now_ms);
                    }
                }
                Timer::Engine => {
                    if let Some(engine) = self.engine.session_mut() {
                        engine.handle_timeout(now_ms);
                    }
                }
                Timer::Ack(socket, id) => self.on_ack_timeout(socket, id, now_ms),
            }
            self.pump(now_ms);
        }
    }

    /// The timer due at `now_ms` whose deadline is earliest (the first of those listed by
    /// [`Manager::each_deadline`] on a tie).
    fn next_due_timer(&self, now_ms: u64) -> Option<Timer> {
        let mut best: Option<(u64, Timer)> = None;
        self.each_deadline(|at, timer| {
            if at <= now_ms && best.is_none_or(|(b, _)| at < b) {
                best = Some((at, timer));
            }
        });
        best.map(|(_, timer)| timer)
    }

    /// Calls `f` with each timer set and its deadline: the connect timeout, the reconnection
    /// delay, the engine's heartbeat, then the acknowledgements' timeouts.
    fn each_deadline(&self, mut f: impl FnMut(u64, Timer)) {
        let mut consider = |at: Option<u64>, timer: Timer| {
            if let Some(at) = at {
                f(at, timer);
            }
        };
        consider(self.connect_deadline, Timer::Connect);
        consider(self.reconnection.due(), Timer::Reconnect);
        consider(self.engine.session().and_then(ClientSession::poll_timeout), Timer::Engine);
        for (i, s) in self.sockets.iter().enumerate() {
            for (&id, ack) in s.acks.iter() {
                consider(ack.deadline, Timer::Ack(SocketId(i as u32), id));
            }
        }
    }
}

//! Handshakes per client per minute: a fixed one-minute window per client key (the client's
//! IP address at the edge), in a table of bounded size.

use std::collections::HashMap;

/// The length of a window, ms.
const WINDOW_MS: u64 = 60_000;

/// Most clients tracked at once: past it, windows that ended are forgotten, and if none has,
/// the oldest window is (a client then starts again with a full budget, which is the safe
/// side of a bound on memory).
const MAX_CLIENTS: usize = 10_000;

/// How many handshakes each client may make in a minute.
#[derive(Debug)]
pub(crate) struct HandshakeBudget {
    per_minute: u32,
    /// Per client, when its window began and how many handshakes it made in it.
    windows: HashMap<String, (u64, u32)>,
}

impl HandshakeBudget {
    /// A budget of `per_minute` handshakes per client; 0 means no limit.
    pub(crate) fn new(per_minute: u32) -> Self {
        HandshakeBudget { per_minute, windows: HashMap::new() }
    }

    /// Counts a handshake of `client` at `now_ms`. `Err` holds the ms until the client may
    /// try again, when its budget for this minute is spent.
    pub(crate) fn spend(&mut self, client: &str, now_ms: u64) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        if !self.windows.contains_key(client) && self.windows.len() >= MAX_CLIENTS {
            self.make_room(now_ms);
        }
        let (start, count) = self.windows.entry(client.to_owned()).or_insert((now_ms, 0));
        if now_ms >= *start + WINDOW_MS {
            (*start, *count) = (now_ms, 0);
        }
        if *count >= self.per_minute {
            return Err(*start + WINDOW_MS - now_ms);
        }
        *count += 1;
        Ok(())
    }

    fn make_room(&mut self, now_ms: u64) {
        self.windows.retain(|_, (start, _)| now_ms < *start + WINDOW_MS);
        if self.windows.len() >= MAX_CLIENTS {
            let oldest = self.windows.iter().min_by_key(|(_, (start, _))| *start).map(|(client, _)| client.clone());
            if let Some(oldest) = oldest {
                self.windows.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_gets_its_budget_per_minute() {
        let mut budget = HandshakeBudget::new(2);
        assert_eq!(budget.spend("a", 0), Ok(()));
        assert_eq!(budget.spend("a", 10), Ok(()));
        assert_eq!(budget.spend("a", 1_000), Err(59_000));
        assert_eq!(budget.spend("b", 1_000), Ok(()), "another client has its own");
        assert_eq!(budget.spend("a", 60_000), Ok(()), "a new minute, a new budget");
    }

    #[test]
    fn zero_means_no_limit() {
        let mut budget = HandshakeBudget::new(0);
        assert!((0..1000).all(|i| budget.spend("a", i).is_ok()));
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut budget = HandshakeBudget::new(1);
        for i in 0..(MAX_CLIENTS as u64 + 50) {
            assert_eq!(budget.spend(&format!("c{i}"), i), Ok(()));
        }
        assert!(budget.windows.len() <= MAX_CLIENTS);
        assert_eq!(budget.spend(&format!("c{}", MAX_CLIENTS + 49), 100_000), Ok(()));
    }
}

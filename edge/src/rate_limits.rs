//! Rate limits on incoming events: a token bucket per key (a socket, a client address, or a
//! user named in `socket.data`, see [`RateKey`]). Buckets live in memory and, while one would
//! not be full again by the time an idle object is evicted, in storage too (`rate:<key>`):
//! hibernation, a restart, a reconnection or a new CONNECT then starts from the bucket as it
//! was, not a full one.
//!
//! A bucket is written only when it accepts an event and stays short for longer than an idle
//! object lives, so storage writes never outnumber the events a limit lets through.

use std::collections::{HashMap, HashSet};

use crate::app::{RateKey, RateLimit};

/// Storage key prefix of the buckets kept across evictions.
pub const RATE_PREFIX: &str = "rate:";

/// How long an object with no event stays in memory before workerd evicts it, at least: a
/// bucket full again within it needs no storage.
const IDLE_EVICTION_MS: u64 = 10_000;

/// Most buckets held at once: past it, the buckets full by now are dropped (they are what a
/// new bucket would be), then the ones soonest full.
const MAX_BUCKETS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
    /// When it is full again, if nothing is taken.
    full_at_ms: u64,
}

impl Bucket {
    fn to_text(self) -> String {
        format!("{} {} {}", self.tokens, self.at_ms, self.full_at_ms)
    }

    fn from_text(text: &str) -> Option<Bucket> {
        let mut parts = text.split(' ');
        let bucket = Bucket {
            tokens: parts.next()?.parse().ok().filter(|t: &f64| t.is_finite())?,
            at_ms: parts.next()?.parse().ok()?,
            full_at_ms: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(bucket)
    }
}

/// The buckets of one object, and the storage writes they need.
#[derive(Debug, Default)]
pub struct Buckets {
    buckets: HashMap<String, Bucket>,
    /// Keys whose bucket storage holds.
    stored: HashSet<String>,
    /// Puts (`Some`) and deletes (`None`) for storage, by full key.
    writes: Vec<(String, Option<String>)>,
}

/// The key of the bucket an event of socket `sid` in `nsp` draws from, under `limit`.
pub fn bucket_key(limit: &RateLimit, nsp: &str, sid: &str, address: &str, data: &str) -> String {
    match limit.key {
        RateKey::Socket => format!("{nsp} socket {sid}"),
        RateKey::Address => format!("{nsp} address {address}"),
        RateKey::DataMember(member) => match serde_json::from_str::<serde_json::Value>(data)
            .ok()
            .and_then(|data| data.get(member).map(|user| user.to_string()))
        {
            Some(user) => format!("{nsp} user {user}"),
            None => format!("{nsp} socket {sid}"),
        },
    }
}

impl Buckets {
    /// Takes one token from `key`'s bucket at `now_ms`; false when it is empty.
    pub fn take(&mut self, key: &str, limit: &RateLimit, now_ms: u64) -> bool {
        if !self.buckets.contains_key(key) && self.buckets.len() >= MAX_BUCKETS {
            self.make_room(now_ms);
        }
        let full = Bucket { tokens: limit.burst, at_ms: now_ms, full_at_ms: now_ms };
        let bucket = self.buckets.entry(key.to_owned()).or_insert(full);
        let refill = now_ms.saturating_sub(bucket.at_ms) as f64 / 1000.0 * limit.per_second;
        bucket.tokens = (bucket.tokens + refill).min(limit.burst);
        bucket.at_ms = now_ms;
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        let missing_ms = (limit.burst - bucket.tokens) / limit.per_second * 1000.0;
        bucket.full_at_ms = now_ms.saturating_add(missing_ms.ceil().min(u64::MAX as f64) as u64);
        let stored_key = format!("{RATE_PREFIX}{key}");
        if bucket.full_at_ms > now_ms + IDLE_EVICTION_MS {
            self.writes.push((stored_key, Some(bucket.to_text())));
            self.stored.insert(key.to_owned());
        } else if self.stored.remove(key) {
            self.writes.push((stored_key, None));
        }
        true
    }

    /// Forgets a socket's own bucket (it disconnected: its id never comes back).
    pub fn forget_socket(&mut self, nsp: &str, sid: &str) {
        let key = format!("{nsp} socket {sid}");
        self.buckets.remove(&key);
        if self.stored.remove(&key) {
            self.writes.push((format!("{RATE_PREFIX}{key}"), None));
        }
    }

    /// Takes back the buckets storage held (`rate:` keys and values) at `now_ms`; the ones
    /// full by now, or unreadable, are deleted from storage.
    pub fn restore(&mut self, entries: impl IntoIterator<Item = (String, String)>, now_ms: u64) {
        for (stored_key, text) in entries {
            let Some(key) = stored_key.strip_prefix(RATE_PREFIX) else { continue };
            match Bucket::from_text(&text) {
                Some(bucket) if bucket.full_at_ms > now_ms => {
                    self.stored.insert(key.to_owned());
                    self.buckets.insert(key.to_owned(), bucket);
                }
                _ => self.writes.push((stored_key, None)),
            }
        }
    }

    /// Forgets every bucket held in memory (the object forgets its state; storage stays).
    pub fn clear(&mut self) {
        self.buckets.clear();
        self.stored.clear();
        self.writes.clear();
    }

    /// The storage writes since the last call: puts (`Some`) and deletes (`None`).
    pub fn take_writes(&mut self) -> Vec<(String, Option<String>)> {
        std::mem::take(&mut self.writes)
    }

    fn make_room(&mut self, now_ms: u64) {
        self.buckets.retain(|_, bucket| bucket.full_at_ms > now_ms);
        while self.buckets.len() >= MAX_BUCKETS {
            let soonest = self.buckets.iter().min_by_key(|(_, b)| b.full_at_ms).map(|(key, _)| key.clone());
            let Some(key) = soonest else { break };
            self.buckets.remove(&key);
            if self.stored.remove(&key) {
                self.writes.push((format!("{RATE_PREFIX}{key}"), None));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(burst: f64, per_second: f64) -> RateLimit {
        RateLimit { burst, per_second, disconnect: false, key: RateKey::Address }
    }

    #[test]
    fn a_bucket_refills_at_its_rate() {
        let mut buckets = Buckets::default();
        let limit = limit(2.0, 1.0);
        assert!(buckets.take("k", &limit, 0) && buckets.take("k", &limit, 0));
        assert!(!buckets.take("k", &limit, 500));
        assert!(buckets.take("k", &limit, 1_000));
        assert!(buckets.take_writes().is_empty(), "full again within seconds: nothing stored");
    }

    #[test]
    fn a_slow_bucket_is_stored_and_taken_back_after_an_eviction() {
        let mut buckets = Buckets::default();
        let limit = limit(2.0, 1.0 / 60.0); // 2 at once, then one a minute
        assert!(buckets.take("k", &limit, 0) && buckets.take("k", &limit, 0));
        let writes = buckets.take_writes();
        assert_eq!(writes.len(), 2);
        let (key, Some(value)) = writes.last().cloned().unwrap() else { panic!() };
        assert_eq!(key, "rate:k");
        let mut woken = Buckets::default();
        woken.restore([(key.clone(), value.clone())], 30_000);
        assert!(!woken.take("k", &limit, 30_000), "still empty after an eviction");
        assert!(woken.take("k", &limit, 60_000), "one token a minute");
        let mut later = Buckets::default();
        later.restore([(key, value), ("rate:bad".into(), "x".into())], 200_000);
        assert_eq!(
            later.take_writes(),
            vec![("rate:k".to_owned(), None), ("rate:bad".to_owned(), None)],
            "full by now, or unreadable: deleted"
        );
    }

    #[test]
    fn keys_name_the_socket_the_address_or_the_user() {
        let mut by = RateLimit { burst: 1.0, per_second: 1.0, disconnect: false, key: RateKey::Socket };
        assert_eq!(bucket_key(&by, "/", "s1", "1.2.3.4", "{}"), "/ socket s1");
        by.key = RateKey::Address;
        assert_eq!(bucket_key(&by, "/", "s1", "1.2.3.4", "{}"), "/ address 1.2.3.4");
        by.key = RateKey::DataMember("user");
        assert_eq!(bucket_key(&by, "/", "s1", "1.2.3.4", r#"{"user":"ann"}"#), r#"/ user "ann""#);
        assert_eq!(bucket_key(&by, "/", "s1", "1.2.3.4", "{}"), "/ socket s1", "no user: its socket");
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut buckets = Buckets::default();
        let limit = limit(1.0, 1.0 / 3600.0);
        for i in 0..(MAX_BUCKETS + 10) {
            assert!(buckets.take(&format!("k{i}"), &limit, i as u64));
        }
        assert!(buckets.buckets.len() <= MAX_BUCKETS);
    }
}

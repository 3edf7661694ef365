//! The shared state in storage, one key per part: what a change writes, and reading it back
//! (also from the single value the previous versions wrote).

use std::collections::BTreeMap;

use wasmio_protocol::server::{
    Broadcast, Config, RecoveryConfig, Server, Write, LOG_PREFIX, PERSISTED_PREFIX, SHARED_KEY,
};

fn config() -> Config {
    Config { recovery: Some(RecoveryConfig::default()), ..Config::default() }
}

/// Carries out the writes on a key-value map; returns the bytes put.
fn apply(storage: &mut BTreeMap<String, String>, server: &mut Server) -> usize {
    let (writes, unpersisted) = server.take_writes();
    assert!(unpersisted.is_empty());
    let mut put = 0;
    for write in writes {
        match write {
            Write::Put { key, value } => {
                put += key.len() + value.len();
                storage.insert(key, value);
            }
            Write::Delete { key } => drop(storage.remove(&key)),
            Write::Attachment { .. } | Write::StoredSnapshot { .. } => {}
        }
    }
    put
}

fn restore(storage: &BTreeMap<String, String>) -> Server {
    let parts = storage.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    Server::restore_stored(config(), storage.get(SHARED_KEY).map(String::as_str), parts, []).unwrap()
}

#[test]
fn a_broadcast_writes_its_own_entry_and_a_small_header_however_long_the_log() {
    let mut server = Server::new(config());
    let mut storage = BTreeMap::new();
    let args = format!(r#"["{}"]"#, "x".repeat(1_000));
    let mut largest_value = 0;
    for i in 0..1_500u64 {
        server.broadcast(&Broadcast::new("/"), "m", &args, vec![], 1_000 + i).unwrap();
        let put = apply(&mut storage, &mut server);
        // One entry of about 1 KB and the header: never the log (about 1 MB at its bound).
        assert!(put < 1_400, "broadcast {i} wrote {put} bytes");
        largest_value = largest_value.max(storage.values().map(String::len).max().unwrap());
    }
    assert!(largest_value < 1_400, "no value grows with the log: {largest_value}");
    // The log keeps its bound (1 MB): the pruned entries' keys are deleted.
    let logged = server.shared_to_json().matches(r#"{"k":"#).count();
    assert!(logged < 1_000, "{logged}");
    assert_eq!(storage.keys().filter(|k| k.starts_with(LOG_PREFIX)).count(), logged);
    assert_eq!(restore(&storage).shared_to_json(), server.shared_to_json());
}

#[test]
fn a_state_of_the_previous_versions_is_read_then_moved_to_its_keys_at_the_next_change() {
    let mut old = Server::new(config());
    for i in 0..3u64 {
        old.broadcast(&Broadcast::new("/"), "m", &format!("[{i}]"), vec![], 1_000 + i).unwrap();
    }
    // The previous versions stored everything as one value, without keys for the entries.
    let legacy = old.shared_to_json().replace(r#""k":"#, r#""was_k":"#);
    let mut storage = BTreeMap::from([(SHARED_KEY.to_owned(), legacy)]);
    let mut server = restore(&storage);
    assert_eq!(apply(&mut storage, &mut server), 0, "nothing changed, nothing written");
    server.broadcast(&Broadcast::new("/"), "m", "[3]", vec![], 2_000).unwrap();
    apply(&mut storage, &mut server);
    assert_eq!(storage.keys().filter(|k| k.starts_with(LOG_PREFIX)).count(), 4, "every entry has its key now");
    assert!(!storage[SHARED_KEY].contains(r#""log""#), "the header no longer holds the log");
    let again = restore(&storage);
    assert_eq!(again.shared_to_json(), server.shared_to_json());
    let shared = again.shared_to_json();
    let at: Vec<usize> = (0..4).filter_map(|i| shared.find(&format!(r#""d":["m",{i}"#))).collect();
    assert_eq!(at.len(), 4, "none lost: {shared}");
    assert!(at.windows(2).all(|w| w[0] < w[1]), "in order");
}

#[test]
fn an_unreadable_part_fails_the_restore_and_unknown_keys_are_ignored() {
    let parts = [(format!("{PERSISTED_PREFIX}p1"), "{".to_owned())];
    let read = Server::restore_stored(config(), None, parts.iter().map(|(k, v)| (k.as_str(), v.as_str())), []);
    assert!(read.is_err());
    let parts = [("live:p1", "whatever"), ("rate:x", "1")];
    assert!(Server::restore_stored(config(), None, parts, []).is_ok());
}

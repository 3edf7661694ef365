//! Which numbered objects hold members of a room: kept by directory objects (instances of the
//! Socket.IO class named `rooms:<bucket>`, a room's bucket being a hash of its namespace and
//! name), so that a broadcast to a room goes only to the objects that hold its members.
//!
//! Each numbered object tells the directory when it starts or stops holding a room
//! ([`Holdings::sync`], after every event whose changes alter the set); senders look the holders
//! up before relaying ([`lookup`]). Everything lives in storage: directories and holdings
//! survive eviction and restarts.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use futures_channel::oneshot;
use futures_util::future::join_all;
use worker::{Env, Response, Storage};

use crate::cluster::post_with_retry;

/// The path of directory requests, between objects only.
pub(crate) const DIRECTORY_PATH: &str = "/__rooms";

/// How many directory objects share the rooms.
const BUCKETS: u32 = 16;

/// Storage key prefix, in a directory object, of a room's holders.
const HOLDERS_PREFIX: &str = "holders:";

/// Storage key prefix, in a numbered object, of each room the directory knows it holds: one
/// entry per room (its key a hash of the room, its value the room as JSON), so that a change
/// writes only the rooms that changed. One value for the whole set (until 2026-12-05) was
/// rewritten at every change, and past the storage's value limit (thousands of long room
/// names, 2 MB) its write failed at every event of the object, each then tens of ms slower.
const HELD_PREFIX: &str = "room-holdings:";

/// Where versions before 2026-12-05 kept the whole set in one value: read, then replaced by
/// entries of [`HELD_PREFIX`] at the next sync. It prefixes them: one list reads both.
const LEGACY_HOLDINGS_KEY: &str = "room-holdings";

/// How many keys one storage call may write or delete (Cloudflare's limit).
const KEYS_PER_CALL: usize = 128;

/// A room of a namespace: (namespace, room).
pub(crate) type RoomKey = (String, String);

/// What a directory object is asked.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum DirectoryRequest {
    /// `holder` now holds the rooms of `add` and no longer those of `remove`.
    Update { holder: String, add: Vec<RoomKey>, remove: Vec<RoomKey> },
    /// The holders of each room, in the order asked.
    Lookup { rooms: Vec<RoomKey> },
}

/// The directory object of a room.
fn directory_of(room: &RoomKey) -> String {
    let bytes = room.0.bytes().chain([0]).chain(room.1.bytes());
    // FNV-1a, as `routing::shard_for`.
    let hash = bytes.fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("rooms:{}", hash % BUCKETS)
}

/// Groups rooms by directory object.
fn by_directory(rooms: impl IntoIterator<Item = RoomKey>) -> BTreeMap<String, Vec<RoomKey>> {
    let mut grouped: BTreeMap<String, Vec<RoomKey>> = BTreeMap::new();
    for room in rooms {
        grouped.entry(directory_of(&room)).or_default().push(room);
    }
    grouped
}

/// The numbered objects holding members of each room, asked of their directories at once.
pub(crate) async fn lookup(env: &Env, rooms: &BTreeSet<RoomKey>) -> Result<BTreeMap<RoomKey, Vec<String>>, String> {
    let asks = by_directory(rooms.iter().cloned()).into_iter().map(|(directory, rooms)| async move {
        let body = serde_json::to_string(&DirectoryRequest::Lookup { rooms: rooms.clone() }).expect("strings");
        let answer = post_with_retry(env, &directory, DIRECTORY_PATH, body).await?;
        let holders: Vec<Vec<String>> = serde_json::from_str(&answer).map_err(|e| e.to_string())?;
        Ok::<_, String>(rooms.into_iter().zip(holders).collect::<Vec<_>>())
    });
    let mut found = BTreeMap::new();
    for answer in join_all(asks).await {
        found.extend(answer?);
    }
    Ok(found)
}

/// Serves a directory request, in a directory object.
pub(crate) async fn serve(storage: &Storage, body: &str) -> worker::Result<Response> {
    let request: DirectoryRequest = match serde_json::from_str(body) {
        Ok(request) => request,
        Err(error) => return Response::error(format!("invalid directory request: {error}"), 400),
    };
    match request {
        DirectoryRequest::Lookup { rooms } => {
            let mut holders = Vec::with_capacity(rooms.len());
            for room in &rooms {
                holders.push(read_holders(storage, room).await?);
            }
            Response::from_json(&holders)
        }
        DirectoryRequest::Update { holder, add, remove } => {
            // Storage calls hold the object's input gate: no other request interleaves
            // between a read and its write.
            for (room, adding) in add.iter().map(|r| (r, true)).chain(remove.iter().map(|r| (r, false))) {
                let mut holders = read_holders(storage, room).await?;
                let had = holders.contains(&holder);
                match (adding, had) {
                    (true, false) => holders.push(holder.clone()),
                    (false, true) => holders.retain(|h| *h != holder),
                    _ => continue,
                }
                let key = holders_key(room);
                match holders.is_empty() {
                    true => storage.delete(&key).await.map(drop)?,
                    false => storage.put(&key, &holders).await?,
                }
            }
            Response::ok("updated")
        }
    }
}

/// The storage key of a held room (FNV-1a over 64 bits: a room's name is not bounded, a key is).
fn held_key((nsp, room): &RoomKey) -> String {
    let bytes = nsp.bytes().chain([0]).chain(room.bytes());
    let hash = bytes.fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{HELD_PREFIX}{hash:016x}")
}

/// The rooms registered for this object, as stored, and whether they were in the legacy key:
/// one storage read, once per instance.
async fn read_registered(storage: &Storage) -> worker::Result<(BTreeSet<RoomKey>, bool)> {
    let stored = storage.list_with_options(worker::ListOptions::new().prefix(LEGACY_HOLDINGS_KEY)).await?;
    let (mut registered, mut legacy) = (BTreeSet::new(), false);
    for entry in stored.entries() {
        let entry: js_sys::Array = entry?.into();
        let (key, value) = (entry.get(0).as_string().unwrap_or_default(), entry.get(1));
        // The legacy value is the set itself (a structured value); an entry is a room as JSON.
        let read = if key == LEGACY_HOLDINGS_KEY {
            legacy = true;
            let text = js_sys::JSON::stringify(&value).map(String::from).unwrap_or_default();
            serde_json::from_str::<BTreeSet<RoomKey>>(&text).map(|rooms| registered.extend(rooms))
        } else {
            serde_json::from_str::<RoomKey>(&value.as_string().unwrap_or_default()).map(|room| {
                registered.insert(room);
            })
        };
        if let Err(error) = read {
            // Dropped: the directory is told of a room again if it is held.
            worker::console_warn!("the held rooms' entry {key} is unreadable ({error}): told again if held");
        }
    }
    Ok((registered, legacy))
}

/// Stores what changed of the registered rooms: `added` entries written, `removed` deleted.
async fn write_registered(storage: &Storage, added: &[&RoomKey], removed: &[&RoomKey]) -> worker::Result<()> {
    for chunk in added.chunks(KEYS_PER_CALL) {
        let entries: BTreeMap<String, String> =
            chunk.iter().map(|room| (held_key(room), serde_json::to_string(room).expect("strings"))).collect();
        storage.put_multiple(entries).await?;
    }
    for chunk in removed.chunks(KEYS_PER_CALL) {
        storage.delete_multiple(chunk.iter().map(|room| held_key(room)).collect()).await?;
    }
    Ok(())
}

fn holders_key((nsp, room): &RoomKey) -> String {
    format!("{HOLDERS_PREFIX}{nsp}\u{0}{room}")
}

async fn read_holders(storage: &Storage, room: &RoomKey) -> worker::Result<Vec<String>> {
    Ok(storage.get::<Vec<String>>(&holders_key(room)).await?.unwrap_or_default())
}

/// The rooms the directory knows a numbered object holds (read from storage once per instance).
#[derive(Default)]
pub(crate) struct Holdings {
    registered: RefCell<Option<BTreeSet<RoomKey>>>,
    /// Whether the registered rooms were read from [`LEGACY_HOLDINGS_KEY`], not yet rewritten.
    legacy: Cell<bool>,
    /// The core's [`rooms_version`](wasmio_protocol::server::Server::rooms_version) when the
    /// directories were last told: until it moves, there is nothing to tell them.
    synced_version: Cell<Option<u64>>,
    /// Whether a sync is telling the directories now: syncs take turns (see [`Holdings::sync`]).
    syncing: Cell<bool>,
    /// The syncs waiting for their turn, woken when the one in flight ends.
    waiting: RefCell<Vec<oneshot::Sender<()>>>,
}

/// The turn of one sync: the next may start once it is dropped.
struct Turn<'h>(&'h Holdings);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.syncing.set(false);
        for waiter in self.0.waiting.borrow_mut().drain(..) {
            // A waiter dropped meanwhile (its event ended) needs no turn.
            waiter.send(()).ok();
        }
    }
}

impl Holdings {
    /// Forgets what was read from storage, as an eviction does.
    pub(crate) fn clear(&self) {
        self.registered.borrow_mut().take();
        self.legacy.set(false);
        self.synced_version.set(None);
    }

    /// Whether the directories know the rooms held at the core's `version`.
    pub(crate) fn is_synced(&self, version: u64) -> bool {
        self.synced_version.get() == Some(version)
    }

    /// Waits until no other sync is in flight, and takes the turn.
    async fn turn(&self) -> Turn<'_> {
        while self.syncing.replace(true) {
            let (sender, receiver) = oneshot::channel();
            self.waiting.borrow_mut().push(sender);
            // Woken when the sync in flight ends.
            receiver.await.ok();
        }
        Turn(self)
    }

    /// Tells the directories what changed between the rooms registered for object `me` and
    /// the rooms it holds now (`held_now`: the core's held rooms and their version, read once
    /// this sync has its turn), then keeps those as registered. Syncs take turns: two at once
    /// compared the held rooms with a registered set the other was changing, and the older
    /// one could finish last (a socket's `leave` then another's `join` of the same room: the
    /// directory was told the room's removal last, and broadcasts from other objects missed
    /// the member until the next sync). On a failure the registered set stays as it was: the
    /// next event tries again.
    pub(crate) async fn sync(
        &self,
        env: &Env,
        storage: &Storage,
        me: &str,
        held_now: impl FnOnce() -> (u64, BTreeSet<RoomKey>),
    ) -> Result<(), String> {
        let _turn = self.turn().await;
        let (version, held) = held_now();
        if self.is_synced(version) {
            return Ok(());
        }
        let known = self.registered.borrow().clone();
        let registered = match known {
            Some(registered) => registered,
            None => {
                let (registered, legacy) = read_registered(storage).await.map_err(|e| e.to_string())?;
                self.legacy.set(legacy);
                registered
            }
        };
        if registered == held && !self.legacy.get() {
            *self.registered.borrow_mut() = Some(registered);
            self.synced_version.set(Some(version));
            return Ok(());
        }
        let add = by_directory(held.difference(&registered).cloned());
        let mut remove = by_directory(registered.difference(&held).cloned());
        let directories: BTreeSet<String> = add.keys().chain(remove.keys()).cloned().collect();
        let updates = directories.into_iter().map(|directory| {
            let request = DirectoryRequest::Update {
                holder: me.to_owned(),
                add: add.get(&directory).cloned().unwrap_or_default(),
                remove: remove.remove(&directory).unwrap_or_default(),
            };
            let body = serde_json::to_string(&request).expect("strings");
            async move { post_with_retry(env, &directory, DIRECTORY_PATH, body).await }
        });
        for updated in join_all(updates).await {
            updated?;
        }
        let stored = match self.legacy.get() {
            // Every held room gets its entry, then the legacy value goes.
            true => write_registered(storage, &held.iter().collect::<Vec<_>>(), &[])
                .await
                .and(storage.delete(LEGACY_HOLDINGS_KEY).await.map(drop)),
            false => {
                let added: Vec<&RoomKey> = held.difference(&registered).collect();
                let removed: Vec<&RoomKey> = registered.difference(&held).collect();
                write_registered(storage, &added, &removed).await
            }
        };
        stored.map_err(|e| e.to_string())?;
        self.legacy.set(false);
        *self.registered.borrow_mut() = Some(held);
        self.synced_version.set(Some(version));
        Ok(())
    }
}

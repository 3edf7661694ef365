//! The broadcasts this object hands to the other numbered objects of the deployment, each
//! delivering them to its own sockets: the role a Redis adapter plays for a Node cluster.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::join_all;
use worker::{Env, Result, Storage};

use crate::cluster::{holders_of, post_with_retry, reached};
use crate::emitter::RELAY_PATH;
use crate::room_directory::RoomKey;
use wasmio_protocol::server::Broadcast;

/// Storage keys of the broadcasts this object logged for recovery and has not relayed to every
/// object yet (`outbox:<sequence, 20 digits>`): written with the log before any relay leaves,
/// deleted once every object took them. A restart between the two (or an object that failed)
/// leaves them there, and the next instance relays them again first: without that, the other
/// objects' logs would keep a hole, and their clients would not be recovered (or be, with a
/// broadcast missing). An object that had taken one applies it once (by origin and sequence).
pub(crate) const OUTBOX_PREFIX: &str = "outbox:";

/// A broadcast for the sockets of the other Durable Objects of the deployment.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Relay {
    /// The namespace.
    pub nsp: String,
    /// Rooms to reach (all sockets when empty).
    pub rooms: Vec<String>,
    /// Rooms to skip.
    pub except: Vec<String>,
    /// Skip sockets that cannot take a message now.
    pub volatile: bool,
    /// The event name.
    pub event: String,
    /// The arguments, a JSON array text.
    pub args: String,
    /// The (origin, sequence) the sending object logged it under for recovery: every object
    /// logs it under the same, so that offsets mean the same everywhere.
    pub logged: Option<(String, u64)>,
    /// Binary attachments, base64.
    pub attachments: Vec<String>,
}

impl Relay {
    /// The selection, delivered locally by the receiving object.
    pub fn broadcast(&self) -> Broadcast {
        let mut op = Broadcast::new(self.nsp.clone()).local();
        for room in &self.rooms {
            op = op.to(room.clone());
        }
        for room in &self.except {
            op = op.except(room.clone());
        }
        if self.volatile {
            op = op.volatile();
        }
        if let Some((origin, seq)) = &self.logged {
            op = op.relayed(origin.clone(), *seq);
        }
        op
    }

    /// Attachments as a relay carries them (base64).
    pub fn encode_attachments(attachments: &[Vec<u8>]) -> Vec<String> {
        attachments
            .iter()
            .map(|bytes| {
                let mut text = String::new();
                wasmio_protocol::base64::encode_into(bytes, &mut text);
                text
            })
            .collect()
    }

    /// Its outbox entry (key, JSON), for a broadcast logged for recovery ([`OUTBOX_PREFIX`]).
    pub(crate) fn outbox_entry(&self) -> Option<(String, String)> {
        let (_, seq) = self.logged.as_ref()?;
        Some((format!("{OUTBOX_PREFIX}{seq:020}"), serde_json::to_string(self).ok()?))
    }

    /// The attachments as bytes (invalid base64 is dropped).
    pub fn attachment_bytes(&self) -> Vec<Vec<u8>> {
        Relay::decode_attachments(&self.attachments)
    }

    /// Attachments carried as base64 (between objects), as bytes; invalid base64 is dropped.
    pub fn decode_attachments(attachments: &[String]) -> Vec<Vec<u8>> {
        attachments.iter().filter_map(|a| wasmio_protocol::base64::decode(a)).collect()
    }
}

/// The most keys workerd deletes in one call.
const OUTBOX_BATCH: usize = 128;

/// What [`RELAY_PATH`] receives: broadcasts in the order their object made them.
#[derive(serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum RelayBody {
    /// This version's: a batch.
    Batch(Vec<Relay>),
    /// From an object still running the previous version: one broadcast.
    One(Relay),
}

impl RelayBody {
    /// The broadcasts, in order.
    pub(crate) fn into_relays(self) -> Vec<Relay> {
        match self {
            RelayBody::Batch(relays) => relays,
            RelayBody::One(relay) => vec![relay],
        }
    }
}

/// The broadcasts waiting to be relayed, and whether an event is relaying now.
pub(crate) struct Relays {
    /// Made by this event's handlers, not written to the outbox yet.
    queue: RefCell<Vec<Relay>>,
    /// Written (those logged for recovery) and waiting for the event that relays.
    ready: RefCell<Vec<Relay>>,
    /// Logged broadcasts an object did not take (after its attempts): the next alarm relays
    /// them again ([`Relays::retry_failed`]).
    failed: RefCell<Vec<Relay>>,
    relaying: Cell<bool>,
    /// How many numbered objects the deployment has.
    pub(crate) shards: u32,
}

impl Relays {
    /// No broadcast waiting, in a deployment of `shards` objects.
    pub(crate) fn new(shards: u32) -> Self {
        Relays {
            queue: RefCell::new(Vec::new()),
            ready: RefCell::new(Vec::new()),
            failed: RefCell::new(Vec::new()),
            relaying: Cell::new(false),
            shards,
        }
    }

    /// The broadcasts made since the last call (none with one object), to be written to the
    /// outbox ([`Relay::outbox_entry`]) and then handed back with [`Relays::make_ready`].
    pub(crate) fn take_made(&self) -> Vec<Relay> {
        let made = std::mem::take(&mut *self.queue.borrow_mut());
        // A deployment of one object relays nothing, and keeps no outbox.
        if self.shards <= 1 {
            return Vec::new();
        }
        made
    }

    /// Broadcasts whose outbox entries are written: the next [`Relays::send`] relays them.
    pub(crate) fn make_ready(&self, made: Vec<Relay>) {
        self.ready.borrow_mut().extend(made);
    }

    /// Drops the broadcasts held in memory, as a new instance has none (the test hook that
    /// forgets the object's memory): those logged for recovery stay in the outbox.
    pub(crate) fn forget(&self) {
        self.queue.borrow_mut().clear();
        self.ready.borrow_mut().clear();
        self.failed.borrow_mut().clear();
    }

    /// The logged broadcasts an object did not take, relayed again before what waits (from the
    /// alarm a failure sets: a failing object does not slow every event down).
    pub(crate) fn retry_failed(&self) {
        let failed = std::mem::take(&mut *self.failed.borrow_mut());
        self.relay_first(failed);
    }

    /// A new instance's outbox, read from storage: relayed before anything made since.
    pub(crate) fn resume(&self, outbox: Vec<(String, String)>) {
        let left: Vec<Relay> = outbox.iter().filter_map(|(_, json)| serde_json::from_str(json).ok()).collect();
        if left.len() < outbox.len() {
            worker::console_error!("{} outbox entries are unreadable: not relayed", outbox.len() - left.len());
        }
        self.relay_first(left);
    }

    /// Puts `older` before what waits to be relayed, in its order.
    fn relay_first(&self, mut older: Vec<Relay>) {
        let mut ready = self.ready.borrow_mut();
        older.append(&mut ready);
        *ready = older;
    }

    /// Where handlers queue their broadcasts.
    pub(crate) fn queue(&self) -> &RefCell<Vec<Relay>> {
        &self.queue
    }

    /// Whether broadcasts wait to be relayed and no relay is under way (which would take them).
    pub(crate) fn waiting(&self) -> bool {
        self.shards > 1 && !self.ready.borrow().is_empty() && !self.relaying.get()
    }

    /// Hands what is queued to every other object, from object `name`. One relay is under way
    /// at a time, in the order the broadcasts were made, all that is waiting in one request per
    /// object: a broadcast never overtakes an earlier one of this object on its way to another
    /// (recovery offsets rely on that), however events interleave while relays are in flight.
    pub(crate) async fn send(&self, env: &Env, storage: &Storage, name: Option<String>) -> Result<()> {
        if self.shards <= 1 {
            self.ready.borrow_mut().clear();
            return Ok(());
        }
        if self.ready.borrow().is_empty() || self.relaying.replace(true) {
            return Ok(()); // nothing to relay, or the event relaying now takes these too
        }
        let sent = self.send_queued(env, storage, name).await;
        self.relaying.set(false);
        sent
    }

    /// Relays what is queued until nothing is: each broadcast to the objects its selection
    /// reaches (for rooms, those that hold members, from the room directory), each object's
    /// share in one request, all objects at once; a failed object is retried, then reported
    /// (what was logged stays in the outbox, and is relayed again by the next alarm or
    /// instance; an object that had taken it applies it once). Relayed, a broadcast leaves
    /// the outbox.
    async fn send_queued(&self, env: &Env, storage: &Storage, name: Option<String>) -> Result<()> {
        let Some(name) = name else {
            // Never relay without knowing which object is this one: it would deliver twice here.
            return Err(worker::Error::RustError("this object does not know its name: broadcasts not relayed".into()));
        };
        loop {
            let batch = std::mem::take(&mut *self.ready.borrow_mut());
            if batch.is_empty() {
                return Ok(());
            }
            let rooms: BTreeSet<RoomKey> = batch
                .iter()
                .flat_map(|relay| relay.rooms.iter().map(|room| (relay.nsp.clone(), room.clone())))
                .collect();
            let holders = holders_of(env, self.shards, &rooms).await;
            let mut shares: BTreeMap<String, Vec<&Relay>> = BTreeMap::new();
            for relay in &batch {
                for object in reached(self.shards, &relay.nsp, &relay.rooms, &holders) {
                    if object != name {
                        shares.entry(object).or_default().push(relay);
                    }
                }
            }
            // Each object gets this event's broadcasts in order, in one request.
            let sends = shares.into_iter().map(|(object, share)| async move {
                let body = serde_json::to_string(&share).expect("relays serialize");
                post_with_retry(env, &object, RELAY_PATH, body)
                    .await
                    .map_err(|error| format!("object {object}: {error}"))
            });
            let failed: Vec<String> = join_all(sends).await.into_iter().filter_map(|sent| sent.err()).collect();
            if !failed.is_empty() {
                self.failed.borrow_mut().extend(batch.into_iter().filter(|relay| relay.logged.is_some()));
                return Err(worker::Error::RustError(format!("broadcasts not relayed to {}", failed.join("; "))));
            }
            let relayed: Vec<String> = batch.iter().filter_map(|relay| Some(relay.outbox_entry()?.0)).collect();
            for keys in relayed.chunks(OUTBOX_BATCH) {
                storage.delete_multiple(keys.to_vec()).await?;
            }
        }
    }
}

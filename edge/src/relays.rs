//! The broadcasts this object hands to the other numbered objects of the deployment, each
//! delivering them to its own sockets: the role a Redis adapter plays for a Node cluster.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::join_all;
use worker::{Env, Result, Storage};

use crate::cluster::{holders_of, post_with_retry, reached};
use crate::room_directory::RoomKey;
use crate::routing::is_numbered_object;
use wasmio_protocol::server::Broadcast;

/// The path of broadcasts relayed to an object.
pub(crate) const RELAY_PATH: &str = "/__relay";

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
    /// In its outbox entry, once some objects took it and others did not: those that did not
    /// (empty: none was tried yet). A next instance relays it to those only, as another
    /// object's bounded log may no longer hold it, and would deliver it again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) pending: Vec<String>,
    /// As relayed to one object: the sequence of the broadcast logged for recovery this object
    /// relayed there before (0: none), when known ([`RelayedTo`]). The ones in between went to
    /// other objects only, for rooms it held no member of: its recoveries pass over them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) after: Option<u64>,
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
        if let Some(after) = self.after {
            op = op.after(after);
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
        Some((self.outbox_key()?, serde_json::to_string(self).ok()?))
    }

    /// About the bytes it takes in a request, or held in memory.
    fn weight(&self) -> usize {
        self.args.len() + self.attachments.iter().map(String::len).sum::<usize>() + self.event.len() + 64
    }

    /// The key of its outbox entry, for a broadcast logged for recovery.
    fn outbox_key(&self) -> Option<String> {
        let (_, seq) = self.logged.as_ref()?;
        Some(format!("{OUTBOX_PREFIX}{seq:020}"))
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

/// Storage key of [`RelayedTo`].
pub(crate) const RELAYED_TO_KEY: &str = "relayed-to";

/// The sequence of the last broadcast logged for recovery relayed to each object: what the
/// next one relayed there names as [`Relay::after`], so that the other object's log tells a
/// sequence this object relayed elsewhere only from one lost on the way (a hole refuses a
/// recovery there). Written to storage before the relays it names leave, so that a next
/// instance goes on with a chain never behind what was sent: an `after` too high (relays
/// that never left, relayed again by the next instance) only makes the other object see
/// holes where there are none (a refused recovery, never a gap), as one unknown does; one too
/// low could pass over a lost relay.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct RelayedTo {
    /// Whether it was kept since this object logged its first broadcast: an object it does not
    /// name was relayed none (0). Otherwise that is not known.
    #[serde(rename = "all")]
    since_first: bool,
    /// Object name -> last sequence relayed there.
    #[serde(rename = "to")]
    last: BTreeMap<String, u64>,
}

impl RelayedTo {
    /// Before `batch` is shared out: a first batch that starts with this object's first logged
    /// broadcast starts a chain that knows every object.
    fn begin(&mut self, batch: &[Relay]) {
        let first = batch.iter().find_map(|relay| relay.logged.as_ref());
        if !self.since_first && self.last.is_empty() && first.is_some_and(|(_, seq)| *seq == 1) {
            self.since_first = true;
        }
    }

    /// Names in each relay of `share`, relayed to `object` in this order, the one before it
    /// (none for one relayed again, older than the last). Whether anything changed.
    fn chain(&mut self, object: &str, share: &mut [Relay]) -> bool {
        let mut changed = false;
        for relay in share {
            let Some((_, seq)) = relay.logged else { continue };
            let before = self.last.get(object).copied().or(self.since_first.then_some(0));
            relay.after = before.filter(|before| *before < seq);
            if relay.after.is_some() || before.is_none() {
                self.last.insert(object.to_owned(), seq);
                changed = true;
            }
        }
        changed
    }
}

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

/// The most relays held back for one object that does not take them, and their most bytes:
/// past either the oldest are dropped (those logged for recovery stay in the outbox, relayed
/// again by the next instance).
const BACKLOG_LIMIT: usize = 4096;
const BACKLOG_BYTES: usize = 8 << 20;

/// The most bytes of broadcasts a backlog's request carries (it is sent in several).
const BACKLOG_REQUEST_BYTES: usize = 1 << 20;

/// The broadcasts waiting to be relayed, and whether an event is relaying now.
pub(crate) struct Relays {
    /// Made by this event's handlers, not written to the outbox yet.
    queue: RefCell<Vec<Relay>>,
    /// Written (those logged for recovery) and waiting for the event that relays.
    ready: RefCell<Vec<Relay>>,
    /// Per object that did not take its share (after its attempts): that share and every
    /// later broadcast to it, in order, relayed again by the next alarm
    /// ([`Relays::retry_failed`]). A broadcast never overtakes an earlier one on its way to
    /// that object, and the other objects are not held up.
    backlogs: RefCell<BTreeMap<String, Vec<Relay>>>,
    /// Whether the alarm asked for the backlogs to be relayed again.
    backlogs_due: Cell<bool>,
    relaying: Cell<bool>,
    /// What each object was relayed last.
    relayed_to: RefCell<RelayedTo>,
    /// How many numbered objects the deployment has.
    pub(crate) shards: u32,
}

impl Relays {
    /// No broadcast waiting, in a deployment of `shards` objects.
    pub(crate) fn new(shards: u32) -> Self {
        Relays {
            queue: RefCell::new(Vec::new()),
            ready: RefCell::new(Vec::new()),
            backlogs: RefCell::new(BTreeMap::new()),
            backlogs_due: Cell::new(false),
            relaying: Cell::new(false),
            relayed_to: RefCell::new(RelayedTo::default()),
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
        self.backlogs.borrow_mut().clear();
    }

    /// Asks the next [`Relays::send`] to relay the backlogs of the objects that did not take
    /// their broadcasts (from the alarm a failure sets: a failing object does not slow every
    /// event down).
    pub(crate) fn retry_failed(&self) {
        if !self.backlogs.borrow().is_empty() {
            self.backlogs_due.set(true);
        }
    }

    /// A new instance's outbox and [`RelayedTo`], read from storage: relayed before anything
    /// made since, each broadcast some objects did not take to those only, in their backlogs.
    pub(crate) fn resume(&self, outbox: Vec<(String, String)>, relayed_to: Option<String>) {
        if let Some(json) = relayed_to {
            match serde_json::from_str(&json) {
                Ok(known) => *self.relayed_to.borrow_mut() = known,
                Err(error) => worker::console_error!("what was relayed to each object is unreadable: {error}"),
            }
        }
        let left: Vec<Relay> = outbox.iter().filter_map(|(_, json)| serde_json::from_str(json).ok()).collect();
        if left.len() < outbox.len() {
            worker::console_error!("{} outbox entries are unreadable: not relayed", outbox.len() - left.len());
        }
        let (mut untried, pending): (Vec<Relay>, Vec<Relay>) = left.into_iter().partition(|r| r.pending.is_empty());
        let mut backlogs = self.backlogs.borrow_mut();
        for mut relay in pending {
            for object in std::mem::take(&mut relay.pending) {
                backlogs.entry(object).or_default().push(relay.clone());
            }
            self.backlogs_due.set(true);
        }
        let mut ready = self.ready.borrow_mut();
        untried.append(&mut ready);
        *ready = untried;
    }

    /// Where handlers queue their broadcasts.
    pub(crate) fn queue(&self) -> &RefCell<Vec<Relay>> {
        &self.queue
    }

    /// Whether broadcasts wait to be relayed and no relay is under way (which would take them).
    pub(crate) fn waiting(&self) -> bool {
        let due = !self.ready.borrow().is_empty() || self.backlogs_due.get();
        self.shards > 1 && due && !self.relaying.get()
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
        if !self.waiting() {
            return Ok(()); // nothing to relay, or the event relaying now takes these too
        }
        self.relaying.set(true);
        let sent = self.send_queued(env, storage, name).await;
        self.relaying.set(false);
        sent
    }

    /// Relays what is queued until nothing is: each broadcast to the objects its selection
    /// reaches (for rooms, those that hold members, from the room directory), each object's
    /// share in one request, all objects at once. A failed object is retried, then its share
    /// and what follows for it wait in its backlog for the alarm, and the failure is reported.
    /// A broadcast leaves the outbox once every object it reaches took it (an object that had
    /// taken one relayed again applies it once).
    async fn send_queued(&self, env: &Env, storage: &Storage, name: Option<String>) -> Result<()> {
        let Some(name) = name else {
            // Never relay without knowing which object is this one: it would deliver twice here.
            return Err(worker::Error::RustError("this object does not know its name: broadcasts not relayed".into()));
        };
        let mut failures = Vec::new();
        loop {
            // Asked by an alarm, maybe while the relay before was under way.
            if self.backlogs_due.replace(false) {
                self.send_backlogs(env, storage, &name, &mut failures).await?;
            }
            let batch = std::mem::take(&mut *self.ready.borrow_mut());
            if batch.is_empty() {
                match self.backlogs_due.get() {
                    true => continue,
                    false => break,
                }
            }
            let rooms: BTreeSet<RoomKey> = batch
                .iter()
                .flat_map(|relay| relay.rooms.iter().map(|room| (relay.nsp.clone(), room.clone())))
                .collect();
            let holders = holders_of(env, self.shards, &rooms).await;
            let mut shares: BTreeMap<String, Vec<Relay>> = BTreeMap::new();
            for relay in &batch {
                for object in reached(self.shards, &relay.nsp, &relay.rooms, &holders) {
                    if object != name {
                        shares.entry(object).or_default().push(relay.clone());
                    }
                }
            }
            self.relayed_to.borrow_mut().begin(&batch);
            let answers = self.send_shares(env, storage, shares, &mut failures).await?;
            self.send_on(env, storage, &name, answers, &mut failures).await?;
            self.settle_outbox(storage, &batch).await?;
        }
        match failures.is_empty() {
            true => Ok(()),
            false => Err(worker::Error::RustError(format!("broadcasts not relayed to {}", failures.join("; ")))),
        }
    }

    /// Sends each object its share of an event's broadcasts, in one request, all objects at
    /// once (an object with a backlog: its share joins it). A failed share is held back for the
    /// alarm, and the failure reported in `failures`. The shares sent and their answers.
    async fn send_shares(
        &self,
        env: &Env,
        storage: &Storage,
        mut shares: BTreeMap<String, Vec<Relay>>,
        failures: &mut Vec<String>,
    ) -> Result<Vec<(String, Vec<Relay>, String)>> {
        let chained = {
            let mut relayed_to = self.relayed_to.borrow_mut();
            let changed =
                shares.iter_mut().fold(false, |changed, (object, share)| relayed_to.chain(object, share) | changed);
            changed.then(|| serde_json::to_string(&*relayed_to).expect("a map"))
        };
        if let Some(relayed_to) = chained {
            storage.put(RELAYED_TO_KEY, relayed_to).await?;
        }
        // An object with a backlog gets nothing before it: its share joins the backlog.
        shares.retain(|object, share| match self.backlogs.borrow_mut().get_mut(object) {
            Some(backlog) => {
                hold_back(object, backlog, share);
                false
            }
            None => true,
        });
        // Each object gets this event's broadcasts in order, in one request.
        let sends = shares.iter().map(|(object, share)| post_with_retry(env, object, RELAY_PATH, relay_body(share)));
        let sent = join_all(sends).await;
        let mut answers = Vec::new();
        for ((object, share), sent) in shares.into_iter().zip(sent) {
            match sent {
                Ok(answer) => answers.push((object, share, answer)),
                Err(error) => {
                    hold_back(&object, self.backlogs.borrow_mut().entry(object.clone()).or_default(), &share);
                    failures.push(format!("object {object}: {error}"));
                }
            }
        }
        Ok(answers)
    }

    /// Relays on what the objects' `answers` name as reaching sessions that moved from them
    /// ([`RelayAnswer`]) to where they went (the room directory did not list those objects
    /// yet), from object `me`, for at most [`MOVED_ROUNDS`] rounds (sessions that moved on
    /// again); never a broadcast to an object that was sent it.
    async fn send_on(
        &self,
        env: &Env,
        storage: &Storage,
        me: &str,
        mut answers: Vec<(String, Vec<Relay>, String)>,
        failures: &mut Vec<String>,
    ) -> Result<()> {
        if answers.iter().all(|(_, _, answer)| answer == RELAYED) {
            return Ok(()); // the usual answer: nothing to record
        }
        let mut sent = Sent::default();
        sent.record(answers.iter().map(|(object, share, _)| (object, share)));
        for _ in 0..MOVED_ROUNDS {
            let shares = sent.moved_to(&answers, me, self.shards);
            if shares.is_empty() {
                break;
            }
            sent.record(shares.iter());
            answers = self.send_shares(env, storage, shares, failures).await?;
        }
        Ok(())
    }

    /// Relays each backlog to its object, all objects at once, and on to where sessions moved
    /// from them ([`Relays::send_on`]); what failed again stays, and why is added to
    /// `failures`.
    async fn send_backlogs(&self, env: &Env, storage: &Storage, me: &str, failures: &mut Vec<String>) -> Result<()> {
        let backlogs = std::mem::take(&mut *self.backlogs.borrow_mut());
        let results = join_all(backlogs.into_iter().map(|(object, backlog)| send_backlog(env, object, backlog))).await;
        let mut relayed = Vec::new();
        let mut answers = Vec::new();
        for BacklogSent { object, taken, left, error } in results {
            for (share, answer) in taken {
                relayed.extend(share.iter().cloned());
                answers.push((object.clone(), share, answer));
            }
            if let Some(error) = error {
                failures.push(format!("object {object}: {error}"));
                self.backlogs.borrow_mut().insert(object, left);
            }
        }
        self.send_on(env, storage, me, answers, failures).await?;
        self.settle_outbox(storage, &relayed).await
    }

    /// Brings the outbox entries of `relays` up to date with the backlogs: deleted once every
    /// object they reach took them, else rewritten naming the objects that did not
    /// ([`Relay::pending`]).
    async fn settle_outbox(&self, storage: &Storage, relays: &[Relay]) -> Result<()> {
        let mut held: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (object, backlog) in self.backlogs.borrow().iter() {
            for key in backlog.iter().filter_map(Relay::outbox_key) {
                held.entry(key).or_default().push(object.clone());
            }
        }
        let mut taken = Vec::new();
        for relay in relays {
            let Some(key) = relay.outbox_key() else { continue };
            match held.remove(&key) {
                None => taken.push(key),
                Some(pending) => {
                    let entry = serde_json::to_string(&Relay { pending, ..relay.clone() }).expect("relays serialize");
                    storage.put(&key, entry).await?;
                }
            }
        }
        for keys in taken.chunks(OUTBOX_BATCH) {
            storage.delete_multiple(keys.to_vec()).await?;
        }
        Ok(())
    }
}

/// How many times an event's broadcasts are relayed on to objects sessions moved to (from an
/// object the broadcasts reached, then from that one if they moved on again).
const MOVED_ROUNDS: usize = 3;

/// What [`RELAY_PATH`] answers when no broadcast of the request reaches a session that moved.
pub(crate) const RELAYED: &str = "relayed";

/// What [`RELAY_PATH`] answers when some broadcasts of the request reach sessions that moved
/// from the object to others ([`Delivery::moved_to`]): each one's index in the request and an
/// object it must be relayed to as well. Otherwise the answer is [`RELAYED`].
///
/// [`Delivery::moved_to`]: wasmio_protocol::server::Delivery::moved_to
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct RelayAnswer {
    /// (index of the broadcast in the request, object).
    #[serde(rename = "movedTo")]
    pub(crate) moved_to: Vec<(usize, String)>,
}

/// The objects each logged broadcast of an event was relayed to (or held back for), by its
/// sequence: relayed on to where sessions moved, a broadcast goes to an object once.
#[derive(Default)]
struct Sent(BTreeSet<(String, u64)>);

impl Sent {
    /// `shares` (object, its share) were relayed (or held back).
    fn record<'s>(&mut self, shares: impl Iterator<Item = (&'s String, &'s Vec<Relay>)>) {
        for (object, share) in shares {
            self.0.extend(share.iter().filter_map(|relay| Some((object.clone(), relay.logged.as_ref()?.1))));
        }
    }

    /// From the objects' `answers` ([`RelayAnswer`]), the shares of the numbered objects (of
    /// `shards`, but `me`: its own log had the broadcast when the session arrived) sessions
    /// moved to that were not relayed those broadcasts, each in the order they were made.
    fn moved_to(
        &self,
        answers: &[(String, Vec<Relay>, String)],
        me: &str,
        shards: u32,
    ) -> BTreeMap<String, Vec<Relay>> {
        let mut shares: BTreeMap<String, BTreeMap<u64, Relay>> = BTreeMap::new();
        for (_, share, answer) in answers {
            let Ok(RelayAnswer { moved_to }) = serde_json::from_str(answer) else { continue };
            for (index, object) in moved_to {
                let Some(relay) = share.get(index) else { continue };
                let Some((_, seq)) = relay.logged else { continue };
                if object != me && is_numbered_object(&object, shards) && !self.0.contains(&(object.clone(), seq)) {
                    shares.entry(object).or_default().insert(seq, relay.clone());
                }
            }
        }
        shares.into_iter().map(|(object, share)| (object, share.into_values().collect())).collect()
    }
}

/// The body of a relay request: broadcasts in order.
fn relay_body(share: &[Relay]) -> String {
    serde_json::to_string(share).expect("relays serialize")
}

/// What [`send_backlog`] did for one object.
struct BacklogSent {
    /// The numbered object.
    object: String,
    /// Each request it took, with its answer.
    taken: Vec<(Vec<Relay>, String)>,
    /// The relays left, after a request it did not take.
    left: Vec<Relay>,
    /// Why it did not.
    error: Option<String>,
}

/// Relays `backlog` to `object` in order, in requests of at most [`BACKLOG_REQUEST_BYTES`],
/// until one fails.
async fn send_backlog(env: &Env, object: String, mut backlog: Vec<Relay>) -> BacklogSent {
    let mut taken = Vec::new();
    while !backlog.is_empty() {
        let (mut count, mut bytes) = (0, 0);
        while count < backlog.len() && (count == 0 || bytes + backlog[count].weight() <= BACKLOG_REQUEST_BYTES) {
            bytes += backlog[count].weight();
            count += 1;
        }
        match post_with_retry(env, &object, RELAY_PATH, relay_body(&backlog[..count])).await {
            Ok(answer) => taken.push((backlog.drain(..count).collect(), answer)),
            Err(error) => return BacklogSent { object, taken, left: backlog, error: Some(error) },
        }
    }
    BacklogSent { object, taken, left: backlog, error: None }
}

/// Adds `share` to the backlog of `object`, but for volatile broadcasts (which may be lost,
/// never late), keeping at most [`BACKLOG_LIMIT`] relays and [`BACKLOG_BYTES`] (the newest
/// one always).
fn hold_back(object: &str, backlog: &mut Vec<Relay>, share: &[Relay]) {
    backlog.extend(share.iter().filter(|relay| !relay.volatile).cloned());
    let mut bytes: usize = backlog.iter().map(Relay::weight).sum();
    let mut dropped = 0;
    while backlog.len() - dropped > 1 && (backlog.len() - dropped > BACKLOG_LIMIT || bytes > BACKLOG_BYTES) {
        bytes -= backlog[dropped].weight();
        dropped += 1;
    }
    if dropped > 0 {
        backlog.drain(..dropped);
        worker::console_error!("object {object} takes no broadcast: its {dropped} oldest held back are dropped");
    }
}

//! The broadcasts this object hands to the other numbered objects of the deployment, each
//! delivering them to its own sockets: the role a Redis adapter plays for a Node cluster.

use std::cell::{Cell, RefCell};

use worker::{Env, Result};

use crate::app::Relay;
use crate::emitter::{post_to_object, RELAY_PATH};

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
    queue: RefCell<Vec<Relay>>,
    relaying: Cell<bool>,
    /// How many numbered objects the deployment has.
    shards: u32,
}

impl Relays {
    /// No broadcast waiting, in a deployment of `shards` objects.
    pub(crate) fn new(shards: u32) -> Self {
        Relays { queue: RefCell::new(Vec::new()), relaying: Cell::new(false), shards }
    }

    /// Where handlers queue their broadcasts.
    pub(crate) fn queue(&self) -> &RefCell<Vec<Relay>> {
        &self.queue
    }

    /// Hands what is queued to every other object, from object `name`. One event at a time
    /// relays, in the order the broadcasts were made, all that is waiting in one request per
    /// object: a broadcast never overtakes an earlier one of this object on its way to another
    /// (recovery offsets rely on that), however events interleave while relays are in flight.
    pub(crate) async fn send(&self, env: &Env, name: Option<String>) -> Result<()> {
        if self.shards <= 1 {
            self.queue.borrow_mut().clear();
            return Ok(());
        }
        if self.queue.borrow().is_empty() || self.relaying.replace(true) {
            return Ok(()); // nothing to relay, or the event relaying now takes these too
        }
        let sent = self.send_queued(env, name).await;
        self.relaying.set(false);
        sent
    }

    /// Relays what is queued until nothing is.
    async fn send_queued(&self, env: &Env, name: Option<String>) -> Result<()> {
        let Some(name) = name else {
            // Never relay without knowing which object is this one: it would deliver twice here.
            return Err(worker::Error::RustError("this object does not know its name: broadcasts not relayed".into()));
        };
        loop {
            let batch = std::mem::take(&mut *self.queue.borrow_mut());
            if batch.is_empty() {
                return Ok(());
            }
            let body = serde_json::to_string(&batch).map_err(|e| worker::Error::RustError(e.to_string()))?;
            // To every other object at once; each gets this event's batches in order.
            let sends = (0..self.shards).map(|n| n.to_string()).filter(|n| *n != name).map(|shard| {
                let body = body.clone();
                async move {
                    let mut answer = post_to_object(env, &shard, RELAY_PATH, body).await?;
                    // Read to the end: an unread answer keeps the subrequest open, and with it
                    // both objects (neither is ever evicted).
                    let text = answer.text().await?;
                    if answer.status_code() != 200 {
                        worker::console_error!("object {shard} refused relayed broadcasts: {text}");
                    }
                    Ok::<(), worker::Error>(())
                }
            });
            for sent in futures_util::future::join_all(sends).await {
                sent?;
            }
        }
    }
}

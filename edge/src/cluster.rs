//! Operations over the sockets of every numbered object of a deployment (socket.io's adapter
//! requests: `fetchSockets`, `socketsJoin`, `socketsLeave`, `disconnectSockets`,
//! `serverSideEmit`, broadcasts with acknowledgements), as one object or the [`Emitter`] asks
//! them of the others: concurrently, to the objects that hold the rooms selected only,
//! retried, and answered together.
//!
//! [`Emitter`]: crate::Emitter

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::future::{select, Either};
use serde::{Deserialize, Serialize};
use wasmio_protocol::server::{AckData, Broadcast, SocketInfo};
use worker::{Delay, Env};

use crate::app::{Args, Relay};
use crate::emitter::post_to_object;
use crate::engine_host::now_ms;
use crate::object_stats::ObjectStats;
use crate::room_directory::{lookup, RoomKey};
use crate::routing::{is_numbered_object, object_of_sid};
use crate::socketio_object::SocketIoServer;

/// The path of cluster requests, between objects only.
pub(crate) const CLUSTER_PATH: &str = "/__cluster";

/// How many times a request to another object is tried before its failure is reported.
const ATTEMPTS: u32 = 3;

/// POSTs `body` to `path` of object `object`: retried on a failure to reach it or a 5xx
/// answer; the answer's text, or why it failed.
pub(crate) async fn post_with_retry(env: &Env, object: &str, path: &str, body: String) -> Result<String, String> {
    let mut failure = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            Delay::from(Duration::from_millis(50 << attempt)).await;
        }
        match post_to_object(env, object, path, body.clone()).await {
            Ok(mut answer) => {
                // Read to the end: an unread answer keeps the subrequest, and both objects, open.
                let text = answer.text().await.map_err(|e| e.to_string())?;
                match answer.status_code() {
                    200 => return Ok(text),
                    status if status >= 500 => failure = format!("{status}: {text}"),
                    status => return Err(format!("{status}: {text}")),
                }
            }
            Err(error) => failure = error.to_string(),
        }
    }
    Err(failure)
}

/// The numbered objects a selection of `nsp` reaches: all of them when `rooms` is empty,
/// else those holding members of a room (from the room directory) and those a socket-id room
/// names. When the directory cannot be read, all of them (a selection reaches no socket twice,
/// so sending to too many objects costs requests, never correctness).
pub(crate) async fn objects_for(env: &Env, shards: u32, nsp: &str, rooms: &[String]) -> BTreeSet<String> {
    let keys: BTreeSet<RoomKey> = rooms.iter().map(|room| (nsp.to_owned(), room.clone())).collect();
    let holders = holders_of(env, shards, &keys).await;
    reached(shards, nsp, rooms, &holders)
}

/// The holders of `rooms`, from the directory; `None` when it is not needed (one object) or
/// could not be read.
pub(crate) async fn holders_of(
    env: &Env,
    shards: u32,
    rooms: &BTreeSet<RoomKey>,
) -> Option<BTreeMap<RoomKey, Vec<String>>> {
    if shards <= 1 || rooms.is_empty() {
        return None;
    }
    match lookup(env, rooms).await {
        Ok(holders) => Some(holders),
        Err(error) => {
            worker::console_error!("the room directory could not be read ({error}): sending to every object");
            None
        }
    }
}

/// The numbered objects a selection of `nsp` reaches, given the holders of its rooms (every
/// object without them).
pub(crate) fn reached(
    shards: u32,
    nsp: &str,
    rooms: &[String],
    holders: &Option<BTreeMap<RoomKey, Vec<String>>>,
) -> BTreeSet<String> {
    let every = || (0..shards.max(1)).map(|n| n.to_string()).collect();
    let Some(holders) = holders.as_ref().filter(|_| !rooms.is_empty()) else { return every() };
    let mut objects = BTreeSet::new();
    for room in rooms {
        if let Some(object) = object_of_sid(room).filter(|o| is_numbered_object(o, shards)) {
            objects.insert(object.to_owned());
        }
        let Some(found) = holders.get(&(nsp.to_owned(), room.clone())) else { return every() };
        objects.extend(found.iter().filter(|o| is_numbered_object(o, shards)).cloned());
    }
    objects
}

/// A request to one object: apply `op` to its sockets that the selection reaches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClusterRequest {
    pub(crate) nsp: String,
    pub(crate) rooms: Vec<String>,
    pub(crate) except: Vec<String>,
    pub(crate) op: ClusterOp,
}

impl ClusterRequest {
    fn selection(&self) -> Broadcast {
        let mut op = Broadcast::new(self.nsp.clone()).local();
        for room in &self.rooms {
            op = op.to(room.clone());
        }
        for room in &self.except {
            op = op.except(room.clone());
        }
        op
    }
}

/// What a [`ClusterRequest`] does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum ClusterOp {
    FetchSockets,
    Join {
        rooms: Vec<String>,
    },
    Leave {
        rooms: Vec<String>,
    },
    Disconnect {
        close: bool,
    },
    /// A broadcast whose recipients' acknowledgements are collected until `timeout_ms`.
    EmitWithAck {
        event: String,
        args: String,
        attachments: Vec<String>,
        timeout_ms: u64,
    },
    /// An event for the namespace's server-side handlers ([`crate::app::Namespace::on_server_side`]).
    ServerSide {
        event: String,
        args: String,
    },
    /// The object's [`ObjectStats`] (the selection aside).
    Stats,
    /// A broadcast from outside the objects ([`crate::Emitter::emit`]) that the object makes
    /// as its own, for every object: logged under its origin for recovery and relayed to the
    /// others as its sockets' broadcasts are, so that every object logs it under the same
    /// origin and sequence, and one that reached a session's old holder is sent on to where the
    /// session went.
    Broadcast {
        event: String,
        args: String,
        attachments: Vec<String>,
        volatile: bool,
    },
}

/// One object's answer to a [`ClusterRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum ClusterAnswer {
    Sockets {
        sockets: Vec<RemoteSocket>,
    },
    Done,
    Responses {
        responses: Vec<serde_json::Value>,
        timed_out: bool,
    },
    Stats {
        stats: ObjectStats,
    },
    /// The object did not take the operation.
    Refused {
        error: String,
    },
}

/// A socket of any object, as `fetchSockets()` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteSocket {
    /// `socket.id`.
    pub id: String,
    /// The namespace.
    pub nsp: String,
    /// Its rooms, its own id included.
    pub rooms: Vec<String>,
    /// `socket.data`.
    pub data: serde_json::Value,
    /// `socket.handshake`.
    pub handshake: RemoteHandshake,
}

/// The handshake of a [`RemoteSocket`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteHandshake {
    /// `handshake.auth`.
    pub auth: serde_json::Value,
    /// `handshake.query`.
    pub query: serde_json::Value,
    /// `handshake.headers` (without `Cookie` and `Authorization`).
    pub headers: serde_json::Value,
    /// `handshake.address`.
    pub address: String,
    /// `handshake.issued`, ms since the epoch.
    pub issued: u64,
}

impl From<SocketInfo> for RemoteSocket {
    fn from(info: SocketInfo) -> Self {
        let json = |text: &str| crate::js_json::parse(text).unwrap_or(serde_json::Value::Null);
        RemoteSocket {
            handshake: RemoteHandshake {
                auth: json(&info.auth),
                query: json(&info.info.query),
                headers: json(&info.info.headers),
                address: info.info.address,
                issued: info.issued,
            },
            data: json(&info.data),
            id: info.sid,
            nsp: info.nsp,
            rooms: info.rooms,
        }
    }
}

/// What a broadcast with acknowledgements collected across the objects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AckResponses {
    /// The first argument of each answer.
    pub responses: Vec<serde_json::Value>,
    /// Whether some recipient did not answer in time (socket.io's error "operation has timed out").
    pub timed_out: bool,
}

/// The broadcasts with acknowledgements an object waits for, by broadcast id.
#[derive(Default)]
pub(crate) struct AckCollections {
    waiting: RefCell<HashMap<u64, oneshot::Sender<ClusterAnswer>>>,
}

impl AckCollections {
    /// Ends the wait for broadcast `id`.
    pub(crate) fn resolve(&self, id: u64, responses: Vec<AckData>, timed_out: bool) {
        let Some(waiter) = self.waiting.borrow_mut().remove(&id) else { return };
        let responses = responses.iter().map(|r| crate::js_json::parse(&r.args).unwrap_or_default()).collect();
        // The requester went away: nobody to tell.
        waiter.send(ClusterAnswer::Responses { responses, timed_out }).ok();
    }
}

impl SocketIoServer {
    /// Applies a cluster request to this object's sockets.
    pub(crate) async fn apply_cluster(&self, request: ClusterRequest) -> ClusterAnswer {
        let selection = request.selection();
        let now = now_ms();
        let answer = match request.op {
            ClusterOp::FetchSockets => {
                let sockets =
                    self.core.borrow().fetch_sockets(&selection).into_iter().map(RemoteSocket::from).collect();
                ClusterAnswer::Sockets { sockets }
            }
            ClusterOp::Join { rooms } => {
                let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
                self.core.borrow_mut().sockets_join(&selection, &rooms);
                ClusterAnswer::Done
            }
            ClusterOp::Leave { rooms } => {
                let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
                self.core.borrow_mut().sockets_leave(&selection, &rooms);
                ClusterAnswer::Done
            }
            ClusterOp::Disconnect { close } => {
                self.core.borrow_mut().disconnect_sockets(&selection, close, now);
                ClusterAnswer::Done
            }
            ClusterOp::ServerSide { event, args } => self.server_side(&request.nsp, &event, args),
            ClusterOp::Stats => ClusterAnswer::Stats { stats: self.object_stats().await },
            ClusterOp::Broadcast { event, args, attachments, volatile } => {
                let (nsp, rooms, except) = (request.nsp, request.rooms, request.except);
                let relay = Relay { nsp, rooms, except, volatile, event, args, attachments, ..Relay::default() };
                match self.broadcast_from_here(relay) {
                    Ok(()) => ClusterAnswer::Done,
                    Err(error) => ClusterAnswer::Refused { error: error.to_string() },
                }
            }
            ClusterOp::EmitWithAck { event, args, attachments, timeout_ms } => {
                let attachments = Relay::decode_attachments(&attachments);
                let sent =
                    self.core.borrow_mut().broadcast_with_ack(&selection, &event, &args, attachments, timeout_ms, now);
                match sent {
                    Ok((id, _)) => {
                        let (sender, receiver) = oneshot::channel();
                        self.collections.waiting.borrow_mut().insert(id, sender);
                        self.pump();
                        // The question goes now, not at the end of this request: what a new
                        // instance or a change of rooms holds back until the room directory
                        // is told would wait for the answers it asks for (every answer of
                        // an object woken by this request was lost to the timeout).
                        self.sync_holdings().await;
                        return self.collected(receiver, timeout_ms).await;
                    }
                    Err(error) => {
                        worker::console_error!("a cluster broadcast of {event:?} was refused: {error}");
                        ClusterAnswer::Responses { responses: Vec::new(), timed_out: false }
                    }
                }
            }
        };
        self.pump();
        answer
    }

    /// Awaits a collection: at its deadline the core's timers are run (the alarm may not be
    /// set yet), which ends it with what came.
    async fn collected(&self, mut receiver: oneshot::Receiver<ClusterAnswer>, timeout_ms: u64) -> ClusterAnswer {
        let mut wait = timeout_ms;
        loop {
            match select(receiver, Delay::from(Duration::from_millis(wait))).await {
                Either::Left((answer, _)) => {
                    return answer.unwrap_or(ClusterAnswer::Responses { responses: Vec::new(), timed_out: true })
                }
                Either::Right((_, pending)) => {
                    self.core.borrow_mut().handle_timeout(now_ms());
                    self.pump();
                    receiver = pending;
                    wait = 10;
                }
            }
        }
    }

    /// Runs the namespace's server-side handler of `event`, if it has one.
    fn server_side(&self, nsp: &str, event: &str, args: String) -> ClusterAnswer {
        let handler = self.app.find(nsp).and_then(|ns| ns.server_side_handler(event)).cloned();
        let Some(handler) = handler else {
            return ClusterAnswer::Responses { responses: Vec::new(), timed_out: false };
        };
        let answer = {
            let mut core = self.core.borrow_mut();
            let mut local = crate::app::LocalIo { server: &mut core, nsp: nsp.to_owned(), now_ms: now_ms() };
            handler(&mut local, Args { json: args, attachments: Vec::new() })
        };
        let responses = match answer {
            Ok(response) => vec![response],
            Err(error) => {
                worker::console_warn!("the server-side handler of {event:?} in {nsp} failed: {error}");
                Vec::new()
            }
        };
        ClusterAnswer::Responses { responses, timed_out: false }
    }
}

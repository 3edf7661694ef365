//! Emitting from outside any socket, as socket.io's `@socket.io/redis-emitter` does: from the
//! Worker's fetch handler, a cron trigger, a queue consumer, or (with `EMIT_SECRET` set) an
//! external backend through `POST <SOCKETIO_PATH>__emit`; and socket.io's adapter operations
//! over every object of the deployment (module `cluster`). A broadcast goes through one of the
//! numbered objects its selection reaches, which makes it as its own and relays it to the
//! others as it does its sockets' broadcasts.

use std::collections::BTreeSet;
use std::rc::Rc;

use futures_util::future::join_all;
use serde::Serialize;
use wasmio_protocol::server::ApiError;
use wasmio_protocol::socket::is_reserved_event;
use worker::{Env, Method, Request, RequestInit, Response};

use crate::app::{Args, Relay};
use crate::cluster::{
    objects_for, post_with_retry, AckResponses, ClusterAnswer, ClusterOp, ClusterRequest, RemoteSocket, CLUSTER_PATH,
};
use crate::config::Config;
use crate::object_stats::ObjectStats;
use crate::socketio_object::SocketIoServer;

/// The sockets of a deployment, reached from outside any socket (socket.io's `io` on a
/// server of a cluster): `Emitter::new(&env).to("room").emit("event", &data).await`, and the
/// adapter operations (`fetch_sockets`, `sockets_join`, `sockets_leave`,
/// `disconnect_sockets`, `server_side_emit`, `emit_with_ack`). A selection with rooms reaches
/// only the objects holding their members; each object is asked at once, retried when it
/// fails, and reported in the error when it still does.
///
/// ```no_run
/// # use wasmio_edge::{EmitError, Emitter};
/// # async fn cron(env: &worker::Env) -> Result<(), EmitError> {
/// let lobby = || Emitter::new(env).of("/chat").to("lobby");
/// lobby().emit("notice", "maintenance at noon").await?;
/// let present = lobby().fetch_sockets().await?; // every object's members of the room
/// let votes = lobby().emit_with_ack("vote?", &(), 5_000).await?;
/// println!("{} present, {} votes, late: {}", present.len(), votes.responses.len(), votes.timed_out);
/// # Ok(())
/// # }
/// ```
pub struct Emitter<'e> {
    env: &'e Env,
    relay: Relay,
    /// The object of the handler whose emitter this is ([`crate::Context::io`]): its own
    /// sockets are reached directly, and `server_side_emit` skips it.
    local: Option<Rc<SocketIoServer>>,
}

/// Why an [`Emitter`] operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The event name is one socket.io reserves (`connect`, `disconnect`, ...).
    #[error("{0:?} is a reserved event name")]
    ReservedEvent(String),
    /// The arguments are not a JSON array.
    #[error("the arguments are not a JSON array")]
    InvalidArgs,
    /// These objects did not take the operation after retries: their sockets are not reached,
    /// the other objects' are (nothing is undone, as with socket.io's cluster adapters).
    #[error("objects {objects:?} did not take the operation: {message}")]
    NotDelivered {
        /// The numbered objects that failed.
        objects: Vec<String>,
        /// What the first of them answered.
        message: String,
    },
    /// An object answered something that is not an answer to the operation.
    #[error("object {object} answered {answer:?}")]
    BadAnswer {
        /// The numbered object.
        object: String,
        /// Its answer.
        answer: String,
    },
    /// The operation of this object's own sockets failed.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// An emit that failed in a Worker handler of the deployment's own (`fetch`, `scheduled`,
/// `queue`) is that handler's error: `Emitter::new(&env)...emit(..).await?` in a function
/// returning `worker::Result`:
///
/// ```
/// async fn announce(env: &worker::Env, text: &str) -> worker::Result<()> {
///     wasmio_edge::Emitter::new(env).of("/rooms").to("news").emit("headline", &text).await?;
///     Ok(())
/// }
/// ```
impl From<EmitError> for worker::Error {
    fn from(error: EmitError) -> Self {
        worker::Error::RustError(error.to_string())
    }
}

impl<'e> Emitter<'e> {
    /// An emitter to every socket of namespace `/` of the deployment whose bindings `env` holds.
    pub fn new(env: &'e Env) -> Self {
        Emitter { env, relay: Relay { nsp: "/".to_owned(), ..Relay::default() }, local: None }
    }

    /// The emitter of a handler running in `object`.
    pub(crate) fn within(env: &'e Env, object: Rc<SocketIoServer>, nsp: &str) -> Self {
        Emitter { local: Some(object), ..Emitter::new(env).of(nsp) }
    }

    /// The namespace to reach (`io.of(nsp)`).
    pub fn of(mut self, nsp: &str) -> Self {
        self.relay.nsp = nsp.to_owned();
        self
    }

    /// Adds a room to reach (all sockets of the namespace when none is added).
    pub fn to(mut self, room: &str) -> Self {
        self.relay.rooms.push(room.to_owned());
        self
    }

    /// Adds a room to skip.
    pub fn except(mut self, room: &str) -> Self {
        self.relay.except.push(room.to_owned());
        self
    }

    /// Skips sockets that cannot take a message now.
    pub fn volatile(mut self) -> Self {
        self.relay.volatile = true;
        self
    }

    /// Emits `event` with the arguments `value` stands for ([`Args::of`]).
    pub async fn emit<T: Serialize + ?Sized>(&self, event: &str, value: &T) -> Result<(), EmitError> {
        self.emit_args(event, Args::of(value).map_err(|_| EmitError::InvalidArgs)?).await
    }

    /// Emits `event` with raw arguments. From outside the objects, returns once one of the
    /// objects the selection reaches (the first that takes it) made it as its own: delivered to
    /// its sockets, logged for recovery and kept in its outbox until every other object took
    /// it (relayed at once, and again from its alarm for an object that did not). Until
    /// 2026-12-08 each object was sent it and logged it under its own origin: a recovery on
    /// another object than the one that delivered it sent it again, or passed over it. From a
    /// handler ([`crate::Context::io`]) the other objects get it with the event's other
    /// broadcasts, in order, when the handler is done.
    pub async fn emit_args(&self, event: &str, args: Args) -> Result<(), EmitError> {
        check(event, &args)?;
        let attachments = Relay::encode_attachments(&args.attachments);
        let relay = Relay { event: event.to_owned(), args: args.json, attachments, ..self.relay.clone() };
        if let Some(object) = &self.local {
            return Ok(object.broadcast_from_here(relay)?);
        }
        let Relay { nsp, rooms, except, volatile, event, args, attachments, .. } = relay;
        let op = ClusterOp::Broadcast { event, args, attachments, volatile };
        let body =
            serde_json::to_string(&ClusterRequest { nsp, rooms, except, op }).map_err(|_| EmitError::InvalidArgs)?;
        let mut failed = Vec::new();
        for object in self.objects().await {
            let answer = match post_with_retry(self.env, &object, CLUSTER_PATH, body.clone()).await {
                Ok(answer) => answer,
                Err(error) => {
                    failed.push((object, error));
                    continue;
                }
            };
            return match serde_json::from_str(&answer) {
                Ok(ClusterAnswer::Done) => Ok(()),
                Ok(ClusterAnswer::Refused { error }) => delivered(vec![(object, error)]),
                _ => Err(EmitError::BadAnswer { object, answer }),
            };
        }
        delivered(failed)
    }

    /// `emitWithAck` to the selection with a timeout: the first argument of every recipient's
    /// answer, and whether some did not answer within `timeout_ms`. An object that did not
    /// take the question (after retries) counts as recipients that did not answer: the others'
    /// answers are returned, timed out, as socket.io's cluster adapters do.
    pub async fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        value: &T,
        timeout_ms: u64,
    ) -> Result<AckResponses, EmitError> {
        let args = Args::of(value).map_err(|_| EmitError::InvalidArgs)?;
        check(event, &args)?;
        let attachments = Relay::encode_attachments(&args.attachments);
        let op = ClusterOp::EmitWithAck { event: event.to_owned(), args: args.json, attachments, timeout_ms };
        let (answers, failed) = self.request_each(op, false).await?;
        if let Some((object, error)) = failed.first() {
            worker::console_error!(
                "{} objects did not take a broadcast with acknowledgements: object {object}: {error}",
                failed.len()
            );
        }
        let mut collected = AckResponses { timed_out: !failed.is_empty(), ..AckResponses::default() };
        for answer in answers {
            if let ClusterAnswer::Responses { responses, timed_out } = answer {
                collected.responses.extend(responses);
                collected.timed_out |= timed_out;
            }
        }
        Ok(collected)
    }

    /// `fetchSockets()`: the sockets of the selection, on every object.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, EmitError> {
        let answers = self.request(ClusterOp::FetchSockets, false).await?;
        Ok(answers
            .into_iter()
            .flat_map(|answer| match answer {
                ClusterAnswer::Sockets { sockets } => sockets,
                _ => Vec::new(),
            })
            .collect())
    }

    /// `socketsJoin(rooms)`: every socket of the selection joins `rooms`.
    pub async fn sockets_join(&self, rooms: &[&str]) -> Result<(), EmitError> {
        let rooms = rooms.iter().map(|r| (*r).to_owned()).collect();
        self.request(ClusterOp::Join { rooms }, false).await.map(drop)
    }

    /// `socketsLeave(rooms)`: every socket of the selection leaves `rooms`.
    pub async fn sockets_leave(&self, rooms: &[&str]) -> Result<(), EmitError> {
        let rooms = rooms.iter().map(|r| (*r).to_owned()).collect();
        self.request(ClusterOp::Leave { rooms }, false).await.map(drop)
    }

    /// `disconnectSockets(close)`: every socket of the selection is disconnected (with its
    /// whole connection when `close`).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), EmitError> {
        self.request(ClusterOp::Disconnect { close }, false).await.map(drop)
    }

    /// `serverSideEmit(event, value, callback)`: runs the namespace's server-side handler of
    /// `event` ([`crate::app::Namespace::on_server_side`]) on every other object (every
    /// object, from outside them) and returns their answers.
    pub async fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        value: &T,
    ) -> Result<Vec<serde_json::Value>, EmitError> {
        let args = Args::of(value).map_err(|_| EmitError::InvalidArgs)?;
        check(event, &args)?;
        let op = ClusterOp::ServerSide { event: event.to_owned(), args: args.json };
        let answers = self.request(op, true).await?;
        Ok(answers
            .into_iter()
            .flat_map(|answer| match answer {
                ClusterAnswer::Responses { responses, .. } => responses,
                _ => Vec::new(),
            })
            .collect())
    }

    /// What each numbered object the selection reaches (every one without [`Emitter::to`])
    /// holds (sessions, sockets, rooms) and how often workerd woke its current instance, in
    /// the order of their names. For an operations view: serve it from a fetch entry of your
    /// own, behind authentication ([`crate::deployment`]'s `fetch =` form).
    ///
    /// ```no_run
    /// # async fn ops(env: &worker::Env) -> Result<(), wasmio_edge::EmitError> {
    /// for stats in wasmio_edge::Emitter::new(env).object_stats().await? {
    ///     println!("object {}: {} sessions, {} rooms", stats.object, stats.sessions, stats.rooms.len());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn object_stats(&self) -> Result<Vec<ObjectStats>, EmitError> {
        let mut stats: Vec<ObjectStats> = self
            .request(ClusterOp::Stats, false)
            .await?
            .into_iter()
            .filter_map(|answer| match answer {
                ClusterAnswer::Stats { stats } => Some(stats),
                _ => None,
            })
            .collect();
        stats.sort_by_key(|s| s.object.parse::<u64>().unwrap_or(u64::MAX));
        Ok(stats)
    }

    /// The objects the selection reaches.
    async fn objects(&self) -> BTreeSet<String> {
        objects_for(self.env, Config::cached(self.env).shards, &self.relay.nsp, &self.relay.rooms).await
    }

    /// Asks every object the selection reaches (this one directly, and only the others when
    /// `others_only`) to apply `op`, at once; their answers, or the objects that did not take
    /// it (the others applied it).
    async fn request(&self, op: ClusterOp, others_only: bool) -> Result<Vec<ClusterAnswer>, EmitError> {
        let (answers, failed) = self.request_each(op, others_only).await?;
        delivered(failed)?;
        Ok(answers)
    }

    /// As [`Emitter::request`], with the objects that did not take it (after retries) and
    /// why, beside the others' answers.
    async fn request_each(
        &self,
        op: ClusterOp,
        others_only: bool,
    ) -> Result<(Vec<ClusterAnswer>, PerObject), EmitError> {
        let request = ClusterRequest {
            nsp: self.relay.nsp.clone(),
            rooms: self.relay.rooms.clone(),
            except: self.relay.except.clone(),
            op,
        };
        let mut objects = self.objects().await;
        let local = match &self.local {
            Some(object) => {
                // This object's broadcasts made before go first: the others see them in order.
                object.relay_now().await;
                let here = object.name().is_some_and(|me| objects.remove(&me));
                here.then_some(object).filter(|_| !others_only)
            }
            None => None,
        };
        let body = serde_json::to_string(&request).map_err(|_| EmitError::InvalidArgs)?;
        let remote =
            join_all(objects.iter().map(|object| post_with_retry(self.env, object, CLUSTER_PATH, body.clone())));
        let here = async {
            match local {
                Some(object) => Some(object.apply_cluster(request.clone()).await),
                None => None,
            }
        };
        let (answers, here) = futures_util::future::join(remote, here).await;
        let (answered, failed) = split_failures(objects.into_iter().zip(answers));
        let mut parsed = Vec::with_capacity(answered.len() + 1);
        for (object, text) in answered {
            let answer = serde_json::from_str(&text).map_err(|_| EmitError::BadAnswer { object, answer: text })?;
            parsed.push(answer);
        }
        parsed.extend(here);
        Ok((parsed, failed))
    }
}

/// Refuses a reserved event name or arguments that are not a JSON array.
fn check(event: &str, args: &Args) -> Result<(), EmitError> {
    if is_reserved_event(event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    if !matches!(serde_json::from_str::<serde_json::Value>(&args.json), Ok(serde_json::Value::Array(_))) {
        return Err(EmitError::InvalidArgs);
    }
    Ok(())
}

/// Numbered objects, each with a text: its answer, or why it failed.
type PerObject = Vec<(String, String)>;

/// The objects' answers, apart from the objects that failed (after retries) and why.
fn split_failures(answers: impl Iterator<Item = (String, Result<String, String>)>) -> (PerObject, PerObject) {
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for (object, answer) in answers {
        match answer {
            Ok(text) => ok.push((object, text)),
            Err(message) => failed.push((object, message)),
        }
    }
    (ok, failed)
}

/// Ok when no object failed, else which did, and what the first of them answered.
fn delivered(failed: PerObject) -> Result<(), EmitError> {
    match failed.first() {
        None => Ok(()),
        Some((_, message)) => Err(EmitError::NotDelivered {
            message: message.clone(),
            objects: failed.into_iter().map(|(object, _)| object).collect(),
        }),
    }
}

/// POSTs `body` to `path` of the numbered Socket.IO object `object` (telling it its name).
pub(crate) async fn post_to_object(env: &Env, object: &str, path: &str, body: String) -> worker::Result<Response> {
    let headers = worker::Headers::new();
    headers.set(crate::OBJECT_HEADER, object)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
    let request = Request::new_with_init(&format!("https://object{path}"), &init)?;
    env.durable_object("SOCKETIO")?.get_by_name(object)?.fetch_with_request(request).await
}

/// The path, below the Socket.IO path, of the authenticated emit endpoint.
pub(crate) const EMIT_PATH: &str = "__emit";

/// The body of an emit request: `{"nsp":"/","rooms":[],"except":[],"event":"...","args":[]}`.
#[derive(serde::Deserialize)]
struct EmitRequest {
    #[serde(default = "root_namespace")]
    nsp: String,
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    event: String,
    #[serde(default)]
    args: Vec<serde_json::Value>,
}

fn root_namespace() -> String {
    "/".to_owned()
}

/// `POST <SOCKETIO_PATH>__emit` with `Authorization: Bearer <EMIT_SECRET>` and an
/// [`EmitRequest`] body, for a backend outside the Worker: 404 when the deployment has no
/// `EMIT_SECRET` (a Worker secret), 401 for another secret, 400 for a bad body or event name,
/// 502 when no object the broadcast reaches took it, 200 once one made it (see
/// [`Emitter::emit_args`]).
pub(crate) async fn serve_emit(req: Request, env: &Env, config: &Config) -> worker::Result<Response> {
    let secret =
        env.secret("EMIT_SECRET").map(|s| s.to_string()).or_else(|_| env.var("EMIT_SECRET").map(|v| v.to_string()));
    let Some(secret) = secret.ok().filter(|s| !s.is_empty()) else {
        return Response::error("Not found", 404);
    };
    if req.method() != Method::Post {
        return Response::error("Method not allowed", 405);
    }
    if !crate::http::bearer_matches(&req, &secret)? {
        return Response::error("Unauthorized", 401);
    }
    let body = match crate::http::read_body(req.inner(), config.engine.max_payload, true).await? {
        crate::http::Body::Complete(body) => body,
        _ => return Response::error("Payload too large", 413),
    };
    let request: EmitRequest = match crate::js_json::parse(&body) {
        Ok(request) => request,
        Err(error) => return Response::error(format!("invalid body: {error}"), 400),
    };
    let mut emitter = Emitter::new(env).of(&request.nsp);
    for room in &request.rooms {
        emitter = emitter.to(room);
    }
    for room in &request.except {
        emitter = emitter.except(room);
    }
    let args = Args { json: serde_json::Value::Array(request.args).to_string(), attachments: Vec::new() };
    match emitter.emit_args(&request.event, args).await {
        Ok(()) => Response::ok("emitted"),
        Err(error @ (EmitError::ReservedEvent(_) | EmitError::InvalidArgs)) => Response::error(error.to_string(), 400),
        Err(error) => Response::error(error.to_string(), 502),
    }
}

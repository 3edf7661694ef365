//! Emitting from outside any socket, as socket.io's `@socket.io/redis-emitter` does: from the
//! Worker's fetch handler, a cron trigger, a queue consumer, or (with `EMIT_SECRET` set) an
//! external backend through `POST <SOCKETIO_PATH>__emit`. The broadcast goes to every
//! numbered object of the deployment at once, each delivering it to its own sockets, by the
//! relay path the objects use among themselves.

use futures_util::future::join_all;
use serde::Serialize;
use wasmio_protocol::socket::RESERVED_EVENTS;
use worker::{Env, Method, Request, RequestInit, Response};

use crate::app::{Args, Relay};
use crate::config::Config;

/// The path of broadcasts relayed to an object.
pub(crate) const RELAY_PATH: &str = "/__relay";

/// A broadcast to the sockets of a deployment, made outside any socket:
/// `Emitter::new(&env).to("room").emit("event", &data).await`.
pub struct Emitter<'e> {
    env: &'e Env,
    relay: Relay,
}

/// Why an [`Emitter`] broadcast failed.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The event name is one socket.io reserves (`connect`, `disconnect`, ...).
    #[error("{0:?} is a reserved event name")]
    ReservedEvent(String),
    /// The arguments are not a JSON array.
    #[error("the arguments are not a JSON array")]
    InvalidArgs,
    /// These objects did not take the broadcast (their sockets did not get it).
    #[error("objects {objects:?} did not take the broadcast: {message}")]
    NotDelivered {
        /// The numbered objects that failed.
        objects: Vec<String>,
        /// What the first of them answered.
        message: String,
    },
    /// The deployment has no `SOCKETIO` Durable Object binding.
    #[error("no SOCKETIO binding: {0}")]
    Binding(String),
}

impl<'e> Emitter<'e> {
    /// An emitter to every socket of namespace `/` of the deployment whose bindings `env` holds.
    pub fn new(env: &'e Env) -> Self {
        let relay = Relay {
            nsp: "/".to_owned(),
            rooms: Vec::new(),
            except: Vec::new(),
            volatile: false,
            event: String::new(),
            args: String::new(),
            logged: None,
            attachments: Vec::new(),
        };
        Emitter { env, relay }
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

    /// Emits `event` with one value.
    pub async fn emit<T: Serialize + ?Sized>(&self, event: &str, value: &T) -> Result<(), EmitError> {
        let json = serde_json::to_string(value).map_err(|_| EmitError::InvalidArgs)?;
        self.emit_args(event, Args { json: format!("[{json}]"), attachments: Vec::new() }).await
    }

    /// Emits `event` with raw arguments, to every object at once; returns once each took it.
    pub async fn emit_args(&self, event: &str, args: Args) -> Result<(), EmitError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        if !matches!(serde_json::from_str::<serde_json::Value>(&args.json), Ok(serde_json::Value::Array(_))) {
            return Err(EmitError::InvalidArgs);
        }
        let attachments = Relay::encode_attachments(&args.attachments);
        let relay = Relay { event: event.to_owned(), args: args.json, attachments, ..self.relay.clone() };
        let body = serde_json::to_string(&[relay]).map_err(|_| EmitError::InvalidArgs)?;
        let shards = Config::from_env(self.env).shards;
        let sends = (0..shards).map(|n| {
            let body = body.clone();
            async move {
                let object = n.to_string();
                let answer = match post_to_object(self.env, &object, RELAY_PATH, body).await {
                    Ok(mut answer) => match answer.text().await {
                        Ok(_) if answer.status_code() == 200 => Ok(()),
                        Ok(text) => Err(text),
                        Err(error) => Err(error.to_string()),
                    },
                    Err(error) => Err(error.to_string()),
                };
                answer.map_err(|message| (object, message))
            }
        });
        let failed: Vec<(String, String)> = join_all(sends).await.into_iter().filter_map(Result::err).collect();
        match failed.first() {
            None => Ok(()),
            Some((_, message)) => Err(EmitError::NotDelivered {
                message: message.clone(),
                objects: failed.into_iter().map(|(object, _)| object).collect(),
            }),
        }
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
/// 502 when an object did not take the broadcast, 200 once every object did.
pub(crate) async fn serve_emit(mut req: Request, env: &Env, config: &Config) -> worker::Result<Response> {
    let secret =
        env.secret("EMIT_SECRET").map(|s| s.to_string()).or_else(|_| env.var("EMIT_SECRET").map(|v| v.to_string()));
    let Some(secret) = secret.ok().filter(|s| !s.is_empty()) else {
        return Response::error("Not found", 404);
    };
    if req.method() != Method::Post {
        return Response::error("Method not allowed", 405);
    }
    let given = req.headers().get("Authorization")?.unwrap_or_default();
    if !same_bytes(given.as_bytes(), format!("Bearer {secret}").as_bytes()) {
        return Response::error("Unauthorized", 401);
    }
    let body = match crate::http::read_body(&mut req, config.engine.max_payload, true).await? {
        crate::http::Body::Complete(body) => body,
        _ => return Response::error("Payload too large", 413),
    };
    let request: EmitRequest = match serde_json::from_str(&body) {
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

/// Compares two byte strings in a time that does not depend on where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

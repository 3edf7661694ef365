//! Server settings, read from the worker's `[vars]` (see `wrangler.toml`).

use wasmio_protocol::engine::ServerConfig;
use worker::Env;

/// How WebSocket heartbeats are answered (`HEARTBEAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatMode {
    /// workerd answers each pong (`3`) with a noop (`6`) without waking the object; the alarm
    /// reads when the last answer came (the default: idle sockets cost no wake-ups).
    Hibernate,
    /// Pongs reach the object and nothing is sent back: byte for byte what the reference
    /// server does, at the cost of one wake-up per pong.
    Strict,
}

/// Settings of one deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Path prefix of the Socket.IO endpoint (`path` option, default `/socket.io/`).
    pub socketio_path: String,
    /// Path prefix of the bare Engine.IO echo endpoint, when the deployment has one.
    pub engine_path: Option<String>,
    /// Origins allowed by CORS: empty for none, `*` for any, else a comma-separated list.
    pub cors_origins: String,
    /// Test hooks (`TEST_HOOKS = "1"`): `<socketio path>__forget` makes the Socket.IO object
    /// drop its memory as an eviction would, `<socketio path>__stats` tells how often it was
    /// woken. Only the conformance and edge-cost benchmark deployments set it.
    pub test_hooks: bool,
    /// How many numbered Durable Objects share new sessions (`SHARDS`, default 1); a
    /// broadcast reaches the sockets of all of them.
    pub shards: u32,
    /// The server's `connectTimeout` in ms (`CONNECT_TIMEOUT`), when the deployment overrides
    /// the application's.
    pub connect_timeout_ms: Option<u64>,
    /// How long a binary packet may wait for its attachments, ms (`ATTACHMENT_TIMEOUT`,
    /// default 30 s): past it the session is closed.
    pub attachment_timeout_ms: Option<u64>,
    /// How WebSocket pongs are handled.
    pub heartbeat: HeartbeatMode,
    /// Engine.IO session settings.
    pub engine: ServerConfig,
}

thread_local! {
    /// The settings as the isolate's first request read them.
    static CACHED: std::cell::OnceCell<std::rc::Rc<Config>> = const { std::cell::OnceCell::new() };
}

impl Config {
    /// The settings, read from `env` once per isolate: a worker's variables are fixed for the
    /// life of its isolate, and the fetch entry would otherwise read each one per request, and
    /// each new instance of an object (a woken one too) before its first event.
    pub fn cached(env: &Env) -> std::rc::Rc<Config> {
        CACHED.with(|cached| cached.get_or_init(|| std::rc::Rc::new(Config::from_env(env))).clone())
    }

    /// Reads the settings, falling back to the reference server's defaults.
    fn from_env(env: &Env) -> Config {
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
        let millis = |name: &str, default: u64| var(name).and_then(|v| v.parse().ok()).unwrap_or(default);
        let defaults = ServerConfig::default();
        Config {
            socketio_path: var("SOCKETIO_PATH").unwrap_or_else(|| "/socket.io/".to_owned()),
            engine_path: var("ENGINE_PATH").filter(|p| !p.is_empty()),
            cors_origins: var("CORS_ORIGINS").unwrap_or_default(),
            test_hooks: var("TEST_HOOKS").as_deref() == Some("1"),
            shards: var("SHARDS").and_then(|v| v.parse().ok()).filter(|&n| n >= 1).unwrap_or(1),
            connect_timeout_ms: var("CONNECT_TIMEOUT").and_then(|v| v.parse().ok()),
            attachment_timeout_ms: var("ATTACHMENT_TIMEOUT").and_then(|v| v.parse().ok()),
            heartbeat: match var("HEARTBEAT").as_deref() {
                Some("strict") => HeartbeatMode::Strict,
                None | Some("hibernate") => HeartbeatMode::Hibernate,
                Some(other) => {
                    worker::console_error!(
                        "HEARTBEAT = {other:?} is neither \"hibernate\" nor \"strict\": using hibernate"
                    );
                    HeartbeatMode::Hibernate
                }
            },
            engine: ServerConfig {
                ping_interval: millis("PING_INTERVAL", defaults.ping_interval),
                ping_timeout: millis("PING_TIMEOUT", defaults.ping_timeout),
                max_payload: millis("MAX_PAYLOAD", defaults.max_payload),
                max_sessions: millis("MAX_SESSIONS", defaults.max_sessions as u64) as usize,
                max_queued_bytes: millis("MAX_QUEUED_BYTES", defaults.max_queued_bytes),
                max_packets_per_payload: millis("MAX_PACKETS_PER_PAYLOAD", defaults.max_packets_per_payload as u64)
                    as usize,
                max_handshakes_per_minute: millis(
                    "MAX_HANDSHAKES_PER_MINUTE",
                    defaults.max_handshakes_per_minute.into(),
                ) as u32,
                ..defaults
            },
        }
    }

    /// Whether a WebSocket from a page of `origin` may connect to `host` (CORS does not
    /// protect WebSockets): the same origin, or one CORS allows. Requests without an
    /// `Origin` (not from a browser) may.
    pub fn websocket_origin_allowed(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        let same_origin = host.is_some_and(|host| origin.split_once("://").is_some_and(|(_, h)| h == host));
        same_origin || self.allowed_origin(Some(origin)).is_some()
    }

    /// Whether the answer to a request depends on its `Origin` (the allowed origins are a list,
    /// not none or `*`).
    pub fn origin_matters(&self) -> bool {
        !matches!(self.cors_origins.as_str(), "" | "*")
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    pub fn allowed_origin(&self, origin: Option<&str>) -> Option<String> {
        match (self.cors_origins.as_str(), origin) {
            ("", _) => None,
            // As socket.io's `cors: { origin: "*" }`: any origin, without credentials.
            ("*", _) => Some("*".to_owned()),
            (list, Some(origin)) if list.split(',').any(|o| o.trim() == origin) => Some(origin.to_owned()),
            _ => None,
        }
    }
}

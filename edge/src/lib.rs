//! wasmio-edge: Socket.IO served by a Cloudflare Worker and its Durable Objects, as a library.
//!
//! A deployment is a `cdylib` crate that declares its Worker with [`deployment!`], given a
//! function that builds its [`app::App`] (its namespaces and handlers):
//!
//! ```no_run
//! use wasmio_edge::app::App;
//!
//! fn app(_env: &worker::Env) -> App {
//!     App::new().namespace("/", |ns| {
//!         ns.on("chat message", |socket, text: String| Ok(socket.io().emit("chat message", &text)?))
//!     })
//! }
//!
//! wasmio_edge::deployment!(app);
//! # fn main() {}
//! ```
//!
//! The stateless fetch entry ([`serve`]) validates what the reference server validates
//! before a session exists, then forwards the request to the Durable Object named by the
//! session id (module `routing`). No sticky sessions: the sid alone finds the object. The
//! `SocketIoObject` class ([`SocketIoServer`]) is the Socket.IO server (Engine.IO sessions,
//! the sans-IO Socket.IO core of `wasmio-protocol`, the application's handlers); the
//! `EchoObject` class ([`EchoServer`]) is a bare Engine.IO echo server (`ENGINE_PATH`).
//! Everything else is served from the static assets (the `ASSETS` binding).

pub mod app;
mod args;
mod auto_pongs;
mod awaited_acks;
mod cluster;
mod config;
mod context;
mod credentials;
#[doc(hidden)] // the glue `deployment!` expands to, not an API
pub mod durable;
mod echo_object;
mod emitter;
mod engine_host;
mod handshake_request;
mod http;
mod js_json;
mod local_io;
mod object_stats;
mod open_standard_websockets;
mod persistence;
mod rate_limits;
mod relays;
mod remote_recovery;
mod room_directory;
mod routing;
mod socketio_object;
mod sync_kv;
mod test_hooks;
mod websocket_sessions;

pub use cluster::{AckResponses, RemoteHandshake, RemoteSocket};
pub use context::{ConnectContext, ConnectFuture, Context, HandlerFuture};
pub use echo_object::EchoServer;
pub use emitter::{EmitError, Emitter};
pub use engine_host::now_ms;
pub use http::bearer_matches;
pub use object_stats::{EventCounts, ObjectStats, RoomStats};
pub use socketio_object::SocketIoServer;

use wasmio_protocol::engine::ServerError;
use worker::{Env, Request, Response, Result};

use crate::config::Config;
use crate::routing::Route;

/// The browser client's classic build, its ESM build and their wasm, served below the
/// Socket.IO path under the names the official server serves its bundles by.
const CLIENT_FILES: [&str; 5] = ["socket.io.js", "socket.io.wasm", MINIFIED_CLIENT, "socket.io.esm.min.js", ESM_WASM];

/// The name the official server also serves its minified bundle under: our classic build is
/// already minified, so it is the same file (it fetches `socket.io.wasm` from beside itself).
const MINIFIED_CLIENT: &str = "socket.io.min.js";

/// Where the ESM build (`import { io } from "/socket.io/socket.io.esm.min.js"`) fetches its
/// wasm, relative to itself: the same wasm as `socket.io.wasm`.
const ESM_WASM: &str = "wasm/wasmio_bg.wasm";

/// Test hooks below the Socket.IO path (deployments with `TEST_HOOKS`): make the Socket.IO
/// object forget its memory; read how often it was woken; make it refuse (503) the next
/// `times` requests of other objects (relays, cluster operations). They reach numbered
/// object 0, or the one named by an `object` query parameter.
pub(crate) const FORGET_HOOK: &str = "__forget";
pub(crate) const STATS_HOOK: &str = "__stats";
pub(crate) const FAIL_HOOK: &str = "__fail";

/// The header by which the fetch entry tells an object its own name (it mints sids from it).
/// An instance woken by an alarm or a hibernated WebSocket has no name in its id, so the
/// Socket.IO object also keeps the name in storage ([`SocketIoServer`]).
pub(crate) const OBJECT_HEADER: &str = "X-Wasmio-Object";

/// Declares a deployment's Worker: its fetch entry ([`serve`]) and its Durable Object classes
/// `SocketIoObject` (the Socket.IO server of the [`app::App`] that `$app`, a function of the
/// Worker's `worker::Env`, builds) and `EchoObject` (the Engine.IO echo of `ENGINE_PATH`),
/// as `wrangler.toml` binds them (`SOCKETIO`, and `ECHO` when used). The crate depends on
/// `worker` and `wasm-bindgen` too (the declarations use them).
///
/// `deployment!(app, fetch = my_fetch)` makes `my_fetch`, an `async fn(worker::Request,
/// worker::Env) -> worker::Result<worker::Response>`, the fetch entry instead: it serves the
/// routes of its own (an operations endpoint, say) and hands every other request to [`serve`].
/// `deployment!(app, routes = my_routes)` calls the same kind of function for every request
/// but the Engine.IO ones (handshakes, polls, WebSockets), which go to their objects as the
/// runtime gave them ([`serve_request_or`]): the Socket.IO traffic then pays no conversion to
/// workers-rs types (a `Request` reads the runtime's `cf` object, built anew at each read).
///
/// ```no_run
/// use wasmio_edge::app::App;
/// use worker::{Env, Request, Response, Result};
///
/// fn app(_env: &Env) -> App {
///     App::new()
/// }
///
/// async fn routes(req: Request, env: Env) -> Result<Response> {
///     match req.path().as_str() {
///         "/health" => Response::ok("ok"),
///         _ => wasmio_edge::serve(req, env).await,
///     }
/// }
///
/// wasmio_edge::deployment!(app, fetch = routes);
/// // or, with the Engine.IO requests going to their objects without reaching `routes`:
/// // wasmio_edge::deployment!(app, routes = routes);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! deployment {
    ($app:expr) => {
        $crate::deployment!($app, routes = $crate::serve_other);
    };
    ($app:expr, fetch = $fetch:expr) => {
        /// The Worker's fetch entry.
        #[::worker::event(fetch)]
        pub async fn fetch(
            req: ::worker::Request,
            env: ::worker::Env,
            _ctx: ::worker::Context,
        ) -> ::worker::Result<::worker::Response> {
            ($fetch)(req, env).await
        }

        $crate::deployment!(@objects $app);
    };
    ($app:expr, routes = $routes:expr) => {
        /// The Worker's fetch entry: the Engine.IO requests go to their objects as they are,
        /// the others to the deployment's routes.
        #[::worker::event(fetch)]
        pub async fn fetch(
            req: ::worker::worker_sys::web_sys::Request,
            env: ::worker::Env,
            _ctx: ::worker::Context,
        ) -> ::worker::Result<::worker::worker_sys::web_sys::Response> {
            $crate::serve_request_or(req, env, $routes).await
        }

        $crate::deployment!(@objects $app);
    };
    (@objects $app:expr) => {
        $crate::hosted_durable_object!(
            /// The Socket.IO server object.
            SocketIoObject => $crate::SocketIoServer,
            |state, env| {
                let app = ($app)(&env);
                $crate::SocketIoServer::new(state, env, app)
            }
        );

        $crate::hosted_durable_object!(
            /// The Engine.IO echo object.
            EchoObject => $crate::EchoServer,
            $crate::EchoServer::new
        );
    };
}

/// The Worker's fetch entry: validates what needs no session, then forwards the request to
/// the Durable Object its sid names (or to a new session's object); serves the browser client
/// bundle and the static assets. For a deployment's own fetch entry (`deployment!`'s
/// `fetch =` form); the default entry calls [`serve_request`].
pub async fn serve(req: Request, env: Env) -> Result<Response> {
    // The same JS object (not `Request.clone()`, which would tee the body).
    serve_request(Clone::clone(req.inner()), env).await.map(Response::from)
}

/// [`serve`] on the runtime's own request and response: a Socket.IO request reaches its object
/// with no conversion to workers-rs types and back, and the object's response (a polling
/// body, a WebSocket) is returned as it came.
pub async fn serve_request(req: web_sys::Request, env: Env) -> Result<web_sys::Response> {
    serve_request_or(req, env, serve_other).await
}

/// [`serve_request`], with every request that is not an Engine.IO one (a handshake, a poll, a
/// WebSocket) handed to `routes` as workers-rs's `Request` (the `routes =` form of
/// [`deployment!`]); `routes` may pass it on to [`serve`].
pub async fn serve_request_or<Routes, Answer>(
    req: web_sys::Request,
    env: Env,
    routes: Routes,
) -> Result<web_sys::Response>
where
    Routes: FnOnce(Request, Env) -> Answer,
    Answer: std::future::Future<Output = Result<Response>>,
{
    let config = Config::cached(&env);
    // The runtime's URL is already parsed and serialized (WHATWG): its path and query are read
    // off the string, with no second parse per request.
    let url = req.url();
    let path = routing::path_of(&url);
    let binding = if config.engine_path.as_deref().is_some_and(|p| path.starts_with(p)) {
        "ECHO"
    } else if path == config.socketio_path || path == config.socketio_path.trim_end_matches('/') {
        "SOCKETIO"
    } else {
        return routes(Request::from(req), env).await.map(Into::into);
    };
    let method = req.method();
    if method == "OPTIONS" {
        return http::preflight(&req, &config);
    }
    // A session speaks GET and POST only (a PUT was served as a poll, its body left unread);
    // a handshake of another method gets "Bad handshake method" below, as the reference's.
    if method != "GET" && method != "POST" && routing::EngineQuery::parse(routing::query_of(&url)).sid.is_some() {
        return http::engine_error(&req, &config, ServerError::BadRequest);
    }
    let headers = req.headers();
    let upgrade = routing::asks_websocket(headers.get("Upgrade")?.as_deref());
    if upgrade && !config.websocket_origin_allowed(headers.get("Origin")?.as_deref(), headers.get("Host")?.as_deref()) {
        return http::engine_error(&req, &config, ServerError::Forbidden);
    }
    // Echo sessions all live in the first object; Socket.IO sessions spread over the shards.
    let shards = if binding == "SOCKETIO" { config.shards } else { 1 };
    match routing::route(routing::query_of(&url), method == "GET", upgrade, shards, engine_host::random_u32) {
        Err(error) => http::engine_error(&req, &config, error),
        Ok(Route { object }) => forward(&env, binding, &object, &req).await,
    }
}

/// The requests that are not Engine.IO's: the client bundle, the test hooks, the emit
/// endpoint, unknown paths under the Socket.IO path, and static assets (the routes of
/// `deployment!(app)`, which has none of its own).
#[doc(hidden)]
pub async fn serve_other(req: Request, env: Env) -> Result<Response> {
    let (env, config) = (&env, &Config::cached(&env));
    let path = req.path();
    if CLIENT_FILES.iter().any(|file| path == format!("{}{file}", config.socketio_path)) {
        client_bundle(env, &req, &path).await
    } else if config.test_hooks
        && [FORGET_HOOK, STATS_HOOK, FAIL_HOOK].iter().any(|hook| path == format!("{}{hook}", config.socketio_path))
    {
        let object = routing::query_value(routing::query_of(&req.inner().url()), "object")
            .unwrap_or_else(|| routing::DEFAULT_OBJECT.to_owned());
        forward(env, "SOCKETIO", &object, req.inner()).await.map(Response::from)
    } else if path == format!("{}{}", config.socketio_path, emitter::EMIT_PATH) {
        emitter::serve_emit(req, env, config).await
    } else if path.starts_with(&config.socketio_path) {
        Response::error("Not found", 404)
    } else {
        static_asset(req, env).await
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// A Durable Object stub seen through `fetch(request)`: the object's response as it comes.
    type ObjectStub;

    #[wasm_bindgen(method, catch)]
    fn fetch(this: &ObjectStub, req: &web_sys::Request) -> std::result::Result<js_sys::Promise, wasm_bindgen::JsValue>;
}

/// Forwards `req` to the object `object` of `binding`, telling it its name ([`OBJECT_HEADER`]).
/// The object gets the method, headers and body, not the runtime's `cf` properties: workers-rs
/// reads `cf` whenever it wraps a request, and workerd builds that object anew at each read
/// (a parse of its serialized form), about 2.5% of the worker's CPU time under polling echoes
/// in a profile of the bench worker, for a value the object never uses.
async fn forward(env: &Env, binding: &str, object: &str, req: &web_sys::Request) -> Result<web_sys::Response> {
    let init = web_sys::RequestInit::new();
    init.set_method(&req.method());
    init.set_headers(&req.headers());
    if let Some(body) = req.body() {
        init.set_body(&body);
    }
    let forwarded = web_sys::Request::new_with_str_and_init(&req.url(), &init)?;
    forwarded.headers().set(OBJECT_HEADER, object)?;
    let stub: ObjectStub = env.durable_object(binding)?.get_by_name(object)?.into_rpc();
    let response = worker::wasm_bindgen_futures::JsFuture::from(stub.fetch(&forwarded)?).await?;
    Ok(wasm_bindgen::JsCast::unchecked_into(response))
}

/// The browser client (`<script src="/socket.io/socket.io.js">`, or `socket.io.min.js`, and the
/// `socket.io.wasm` it fetches; the ESM build and its wasm), copied into the assets by the
/// build once the client package is built.
async fn client_bundle(env: &Env, req: &Request, path: &str) -> Result<Response> {
    let aliases = [(MINIFIED_CLIENT, "socket.io.js"), (ESM_WASM, "socket.io.wasm")];
    let path = aliases
        .iter()
        .find_map(|(alias, file)| Some(format!("{}{file}", path.strip_suffix(alias)?)))
        .unwrap_or_else(|| path.to_owned());
    let Ok(assets) = env.assets("ASSETS") else {
        let message = "wasmio: this deployment serves no browser client: give it static assets (an [assets] \
                       section with binding = \"ASSETS\") whose socket.io/ folder holds the client, as \
                       templates/edge-app/wrangler.toml shows\n";
        return Ok(Response::ok(message)?.with_status(404));
    };
    // The request's headers go along, so that a page revalidating its copy (`If-None-Match`)
    // is answered 304 without the file.
    let mut init = worker::RequestInit::new();
    init.with_headers(req.headers().clone());
    let response = assets.fetch(format!("https://assets.local{path}"), Some(init)).await?;
    if matches!(response.status_code(), 200 | 304) {
        return Ok(response);
    }
    let message = "wasmio: the browser client is not among this deployment's assets: copy it to their \
                   socket.io/ folder (`make build` puts it in www/socket.io/)\n";
    Ok(Response::ok(message)?.with_status(404))
}

/// A file of `www/`, or 404.
async fn static_asset(req: Request, env: &Env) -> Result<Response> {
    match env.assets("ASSETS") {
        Ok(assets) => assets.fetch_request(req).await,
        Err(_) => Response::error("Not found", 404),
    }
}

//! wasmio-edge: Socket.IO served by a Cloudflare Worker and its Durable Objects.
//!
//! The stateless fetch entry (`fetch`) validates what the reference server validates
//! before a session exists, then forwards the request to the Durable Object named by the
//! session id (module `routing`). No sticky sessions: the sid alone finds the object.
//! [`SocketIoObject`] is the Socket.IO server (Engine.IO sessions, the sans-IO Socket.IO core
//! of `wasmio-protocol`, the application's handlers declared with [`app`]);
//! [`EchoObject`] is the bare Engine.IO echo server of the conformance deployment.
//! Everything else is served from the static assets (`www/`).

pub mod app;
mod apps;
mod config;
mod durable;
mod echo_object;
mod engine_host;
mod http;
mod rate_limits;
mod routing;
mod socketio_object;

pub use echo_object::EchoObject;
pub use socketio_object::SocketIoObject;

use wasmio_protocol::engine::ServerError;
use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::config::Config;
use crate::routing::Route;

/// Where the browser client bundle is served, below the Socket.IO path.
const CLIENT_BUNDLE: &str = "socket.io.js";

/// Test hooks below the Socket.IO path (deployments with `TEST_HOOKS`): make the Socket.IO
/// object forget its memory; read how often it was woken. They reach numbered object 0, or
/// the one named by an `object` query parameter.
pub(crate) const FORGET_HOOK: &str = "__forget";
pub(crate) const STATS_HOOK: &str = "__stats";

/// The header by which the fetch entry tells an object its own name (it mints sids from it).
/// An instance woken by an alarm or a hibernated WebSocket has no name in its id, so the
/// Socket.IO object also keeps the name in storage ([`SocketIoObject`]).
pub(crate) const OBJECT_HEADER: &str = "X-Wasmio-Object";

/// Fetch entry of the worker.
#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = Config::from_env(&env);
    let path = req.path();
    let binding = if config.engine_path.as_deref().is_some_and(|p| path.starts_with(p)) {
        "ECHO"
    } else if path == format!("{}{CLIENT_BUNDLE}", config.socketio_path) {
        return client_bundle(&env, &path).await;
    } else if config.test_hooks
        && [FORGET_HOOK, STATS_HOOK].iter().any(|hook| path == format!("{}{hook}", config.socketio_path))
    {
        let object = routing::query_param(&req.url()?, "object").unwrap_or_else(|| routing::DEFAULT_OBJECT.to_owned());
        return forward(&env, "SOCKETIO", &object, req).await;
    } else if path == config.socketio_path || path == config.socketio_path.trim_end_matches('/') {
        "SOCKETIO"
    } else if path.starts_with(&config.socketio_path) {
        return Response::error("Not found", 404);
    } else {
        return static_asset(req, &env).await;
    };
    if req.method() == Method::Options {
        return http::preflight(&req, &config);
    }
    if routing::is_websocket_upgrade(&req) {
        let headers = req.headers();
        if !config.websocket_origin_allowed(headers.get("Origin")?.as_deref(), headers.get("Host")?.as_deref()) {
            return http::engine_error(&req, &config, ServerError::Forbidden);
        }
    }
    // Echo sessions all live in the first object; Socket.IO sessions spread over the shards.
    let shards = if binding == "SOCKETIO" { config.shards } else { 1 };
    match routing::route(&req, &req.url()?, shards, engine_host::random_u32()) {
        Err(error) => http::engine_error(&req, &config, error),
        Ok(Route { object }) => forward(&env, binding, &object, req).await,
    }
}

/// Hands a request to the named object of `binding`, telling it its name ([`OBJECT_HEADER`],
/// set here whatever the client sent).
async fn forward(env: &Env, binding: &str, object: &str, req: Request) -> Result<Response> {
    let mut req = req.clone_mut()?;
    req.headers_mut()?.set(OBJECT_HEADER, object)?;
    env.durable_object(binding)?.get_by_name(object)?.fetch_with_request(req).await
}

/// The browser client (`<script src="/socket.io/socket.io.js">`), copied into the assets by
/// the build once the client package is built.
async fn client_bundle(env: &Env, path: &str) -> Result<Response> {
    if let Ok(assets) = env.assets("ASSETS") {
        let response = assets.fetch(format!("https://assets.local{path}"), None).await?;
        if response.status_code() == 200 {
            return Ok(response);
        }
    }
    let message = "wasmio: the browser client bundle is not built yet (it comes from pkg/, built by `make build` once the browser client exists)\n";
    Ok(Response::ok(message)?.with_status(404))
}

/// A file of `www/`, or 404.
async fn static_asset(req: Request, env: &Env) -> Result<Response> {
    match env.assets("ASSETS") {
        Ok(assets) => assets.fetch_request(req).await,
        Err(_) => Response::error("Not found", 404),
    }
}

//! wasmio-edge: Engine.IO / Socket.IO served by a Cloudflare Worker and its Durable Objects.
//!
//! The stateless fetch entry ([`fetch`]) validates what the reference server validates
//! before a session exists, then forwards the request to the Durable Object named by the
//! session id ([`routing`]), which runs the sans-IO session machines of `wasmio-protocol`
//! ([`EngineObject`]). No sticky sessions: the sid alone finds the object.
//!
//! Today the objects speak Engine.IO (polling, WebSocket with hibernation, upgrade,
//! heartbeats by alarm) and run the conformance echo application; the Socket.IO layer
//! (namespaces, rooms, acks) is being built on top (issue 3).

mod config;
mod engine_object;
mod http;
mod routing;

pub use engine_object::EngineObject;

use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::config::Config;
use crate::routing::Route;

/// Fetch entry of the worker.
#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = Config::from_env(&env);
    let url = req.url()?;
    if !url.path().starts_with(&config.engine_path) {
        return Response::error("Not found", 404);
    }
    if req.method() == Method::Options {
        return http::preflight(&req, &config);
    }
    match routing::route(&req, &url) {
        Err(error) => http::engine_error(&req, &config, error),
        Ok(Route { object }) => {
            let stub = env.durable_object("ENGINE")?.get_by_name(&object)?;
            stub.fetch_with_request(req).await
        }
    }
}

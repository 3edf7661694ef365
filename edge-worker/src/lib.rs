//! wasmio-edge: the Socket.IO server as a Cloudflare Worker with Durable Objects.
//!
//! The server itself is delivered by the edge server issue. Until then the worker answers
//! every request with `501 Not Implemented` and says so, so that a deployment of this crate
//! can never be mistaken for a working Socket.IO endpoint.

use worker::{event, Context, Env, Request, Response, Result};

/// Fetch entry of the worker.
#[event(fetch)]
pub async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let body = format!(
        "wasmio edge server: not built yet (protocol core speaks Engine.IO v{} / Socket.IO v{})\n",
        wasmio_protocol::engine::PROTOCOL_VERSION,
        wasmio_protocol::socket::PROTOCOL_VERSION
    );
    Ok(Response::ok(body)?.with_status(501))
}

//! The demo's operations endpoint: `GET /api/ops` with `Authorization: Bearer <OPS_TOKEN>`
//! answers, per Socket.IO object of the deployment, its sessions, sockets, rooms, the events
//! that woke its current instance and its next alarm ([`wasmio_edge::ObjectStats`]), as JSON
//! `{ "now": <ms>, "objects": [...] }`. The page `/app/ops/` shows them.
//!
//! `OPS_TOKEN` is a Worker secret (`wrangler secret put OPS_TOKEN`) or, for local
//! development, a variable (`make demo` passes one). Without it the endpoint answers 404; with
//! another token, 401. Every other request goes to the library's fetch entry.

use wasmio_edge::{bearer_matches, now_ms, Emitter};
use worker::{Env, Method, Request, Response, Result};

/// The endpoint's path.
const OPS_PATH: &str = "/api/ops";

/// The Worker's routes beside the Engine.IO requests: the operations endpoint, then the
/// library's entry.
pub async fn routes(req: Request, env: Env) -> Result<Response> {
    if req.path() != OPS_PATH {
        return wasmio_edge::serve(req, env).await;
    }
    let token = env.secret("OPS_TOKEN").map(|s| s.to_string()).or_else(|_| env.var("OPS_TOKEN").map(|v| v.to_string()));
    let Some(token) = token.ok().filter(|t| !t.is_empty()) else {
        return Response::error("Not found", 404);
    };
    if req.method() != Method::Get {
        return Response::error("Method not allowed", 405);
    }
    if !bearer_matches(&req, &token)? {
        return Response::error("Unauthorized", 401);
    }
    match Emitter::new(&env).object_stats().await {
        Ok(objects) => {
            let mut response = Response::from_json(&serde_json::json!({ "now": now_ms(), "objects": objects }))?;
            response.headers_mut().set("Cache-Control", "no-store")?;
            Ok(response)
        }
        Err(error) => Response::error(format!("the objects did not answer: {error}"), 502),
    }
}

//! HTTP responses as the reference server writes them: errors, CORS, polling bodies.

use wasmio_protocol::engine::ServerError;
use worker::{Headers, Request, Response, Result};

use crate::config::Config;

fn cors_headers(req: &Request, config: &Config) -> Result<Headers> {
    let headers = Headers::new();
    let origin = req.headers().get("Origin")?;
    if let Some(allowed) = config.allowed_origin(origin.as_deref()) {
        headers.set("Access-Control-Allow-Origin", &allowed)?;
        if allowed != "*" {
            headers.set("Access-Control-Allow-Credentials", "true")?;
            headers.set("Vary", "Origin")?;
        }
    }
    Ok(headers)
}

/// `{"code":n,"message":"..."}` with status 400 (403 for `Forbidden`).
pub fn engine_error(req: &Request, config: &Config, error: ServerError) -> Result<Response> {
    let headers = cors_headers(req, config)?;
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(error.body())?.with_status(error.status()).with_headers(headers))
}

/// A plain status with an empty body (413 for an oversize POST, 400 for an overlapping one).
pub fn status(req: &Request, config: &Config, status: u16) -> Result<Response> {
    Ok(Response::empty()?.with_status(status).with_headers(cors_headers(req, config)?))
}

/// A polling response carrying an Engine.IO payload (or `ok` for a POST).
pub fn text(req: &Request, config: &Config, body: String) -> Result<Response> {
    let headers = cors_headers(req, config)?;
    headers.set("Content-Type", "text/plain; charset=UTF-8")?;
    Ok(Response::ok(body)?.with_headers(headers))
}

/// The answer to a CORS preflight request.
pub fn preflight(req: &Request, config: &Config) -> Result<Response> {
    let headers = cors_headers(req, config)?;
    headers.set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")?;
    if let Some(requested) = req.headers().get("Access-Control-Request-Headers")? {
        headers.set("Access-Control-Allow-Headers", &requested)?;
    }
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

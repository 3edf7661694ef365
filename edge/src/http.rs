//! HTTP responses as the reference server writes them: errors, CORS, polling bodies.

use std::cell::RefCell;

use wasm_bindgen::JsCast;
use wasmio_protocol::engine::ServerError;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Headers, Request, Response, Result};

use crate::config::Config;

/// Whether `req` carries `Authorization: Bearer <secret>`, compared in a time that does not
/// depend on where a wrong token differs: for endpoints behind a secret (`EMIT_SECRET`, or a
/// deployment's own behind [`crate::deployment`]'s `fetch =` form).
pub fn bearer_matches(req: &Request, secret: &str) -> Result<bool> {
    let given = req.headers().get("Authorization")?.unwrap_or_default();
    let expected = format!("Bearer {secret}");
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    Ok(a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0)
}

/// The `Access-Control-Allow-Origin` value for `req`, if any (its `Origin` header is read only
/// when the configured origins are a list).
fn allowed_origin(req: &web_sys::Request, config: &Config) -> Result<Option<String>> {
    let origin = match config.origin_matters() {
        true => req.headers().get("Origin")?,
        false => None,
    };
    Ok(config.allowed_origin(origin.as_deref()))
}

fn cors_headers(allowed: Option<&str>) -> Result<Headers> {
    let headers = Headers::new();
    if let Some(allowed) = allowed {
        headers.set("Access-Control-Allow-Origin", allowed)?;
        if allowed != "*" {
            headers.set("Access-Control-Allow-Credentials", "true")?;
            headers.set("Vary", "Origin")?;
        }
    }
    Ok(headers)
}

/// `{"code":n,"message":"..."}` with status 400 (403 for `Forbidden`).
pub fn engine_error(req: &web_sys::Request, config: &Config, error: ServerError) -> Result<web_sys::Response> {
    let headers = cors_headers(allowed_origin(req, config)?.as_deref())?;
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(error.body())?.with_status(error.status()).with_headers(headers).into())
}

/// A plain status with an empty body (413 for an oversize POST, 400 for an overlapping one).
pub fn status(req: &web_sys::Request, config: &Config, status: u16) -> Result<web_sys::Response> {
    let headers = cors_headers(allowed_origin(req, config)?.as_deref())?;
    Ok(Response::empty()?.with_status(status).with_headers(headers).into())
}

/// 429 with `Retry-After` (seconds), to a client that made too many handshakes.
pub fn too_many_requests(req: &web_sys::Request, config: &Config, retry_after_s: u64) -> Result<web_sys::Response> {
    let headers = cors_headers(allowed_origin(req, config)?.as_deref())?;
    headers.set("Retry-After", &retry_after_s.to_string())?;
    Ok(Response::empty()?.with_status(429).with_headers(headers).into())
}

thread_local! {
    /// The init of a polling response for each `Access-Control-Allow-Origin` value answered
    /// (none, `*`, or one of the configured origins: a bounded set), made once: each
    /// `new Response` copies its headers.
    static TEXT_INITS: RefCell<Vec<(Option<String>, web_sys::ResponseInit)>> = const { RefCell::new(Vec::new()) };
}

/// A polling response carrying an Engine.IO payload (or `ok` for a POST), never to be cached
/// (`Cache-Control: no-store`, as the reference sends: a proxy must not answer a poll twice).
/// The hot path of long-polling: one `new Response(body, init)`, with an init made once.
pub fn text(req: &web_sys::Request, config: &Config, body: &str) -> Result<web_sys::Response> {
    let allowed = allowed_origin(req, config)?;
    TEXT_INITS.with_borrow_mut(|inits| {
        let init = match inits.iter().position(|(origin, _)| *origin == allowed) {
            Some(i) => &inits[i].1,
            None => {
                let headers = cors_headers(allowed.as_deref())?;
                headers.set("Content-Type", "text/plain; charset=UTF-8")?;
                headers.set("Cache-Control", "no-store")?;
                let init = web_sys::ResponseInit::new();
                init.set_headers(headers.as_ref());
                inits.push((allowed, init));
                &inits[inits.len() - 1].1
            }
        };
        Ok(web_sys::Response::new_with_opt_str_and_init(Some(body), init)?)
    })
}

/// The answer to a CORS preflight request.
pub fn preflight(req: &web_sys::Request, config: &Config) -> Result<web_sys::Response> {
    let headers = cors_headers(allowed_origin(req, config)?.as_deref())?;
    headers.set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")?;
    if let Some(requested) = req.headers().get("Access-Control-Request-Headers")? {
        headers.set("Access-Control-Allow-Headers", &requested)?;
        // The answer depends on the request's headers (a cache keeps it per value), as the
        // `cors` package's that socket.io uses says.
        headers.append("Vary", "Access-Control-Request-Headers")?;
    }
    Ok(Response::empty()?.with_status(204).with_headers(headers).into())
}

/// A POST body read with a bound, the way engine.io counts while the body streams in.
pub enum Body {
    /// The whole body, when it was kept (invalid UTF-8 is replaced, as a text decoder does).
    Complete(String),
    /// The body was read to its end and dropped chunk by chunk (nobody wanted it).
    Drained,
    /// The body is longer than the bound (the answer is 413); none of it is held.
    TooLarge,
}

/// Reads `req`'s body, holding at most `limit` bytes. A longer body is read to its end and
/// dropped as it comes, up to [`DRAIN_FACTOR`] times `limit`, so that the connection stays
/// usable for the next request (workerd, and the proxy of `wrangler dev`, break a connection
/// whose request body is left unread); past that, or with a `Content-Length` past that, reading
/// stops at once. With `keep: false` the bytes are dropped as they come, whatever their length.
pub async fn read_body(req: &web_sys::Request, limit: u64, keep: bool) -> Result<Body> {
    let drain_limit = limit.saturating_mul(DRAIN_FACTOR);
    let declared = req.headers().get("Content-Length")?.and_then(|n| n.parse::<u64>().ok());
    if declared.is_some_and(|n| n > drain_limit) {
        return Ok(Body::TooLarge);
    }
    // A declared length within the bound is all the body there is (HTTP framing): read it
    // whole, in one step, by the runtime.
    if declared.is_some_and(|n| n <= limit) {
        let text = JsFuture::from(req.text()?).await?.as_string().unwrap_or_default();
        return Ok(if keep { Body::Complete(text) } else { Body::Drained });
    }
    // No body at all reads as an empty one.
    let Some(stream) = req.body() else {
        return Ok(if keep { Body::Complete(String::new()) } else { Body::Drained });
    };
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut kept = Vec::new();
    let mut length = 0u64;
    loop {
        let step = JsFuture::from(reader.read()).await?;
        if js_sys::Reflect::get(&step, &"done".into())?.is_truthy() {
            break;
        }
        // Each chunk's length is read on the JS side: only bytes that are kept enter wasm.
        let chunk: js_sys::Uint8Array = js_sys::Reflect::get(&step, &"value".into())?.unchecked_into();
        length += u64::from(chunk.byte_length());
        if length > drain_limit {
            reader.release_lock();
            return Ok(Body::TooLarge);
        }
        if length > limit {
            kept = Vec::new();
        } else if keep {
            let start = kept.len();
            kept.resize(start + chunk.byte_length() as usize, 0);
            chunk.copy_to(&mut kept[start..]);
        }
    }
    Ok(match (length > limit, keep) {
        (true, _) => Body::TooLarge,
        (false, true) => Body::Complete(
            String::from_utf8(kept).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
        (false, false) => Body::Drained,
    })
}

/// How many times the body limit an oversize body is read (and dropped) before its answer.
pub const DRAIN_FACTOR: u64 = 4;

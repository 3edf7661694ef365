//! What a handshake request tells about its client, as socket.io's `socket.handshake` shows
//! it: the query, the headers, the address, and the credentials a connect middleware may
//! read.

use wasmio_protocol::json::write_string;
use worker::wasm_bindgen::JsCast;
use worker::Result;

/// Request headers left out of `socket.handshake.headers`: the WebSocket upgrade's and the
/// connection's own, which tell the application nothing, and the credentials, which are kept
/// apart ([`Credentials`], see crate::credentials) rather than in every snapshot of the session.
const LEFT_OUT_HEADERS: [&str; 9] = [
    "authorization",
    "connection",
    "content-length",
    "cookie",
    "sec-websocket-extensions",
    "sec-websocket-key",
    "sec-websocket-version",
    "transfer-encoding",
    "upgrade",
];

/// The most `socket.handshake.headers` holds, as JSON text: the headers travel in the
/// session's snapshot (in its WebSocket's attachment while that stays under 2 KiB). A header
/// that would take it past this is left out, with a warning naming it.
pub const MAX_HANDSHAKE_HEADERS_LEN: usize = 4096;

/// What the handshake request tells about the client (socket.io's `handshake`).
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// The query parameters, a JSON object text.
    pub query: String,
    /// The request headers, a JSON object text.
    pub headers: String,
    /// The client address (`CF-Connecting-IP`).
    pub address: String,
    /// The `Cookie` and `Authorization` headers, when sent and not longer than
    /// [`MAX_CREDENTIAL_LEN`]: kept apart, for connect middlewares.
    pub credentials: Credentials,
}

/// The `Cookie` and `Authorization` headers of a handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `Cookie`.
    pub cookie: Option<String>,
    /// `Authorization`.
    pub authorization: Option<String>,
}

/// The longest `Cookie` or `Authorization` header kept for connect middlewares (a longer one
/// is dropped, with a warning): what every session may hold in memory and storage.
pub const MAX_CREDENTIAL_LEN: usize = 4096;

/// The handshake request as socket.io's `handshake` shows it.
pub(crate) fn request_info(req: &web_sys::Request, url_query: &str) -> Result<RequestInfo> {
    let mut query = String::from("{");
    for (i, (key, value)) in form_urlencoded::parse(url_query.as_bytes()).enumerate() {
        if i > 0 {
            query.push(',');
        }
        write_string(&mut query, &key);
        query.push(':');
        write_string(&mut query, &value);
    }
    query.push('}');
    let headers = headers_json(&req.headers())?;
    let address = req.headers().get("CF-Connecting-IP")?.unwrap_or_else(|| "127.0.0.1".to_owned());
    let credential = |name: &str| -> Result<Option<String>> {
        Ok(req.headers().get(name)?.filter(|value| {
            let kept = value.len() <= MAX_CREDENTIAL_LEN;
            if !kept {
                worker::console_warn!("a {name} header of {} bytes was not kept for connect middlewares", value.len());
            }
            kept
        }))
    };
    let credentials = Credentials { cookie: credential("Cookie")?, authorization: credential("Authorization")? };
    Ok(RequestInfo { query, headers, address, credentials })
}

/// The request's headers as a JSON object text (names in lower case, as `Headers` gives them),
/// without [`LEFT_OUT_HEADERS`] and within [`MAX_HANDSHAKE_HEADERS_LEN`].
fn headers_json(headers: &web_sys::Headers) -> Result<String> {
    let mut json = String::from("{");
    let mut dropped = Vec::new();
    let entries =
        js_sys::try_iter(headers)?.ok_or_else(|| worker::Error::RustError("Headers is not iterable".into()))?;
    for entry in entries {
        let pair: js_sys::Array = entry?.unchecked_into();
        let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) else { continue };
        if LEFT_OUT_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let before = json.len();
        if before > 1 {
            json.push(',');
        }
        write_string(&mut json, &name);
        json.push(':');
        write_string(&mut json, &value);
        // Room kept for the closing brace.
        if json.len() >= MAX_HANDSHAKE_HEADERS_LEN {
            json.truncate(before);
            dropped.push(name);
        }
    }
    json.push('}');
    if !dropped.is_empty() {
        worker::console_warn!(
            "handshake headers past {MAX_HANDSHAKE_HEADERS_LEN} bytes left out of handshake.headers: {}",
            dropped.join(", ")
        );
    }
    Ok(json)
}

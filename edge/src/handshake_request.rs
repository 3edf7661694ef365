//! What a handshake request tells about its client, as socket.io's `socket.handshake` shows
//! it: the query, a few headers, the address, and the credentials a connect middleware may
//! read.

use wasmio_protocol::json::write_string;
use worker::Result;

/// The request headers kept in `socket.handshake.headers` (each cut to 200 characters).
const HANDSHAKE_HEADERS: [&str; 3] = ["host", "origin", "user-agent"];

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
    /// [`MAX_CREDENTIAL_LEN`]: kept in memory only, for connect middlewares.
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
/// is dropped, with a warning): what every session may hold in memory.
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
    // Only a few headers: the handshake travels in a WebSocket attachment of 2 KiB at most.
    let mut headers = String::from("{");
    for name in HANDSHAKE_HEADERS {
        if let Some(value) = req.headers().get(name)? {
            if headers.len() > 1 {
                headers.push(',');
            }
            write_string(&mut headers, name);
            headers.push(':');
            write_string(&mut headers, &value.chars().take(200).collect::<String>());
        }
    }
    headers.push('}');
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

//! From a request to the Durable Object that owns its session: the checks the reference
//! server makes before a session exists, and the sid format that names the object.

use wasmio_protocol::engine::{ServerError, TransportKind};

/// The first numbered object (the only one when `SHARDS` is 1).
pub const DEFAULT_OBJECT: &str = "0";

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    /// Name of the Durable Object.
    pub object: String,
}

/// A session id: `<object name>-<random>`; the object name has no `-`.
pub fn new_sid(object: &str, random: &str) -> String {
    format!("{object}-{random}")
}

/// The object name inside a sid.
pub fn object_of_sid(sid: &str) -> Option<&str> {
    let (object, rest) = sid.split_once('-')?;
    (!object.is_empty() && !rest.is_empty()).then_some(object)
}

/// Whether `name` is one of the `shards` numbered objects (`0`, `1`, ...: canonical decimal).
pub fn is_numbered_object(name: &str, shards: u32) -> bool {
    name.parse::<u32>().is_ok_and(|n| n < shards.max(1) && n.to_string() == name)
}

/// The value of parameter `name` in `query` (a URL's part after `?`, see [`query_of`]): its
/// last one when it is repeated, as the reference server reads a query.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == name).last().map(|(_, v)| v.into_owned())
}

/// What Engine.IO reads of a request's query, in one pass, each repeated parameter by its
/// last value as the reference server reads a query.
#[derive(Debug, PartialEq, Eq)]
pub struct EngineQuery {
    /// `transport`, when it names a transport served.
    pub transport: Option<TransportKind>,
    /// `sid`: the session the request names; none when absent or empty (a handshake).
    pub sid: Option<String>,
    /// Whether `EIO` is `4`, the only protocol revision served.
    pub v4: bool,
}

impl EngineQuery {
    /// Reads `query` (a URL's part after `?`, see [`query_of`]).
    pub fn parse(query: &str) -> Self {
        let (mut transport, mut sid, mut eio) = (None, None, None);
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "transport" => transport = Some(value),
                "sid" => sid = Some(value),
                "EIO" => eio = Some(value),
                _ => {}
            }
        }
        EngineQuery {
            transport: transport.and_then(|name| TransportKind::from_name(&name)),
            sid: sid.filter(|sid| !sid.is_empty()).map(|sid| sid.into_owned()),
            v4: eio.as_deref() == Some("4"),
        }
    }
}

/// The query of a serialized URL (after `?`, before `#`), read without parsing the rest.
pub fn query_of(url: &str) -> &str {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    query.split_once('#').map_or(query, |(query, _)| query)
}

/// The path of a serialized URL (`https://host/path?query` -> `/path`).
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |start| &after_scheme[start..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

/// Whether the request asks for a WebSocket upgrade.
pub fn is_websocket_upgrade(req: &web_sys::Request) -> bool {
    asks_websocket(req.headers().get("Upgrade").ok().flatten().as_deref())
}

/// Whether an `Upgrade` header (if any) asks for a WebSocket.
pub fn asks_websocket(upgrade: Option<&str>) -> bool {
    upgrade.is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The numbered object a new session goes to: the one its `partition` query parameter hashes
/// to (all sessions of a partition, e.g. a game, share an object), else `random % shards`.
pub fn shard_for(partition: Option<&str>, shards: u32, random: impl FnOnce() -> u32) -> String {
    let n = match partition {
        // FNV-1a: stable across deployments and languages.
        Some(key) => key.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193)),
        None => random(),
    };
    (n % shards.max(1)).to_string()
}

/// Validates the request as the reference `engine.io` server's `verify()` and `handshake()` do
/// and names the object that must serve it (a new session goes to one of `shards` objects,
/// picked with `random` when no `partition` names one). `query`: the request URL's query
/// ([`query_of`]); `is_get`: the request's method is GET; `upgrade`: it asks for a WebSocket
/// ([`is_websocket_upgrade`]).
pub fn route(
    query: &str,
    is_get: bool,
    upgrade: bool,
    shards: u32,
    random: impl FnOnce() -> u32,
) -> Result<Route, ServerError> {
    let engine_query = EngineQuery::parse(query);
    let Some(transport) = engine_query.transport else {
        return Err(ServerError::UnknownTransport);
    };
    if let Some(sid) = engine_query.sid {
        // Only a numbered object of this deployment: never create an object a client names.
        let object = object_of_sid(&sid).filter(|o| is_numbered_object(o, shards)).ok_or(ServerError::UnknownSid)?;
        return Ok(Route { object: object.to_owned() });
    }
    if !is_get {
        return Err(ServerError::BadHandshakeMethod);
    }
    if transport == TransportKind::WebSocket && !upgrade {
        return Err(ServerError::BadRequest);
    }
    if !engine_query.v4 {
        return Err(ServerError::UnsupportedProtocolVersion);
    }
    let partition = query_value(query, "partition");
    Ok(Route { object: shard_for(partition.as_deref(), shards, random) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_query_and_path_of_a_serialized_url() {
        let url = "https://example.test:8787/socket.io/?EIO=4&transport=polling&sid=0-a%2Bb#frag";
        assert_eq!(query_of(url), "EIO=4&transport=polling&sid=0-a%2Bb");
        assert_eq!(query_value(query_of(url), "sid").as_deref(), Some("0-a+b"));
        assert_eq!(query_value(query_of(url), "b64"), None);
        assert_eq!(query_value("EIO=3&EIO=4", "EIO").as_deref(), Some("4"), "the last of a repeated parameter");
        let read = EngineQuery::parse("EIO=4&EIO=3&transport=websocket&transport=polling&sid=");
        assert_eq!(read, EngineQuery { transport: Some(TransportKind::Polling), sid: None, v4: false });
        let read = EngineQuery::parse(query_of(url));
        assert_eq!(read, EngineQuery { transport: Some(TransportKind::Polling), sid: Some("0-a+b".into()), v4: true });
        assert_eq!(path_of(url), "/socket.io/");
        assert_eq!(path_of("https://object/__relay"), "/__relay");
        assert_eq!(path_of("https://object"), "/");
        assert_eq!(query_of("https://object/__relay"), "");
    }
}

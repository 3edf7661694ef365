//! The server of socket.io-client's own test suite (tests/client/official-suite/suite/support/server.ts),
//! as an edge application: served by this deployment when its `APP` variable is
//! `client-suite`, so that the official client's suite runs against the edge worker
//! (tests/edge/official-client-suite.test.mjs). Each handler does what the suite's Node server
//! does; where that server throws on an unexpected argument (`expect(...)`), this one does
//! not answer, which fails the test as a throw there does.

use serde_json::{json, Value};

use wasmio_edge::app::{AckError, App, Args, Bytes, ConnectError, HandlerResult, Namespace, Socket};

/// socket.io's `maxDisconnectionDuration` default (`connectionStateRecovery: {}`).
pub(crate) const RECOVERY_MS: u64 = 120_000;

/// How long the server waits for the client's answer to its `ack` event.
const ACK_TIMEOUT_MS: u64 = 10_000;

/// The bytes the suite's server sends (`Buffer.from("asdfasdf")`).
const ASDF: &[u8] = b"asdfasdf";

/// The suite's server: namespaces `/`, `/foo`, `/abc`, `/no`, and the empty `/timeout_socket`,
/// `/valid` and `/asd`.
pub fn app() -> App {
    App::new()
        .connection_state_recovery(RECOVERY_MS)
        .namespace("/", main_namespace)
        .namespace("/foo", |ns| ns.on_args("getId", |socket, _| ack_id(socket)))
        .namespace("/timeout_socket", |ns| ns)
        .namespace("/valid", |ns| ns)
        .namespace("/asd", |ns| ns)
        .namespace("/abc", |ns| {
            ns.on_connection(|socket| {
                let handshake = handshake(socket);
                Ok(socket.emit("handshake", &handshake)?)
            })
        })
        .namespace("/no", |ns| ns.use_connect(|_| Err(ConnectError::new("Auth failed (custom namespace)"))))
}

fn main_namespace(ns: Namespace) -> Namespace {
    ns.use_connect(|handshake| {
        let query: Value = serde_json::from_str(handshake.query).unwrap_or(Value::Null);
        match query.get("fail") {
            Some(_) => Err(ConnectError::new("Auth failed (main namespace)")),
            None => Ok(()),
        }
    })
    .on_args("hi", |socket, _| Ok(socket.emit_args("hi", no_args())?))
    .on_args("echo", |socket, args| Ok(socket.ack_args(args)?))
    // The server asks back, and answers "got it" to (5, {test: true}).
    .on_args("ack", |socket, _| Ok(socket.emit_args_with_ack("ack", no_args(), ACK_TIMEOUT_MS, "ack-answer")?))
    .on_ack("ack-answer", |socket, answer: Result<Args, AckError>| {
        let (a, b) = answer.ok().and_then(|args| args.parse::<(Value, Value)>().ok()).unwrap_or_default();
        match a == json!(5) && b.get("test").is_some_and(truthy) {
            true => Ok(socket.emit_args("got it", no_args())?),
            false => Ok(()),
        }
    })
    .on_args("getAckDate", |socket, _| Ok(socket.ack(&now_iso())?))
    .on_args("getDate", |socket, _| Ok(socket.emit("takeDate", &now_iso())?))
    .on_args("getDateObj", |socket, _| Ok(socket.emit("takeDateObj", &json!({ "date": now_iso() }))?))
    .on_args("getUtf8", |socket, _| {
        for text in ["てすと", "Я Б Г Д Ж Й", "Ä ä Ü ü ß", "utf8 — string", "utf8 — string"] {
            socket.emit("takeUtf8", text)?;
        }
        Ok(())
    })
    .on_args("false", |socket, _| Ok(socket.emit("false", &false)?))
    .on_args("doge", |socket, _| Ok(socket.emit("doge", &Bytes(ASDF.to_vec()))?))
    .on_args("getbin", |socket, _| Ok(socket.emit("takebin", &Bytes(ASDF.to_vec()))?))
    .on_args("buffa", |socket, args| answer_if(socket, first_is_binary(&args), "buffack"))
    .on_args("blob", |socket, args| answer_if(socket, first_is_binary(&args), "back"))
    .on_args("jsonbuff", |socket, args| answer_if(socket, is_mixed(&args), "jsonbuff-ack"))
    .on_args("jsonblob", |socket, args| answer_if(socket, is_mixed(&args), "jsonblob-ack"))
    // In order: the flags live in `socket.data` (kept across hibernation, as the socket).
    .on_args("abuff1", |socket, args| mark_if(socket, first_is_binary(&args), "abuff1"))
    .on_args("abuff2", |socket, _| {
        let first = marked(socket, "abuff1");
        answer_if(socket, first, "abuff2-ack")
    })
    .on_args("blob1", |socket, args| mark_if(socket, first_is_binary(&args), "blob1"))
    .on_args("blob2", |socket, args| {
        let second = marked(socket, "blob1") && args.first::<String>().is_ok_and(|s| s == "second");
        mark_if(socket, second, "blob2")
    })
    .on_args("blob3", |socket, args| {
        let third = first_is_binary(&args) && marked(socket, "blob1") && marked(socket, "blob2");
        answer_if(socket, third, "blob3-ack")
    })
    .on_args("getHandshake", |socket, _| {
        let handshake = handshake(socket);
        Ok(socket.ack(&handshake)?)
    })
    .on_args("getId", |socket, _| ack_id(socket))
}

fn no_args() -> Args {
    Args { json: "[]".to_owned(), attachments: Vec::new() }
}

fn ack_id(socket: &mut Socket) -> HandlerResult {
    let id = socket.id().to_owned();
    Ok(socket.ack(&id)?)
}

/// `new Date()` as JSON writes it.
fn now_iso() -> String {
    String::from(worker::js_sys::Date::new_0().to_iso_string())
}

fn truthy(value: &Value) -> bool {
    !matches!(value, Value::Null | Value::Bool(false)) && value != &json!(0) && value != &json!("")
}

/// `socket.handshake` as socket.io builds it.
fn handshake(socket: &Socket) -> Value {
    let Some(info) = socket.info() else { return Value::Null };
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    let query = parse(&info.info.query);
    let issued = info.issued;
    json!({
        "headers": parse(&info.info.headers),
        "time": worker::js_sys::Date::new(&(issued as f64).into()).to_string().as_string(),
        "address": info.info.address,
        "xdomain": false,
        "secure": false,
        "issued": issued,
        "url": "/socket.io/",
        "query": query,
        "auth": parse(&info.auth),
    })
}

/// Whether the first argument is an attachment, which socket.io hands as a `Buffer`.
fn first_is_binary(args: &Args) -> bool {
    serde_json::from_str::<Value>(&args.json).is_ok_and(|value| value[0]["_placeholder"] == true)
}

/// `{hello: "lol", message: <binary>, goodbye: "gotcha"}`.
fn is_mixed(args: &Args) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(&args.json) else { return false };
    let first = &value[0];
    first["hello"] == "lol" && first["goodbye"] == "gotcha" && first["message"]["_placeholder"] == true
}

fn answer_if(socket: &mut Socket, ok: bool, event: &str) -> HandlerResult {
    match ok {
        true => Ok(socket.emit_args(event, no_args())?),
        false => Ok(()),
    }
}

/// Sets flag `name` in `socket.data` when `ok`.
fn mark_if(socket: &mut Socket, ok: bool, name: &str) -> HandlerResult {
    if ok {
        let mut data = socket.data::<Value>().filter(Value::is_object).unwrap_or_else(|| json!({}));
        data[name] = Value::Bool(true);
        socket.set_data(&data)?;
    }
    Ok(())
}

fn marked(socket: &Socket, name: &str) -> bool {
    socket.data::<Value>().is_some_and(|data| data[name] == true)
}

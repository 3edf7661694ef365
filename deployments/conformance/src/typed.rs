//! `/typed`: handlers typed over every argument, bytes as attachments both ways.

use serde_json::json;
use wasmio_edge::app::{Args, Bytes, Namespace};

/// A file as `/typed` sends it back: its bytes go as a binary attachment.
#[derive(serde::Serialize)]
struct File {
    name: String,
    data: Bytes,
}

/// `/typed`: handlers typed over every argument, bytes as attachments both ways:
/// - `move` (x, y, label?): acknowledged with `{x, y, label}`;
/// - `upload` (name, bytes): `file` `{name, data: <the bytes reversed>}` back, acknowledged with
///   (length, <the bytes>) as two arguments (a tuple);
/// - `upload-async`: the same acknowledgement from an async handler ([`Args::many`]);
/// - `pair`: `pair` back with two arguments, `1` and `"two"`, then acknowledged with none.
pub fn typed(ns: Namespace) -> Namespace {
    ns.on("move", |socket, (x, y, label): (i32, i32, Option<String>)| {
        Ok(socket.ack(&json!({ "x": x, "y": y, "label": label }))?)
    })
    .on("upload", |socket, (name, data): (String, Bytes)| {
        let reversed = Bytes(data.0.iter().rev().copied().collect());
        socket.emit("file", &File { name, data: reversed })?;
        Ok(socket.ack(&(data.0.len(), data))?)
    })
    .on_async("upload-async", |ctx, (_, data): (String, Bytes)| async move {
        ctx.socket(|socket| socket.ack_args(Args::many(&(data.0.len(), data))?))??;
        Ok(())
    })
    .on("pair", |socket, ()| {
        socket.emit("pair", &(1, "two"))?;
        Ok(socket.ack(&())?)
    })
}

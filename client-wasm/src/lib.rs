//! wasmio-client: the browser driver of the wasmio protocol core.
//!
//! It moves bytes and time between web-sys transports and the sans-IO machines of
//! [`wasmio_protocol`]; the drop-in `io()` API lives in the npm package in `pkg/`.
//! The driver itself is delivered by the browser client issue; today the crate only
//! reports which Engine.IO and Socket.IO revisions its core speaks.

use wasm_bindgen::prelude::*;

/// The Socket.IO protocol revision spoken by the core (socket.io-client's `protocol` export).
#[wasm_bindgen(js_name = protocol)]
pub fn protocol() -> u32 {
    wasmio_protocol::socket::PROTOCOL_VERSION
}

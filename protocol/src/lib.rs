//! wasmio-protocol: Engine.IO v4 and Socket.IO v5, sans-IO.
//!
//! Codecs that are byte-identical with the official `engine.io-parser` and `socket.io-parser`,
//! and state machines for the Engine.IO session of a client and of a server. Nothing here
//! performs I/O or reads a clock: machines are fed received data, transport events and the
//! current time in milliseconds, and are polled for what to transmit, what happened and when
//! to wake them next. The same code runs natively, in the browser and in workerd.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod base64;
pub mod engine;
pub mod json;
pub mod socket;

//! wasmio-protocol: Engine.IO v4 and Socket.IO v5, sans-IO.
//!
//! Codecs that are byte-identical with the official `engine.io-parser` and `socket.io-parser`,
//! and state machines for the Engine.IO session of a client and of a server. Nothing here
//! performs I/O or reads a clock: machines are fed received data, transport events and the
//! current time in milliseconds, and are polled for what to transmit, what happened and when
//! to wake them next. The same code runs natively, in the browser and in workerd.
//!
//! Socket.IO packets keep their data as JSON text; binary attachments travel beside it:
//!
//! ```
//! use wasmio_protocol::socket::{Decoder, Packet};
//!
//! let packet = Packet::event("/chat", r#"["upload",{"_placeholder":true,"num":0}]"#)
//!     .with_id(7)
//!     .with_attachments(vec![vec![1, 2, 3]]);
//! let header = packet.encode();
//! assert_eq!(header, r#"51-/chat,7["upload",{"_placeholder":true,"num":0}]"#);
//!
//! let mut decoder = Decoder::default();
//! assert_eq!(decoder.decode_text(&header), Ok(None)); // waits for its attachment
//! let decoded = decoder.decode_binary(vec![1, 2, 3]).unwrap().unwrap();
//! assert_eq!(decoded.event_name().as_deref(), Some("upload"));
//! assert_eq!(decoded, packet);
//! ```
//!
//! Engine.IO machines are driven by the caller, which owns the sockets and the clock:
//!
//! ```
//! use wasmio_protocol::engine::{Data, PollOutcome, ServerConfig, ServerEvent, ServerSession, TransportKind};
//!
//! let mut session = ServerSession::new("sid", TransportKind::Polling, ServerConfig::default(), 0);
//! let PollOutcome::Respond(open) = session.handle_poll(0) else { unreachable!() };
//! assert!(open.starts_with(r#"0{"sid":"sid","upgrades":["websocket"]"#));
//!
//! session.handle_post("4hello\x1e4world", 10).unwrap();
//! assert_eq!(session.poll_event(), Some(ServerEvent::Message(Data::Text("hello".into()))));
//!
//! assert_eq!(session.poll_timeout(), Some(25_000)); // the first ping is due then
//! session.handle_timeout(25_000);
//! assert_eq!(session.handle_poll(25_000), PollOutcome::Respond("2".into()));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// `Display` and `Error` for the errors the browser client reports, from their `message()`:
/// one text per case, read without `core::fmt`, whose formatting machinery would weigh on the
/// client's bytes.
macro_rules! error_from_message {
    ($($error:ty),*) => {$(
        impl std::fmt::Display for $error {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.message())
            }
        }

        impl std::error::Error for $error {}
    )*};
}

/// `parts` as one string, as `parts.concat()` gives it, without std's join, whose copy
/// routines (one per separator length) weighed 355 B of the browser client's wasm (129 B gzip).
pub(crate) fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

pub mod base64;
pub mod client;
pub mod engine;
mod fifo;
pub mod json;
mod number;
pub mod server;
pub mod socket;

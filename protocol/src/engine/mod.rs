//! Engine.IO v4: the packet codec, the handshake, and the session machines of both sides.

mod client;
mod endpoint;
mod handshake;
mod handshake_budget;
mod packet;
mod server;
mod session;

pub use client::{ClientConfig, ClientEvent, ClientSession, ClientTransmit, TransportId};
pub use endpoint::{Channel, Endpoint, EndpointError, Output, SessionHandle, CLOSED_SESSION_TTL_MS};
pub use handshake::{Handshake, HandshakeError, ServerError};
pub use packet::{decode_payload, encode_payload, Data, Frame, Packet, PacketError, PacketType, SEPARATOR};
pub use server::{PollOutcome, PostError, ServerConfig, ServerEvent, ServerSession, ServerTransmit, POLLING_GRACE_MS};
pub use session::{CloseReason, TransportKind};

/// The Engine.IO protocol revision (`EIO=4`).
pub const PROTOCOL_VERSION: u32 = 4;

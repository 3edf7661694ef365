//! Engine.IO v4: the packet codec, the handshake, and the session machines of both sides.

mod handshake;
mod packet;

pub use handshake::{Handshake, HandshakeError, ServerError};
pub use packet::{decode_payload, encode_payload, Data, Frame, Packet, PacketError, PacketType, SEPARATOR};

/// The Engine.IO protocol revision (`EIO=4`).
pub const PROTOCOL_VERSION: u32 = 4;

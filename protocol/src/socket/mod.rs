//! Socket.IO v5: the packet codec with binary attachments.

mod packet;

pub use packet::{
    decode_text, event_name, is_reserved_event, DecodeError, Decoder, Header, Packet, PacketType,
    DEFAULT_MAX_ATTACHMENTS,
};

/// The Socket.IO protocol revision (socket.io-client's `protocol`).
pub const PROTOCOL_VERSION: u32 = 5;

//! Engine.IO v4 packets: the WebSocket frame form and the long-polling payload form,
//! byte-identical with `engine.io-parser` 5.2.

use crate::base64;

/// The seven Engine.IO packet types, with their wire digit as discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: handshake, sent by the server with the session parameters.
    Open = 0,
    /// `1`: the transport may be closed.
    Close = 1,
    /// `2`: heartbeat request (server to client), or upgrade probe (`2probe`).
    Ping = 2,
    /// `3`: heartbeat answer, or probe answer (`3probe`).
    Pong = 3,
    /// `4`: application data.
    Message = 4,
    /// `5`: completes a transport upgrade.
    Upgrade = 5,
    /// `6`: does nothing; flushes a pending poll during an upgrade.
    Noop = 6,
}

impl PacketType {
    /// The type for a wire digit.
    pub fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            b'0' => Self::Open,
            b'1' => Self::Close,
            b'2' => Self::Ping,
            b'3' => Self::Pong,
            b'4' => Self::Message,
            b'5' => Self::Upgrade,
            b'6' => Self::Noop,
            _ => return None,
        })
    }

    /// The type's name, as engine.io-client's packets carry it (`"message"`, `"ping"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Close => "close",
            Self::Ping => "ping",
            Self::Pong => "pong",
            Self::Message => "message",
            Self::Upgrade => "upgrade",
            Self::Noop => "noop",
        }
    }

    /// The wire digit of this type.
    pub fn as_char(self) -> char {
        (b'0' + self as u8) as char
    }
}

/// The data an Engine.IO packet carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// Text (possibly empty).
    Text(String),
    /// Binary; only `message` packets carry it.
    Binary(Vec<u8>),
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// What the packet means.
    pub kind: PacketType,
    /// What it carries; `Data::Text("")` when nothing.
    pub data: Data,
}

/// A WebSocket frame, as Engine.IO uses them: text or binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

/// Why Engine.IO input could not be decoded; `engine.io-parser` calls every case
/// `"parser error"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The input was empty or started with something other than a type digit or `b`.
    #[error("parser error: unknown packet type")]
    UnknownType,
    /// A `b` packet whose base64 could not be decoded.
    #[error("parser error: invalid base64")]
    InvalidBase64,
}

/// The record separator between packets of a long-polling payload.
pub const SEPARATOR: char = '\x1e';

impl Packet {
    /// A packet of `kind` carrying `text`.
    pub fn text(kind: PacketType, text: impl Into<String>) -> Self {
        Packet { kind, data: Data::Text(text.into()) }
    }

    /// A packet of `kind` with no data.
    pub fn bare(kind: PacketType) -> Self {
        Packet::text(kind, String::new())
    }

    /// A text `message` packet.
    pub fn message(text: impl Into<String>) -> Self {
        Packet::text(PacketType::Message, text)
    }

    /// A binary `message` packet.
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Self {
        Packet { kind: PacketType::Message, data: Data::Binary(bytes.into()) }
    }

    /// The packet as a WebSocket frame: binary data travels raw, text as `<type><data>`.
    pub fn to_frame(&self) -> Frame {
        match &self.data {
            Data::Binary(bytes) => Frame::Binary(bytes.clone()),
            Data::Text(text) => Frame::Text(self.text_form(text)),
        }
    }

    /// Consumes the packet into a WebSocket frame without copying binary data.
    pub fn into_frame(self) -> Frame {
        match self.data {
            Data::Binary(bytes) => Frame::Binary(bytes),
            Data::Text(ref text) => Frame::Text(self.text_form(text)),
        }
    }

    fn text_form(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 1);
        out.push(self.kind.as_char());
        out.push_str(text);
        out
    }

    /// Appends the long-polling form of the packet: binary becomes `b<base64>`.
    pub fn write_polling(&self, out: &mut String) {
        match &self.data {
            Data::Binary(bytes) => {
                out.push('b');
                base64::encode_into(bytes, out);
            }
            Data::Text(text) => {
                out.push(self.kind.as_char());
                out.push_str(text);
            }
        }
    }

    /// The packet alone as a long-polling payload.
    pub fn polling_form(&self) -> String {
        let mut out = String::with_capacity(self.polling_len());
        self.write_polling(&mut out);
        out
    }

    /// The number of bytes [`Packet::write_polling`] appends (for payload size limits).
    pub fn polling_len(&self) -> usize {
        match &self.data {
            Data::Binary(bytes) => 1 + bytes.len().div_ceil(3) * 4,
            Data::Text(text) => 1 + text.len(),
        }
    }

    /// Decodes a text WebSocket frame or one packet of a polling payload.
    pub fn decode_text(text: &str) -> Result<Packet, PacketError> {
        let Some(&first) = text.as_bytes().first() else {
            return Err(PacketError::UnknownType);
        };
        if first == b'b' {
            let bytes = base64::decode(&text[1..]).ok_or(PacketError::InvalidBase64)?;
            return Ok(Packet::binary(bytes));
        }
        let kind = PacketType::from_byte(first).ok_or(PacketError::UnknownType)?;
        Ok(Packet::text(kind, &text[1..]))
    }

    /// Decodes a WebSocket frame: binary frames are binary messages.
    pub fn decode_frame(frame: Frame) -> Result<Packet, PacketError> {
        match frame {
            Frame::Text(text) => Packet::decode_text(&text),
            Frame::Binary(bytes) => Ok(Packet::binary(bytes)),
        }
    }
}

/// Encodes packets as one long-polling payload (`\x1e`-separated, binary as `b<base64>`).
pub fn encode_payload<'a>(packets: impl IntoIterator<Item = &'a Packet>) -> String {
    let mut out = String::new();
    for (i, packet) in packets.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        packet.write_polling(&mut out);
    }
    out
}

/// Decodes a long-polling payload. Like the reference, an undecodable packet fails the
/// whole payload.
pub fn decode_payload(payload: &str) -> Result<Vec<Packet>, PacketError> {
    // Split by bytes: the separator is ASCII, so every part is whole UTF-8.
    let mut packets = Vec::new();
    let mut start = 0;
    for (i, byte) in payload.bytes().enumerate() {
        if byte == SEPARATOR as u8 {
            packets.push(Packet::decode_text(&payload[start..i])?);
            start = i + 1;
        }
    }
    packets.push(Packet::decode_text(&payload[start..])?);
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_binary_frames() {
        assert_eq!(Packet::message("hello").to_frame(), Frame::Text("4hello".into()));
        assert_eq!(Packet::text(PacketType::Ping, "probe").to_frame(), Frame::Text("2probe".into()));
        assert_eq!(Packet::binary([1, 2, 3]).to_frame(), Frame::Binary(vec![1, 2, 3]));
        assert_eq!(Packet::decode_text("6").unwrap(), Packet::bare(PacketType::Noop));
        assert_eq!(Packet::decode_text("7"), Err(PacketError::UnknownType));
        assert_eq!(Packet::decode_text(""), Err(PacketError::UnknownType));
    }

    #[test]
    fn polling_payload_matches_the_spec_example() {
        let packets = [Packet::message("hello"), Packet::binary([1, 2, 3, 4])];
        let payload = encode_payload(&packets);
        assert_eq!(payload, "4hello\x1ebAQIDBA==");
        assert_eq!(decode_payload(&payload).unwrap(), packets);
        assert_eq!(packets[1].polling_len(), "bAQIDBA==".len());
    }

    #[test]
    fn one_bad_packet_fails_the_payload() {
        assert!(decode_payload("4a\x1ex\x1e4b").is_err());
        assert!(decode_payload("b!!!").is_err());
    }
}

//! Socket.IO v5 packets, byte-identical with `socket.io-parser` 4.2.
//!
//! Packet data stays JSON text: the codec validates it as the reference decoder does and reads
//! only the event name, never building a JSON tree. Binary attachments travel beside the text
//! (`{"_placeholder":true,"num":n}` marks where each one goes).

use std::borrow::Cow;

use crate::json::{self, Kind, Scanner};
use crate::number::push_u64;

/// The seven Socket.IO packet types, with their wire digit as discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: connect to a namespace (client) / namespace joined (server, data `{"sid":..}`).
    Connect = 0,
    /// `1`: leave a namespace.
    Disconnect = 1,
    /// `2`: an event: data is an array, `[name, ...args]`.
    Event = 2,
    /// `3`: an acknowledgement: data is the array of answer arguments.
    Ack = 3,
    /// `4`: the server refused the namespace connection.
    ConnectError = 4,
    /// `5`: an event with binary attachments.
    BinaryEvent = 5,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck = 6,
}

impl PacketType {
    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// Whether `name` is an event name that the reference parser refuses in an incoming EVENT.
/// A `match` on the names, which the browser client's wasm holds in fewer bytes than a slice
/// searched with `contains`.
pub fn is_reserved_event(name: &str) -> bool {
    matches!(name, "connect" | "connect_error" | "disconnect" | "disconnecting" | "newListener" | "removeListener")
}

/// The most attachments one packet may announce (socket.io-parser's `maxAttachments` default).
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

/// One Socket.IO packet.
///
/// `kind` is never `BinaryEvent`/`BinaryAck` in a decoded packet: like the reference decoder,
/// binary packets come out as `Event`/`Ack` with their `attachments`, and the encoder writes
/// `Event`/`Ack` with attachments as the binary types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// What the packet means.
    pub kind: PacketType,
    /// The namespace, `"/"` for the main one.
    pub nsp: String,
    /// The acknowledgement id, for an EVENT expecting an answer and for its ACK. Peers read
    /// it as a JavaScript number: ids above 2^53 - 1 are not safe to send (the decoder refuses
    /// those a JavaScript number would not read back unchanged).
    pub id: Option<u64>,
    /// The data as JSON text, placeholders in place of attachments.
    pub data: Option<String>,
    /// Binary attachments, in placeholder order.
    pub attachments: Vec<Vec<u8>>,
}

/// Why a Socket.IO packet was refused. Messages are the reference decoder's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The first character is not a packet type digit.
    UnknownType,
    /// The attachment count of a binary packet is not a number followed by `-`, or is 0.
    IllegalAttachmentCount,
    /// More attachments announced than the decoder allows.
    TooManyAttachments,
    /// The ack id is not one the reference would answer with the same digits: a JavaScript
    /// number does not print it back unchanged, or it is whitespace (the reference reads
    /// `Number(" ")`, 0).
    InvalidAckId,
    /// The data is not JSON, or not the JSON this packet type requires.
    InvalidPayload,
    /// A placeholder points to an attachment that does not exist.
    IllegalPlaceholder,
    /// A text frame arrived while the attachments of a binary packet were awaited.
    UnexpectedText,
    /// A binary frame arrived with no binary packet awaiting attachments.
    UnexpectedBinary,
    /// The attachments of one packet weigh more than the server keeps for one packet.
    AttachmentsTooLarge,
}

impl DecodeError {
    /// The reference decoder's message (what [`std::fmt::Display`] writes).
    pub fn message(&self) -> &'static str {
        match self {
            DecodeError::UnknownType => "unknown packet type",
            DecodeError::IllegalAttachmentCount => "Illegal attachments",
            DecodeError::TooManyAttachments => "too many attachments",
            DecodeError::InvalidAckId => "invalid ack id",
            DecodeError::InvalidPayload => "invalid payload",
            DecodeError::IllegalPlaceholder => "illegal attachments",
            DecodeError::UnexpectedText => "got plaintext data when reconstructing a packet",
            DecodeError::UnexpectedBinary => "got binary data when not reconstructing a packet",
            DecodeError::AttachmentsTooLarge => "attachments too large",
        }
    }
}

error_from_message!(DecodeError);

impl Packet {
    /// A packet of `kind` on namespace `nsp` with no id, data or attachments.
    pub fn new(kind: PacketType, nsp: impl Into<String>) -> Self {
        Packet { kind, nsp: nsp.into(), id: None, data: None, attachments: Vec::new() }
    }

    /// An EVENT packet whose data is the JSON array text `data`.
    pub fn event(nsp: impl Into<String>, data: impl Into<String>) -> Self {
        Packet { data: Some(data.into()), ..Packet::new(PacketType::Event, nsp) }
    }

    /// Sets the ack id.
    pub fn with_id(mut self, id: u64) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets the binary attachments.
    pub fn with_attachments(mut self, attachments: Vec<Vec<u8>>) -> Self {
        self.attachments = attachments;
        self
    }

    /// The type written on the wire: EVENT/ACK with attachments become BINARY_EVENT/BINARY_ACK.
    pub fn wire_type(&self) -> PacketType {
        match self.kind {
            PacketType::Event if !self.attachments.is_empty() => PacketType::BinaryEvent,
            PacketType::Ack if !self.attachments.is_empty() => PacketType::BinaryAck,
            kind => kind,
        }
    }

    /// Encodes the text part of the packet; the attachments follow it as binary frames.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 + self.nsp.len() + self.data.as_ref().map_or(0, String::len));
        self.encode_into(&mut out);
        out
    }

    /// Appends the text part of the packet to `out`.
    pub fn encode_into(&self, out: &mut String) {
        let kind = self.wire_type();
        out.push((b'0' + kind as u8) as char);
        if kind.is_binary() {
            push_u64(out, self.attachments.len() as u64);
            out.push('-');
        }
        if !self.nsp.is_empty() && self.nsp != "/" {
            out.push_str(&self.nsp);
            out.push(',');
        }
        if let Some(id) = self.id {
            push_u64(out, id);
        }
        if let Some(data) = &self.data {
            out.push_str(data);
        }
    }

    /// The event name of an EVENT: the first array element, a string (or a number, which the
    /// reference also accepts, as its JSON text). `None` for other packets.
    pub fn event_name(&self) -> Option<Cow<'_, str>> {
        if self.kind != PacketType::Event {
            return None;
        }
        event_name(self.data.as_deref()?)
    }

    /// The event arguments after the name, as the JSON text of an array (`[]` if none).
    pub fn event_args(&self) -> Option<String> {
        if self.kind != PacketType::Event {
            return None;
        }
        let data = self.data.as_deref()?;
        let mut scanner = Scanner::new(data);
        scanner.expect(b'[').ok()?;
        scanner.skip_value().ok()?;
        Some(if scanner.eat(b',') {
            scanner.skip_ws();
            crate::concat(&["[", &data[scanner.position()..]])
        } else {
            "[]".to_owned()
        })
    }
}

/// The event name in an EVENT's data `[name, ...args]`: the first element, a string (or a
/// number, which the reference also accepts, as its JSON text). Reads only that element.
pub fn event_name(data: &str) -> Option<Cow<'_, str>> {
    first_element(data).map(|(_, name)| name)
}

/// The first element of a JSON array when it is a string (unescaped) or a number (its text).
fn first_element(data: &str) -> Option<(Kind, Cow<'_, str>)> {
    let mut scanner = Scanner::new(data);
    scanner.expect(b'[').ok()?;
    match scanner.peek_kind().ok()? {
        Kind::String => Some((Kind::String, scanner.read_string().ok()?)),
        Kind::Number => Some((Kind::Number, Cow::Borrowed(scanner.read_number().ok()?))),
        _ => None,
    }
}

/// Checks `data` as the reference decoder's `isPayloadValid` does for `kind`. With
/// `defer_json`, the JSON text of an EVENT or ACK is checked only at its start (an array, the
/// event name): its receiver parses it anyway.
fn payload_is_valid(kind: PacketType, data: &str, defer_json: bool) -> bool {
    let deferred = defer_json && matches!(kind, PacketType::Event | PacketType::Ack);
    if !deferred && json::validate(data).is_err() {
        return false;
    }
    let Ok(top) = Scanner::new(data).peek_kind() else { return false };
    match kind {
        PacketType::Connect => top == Kind::Object,
        PacketType::Disconnect => false,
        PacketType::ConnectError => matches!(top, Kind::Object | Kind::String),
        PacketType::Ack | PacketType::BinaryAck => top == Kind::Array,
        PacketType::Event | PacketType::BinaryEvent => match first_element(data) {
            Some((Kind::Number, _)) => true,
            Some((_, name)) => !is_reserved_event(&name),
            None => false,
        },
    }
}

/// The run of ASCII decimal digits `bytes` starts with: its length, and its value (`None` past
/// `u64::MAX`), read in one pass. The two iterator chains it replaces (`take_while`, then
/// `try_fold`) weighed 31 B more, gzipped, in the browser client's wasm.
fn leading_digits(bytes: &[u8]) -> (usize, Option<u64>) {
    let mut len = 0;
    let mut value = Some(0u64);
    while let Some(&digit @ b'0'..=b'9') = bytes.get(len) {
        value = value.and_then(|n| n.checked_mul(10)?.checked_add(u64::from(digit - b'0')));
        len += 1;
    }
    (len, value)
}

/// Whether `n` read as a JavaScript number (`Number(..)`, an f64) prints back as `n`.
/// JavaScript prints a float with the fewest digits that read back as it, the closest to it
/// when there are two, so 72496108904419420 survives although no f64 equals it, and
/// 9007199254740993 does not. From 2^53 up the digits printed are an integer: among the
/// multiples of the largest power of ten that read back as the float, the closest.
fn survives_javascript(n: u64) -> bool {
    if n < 1 << f64::MANTISSA_DIGITS {
        return true;
    }
    let float = n as f64;
    if float >= 18_446_744_073_709_551_616.0 {
        return false; // 2^64 prints as 18446744073709552000
    }
    let bits = float.to_bits();
    let value = float as u64;
    // The integers that read back as `float` lie within half its ulp above and half the gap
    // to the float below it (a quarter ulp at a power of two; at 2^53 that is half an
    // integer: none), the bounds included when its mantissa is even.
    let ulp = 1u64 << (((bits >> 52) & 0x7ff) - 1075);
    let below = if bits & ((1 << 52) - 1) == 0 { ulp / 4 } else { ulp / 2 };
    let (low, high, even) = (value - below, value + ulp / 2, bits & 1 == 0);
    let reads_back = |v: u64| (low < v && v < high) || (even && (v == low || v == high));
    // The largest power of ten with a multiple that reads back; its nearest multiples either
    // side are the candidates. They are never equally near: that would take a power of ten
    // no larger than the ulp, and the float, a multiple of the ulp, halfway between two of
    // its multiples.
    let mut step = 10u64.pow(19);
    loop {
        let down = value / step * step;
        let printed = [Some(down), down.checked_add(step)]
            .into_iter()
            .flatten()
            .filter(|&v| reads_back(v))
            .min_by_key(|&v| v.abs_diff(value));
        if let Some(printed) = printed {
            return printed == n;
        }
        // at step 1, `down` is the float itself
        step /= 10;
    }
}

/// Decodes the text part of a packet. A binary packet comes back with `attachments` empty and
/// the announced count returned beside it; [`Decoder`] collects the attachments.
pub fn decode_text(text: &str, max_attachments: usize) -> Result<(Packet, usize), DecodeError> {
    decode_text_with(text, max_attachments, false)
}

fn decode_text_with(text: &str, max_attachments: usize, defer_json: bool) -> Result<(Packet, usize), DecodeError> {
    let header = Header::parse(text, max_attachments)?;
    let data = if header.data_start < text.len() {
        let data = &text[header.data_start..];
        if !payload_is_valid(header.wire, data, defer_json) {
            return Err(DecodeError::InvalidPayload);
        }
        Some(data.to_owned())
    } else {
        None
    };
    let kind = match header.wire {
        PacketType::BinaryEvent => PacketType::Event,
        PacketType::BinaryAck => PacketType::Ack,
        kind => kind,
    };
    let packet = Packet { kind, nsp: header.nsp.to_owned(), id: header.id, data, attachments: Vec::new() };
    Ok((packet, header.attachments))
}

/// What a packet's text says before its JSON data: type, attachment count, namespace, ack id.
/// A receiver that leaves the data to someone else (the browser client's page) reads only this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The type as written: `BinaryEvent`/`BinaryAck` when attachments follow.
    pub wire: PacketType,
    /// The attachments announced (0 for a packet of a non-binary type).
    pub attachments: usize,
    /// The namespace, `"/"` for the main one.
    pub nsp: &'a str,
    /// The acknowledgement id.
    pub id: Option<u64>,
    /// Where the JSON data starts in the text: its length when there is none.
    pub data_start: usize,
}

impl<'a> Header<'a> {
    /// Reads the header of a packet's text as the reference decoder does, refusing an
    /// attachment count above `max_attachments` and an ack id JavaScript would not read back.
    pub fn parse(text: &'a str, max_attachments: usize) -> Result<Self, DecodeError> {
        let bytes = text.as_bytes();
        let wire = bytes.first().and_then(|&b| PacketType::from_byte(b)).ok_or(DecodeError::UnknownType)?;
        let mut i = 1;
        let mut attachments = 0;
        if wire.is_binary() {
            let (digits, count) = leading_digits(&bytes[i..]);
            if digits == 0 || bytes.get(i + digits) != Some(&b'-') {
                return Err(DecodeError::IllegalAttachmentCount);
            }
            let count = count.unwrap_or(u64::MAX);
            if count == 0 {
                return Err(DecodeError::IllegalAttachmentCount);
            }
            if count > max_attachments as u64 {
                return Err(DecodeError::TooManyAttachments);
            }
            attachments = count as usize;
            i += digits + 1;
        }
        let nsp = if bytes.get(i) == Some(&b'/') {
            let end = bytes[i..].iter().position(|&b| b == b',').map_or(text.len(), |n| i + n);
            let nsp = &text[i..end];
            i = (end + 1).min(text.len());
            nsp
        } else {
            "/"
        };
        let (digits, id) = leading_digits(&bytes[i..]);
        let id = if digits > 0 {
            let id = id.ok_or(DecodeError::InvalidAckId)?;
            if !survives_javascript(id) {
                // The reference would round it and answer another id.
                return Err(DecodeError::InvalidAckId);
            }
            i += digits;
            Some(id)
        } else if matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            // The reference reads leading whitespace as part of an ack id.
            return Err(DecodeError::InvalidAckId);
        } else {
            None
        };
        Ok(Header { wire, attachments, nsp, id, data_start: i })
    }
}

/// Checks the attachment placeholders of a reassembled binary packet's `data` against its
/// `attachments` count, as socket.io-parser's `reconstructPacket` does.
#[cfg(not(all(feature = "js-json", target_arch = "wasm32")))]
fn check_placeholders(data: Option<&str>, attachments: usize) -> Result<(), DecodeError> {
    match data {
        Some(data) => json::check_placeholders(data, attachments).map_err(|()| DecodeError::IllegalPlaceholder),
        None => Ok(()),
    }
}

/// A JavaScript host (feature `js-json`) resolves the placeholders as it parses the data,
/// refusing invalid ones as socket.io-parser's `reconstructPacket` does: nothing to check here.
#[cfg(all(feature = "js-json", target_arch = "wasm32"))]
fn check_placeholders(_data: Option<&str>, _attachments: usize) -> Result<(), DecodeError> {
    Ok(())
}

/// Reassembles packets from the frames of one connection: a binary packet's text frame is
/// followed by exactly its attachments, nothing in between.
#[derive(Debug)]
pub struct Decoder {
    max_attachments: usize,
    defer_json: bool,
    pending: Option<(Packet, usize)>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_ATTACHMENTS)
    }
}

impl Decoder {
    /// A decoder refusing packets that announce more than `max_attachments` attachments.
    pub fn new(max_attachments: usize) -> Self {
        Decoder { max_attachments, defer_json: false, pending: None }
    }

    /// Leaves the JSON text of EVENT and ACK packets without attachments to their receiver,
    /// checking only its start (an array, the event name): for a receiver that parses it
    /// anyway, and treats bad JSON as a decoding error (the browser client: the JS engine's
    /// `JSON.parse` is its one scan of each payload).
    pub fn defer_json_validation(mut self) -> Self {
        self.defer_json = true;
        self
    }

    /// Takes a text frame; returns the packet if it is complete.
    pub fn decode_text(&mut self, text: &str) -> Result<Option<Packet>, DecodeError> {
        if self.pending.is_some() {
            return Err(DecodeError::UnexpectedText);
        }
        let (packet, expected) = decode_text_with(text, self.max_attachments, self.defer_json)?;
        if expected == 0 {
            return Ok(Some(packet));
        }
        self.pending = Some((packet, expected));
        Ok(None)
    }

    /// Takes a binary frame; returns the packet once its last attachment arrived.
    pub fn decode_binary(&mut self, bytes: Vec<u8>) -> Result<Option<Packet>, DecodeError> {
        let Some((packet, expected)) = self.pending.as_mut() else {
            return Err(DecodeError::UnexpectedBinary);
        };
        packet.attachments.push(bytes);
        if packet.attachments.len() < *expected {
            return Ok(None);
        }
        let (packet, expected) = self.pending.take().ok_or(DecodeError::UnexpectedBinary)?;
        check_placeholders(packet.data.as_deref(), expected)?;
        Ok(Some(packet))
    }

    /// Whether attachments of a binary packet are awaited.
    pub fn is_reconstructing(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops a partly received packet (on disconnection).
    pub fn reset(&mut self) {
        self.pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_ids_survive_javascript_when_they_print_back() {
        // Rust prints a float with the fewest digits that read back as it, the closest such:
        // as JavaScript's `String(n)` does.
        let prints_back = |n: u64| format!("{}", n as f64).parse() == Ok(n);
        let mut checked = vec![72496108904419420, 9007199254740993, u64::MAX, 1 << 63, (1 << 63) - 1];
        for shift in 53..64 {
            // around powers of two, where the gap to the float below halves
            checked.extend((1u64 << shift) - 20_000..(1 << shift) + 20_000);
        }
        for power in 16..20 {
            let p = 10u64.pow(power);
            checked.extend([p - 1, p, p + 1]);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            checked.push(x >> (x % 11));
            // round numbers, which often print back
            let p = 10u64.pow((x % 5) as u32);
            checked.push((x >> (x % 11)) / p * p);
        }
        assert!(survives_javascript(72496108904419420) && !survives_javascript(9007199254740993));
        for n in checked {
            assert_eq!(survives_javascript(n), prints_back(n), "{n}");
        }
    }

    fn decode(text: &str) -> Result<Packet, DecodeError> {
        decode_text(text, DEFAULT_MAX_ATTACHMENTS).map(|(p, _)| p)
    }

    #[test]
    fn encodes_the_spec_examples() {
        assert_eq!(Packet::new(PacketType::Connect, "/").encode(), "0");
        let mut connect = Packet::new(PacketType::Connect, "/admin");
        connect.data = Some(r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#.into());
        assert_eq!(connect.encode(), r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#);
        assert_eq!(Packet::event("/", r#"["foo"]"#).with_id(12).encode(), r#"212["foo"]"#);
        let bin = Packet::event("/", r#"["baz",{"_placeholder":true,"num":0}]"#).with_attachments(vec![vec![1, 2, 3]]);
        assert_eq!(bin.encode(), r#"51-["baz",{"_placeholder":true,"num":0}]"#);
        let mut ack = Packet::new(PacketType::Ack, "/admin").with_id(13).with_attachments(vec![vec![1]]);
        ack.data = Some(r#"[{"_placeholder":true,"num":0}]"#.into());
        assert_eq!(ack.encode(), r#"61-/admin,13[{"_placeholder":true,"num":0}]"#);
    }

    #[test]
    fn decodes_headers_like_the_reference() {
        let p = decode(r#"2/chat,42["msg",1]"#).unwrap();
        assert_eq!((p.kind, p.nsp.as_str(), p.id), (PacketType::Event, "/chat", Some(42)));
        assert_eq!(p.event_name().as_deref(), Some("msg"));
        assert_eq!(p.event_args().as_deref(), Some("[1]"));
        let p = decode("2/chat").unwrap();
        assert_eq!((p.nsp.as_str(), p.data), ("/chat", None));
        assert_eq!(decode("2").unwrap().nsp, "/");
        assert_eq!(decode("1/admin,").unwrap().data, None);
    }

    #[test]
    fn validates_payloads_like_the_reference() {
        assert_eq!(decode("9"), Err(DecodeError::UnknownType));
        assert_eq!(decode(r#"2["connect"]"#), Err(DecodeError::InvalidPayload));
        assert_eq!(decode(r#"2["conn\u0065ct"]"#), Err(DecodeError::InvalidPayload));
        assert_eq!(decode(r#"2[]"#), Err(DecodeError::InvalidPayload));
        assert_eq!(decode(r#"2[{}]"#), Err(DecodeError::InvalidPayload));
        assert!(decode(r#"2[1,"x"]"#).is_ok());
        assert_eq!(decode(r#"2{"a":1}"#), Err(DecodeError::InvalidPayload));
        assert_eq!(decode(r#"0[]"#), Err(DecodeError::InvalidPayload));
        assert_eq!(decode(r#"1{}"#), Err(DecodeError::InvalidPayload));
        assert!(decode(r#"4"nope""#).is_ok());
        assert!(decode(r#"3/a,1[]"#).is_ok());
        assert_eq!(decode(r#"2["a""#), Err(DecodeError::InvalidPayload));
        assert_eq!(decode("50-[\"a\"]"), Err(DecodeError::IllegalAttachmentCount));
        assert_eq!(decode("5-[\"a\"]"), Err(DecodeError::IllegalAttachmentCount));
        assert_eq!(decode("511-[\"a\"]"), Err(DecodeError::TooManyAttachments));
        assert_eq!(decode("299999999999999999999[\"a\"]"), Err(DecodeError::InvalidAckId));
    }

    #[test]
    fn refuses_ack_ids_the_reference_reads_differently() {
        // socket.io-parser reads `2 ["a"]` as id 0 and `2\n["a"]` too.
        assert_eq!(decode("2 [\"a\"]"), Err(DecodeError::InvalidAckId));
        assert_eq!(decode("2/chat,\n[\"a\"]"), Err(DecodeError::InvalidAckId));
        assert_eq!(decode("21 [\"a\"]").unwrap().id, Some(1));
        // It reads ids as JavaScript numbers: past 2^53, some print back as other digits.
        assert_eq!(decode("29007199254740993[\"a\"]"), Err(DecodeError::InvalidAckId));
        assert_eq!(decode("272496108904419424[\"a\"]"), Err(DecodeError::InvalidAckId));
        assert_eq!(decode("218446744073709551615[\"a\"]"), Err(DecodeError::InvalidAckId));
        assert_eq!(decode("272496108904419420[\"a\"]").unwrap().id, Some(72_496_108_904_419_420));
        assert_eq!(decode("29007199254740994[\"a\"]").unwrap().id, Some(9_007_199_254_740_994));
        assert_eq!(decode("29007199254740991").unwrap().id, Some(9_007_199_254_740_991));
        assert_eq!(decode("20[\"a\"]").unwrap().id, Some(0));
    }

    #[test]
    fn reassembles_binary_packets() {
        let mut decoder = Decoder::default();
        assert_eq!(decoder.decode_binary(vec![1]), Err(DecodeError::UnexpectedBinary));
        let header = r#"52-["x",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#;
        assert_eq!(decoder.decode_text(header), Ok(None));
        assert_eq!(decoder.decode_text("2[\"y\"]"), Err(DecodeError::UnexpectedText));
        assert_eq!(decoder.decode_binary(vec![1]), Ok(None));
        let packet = decoder.decode_binary(vec![2]).unwrap().unwrap();
        assert_eq!(packet.attachments, vec![vec![1], vec![2]]);
        assert_eq!(packet.kind, PacketType::Event);
        assert_eq!(packet.encode(), header);

        assert_eq!(decoder.decode_text(r#"51-["x",{"_placeholder":true,"num":3}]"#), Ok(None));
        assert_eq!(decoder.decode_binary(vec![1]), Err(DecodeError::IllegalPlaceholder));
        assert!(!decoder.is_reconstructing());
    }
}

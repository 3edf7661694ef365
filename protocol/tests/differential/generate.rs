//! Random inputs for the differential test: valid Socket.IO and Engine.IO packets (JSON
//! written exactly as `JSON.stringify` prints it) and mutations of their encodings.

use std::fmt::Write as _;

use wasmio_protocol::engine;
use wasmio_protocol::json::write_string;
use wasmio_protocol::socket::{self, is_reserved_event, PacketType};

/// What mutations insert or substitute: characters that steer the header parsers, JSON
/// structure, the payload separator, and whitespace that JavaScript's `Number()` trims.
pub(crate) const MUTATION_CHARS: &[char] = &[
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-', '/', ',', '[', ']', '{', '}', '"', '\\', ' ', 'b', '\x1e',
    '.', 'e', 'x', '\t', '\n', '\u{a0}', '\u{feff}', '\u{2028}', 'é', '😀',
];

/// Extra mutation characters for Engine.IO payloads: base64 letters, padding, URL-safe digits.
pub(crate) const BASE64_CHARS: &[char] = &['A', 'z', '7', '+', '=', '_'];

/// Characters that strings favour besides printable ASCII: JSON escapes, control characters,
/// non-ASCII and astral characters, JavaScript-only whitespace.
const SPECIAL_CHARS: &[char] = &[
    '"',
    '\\',
    '/',
    ',',
    '\n',
    '\r',
    '\t',
    '\u{0}',
    '\u{8}',
    '\u{c}',
    '\u{1f}',
    '\u{7f}',
    'é',
    '中',
    '€',
    '\u{a0}',
    '\u{2028}',
    '\u{2029}',
    '\u{feff}',
    '\u{ffff}',
    '😀',
    '𝄞',
    '\u{10ffff}',
];

/// Event names close to the reserved ones, or common.
const EVENT_NAMES: &[&str] = &["message", "chat message", "Connect", "connect ", "disconnected", "ping", ""];

/// SplitMix64.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// A number in `0..2^53` of random magnitude.
    fn safe_integer(&mut self) -> u64 {
        match self.below(54) {
            0 => 0,
            bits => self.next() >> (64 - bits),
        }
    }

    fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        (0..self.index(max_len + 1)).map(|_| self.next() as u8).collect()
    }

    fn string(&mut self, max_len: usize) -> String {
        (0..self.index(max_len + 1))
            .map(|_| if self.chance(70) { char::from(b' ' + self.below(95) as u8) } else { self.pick(SPECIAL_CHARS) })
            .collect()
    }

    /// A JSON number as `JSON.stringify` prints it: an integer in the safe range, or a
    /// multiple of 1/1024 below 1000 in magnitude (which Rust prints the same way).
    fn number(&mut self) -> String {
        if self.chance(60) {
            let n = self.safe_integer() as i64;
            return if self.chance(30) { (-n).to_string() } else { n.to_string() };
        }
        let whole = self.below(2000) as f64 - 1000.0;
        let denominator = (1u64 << (1 + self.below(10))) as f64;
        let value = whole + self.below(denominator as u64) as f64 / denominator;
        if value == 0.0 {
            "0".to_owned() // never "-0", which JSON.stringify prints as 0
        } else {
            value.to_string()
        }
    }

    /// An object key that JavaScript keeps in insertion order (not integer-like) and that
    /// `reconstructPacket` and object literals treat as an ordinary key.
    fn key(&mut self) -> String {
        let key = self.string(8);
        let integer_like = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit());
        if integer_like || key == "_placeholder" || key == "__proto__" {
            format!("k{key}")
        } else {
            key
        }
    }
}

/// Writes random JSON exactly as `JSON.stringify` prints it, with `attachments` placeholders
/// numbered in text order (the order in which `deconstructPacket` numbers Buffers).
struct JsonWriter<'a> {
    rng: &'a mut Rng,
    out: String,
    attachments: usize,
    placeholders: usize,
}

impl<'a> JsonWriter<'a> {
    fn new(rng: &'a mut Rng, attachments: usize) -> Self {
        JsonWriter { rng, out: String::new(), attachments, placeholders: 0 }
    }

    /// A value at nesting `depth` (the top level is 1); containers stop at depth 4.
    fn value(&mut self, depth: u32) {
        if self.placeholders < self.attachments && self.rng.chance(20) {
            return self.placeholder();
        }
        match self.rng.below(if depth < 4 { 10 } else { 6 }) {
            0 => self.out.push_str("null"),
            1 => self.out.push_str(if self.rng.chance(50) { "true" } else { "false" }),
            2 | 3 => {
                let number = self.rng.number();
                self.out.push_str(&number);
            }
            4 | 5 => self.string(),
            6 | 7 => self.array(depth, None),
            _ => self.object(depth),
        }
    }

    fn string(&mut self) {
        let s = self.rng.string(12);
        write_string(&mut self.out, &s);
    }

    fn placeholder(&mut self) {
        let _ = write!(self.out, r#"{{"_placeholder":true,"num":{}}}"#, self.placeholders);
        self.placeholders += 1;
    }

    /// An array: `first` (JSON text), then random elements; at the top level, the
    /// placeholders still unwritten follow.
    fn array(&mut self, depth: u32, first: Option<String>) {
        self.out.push('[');
        let mut empty = true;
        if let Some(first) = first {
            self.out.push_str(&first);
            empty = false;
        }
        for _ in 0..self.rng.below(4) {
            if !std::mem::take(&mut empty) {
                self.out.push(',');
            }
            self.value(depth + 1);
        }
        while depth == 1 && self.placeholders < self.attachments {
            if !std::mem::take(&mut empty) {
                self.out.push(',');
            }
            self.placeholder();
        }
        self.out.push(']');
    }

    fn object(&mut self, depth: u32) {
        self.out.push('{');
        let mut keys: Vec<String> = Vec::new();
        for _ in 0..self.rng.below(4) {
            let key = self.rng.key();
            if keys.contains(&key) {
                continue;
            }
            if !keys.is_empty() {
                self.out.push(',');
            }
            write_string(&mut self.out, &key);
            self.out.push(':');
            self.value(depth + 1);
            keys.push(key);
        }
        self.out.push('}');
    }
}

/// A random valid Socket.IO packet of any type.
pub(crate) fn socket_packet(rng: &mut Rng) -> socket::Packet {
    let nsp = if rng.chance(50) { "/".to_owned() } else { format!("/{}", rng.string(10).replace(',', "")) };
    let id = rng.chance(50).then(|| rng.safe_integer());
    let (kind, data, attachments) = match rng.below(5) {
        0 => {
            let data = rng.chance(70).then(|| {
                let mut json = JsonWriter::new(rng, 0);
                json.object(1);
                json.out
            });
            (PacketType::Connect, data, Vec::new())
        }
        1 => (PacketType::Disconnect, None, Vec::new()),
        2 => {
            let name = if rng.chance(10) {
                rng.number()
            } else {
                let name = if rng.chance(30) { rng.pick(EVENT_NAMES).to_owned() } else { rng.string(12) };
                let name = if is_reserved_event(&name) { format!("{name}!") } else { name };
                let mut quoted = String::new();
                write_string(&mut quoted, &name);
                quoted
            };
            let attachments = attachments(rng);
            let mut json = JsonWriter::new(rng, attachments.len());
            json.array(1, Some(name));
            (PacketType::Event, Some(json.out), attachments)
        }
        3 => {
            let attachments = attachments(rng);
            let mut json = JsonWriter::new(rng, attachments.len());
            json.array(1, None);
            (PacketType::Ack, Some(json.out), attachments)
        }
        _ => {
            let mut json = JsonWriter::new(rng, 0);
            if json.rng.chance(50) {
                json.string();
            } else {
                json.object(1);
            }
            (PacketType::ConnectError, Some(json.out), Vec::new())
        }
    };
    socket::Packet { kind, nsp, id, data, attachments }
}

/// No attachments, or one to ten of up to 64 bytes.
fn attachments(rng: &mut Rng) -> Vec<Vec<u8>> {
    if rng.chance(60) {
        return Vec::new();
    }
    (0..=rng.below(10)).map(|_| rng.bytes(64)).collect()
}

/// A random Engine.IO packet: text of any type (no `\x1e`, which payloads cannot carry), or
/// a binary message of up to `max_binary` bytes.
pub(crate) fn engine_packet(rng: &mut Rng, max_binary: usize) -> engine::Packet {
    if rng.chance(25) {
        return engine::Packet::binary(rng.bytes(max_binary));
    }
    let kind = engine::PacketType::from_byte(b'0' + rng.below(7) as u8).expect("a type digit");
    engine::Packet::text(kind, rng.string(20).replace('\x1e', ""))
}

/// Applies one to three random edits (insert, delete, replace), mostly near the start.
pub(crate) fn mutate(rng: &mut Rng, text: &str, alphabet: &[&[char]]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..=rng.below(3) {
        let span = if rng.chance(60) { chars.len().min(12) } else { chars.len() };
        let at = rng.index(span + 1);
        let set = rng.pick(alphabet);
        let c = rng.pick(set);
        match rng.below(3) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 if at < chars.len() => chars[at] = c,
            _ => chars.insert(at, c),
        }
    }
    chars.into_iter().collect()
}

//! Property tests of the codecs: no decoder panics on any input, what is encoded decodes to
//! the same value, and the JSON validator agrees with serde_json.

use proptest::prelude::*;
use proptest::sample::Index;
use wasmio_protocol::engine::{self, Handshake};
use wasmio_protocol::socket::{self, is_reserved_event};
use wasmio_protocol::{base64, json};

fn config(cases: u32) -> ProptestConfig {
    // No failure files: persisting them needs proptest's default features.
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// A JSON string literal of `value`: as `JSON.stringify` writes it, or with every non-ASCII
/// character as `\uXXXX` escapes (surrogate pairs above the BMP).
fn quote(value: &str, ascii: bool) -> String {
    let mut out = String::new();
    json::write_string(&mut out, value);
    if !ascii {
        return out;
    }
    let mut units = [0u16; 2];
    out.chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                c.encode_utf16(&mut units).iter().map(|u| format!("\\u{u:04X}")).collect()
            }
        })
        .collect()
}

fn json_string() -> impl Strategy<Value = String> {
    (any::<String>(), any::<bool>()).prop_map(|(s, ascii)| quote(&s, ascii))
}

fn json_number() -> impl Strategy<Value = String> {
    "-?(0|[1-9][0-9]{0,5})(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,2})?"
}

/// Optional JSON whitespace.
fn ws() -> impl Strategy<Value = String> {
    prop_oneof![3 => Just(String::new()), 1 => "[ \t\r\n]{1,2}"]
}

fn object(members: Vec<(String, String)>) -> String {
    let members: Vec<String> = members.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{{}}}", members.join(","))
}

/// Valid JSON text of any kind, a few levels deep, with some whitespace between tokens.
fn json_value() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        json_number(),
        json_string(),
    ];
    let leaf = (ws(), leaf, ws()).prop_map(|(a, v, b)| a + &v + &b);
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((json_string(), inner), 0..4).prop_map(object),
        ]
    })
    .boxed()
}

fn json_object() -> impl Strategy<Value = String> {
    prop::collection::vec((json_string(), json_value()), 0..4).prop_map(object)
}

/// Nothing but brackets, deeper than serde_json goes.
fn deep_nesting() -> impl Strategy<Value = String> {
    (0usize..300).prop_map(|depth| "[".repeat(depth) + &"]".repeat(depth))
}

/// Valid JSON with up to three characters inserted, deleted or replaced: mostly invalid, and
/// invalid in the places a validator can get wrong.
fn near_json() -> impl Strategy<Value = String> {
    const NOISE: &[char] = &[
        '[', ']', '{', '}', '"', ',', ':', '\\', '/', '0', '9', '-', '.', 'e', 'E', '+', ' ', 't', 'n', 'u', 'l', 'a',
        'd', 'x', '\n', '\u{1}', '\u{1f}', '\u{7f}', 'é',
    ];
    let edit = (0u8..3, any::<Index>(), prop::sample::select(NOISE));
    let base = prop_oneof![4 => json_value(), 1 => deep_nesting()];
    (base, prop::collection::vec(edit, 0..4)).prop_map(|(text, edits)| {
        let mut chars: Vec<char> = text.chars().collect();
        for (op, at, c) in edits {
            match op {
                0 => chars.insert(at.index(chars.len() + 1), c),
                _ if chars.is_empty() => {}
                1 => {
                    chars.remove(at.index(chars.len()));
                }
                _ => {
                    let at = at.index(chars.len());
                    chars[at] = c;
                }
            }
        }
        chars.into_iter().collect()
    })
}

/// Input for decoders: arbitrary text, a soup of the protocols' characters, and near-JSON
/// behind a random Socket.IO or Engine.IO header.
fn fuzzy_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-6b\\-/,\\[\\]{}\":0-9a-zA-Z_+=\\\\ \u{1e}é]{0,48}",
        ("[0-6b]?([0-9]{1,2}-)?(/[a-z]{0,3},)?[0-9]{0,3}", near_json()).prop_map(|(head, json)| head + &json),
    ]
}

/// A socket frame as the transport delivers it.
#[derive(Debug, Clone)]
enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

fn frames() -> impl Strategy<Value = Vec<Frame>> {
    let frame = prop_oneof![
        fuzzy_text().prop_map(Frame::Text),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Frame::Binary),
    ];
    prop::collection::vec(frame, 0..8)
}

/// Feeds the text part and attachments of `packet` to a fresh decoder.
fn socket_round_trip(packet: &socket::Packet) -> Result<socket::Packet, String> {
    let mut decoder = socket::Decoder::default();
    let text = packet.encode();
    let mut out = decoder.decode_text(&text).map_err(|e| format!("{text:?}: {e}"))?;
    for attachment in &packet.attachments {
        if out.is_some() {
            return Err(format!("{text:?}: complete before its attachments"));
        }
        out = decoder.decode_binary(attachment.clone()).map_err(|e| format!("{text:?}: {e}"))?;
    }
    out.ok_or_else(|| format!("{text:?}: incomplete"))
}

fn event_name() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>().prop_filter("reserved", |name| !is_reserved_event(name)), Just("message".to_owned()),]
}

/// Array elements `args` with a placeholder for each of `count` attachments inserted, some
/// wrapped in an object.
fn with_placeholders(mut args: Vec<String>, count: usize, spots: &[(Index, bool)]) -> Vec<String> {
    for (num, (at, wrap)) in spots.iter().enumerate().take(count) {
        let placeholder = format!("{{\"_placeholder\":true,\"num\":{num}}}");
        let item = if *wrap { format!("{{\"file\":{placeholder}}}") } else { placeholder };
        args.insert(at.index(args.len() + 1), item);
    }
    args
}

/// Integers JavaScript numbers hold exactly. The reference reads ack ids and handshake fields
/// as doubles, so larger ones may not come back with the same digits: the handshake rounds them
/// as `JSON.parse` does, the socket decoder refuses such ack ids.
fn js_integer() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..100_000, 0u64..=(1 << 53)]
}

/// Valid Socket.IO packets of every type, on the main or another namespace.
fn socket_packet() -> impl Strategy<Value = socket::Packet> {
    use socket::PacketType::*;
    let args = || prop::collection::vec(json_value(), 0..4);
    let attachments = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 0..4);
    let spots = prop::collection::vec((any::<Index>(), any::<bool>()), 4);
    let body = prop_oneof![
        prop::option::of(json_object()).prop_map(|data| (Connect, data, vec![])),
        Just((Disconnect, None, vec![])),
        prop::option::of(prop_oneof![json_object(), json_string()]).prop_map(|data| (ConnectError, data, vec![])),
        (
            prop_oneof![(event_name(), any::<bool>()).prop_map(|(name, ascii)| quote(&name, ascii)), json_number()],
            args(),
            attachments.clone(),
            spots.clone()
        )
            .prop_map(|(name, args, attachments, spots)| {
                let mut items = vec![name];
                items.extend(with_placeholders(args, attachments.len(), &spots));
                (Event, Some(format!("[{}]", items.join(","))), attachments)
            }),
        (args(), attachments, spots).prop_map(|(args, attachments, spots)| {
            let items = with_placeholders(args, attachments.len(), &spots);
            (Ack, Some(format!("[{}]", items.join(","))), attachments)
        }),
    ];
    let nsp = prop_oneof![Just("/".to_owned()), "/[^,]{0,8}"];
    (nsp, prop::option::of(js_integer()), body).prop_map(|(nsp, id, (kind, data, attachments))| socket::Packet {
        kind,
        nsp,
        id,
        data,
        attachments,
    })
}

fn engine_type() -> impl Strategy<Value = engine::PacketType> {
    (b'0'..=b'6').prop_map(|digit| engine::PacketType::from_byte(digit).expect("a type digit"))
}

/// Engine.IO packets; `text` makes their text.
fn engine_packet(text: impl Strategy<Value = String>) -> impl Strategy<Value = engine::Packet> {
    prop_oneof![
        (engine_type(), text).prop_map(|(kind, text)| engine::Packet::text(kind, text)),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(engine::Packet::binary),
    ]
}

/// Inputs where serde_json refuses what `JSON.parse` accepts, so the two may disagree: a
/// `\uD800`-`\uDFFF` escape not part of a pair is valid JSON (JavaScript strings are UTF-16)
/// but cannot be a Rust string, and serde_json stops at 128 levels of nesting where
/// `JSON.parse` has no limit (counted conservatively: every opening bracket counts).
fn serde_json_is_stricter(text: &str) -> bool {
    let b = text.as_bytes();
    let unit = |at: usize| {
        let escape = b.get(at..at + 6).filter(|e| e.starts_with(b"\\u") && e[2..].iter().all(u8::is_ascii_hexdigit))?;
        u16::from_str_radix(std::str::from_utf8(&escape[2..]).ok()?, 16).ok()
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match unit(i) {
            Some(0xd800..=0xdbff) if matches!(unit(i + 6), Some(0xdc00..=0xdfff)) => i += 12,
            Some(0xd800..=0xdfff) => return true,
            Some(_) => i += 6,
            None => i += 2,
        }
    }
    text.bytes().filter(|b| matches!(b, b'[' | b'{')).count() >= 128
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn socket_decode_text_never_panics(text in fuzzy_text(), max in prop_oneof![0usize..12, Just(usize::MAX)]) {
        let _ = socket::decode_text(&text, max);
    }

    #[test]
    fn socket_decoder_never_panics_and_its_packets_round_trip(frames in frames()) {
        let mut decoder = socket::Decoder::default();
        for frame in frames {
            let decoded = match frame {
                Frame::Text(text) => decoder.decode_text(&text),
                Frame::Binary(bytes) => decoder.decode_binary(bytes),
            };
            if let Ok(Some(packet)) = decoded {
                prop_assert_eq!(socket_round_trip(&packet), Ok(packet));
            }
        }
    }

    #[test]
    fn engine_decoders_never_panic_and_round_trip(text in fuzzy_text()) {
        if let Ok(packet) = engine::Packet::decode_text(&text) {
            prop_assert_eq!(engine::Packet::decode_frame(packet.to_frame()), Ok(packet));
        }
        if let Ok(packets) = engine::decode_payload(&text) {
            prop_assert_eq!(engine::decode_payload(&engine::encode_payload(&packets)), Ok(packets));
        }
    }

    #[test]
    fn handshake_from_json_never_panics(text in prop_oneof![
        fuzzy_text(),
        near_json(),
        prop::collection::vec(
            (prop::sample::select(&["\"sid\"", "\"upgrades\"", "\"pingInterval\"", "\"pingTimeout\"", "\"maxPayload\"", "\"x\""][..]), json_value()),
            0..7,
        ).prop_map(|members| object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
    ]) {
        if let Ok(handshake) = Handshake::from_json(&text) {
            prop_assert_eq!(Handshake::from_json(&handshake.to_json()), Ok(handshake));
        }
    }

    #[test]
    fn json_validate_never_panics(text in fuzzy_text()) {
        let _ = json::validate(&text);
    }

    #[test]
    fn base64_decode_never_panics(text in prop_oneof![any::<String>(), "[A-Za-z0-9+/_=\\-]{0,12}"]) {
        if let Some(bytes) = base64::decode(&text) {
            let mut again = String::new();
            base64::encode_into(&bytes, &mut again);
            prop_assert_eq!(base64::decode(&again), Some(bytes));
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn socket_packets_round_trip(packet in socket_packet()) {
        prop_assert_eq!(socket_round_trip(&packet), Ok(packet));
    }

    #[test]
    fn event_name_and_args_read_back(name in event_name(), ascii in any::<bool>(), args in prop::collection::vec(json_value(), 0..4)) {
        let mut items = vec![quote(&name, ascii)];
        items.extend(args.iter().cloned());
        let (packet, _) = socket::decode_text(&format!("2[{}]", items.join(",")), 0).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(packet.event_name().map(|n| n.into_owned()), Some(name));
        let expected = if args.is_empty() { "[]".to_owned() } else { format!("[{}]", args.join(",").trim_start()) };
        prop_assert_eq!(packet.event_args(), Some(expected));
    }

    #[test]
    fn engine_packets_round_trip(packet in engine_packet(any::<String>())) {
        prop_assert_eq!(engine::Packet::decode_frame(packet.to_frame()), Ok(packet.clone()));
        prop_assert_eq!(engine::Packet::decode_frame(packet.clone().into_frame()), Ok(packet.clone()));
        let mut polling = String::new();
        packet.write_polling(&mut polling);
        prop_assert_eq!(polling.len(), packet.polling_len());
        prop_assert_eq!(engine::Packet::decode_text(&polling), Ok(packet));
    }

    #[test]
    fn engine_payloads_round_trip(packets in prop::collection::vec(
        engine_packet(any::<String>().prop_map(|text| text.replace(engine::SEPARATOR, ""))),
        1..6,
    )) {
        prop_assert_eq!(engine::decode_payload(&engine::encode_payload(&packets)), Ok(packets));
    }

    #[test]
    fn base64_round_trips_and_matches_the_base64_crate(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        use ::base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        use ::base64::Engine as _;
        let mut text = String::new();
        base64::encode_into(&bytes, &mut text);
        prop_assert_eq!(&text, &STANDARD.encode(&bytes));
        prop_assert_eq!(base64::decode(&text), Some(bytes.clone()));
        prop_assert_eq!(base64::decode(&URL_SAFE_NO_PAD.encode(&bytes)), Some(bytes));
    }

    #[test]
    fn handshakes_round_trip(
        sid in any::<String>(),
        upgrades in prop::collection::vec(any::<String>(), 0..3),
        ping_interval in js_integer(),
        ping_timeout in js_integer(),
        max_payload in js_integer(),
    ) {
        let handshake = Handshake { sid, upgrades, ping_interval, ping_timeout, max_payload };
        let text = handshake.to_json();
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&value["sid"], &serde_json::Value::from(handshake.sid.clone()));
        prop_assert_eq!(&value["maxPayload"], &serde_json::Value::from(handshake.max_payload));
        prop_assert_eq!(Handshake::from_json(&text), Ok(handshake));
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn json_validate_agrees_with_serde_json(text in prop_oneof![
        4 => near_json(),
        1 => "[\\[\\]{}\",:0-9.eE+\\- tnrufalse\\\\]{0,24}",
    ]) {
        prop_assume!(!serde_json_is_stricter(&text));
        match (json::validate(&text), serde_json::from_str::<serde_json::Value>(&text)) {
            (Ok(()), Ok(_)) | (Err(_), Err(_)) => {}
            // JSON.parse reads a number beyond f64's range as ±Infinity; serde_json refuses it.
            (Ok(()), Err(e)) if e.to_string().starts_with("number out of range") => {}
            (ours, theirs) => prop_assert!(false, "{text:?}: validate {ours:?}, serde_json {theirs:?}"),
        }
    }

    #[test]
    fn generated_json_is_valid(text in json_value()) {
        prop_assert_eq!(json::validate(&text), Ok(()));
    }
}

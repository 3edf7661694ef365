//! Differential test against the official npm parsers, `socket.io-parser` 4.2.7 and
//! `engine.io-parser` 5.2.3, which `tests/differential/official.mjs` runs under Node.
//!
//! Random packets must encode byte-identically and decode equal both ways (our decoder on the
//! official bytes, the official decoder on ours). Mutated encodings must be refused whenever the
//! reference refuses them and decode equal when both accept; we may refuse what the reference
//! accepts only when the input is not the canonical encoding of what the reference read.
//!
//! Each test sends its cases to Node in one batch. `WASMIO_DIFF_SEED` replays a run (the seed
//! is printed); `WASMIO_DIFF_CASES` sets the number of cases of each kind.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use wasmio_protocol::engine::{self, Data, Frame};
use wasmio_protocol::socket::{self, Decoder, DEFAULT_MAX_ATTACHMENTS};

mod generate;

use generate::{engine_packet, mutate, socket_packet, Rng, BASE64_CHARS, MUTATION_CHARS};

/// Cases of each kind when `WASMIO_DIFF_CASES` is unset.
const DEFAULT_CASES: usize = 3000;

// ---- plumbing ----

/// The seed and the number of cases of each kind.
fn settings() -> (u64, usize) {
    let seed = match std::env::var("WASMIO_DIFF_SEED") {
        Ok(s) => s.parse().expect("WASMIO_DIFF_SEED must be an unsigned integer"),
        // A fresh seed per run without reading a clock: std's randomly keyed hasher.
        Err(_) => std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), DEFAULT_CASES),
    };
    let cases = match std::env::var("WASMIO_DIFF_CASES") {
        Ok(s) => s.parse().expect("WASMIO_DIFF_CASES must be an unsigned integer"),
        Err(_) => DEFAULT_CASES,
    };
    (seed, cases)
}

/// Writes a line to stderr even when the test harness captures output.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs the official parsers on `cases` (see official.mjs) and returns their answers.
fn run_official(cases: &Value) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("protocol/ has a parent");
    for package in ["socket.io-parser", "engine.io-parser"] {
        assert!(
            root.join("node_modules").join(package).join("package.json").is_file(),
            "node_modules/{package} is missing: run `make setup` at the repository root"
        );
    }
    let mut child = Command::new("node")
        .arg(root.join("tests/differential/official.mjs"))
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}): run `make setup` to install Node.js"));
    let input = serde_json::to_vec(cases).expect("cases serialize");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("node ran");
    writer.join().expect("writer thread").expect("wrote the cases to node");
    assert!(output.status.success(), "official.mjs failed:\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("official.mjs answers JSON")
}

/// The answers for one kind of case, checked to be one per case.
fn answers<'a>(all: &'a Value, kind: &str, cases: usize) -> &'a [Value] {
    let list = all[kind].as_array().map_or(&[][..], Vec::as_slice);
    assert_eq!(list.len(), cases, "official.mjs answered {} {kind} cases of {cases}", list.len());
    list
}

/// Divergences from the reference; the test fails at the end if there is any.
struct Divergences {
    seed: u64,
    found: Vec<String>,
}

impl Divergences {
    fn new(seed: u64) -> Self {
        Divergences { seed, found: Vec::new() }
    }

    /// Records `describe()` unless `ok`; returns `ok`.
    fn check(&mut self, ok: bool, describe: impl FnOnce() -> String) -> bool {
        if !ok {
            self.found.push(describe());
        }
        ok
    }

    fn finish(self) {
        let shown: Vec<&str> = self.found.iter().take(20).map(String::as_str).collect();
        assert!(
            self.found.is_empty(),
            "{} divergences from the reference (replay with WASMIO_DIFF_SEED={}); the first ones:\n{}",
            self.found.len(),
            self.seed,
            shown.join("\n")
        );
    }
}

/// How a mutated input fared with both decoders, when they did not diverge.
#[derive(Default)]
struct MutationTally {
    rejected_by_both: usize,
    accepted_equal: usize,
    /// Inputs only we reject, with our reason.
    stricter: Vec<(String, String)>,
}

impl MutationTally {
    fn summary(&self, cases: usize) -> String {
        // The first example of each reason.
        let mut examples: Vec<String> = Vec::new();
        let mut reasons: Vec<&str> = Vec::new();
        for (input, reason) in &self.stricter {
            if !reasons.contains(&reason.as_str()) {
                reasons.push(reason);
                examples.push(format!("{input:?} ({reason})"));
            }
        }
        format!(
            "{cases} mutations: {} rejected by both, {} accepted equal, {} stricter (reference-lenient; e.g. {})",
            self.rejected_by_both,
            self.accepted_equal,
            self.stricter.len(),
            examples.join(", ")
        )
    }
}

fn base64_list(attachments: &[Vec<u8>]) -> Vec<String> {
    attachments.iter().map(|a| BASE64.encode(a)).collect()
}

fn bytes_list(value: &Value) -> Option<Vec<Vec<u8>>> {
    value.as_array()?.iter().map(|a| BASE64.decode(a.as_str()?).ok()).collect()
}

// ---- Socket.IO ----

/// Decodes a text frame and then `attachments` with our [`Decoder`]; `None` if incomplete.
fn decode_socket(text: &str, attachments: &[Vec<u8>]) -> Result<Option<socket::Packet>, socket::DecodeError> {
    let mut decoder = Decoder::default();
    let mut packet = decoder.decode_text(text)?;
    for attachment in attachments {
        packet = decoder.decode_binary(attachment.clone())?;
    }
    Ok(packet)
}

/// The attachments fed after a mutated text frame: attachment `i` is the byte `i`.
fn mutation_attachments(announced: usize) -> Vec<Vec<u8>> {
    (0..announced).map(|i| vec![i as u8]).collect()
}

/// Our decoding of a mutated text frame and the attachment count it announced.
fn decode_socket_mutation(text: &str) -> Result<(socket::Packet, usize), socket::DecodeError> {
    let (_, announced) = socket::decode_text(text, DEFAULT_MAX_ATTACHMENTS)?;
    let packet = decode_socket(text, &mutation_attachments(announced))?;
    Ok((packet.expect("all announced attachments were fed"), announced))
}

/// Whether an id answered by official.mjs (a number, or a string when not a safe integer)
/// is `ours`.
fn id_matches(ours: Option<u64>, theirs: &Value) -> bool {
    match (ours, theirs) {
        (None, Value::Null) => true,
        (Some(id), Value::Number(n)) => n.as_u64() == Some(id),
        (Some(id), Value::String(s)) => *s == id.to_string(),
        _ => false,
    }
}

/// Whether the official decoder's answer has the type, namespace and id of `packet`.
fn header_matches(packet: &socket::Packet, answer: &Value) -> bool {
    answer["type"].as_u64() == Some(packet.kind as u64)
        && answer["nsp"].as_str() == Some(packet.nsp.as_str())
        && id_matches(packet.id, &answer["id"])
}

/// `value` with every attachment placeholder replaced by `{"$binary": base64}` as
/// `reconstructPacket` replaces it by a Buffer; `None` is JavaScript's `undefined`, which a
/// non-integer `num` yields. Fails on a placeholder the reference would refuse.
fn resolve(value: &Value, attachments: &[Vec<u8>]) -> Result<Option<Value>, String> {
    Ok(Some(match value {
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
            let num = map
                .get("num")
                .and_then(Value::as_f64)
                .filter(|&n| n >= 0.0 && n < attachments.len() as f64)
                .ok_or_else(|| format!("illegal placeholder {value}"))?;
            if num.fract() != 0.0 {
                return Ok(None);
            }
            json!({ "$binary": BASE64.encode(&attachments[num as usize]) })
        }
        Value::Object(map) => {
            let mut resolved = Map::new();
            for (key, member) in map {
                if let Some(member) = resolve(member, attachments)? {
                    resolved.insert(key.clone(), member);
                }
            }
            Value::Object(resolved)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| Ok(resolve(item, attachments)?.unwrap_or(Value::Null)))
                .collect::<Result<_, String>>()?,
        ),
        scalar => scalar.clone(),
    }))
}

/// The data of a decoded packet from its JSON text (`null` when absent), with placeholders
/// resolved if the packet is binary (only binary packets go through `reconstructPacket`).
fn data_value(json: Option<&str>, binary: bool, attachments: &[Vec<u8>]) -> Result<Option<Value>, String> {
    let Some(text) = json else { return Ok(Some(Value::Null)) };
    let value = serde_json::from_str(text).map_err(|e| format!("{e}: {text}"))?;
    if binary {
        resolve(&value, attachments)
    } else {
        Ok(Some(value))
    }
}

fn check_socket_case(packet: &socket::Packet, answer: &Value, found: &mut Divergences) -> (bool, bool) {
    let ours = packet.encode();
    let encoded = &answer["encoded"];
    let official = encoded["text"].as_str().zip(bytes_list(&encoded["attachments"]));
    let identical = found.check(official == Some((ours.as_str(), packet.attachments.clone())), || {
        format!("encoding differs for {packet:?}:\n  ours     {ours:?}\n  official {encoded}")
    });

    let decoded = &answer["decoded"];
    let theirs_equal = header_matches(packet, decoded)
        && decoded["data"].as_str() == packet.data.as_deref()
        && bytes_list(&decoded["attachments"]).as_ref() == Some(&packet.attachments);
    let theirs_equal = found.check(theirs_equal, || {
        format!("the official decoder reads our {ours:?} (attachments {:?}) as {decoded}", packet.attachments)
    });

    let ours_equal = official.is_some_and(|(text, attachments)| {
        let decoded = decode_socket(text, &attachments);
        found.check(decoded.as_ref() == Ok(&Some(packet.clone())), || {
            format!("we decode the official {text:?} as {decoded:?}, not {packet:?}")
        })
    });
    (identical, theirs_equal && ours_equal)
}

fn check_socket_mutation(
    text: &str,
    ours: &Result<(socket::Packet, usize), socket::DecodeError>,
    answer: &Value,
    tally: &mut MutationTally,
    found: &mut Divergences,
) {
    let reference = &answer["reference"];
    match (reference.get("error"), ours) {
        (Some(_), Err(_)) => tally.rejected_by_both += 1,
        (Some(error), Ok((packet, _))) => {
            found.check(false, || format!("the reference rejects {text:?} ({error}), we accept it: {packet:?}"));
        }
        (None, Err(error)) => {
            if found.check(answer["canonical"] == false, || {
                format!("we reject ({error}) the canonical {text:?}, which the reference reads as {reference}")
            }) {
                tally.stricter.push((text.to_owned(), error.to_string()));
            }
        }
        (None, Ok((packet, announced))) => {
            let ours_data = match &answer["ours"] {
                Value::Null => Ok(None),
                normalized => normalized["json"].as_str().map(|json| Some(json.to_owned())).ok_or_else(|| {
                    format!("we accept data that JSON.parse rejects ({}) in {text:?}", normalized["error"])
                }),
            };
            let theirs = bytes_list(&reference["attachments"]).unwrap_or_default();
            let compared = ours_data.and_then(|ours_data| {
                let binary = *announced > 0;
                let ours = data_value(ours_data.as_deref(), binary, &mutation_attachments(*announced))?;
                let theirs = data_value(reference["data"].as_str(), binary, &theirs)?;
                Ok(ours == theirs)
            });
            let equal = header_matches(packet, reference)
                && reference["announced"].as_u64() == Some(*announced as u64)
                && compared == Ok(true);
            if found.check(equal, || {
                format!("both accept {text:?} but differ: ours {packet:?} ({compared:?}), reference {reference}")
            }) {
                tally.accepted_equal += 1;
            }
        }
    }
}

#[test]
fn socket_io_matches_socket_io_parser() {
    let (seed, cases) = settings();
    let mut rng = Rng(seed);
    let packets: Vec<socket::Packet> = (0..cases).map(|_| socket_packet(&mut rng)).collect();
    let mutations: Vec<String> = (0..cases)
        .map(|_| {
            let text = socket_packet(&mut rng).encode();
            mutate(&mut rng, &text, &[MUTATION_CHARS])
        })
        .collect();
    let ours: Vec<_> = mutations.iter().map(|text| decode_socket_mutation(text)).collect();

    let input = json!({
        "socketCase": packets.iter().map(|p| json!({
            "type": p.kind as u8,
            "nsp": p.nsp,
            "id": p.id,
            "data": p.data,
            "attachments": base64_list(&p.attachments),
            "ours": p.encode(),
        })).collect::<Vec<_>>(),
        "socketMutation": mutations.iter().zip(&ours).map(|(text, ours)| json!({
            "text": text,
            "ourData": ours.as_ref().ok().and_then(|(packet, _)| packet.data.as_deref()),
        })).collect::<Vec<_>>(),
    });
    let all = run_official(&input);

    let mut found = Divergences::new(seed);
    let (mut identical, mut decoded_equal) = (0, 0);
    for (packet, answer) in packets.iter().zip(answers(&all, "socketCase", cases)) {
        let (same_bytes, same_packets) = check_socket_case(packet, answer, &mut found);
        identical += usize::from(same_bytes);
        decoded_equal += usize::from(same_packets);
    }
    let mut tally = MutationTally::default();
    for ((text, ours), answer) in mutations.iter().zip(&ours).zip(answers(&all, "socketMutation", cases)) {
        check_socket_mutation(text, ours, answer, &mut tally, &mut found);
    }
    report(&format!(
        "socket.io (seed {seed}): {cases} packets: {identical} byte-identical, {decoded_equal} decoded equal both ways; {}",
        tally.summary(cases)
    ));
    found.finish();
}

// ---- Engine.IO ----

fn engine_json(packet: &engine::Packet) -> Value {
    match &packet.data {
        Data::Text(text) => json!({ "type": packet.kind as u8, "text": text }),
        Data::Binary(bytes) => json!({ "type": packet.kind as u8, "binary": BASE64.encode(bytes) }),
    }
}

/// A packet answered by official.mjs; `None` for its error packet.
fn engine_from_json(value: &Value) -> Option<engine::Packet> {
    let kind = engine::PacketType::from_byte(b'0' + u8::try_from(value["type"].as_u64()?).ok()?)?;
    Some(match (value["text"].as_str(), value["binary"].as_str()) {
        (Some(text), None) => engine::Packet::text(kind, text),
        (None, Some(binary)) => engine::Packet { kind, data: Data::Binary(BASE64.decode(binary).ok()?) },
        _ => return None,
    })
}

fn frame_json(frame: &Frame) -> Value {
    match frame {
        Frame::Text(text) => json!({ "text": text }),
        Frame::Binary(bytes) => json!({ "binary": BASE64.encode(bytes) }),
    }
}

fn frame_from_json(value: &Value) -> Option<Frame> {
    match (value["text"].as_str(), value["binary"].as_str()) {
        (Some(text), None) => Some(Frame::Text(text.to_owned())),
        (None, Some(binary)) => BASE64.decode(binary).ok().map(Frame::Binary),
        _ => None,
    }
}

fn polling_form(packet: &engine::Packet) -> String {
    let mut out = String::new();
    packet.write_polling(&mut out);
    out
}

fn engine_list(value: &Value) -> Vec<Option<engine::Packet>> {
    value.as_array().map_or(Vec::new(), |list| list.iter().map(engine_from_json).collect())
}

fn check_engine_case(packet: &engine::Packet, answer: &Value, found: &mut Divergences) -> (bool, bool) {
    let (frame, polling) = (packet.to_frame(), polling_form(packet));
    let official_frame = frame_from_json(&answer["frame"]);
    let official_polling = answer["polling"].as_str();
    let identical = found.check(official_frame.as_ref() == Some(&frame) && official_polling == Some(&polling), || {
        format!(
            "encoding differs for {packet:?}: ours {frame:?} / {polling:?}, official {} / {}",
            answer["frame"], answer["polling"]
        )
    });
    let theirs_equal = found.check(
        engine_from_json(&answer["decodedFrame"]).as_ref() == Some(packet)
            && engine_from_json(&answer["decodedPolling"]).as_ref() == Some(packet),
        || format!("the official decoder reads our {frame:?} / {polling:?} as {answer}"),
    );
    let ours_from_frame = official_frame.map(engine::Packet::decode_frame);
    let ours_from_polling = official_polling.map(engine::Packet::decode_text);
    let ours_equal = found
        .check(ours_from_frame == Some(Ok(packet.clone())) && ours_from_polling == Some(Ok(packet.clone())), || {
            format!("we decode the official {answer} as {ours_from_frame:?} / {ours_from_polling:?}")
        });
    (identical, theirs_equal && ours_equal)
}

fn check_engine_payload(packets: &[engine::Packet], answer: &Value, found: &mut Divergences) -> bool {
    let ours = engine::encode_payload(packets);
    let official = answer["encoded"].as_str();
    let expected: Vec<_> = packets.iter().cloned().map(Some).collect();
    let ours_decoded = official.map(engine::decode_payload);
    found.check(official == Some(&ours), || format!("payload encoding differs: ours {ours:?}, official {official:?}"))
        & found.check(engine_list(&answer["decoded"]) == expected, || {
            format!("the official decoder reads our payload {ours:?} as {}", answer["decoded"])
        })
        & found.check(ours_decoded == Some(Ok(packets.to_vec())), || {
            format!("we decode the official payload {official:?} as {ours_decoded:?}")
        })
}

fn check_engine_mutation(text: &str, answer: &Value, tally: &mut MutationTally, found: &mut Divergences) {
    let reference = engine_list(&answer["decoded"]);
    let reference_error = reference.iter().any(Option::is_none);
    match (reference_error, engine::decode_payload(text)) {
        (true, Err(_)) => tally.rejected_by_both += 1,
        (true, Ok(packets)) => {
            found.check(false, || format!("the reference rejects the payload {text:?}, we accept it: {packets:?}"));
        }
        (false, Ok(packets)) => {
            let ours: Vec<_> = packets.into_iter().map(Some).collect();
            if found.check(ours == reference, || {
                format!("both accept the payload {text:?} but differ: ours {ours:?}, reference {}", answer["decoded"])
            }) {
                tally.accepted_equal += 1;
            }
        }
        (false, Err(error)) => {
            // Allowed only when the packet we refuse is a `b` packet with non-canonical base64.
            let refused = text.split(engine::SEPARATOR).position(|p| engine::Packet::decode_text(p).is_err());
            let allowed = refused.is_some_and(|i| {
                text.split(engine::SEPARATOR).nth(i).is_some_and(|p| p.starts_with('b'))
                    && answer["canonicalBase64"][i] == false
            });
            if found.check(allowed, || {
                format!("we reject ({error}) the payload {text:?}, which the reference reads as {}", answer["decoded"])
            }) {
                tally.stricter.push((text.to_owned(), error.to_string()));
            }
        }
    }
}

#[test]
fn engine_io_matches_engine_io_parser() {
    let (seed, cases) = settings();
    let mut rng = Rng(seed);
    let packets: Vec<engine::Packet> = (0..cases).map(|_| engine_packet(&mut rng, 300)).collect();
    let payloads: Vec<Vec<engine::Packet>> =
        (0..cases).map(|_| (0..=rng.below(10)).map(|_| engine_packet(&mut rng, 60)).collect()).collect();
    let mutations: Vec<String> = (0..cases)
        .map(|_| {
            let packets: Vec<_> = (0..=rng.below(4)).map(|_| engine_packet(&mut rng, 12)).collect();
            mutate(&mut rng, &engine::encode_payload(&packets), &[MUTATION_CHARS, BASE64_CHARS])
        })
        .collect();

    let input = json!({
        "engineCase": packets.iter().map(|p| {
            let mut case = engine_json(p);
            case["ours"] = json!({ "frame": frame_json(&p.to_frame()), "polling": polling_form(p) });
            case
        }).collect::<Vec<_>>(),
        "enginePayload": payloads.iter().map(|packets| json!({
            "packets": packets.iter().map(engine_json).collect::<Vec<_>>(),
            "ours": engine::encode_payload(packets),
        })).collect::<Vec<_>>(),
        "engineMutation": mutations,
    });
    let all = run_official(&input);

    let mut found = Divergences::new(seed);
    let (mut identical, mut decoded_equal) = (0, 0);
    for (packet, answer) in packets.iter().zip(answers(&all, "engineCase", cases)) {
        let (same_bytes, same_packets) = check_engine_case(packet, answer, &mut found);
        identical += usize::from(same_bytes);
        decoded_equal += usize::from(same_packets);
    }
    let payloads_equal = payloads
        .iter()
        .zip(answers(&all, "enginePayload", cases))
        .filter(|(packets, answer)| check_engine_payload(packets, answer, &mut found))
        .count();
    let mut tally = MutationTally::default();
    for (text, answer) in mutations.iter().zip(answers(&all, "engineMutation", cases)) {
        check_engine_mutation(text, answer, &mut tally, &mut found);
    }
    report(&format!(
        "engine.io (seed {seed}): {cases} packets: {identical} byte-identical (frame and polling), \
         {decoded_equal} decoded equal both ways; {cases} payloads: {payloads_equal} byte-identical and \
         decoded equal both ways; {}",
        tally.summary(cases)
    ));
    found.finish();
}

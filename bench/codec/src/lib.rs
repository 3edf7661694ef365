//! The codec benchmark's fixtures and measured operation, shared by the native runner
//! (`main.rs`) and the wasm runner (`bench/codec-wasm`).
//!
//! One op encodes a fixture and decodes the result again: a Socket.IO EVENT through
//! [`Packet::encode`] and a [`Decoder`] (text frame, then each attachment), or Engine.IO
//! message packets through [`encode_payload`] and [`decode_payload`].

use std::hint::black_box;

use serde::Deserialize;
use wasmio_protocol::engine::{self, decode_payload, encode_payload};
use wasmio_protocol::socket::{DecodeError, Decoder, Packet};

/// The fixture file, `bench/codec/fixtures.json`.
#[derive(Deserialize)]
struct FixtureFile {
    fixtures: Vec<FixtureSpec>,
}

/// A fixture as written in the file.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FixtureSpec {
    Socket { name: String, nsp: String, id: Option<u64>, data: String, attachments: Vec<String>, wire: String },
    Payload { name: String, messages: Vec<String>, wire: String },
}

/// What one fixture encodes.
#[derive(Debug, Clone)]
pub enum Input {
    /// A Socket.IO EVENT.
    Socket(Packet),
    /// Engine.IO packets sent as one long-polling payload.
    Payload(Vec<engine::Packet>),
}

/// One benchmark fixture.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Its name in the results.
    pub name: String,
    /// What it encodes.
    pub input: Input,
    /// The expected encoding: the text frame of a Socket.IO packet, or the payload.
    pub wire: String,
}

/// Parses the fixture file and checks every fixture (see [`Fixture::check`]).
pub fn load_fixtures(json: &str) -> Result<Vec<Fixture>, String> {
    let file: FixtureFile = serde_json::from_str(json).map_err(|e| format!("fixtures: {e}"))?;
    let fixtures = file.fixtures.into_iter().map(Fixture::from_spec).collect::<Result<Vec<_>, _>>()?;
    for fixture in &fixtures {
        fixture.check()?;
    }
    Ok(fixtures)
}

impl Fixture {
    fn from_spec(spec: FixtureSpec) -> Result<Fixture, String> {
        Ok(match spec {
            FixtureSpec::Socket { name, nsp, id, data, attachments, wire } => {
                let attachments = attachments
                    .iter()
                    .map(|text| wasmio_protocol::base64::decode(text))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("{name}: invalid base64 attachment"))?;
                let mut packet = Packet::event(nsp, data).with_attachments(attachments);
                packet.id = id;
                Fixture { name, input: Input::Socket(packet), wire }
            }
            FixtureSpec::Payload { name, messages, wire } => Fixture {
                name,
                input: Input::Payload(messages.into_iter().map(engine::Packet::message).collect()),
                wire,
            },
        })
    }

    /// Checks that the op encodes the fixture as `wire` and decodes it back unchanged.
    pub fn check(&self) -> Result<(), String> {
        let fail = |what: &str| Err(format!("{}: {what}", self.name));
        match &self.input {
            Input::Socket(packet) => {
                if packet.encode() != self.wire {
                    return fail("encoding differs from wire");
                }
                match socket_round_trip(packet, &mut Decoder::default()) {
                    Ok(Some(decoded)) if decoded == *packet => Ok(()),
                    _ => fail("does not decode back"),
                }
            }
            Input::Payload(packets) => {
                if encode_payload(packets) != self.wire {
                    return fail("encoding differs from wire");
                }
                match decode_payload(&self.wire) {
                    Ok(decoded) if decoded == *packets => Ok(()),
                    _ => fail("does not decode back"),
                }
            }
        }
    }

    /// Runs the op `iterations` times.
    pub fn run(&self, decoder: &mut Decoder, iterations: u64) {
        match &self.input {
            Input::Socket(packet) => {
                for _ in 0..iterations {
                    black_box(socket_round_trip(black_box(packet), decoder).ok());
                }
            }
            Input::Payload(packets) => {
                for _ in 0..iterations {
                    black_box(decode_payload(&encode_payload(black_box(packets))).ok());
                }
            }
        }
    }
}

/// Encodes `packet` and feeds its frames to `decoder`: the text, then each attachment as a
/// freshly received buffer (a copy, as a transport hands over owned bytes).
pub fn socket_round_trip(packet: &Packet, decoder: &mut Decoder) -> Result<Option<Packet>, DecodeError> {
    let mut decoded = decoder.decode_text(&packet.encode())?;
    for attachment in &packet.attachments {
        decoded = decoder.decode_binary(attachment.clone())?;
    }
    Ok(decoded)
}

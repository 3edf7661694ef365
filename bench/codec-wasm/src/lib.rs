//! Wasm runner of the codec benchmark, for Node (built by `bench/codec/build.sh`).
//!
//! Two ways to measure the same op: [`Bench::run`] loops inside wasm, which is the codec's own
//! cost; [`Codec`] is called once per frame from JavaScript, with strings and bytes copied
//! across the boundary each time, as a driver does.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasmio_codec_bench::{load_fixtures, Fixture};
use wasmio_protocol::engine::{self, decode_payload, encode_payload, Data, PacketType};
use wasmio_protocol::socket::{Decoder, Packet};

/// The fixtures of `bench/codec/fixtures.json`, with their op run inside wasm.
#[wasm_bindgen]
pub struct Bench {
    fixtures: Vec<Fixture>,
    decoder: Decoder,
}

#[wasm_bindgen]
impl Bench {
    /// Parses and checks the fixture file's text.
    #[wasm_bindgen(constructor)]
    pub fn new(fixtures_json: &str) -> Result<Bench, JsError> {
        let fixtures = load_fixtures(fixtures_json).map_err(|e| JsError::new(&e))?;
        Ok(Bench { fixtures, decoder: Decoder::default() })
    }

    /// Runs the op of fixture `index` `iterations` times.
    pub fn run(&mut self, index: usize, iterations: u32) -> Result<(), JsError> {
        let fixture = self.fixtures.get(index).ok_or_else(|| JsError::new("no such fixture"))?;
        fixture.run(&mut self.decoder, iterations.into());
        Ok(())
    }
}

/// The codecs called from JavaScript once per packet or frame.
#[wasm_bindgen]
#[derive(Default)]
pub struct Codec {
    decoder: Decoder,
    decoded: Option<Packet>,
}

#[wasm_bindgen]
impl Codec {
    /// A codec with the default attachment limit.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Codec {
        Codec::default()
    }

    /// Encodes an EVENT into its frames, like socket.io-parser's `Encoder.encode`: the text
    /// frame, then a copy of each attachment.
    pub fn encode(&self, nsp: &str, id: Option<u32>, data: &str, attachments: Vec<Uint8Array>) -> Array {
        let mut packet =
            Packet::event(nsp, data).with_attachments(attachments.iter().map(Uint8Array::to_vec).collect());
        packet.id = id.map(u64::from);
        let frames = Array::of1(&packet.encode().into());
        for attachment in &packet.attachments {
            frames.push(&Uint8Array::from(attachment.as_slice()));
        }
        frames
    }

    /// Takes a received text frame; true when it completes a packet.
    pub fn add_text(&mut self, text: &str) -> Result<bool, JsError> {
        self.decoded = self.decoder.decode_text(text)?;
        Ok(self.decoded.is_some())
    }

    /// Takes a received binary frame; true when it completes a packet.
    pub fn add_binary(&mut self, bytes: Vec<u8>) -> Result<bool, JsError> {
        self.decoded = self.decoder.decode_binary(bytes)?;
        Ok(self.decoded.is_some())
    }

    /// The namespace of the last completed packet.
    pub fn nsp(&self) -> Option<String> {
        Some(self.decoded.as_ref()?.nsp.clone())
    }

    /// The ack id of the last completed packet.
    pub fn id(&self) -> Option<f64> {
        self.decoded.as_ref()?.id.map(|id| id as f64)
    }

    /// The data (JSON text) of the last completed packet.
    pub fn data(&self) -> Option<String> {
        self.decoded.as_ref()?.data.clone()
    }

    /// Copies of the attachments of the last completed packet.
    pub fn attachments(&self) -> Array {
        let attachments = self.decoded.as_ref().map_or(&[][..], |packet| &packet.attachments[..]);
        attachments.iter().map(|bytes| JsValue::from(Uint8Array::from(bytes.as_slice()))).collect()
    }

    /// Encodes message packets carrying `messages` as one long-polling payload.
    pub fn encode_payload(&self, messages: Vec<String>) -> String {
        let packets: Vec<engine::Packet> = messages.into_iter().map(engine::Packet::message).collect();
        encode_payload(&packets)
    }

    /// Decodes a long-polling payload of text message packets into their data.
    pub fn decode_payload(&self, payload: &str) -> Result<Vec<String>, JsError> {
        decode_payload(payload)?
            .into_iter()
            .map(|packet| match packet {
                engine::Packet { kind: PacketType::Message, data: Data::Text(text) } => Ok(text),
                _ => Err(JsError::new("not a text message")),
            })
            .collect()
    }
}

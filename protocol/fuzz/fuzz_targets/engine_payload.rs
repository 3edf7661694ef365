//! Long-polling payloads from any text: a decoded payload re-encodes to the length its packets
//! announce and decodes to the same packets.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmio_protocol::engine::{decode_payload, encode_payload, Packet, SEPARATOR};

fuzz_target!(|data: &[u8]| {
    let Ok(packets) = decode_payload(&String::from_utf8_lossy(data)) else { return };
    let payload = encode_payload(&packets);
    let separators = (packets.len() - 1) * SEPARATOR.len_utf8();
    assert_eq!(payload.len(), packets.iter().map(Packet::polling_len).sum::<usize>() + separators);
    assert_eq!(decode_payload(&payload), Ok(packets));
});

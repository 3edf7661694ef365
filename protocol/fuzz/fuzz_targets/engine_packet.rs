//! Engine.IO packets from any text: a decoded packet comes back the same from its WebSocket
//! frame and from its long-polling form.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmio_protocol::engine::Packet;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::decode_text(&String::from_utf8_lossy(data)) else { return };
    assert_eq!(Packet::decode_frame(packet.to_frame()).as_ref(), Ok(&packet));
    let mut polling = String::new();
    packet.write_polling(&mut polling);
    assert_eq!(polling.len(), packet.polling_len());
    assert_eq!(Packet::decode_text(&polling), Ok(packet));
});

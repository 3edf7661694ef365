//! Engine.IO `open` data from any text: a handshake read comes back the same from its JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmio_protocol::engine::Handshake;

fuzz_target!(|data: &[u8]| {
    let Ok(handshake) = Handshake::from_json(&String::from_utf8_lossy(data)) else { return };
    assert_eq!(Handshake::from_json(&handshake.to_json()), Ok(handshake));
});

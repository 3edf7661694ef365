//! Drives a Socket.IO decoder with frames cut from the input: a 0xFF byte starts a text frame,
//! 0xFE a binary one (neither occurs in UTF-8), and the input begins in a text frame. Every
//! packet decoded must come back the same from its re-encoded frames.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmio_protocol::{json, socket};

fuzz_target!(|data: &[u8]| {
    let mut decoder = socket::Decoder::default();
    let (mut rest, mut binary) = (data, false);
    loop {
        let end = rest.iter().position(|&b| b >= 0xfe).unwrap_or(rest.len());
        let frame = &rest[..end];
        let decoded = if binary {
            decoder.decode_binary(frame.to_vec())
        } else {
            decoder.decode_text(&String::from_utf8_lossy(frame))
        };
        if let Ok(Some(packet)) = decoded {
            check(packet);
        }
        let Some(&marker) = rest.get(end) else { break };
        binary = marker == 0xfe;
        rest = &rest[end + 1..];
    }
});

fn check(packet: socket::Packet) {
    let mut decoder = socket::Decoder::default();
    let mut again = decoder.decode_text(&packet.encode()).expect("the re-encoded text decodes");
    for attachment in &packet.attachments {
        assert!(again.is_none(), "complete before its attachments");
        again = decoder.decode_binary(attachment.clone()).expect("the attachment is accepted");
    }
    assert_eq!(again.as_ref(), Some(&packet));
    if let Some(args) = packet.event_args() {
        assert_eq!(json::validate(&args), Ok(()), "{args:?}");
    }
    assert_eq!(packet.event_name().is_some(), packet.event_args().is_some());
}

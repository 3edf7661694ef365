//! The JSON validator against serde_json skipping a value (`IgnoredAny`): that checks syntax
//! only, so it accepts exactly what `JSON.parse` does, lone surrogate escapes, deep nesting and
//! numbers beyond f64 included. Any text written as a JSON string reads back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;
use wasmio_protocol::json;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let ours = json::validate(&text);
    let serde = serde_json::from_str::<IgnoredAny>(&text);
    assert_eq!(ours.is_ok(), serde.is_ok(), "{text:?}: validate {ours:?}, serde_json {serde:?}");
    let mut quoted = String::new();
    json::write_string(&mut quoted, &text);
    assert_eq!(serde_json::from_str::<String>(&quoted).ok().as_deref(), Some(&*text));
});

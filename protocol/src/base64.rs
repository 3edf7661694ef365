//! Base64 for the `b` packets of long-polling payloads: standard alphabet with padding when
//! encoding (as Node's `Buffer#toString("base64")`); decoding also takes the URL-safe
//! alphabet and missing padding, as Node's `Buffer.from(s, "base64")` does.
//!
//! In the browser client (feature `js-base64` on wasm32) the JavaScript engine's `btoa` and
//! `atob` do both: the same text out; in, what a server writes (the standard alphabet) reads
//! the same, and `atob` also skips ASCII whitespace and refuses the URL-safe alphabet.

#[cfg(all(feature = "js-base64", target_arch = "wasm32"))]
pub use js_engine::{decode, encode_into};

/// The JavaScript host's `btoa`/`atob`, on "binary strings" (one character per byte).
#[cfg(all(feature = "js-base64", target_arch = "wasm32"))]
mod js_engine {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// `btoa(text)`: the base64 of a string of characters up to U+00FF, one per byte.
        fn btoa(text: &str) -> String;

        /// `atob(text)`: the bytes of base64 text as characters up to U+00FF, or what it threw.
        #[wasm_bindgen(catch)]
        fn atob(text: &str) -> Result<String, JsValue>;
    }

    /// Appends the base64 form of `bytes` to `out`.
    pub fn encode_into(bytes: &[u8], out: &mut String) {
        let mut binary = String::with_capacity(bytes.len() * 2);
        for &byte in bytes {
            binary.push(char::from(byte));
        }
        out.push_str(&btoa(&binary));
    }

    /// Decodes base64 text; `None` if it is not base64.
    pub fn decode(text: &str) -> Option<Vec<u8>> {
        // Each character `atob` gives is one byte (U+0000 to U+00FF).
        let binary = atob(text).ok()?;
        let mut bytes = Vec::with_capacity(binary.len());
        for c in binary.chars() {
            bytes.push(c as u8);
        }
        Some(bytes)
    }
}

#[cfg(not(all(feature = "js-base64", target_arch = "wasm32")))]
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the base64 form of `bytes` to `out`.
#[cfg(not(all(feature = "js-base64", target_arch = "wasm32")))]
pub fn encode_into(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len().div_ceil(3) * 4);
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        for shift in [18, 12, 6, 0] {
            out.push(ALPHABET[(n >> shift & 63) as usize] as char);
        }
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.push(ALPHABET[(n >> 18 & 63) as usize] as char);
            out.push(ALPHABET[(n >> 12 & 63) as usize] as char);
            out.push_str("==");
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.push(ALPHABET[(n >> 18 & 63) as usize] as char);
            out.push(ALPHABET[(n >> 12 & 63) as usize] as char);
            out.push(ALPHABET[(n >> 6 & 63) as usize] as char);
            out.push('=');
        }
        _ => {}
    }
}

#[cfg(not(all(feature = "js-base64", target_arch = "wasm32")))]
fn sextet(byte: u8) -> Option<u32> {
    Some(match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    } as u32)
}

/// Decodes base64 text; `None` if it is not base64.
#[cfg(not(all(feature = "js-base64", target_arch = "wasm32")))]
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    let mut chunks = body.as_bytes().chunks_exact(4);
    for c in &mut chunks {
        let n = sextet(c[0])? << 18 | sextet(c[1])? << 12 | sextet(c[2])? << 6 | sextet(c[3])?;
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    match *chunks.remainder() {
        [a, b] => out.push(((sextet(a)? << 18 | sextet(b)? << 12) >> 16) as u8),
        [a, b, c] => {
            let n = sextet(a)? << 18 | sextet(b)? << 12 | sextet(c)? << 6;
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]);
        }
        _ => {}
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        for len in 0..20u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37).wrapping_add(200)).collect();
            let mut text = String::new();
            encode_into(&bytes, &mut text);
            assert_eq!(decode(&text).as_deref(), Some(&bytes[..]), "{text}");
        }
    }

    #[test]
    fn known_vectors() {
        let mut text = String::new();
        encode_into(b"foobar!", &mut text);
        assert_eq!(text, "Zm9vYmFyIQ==");
        assert_eq!(decode("Zm9vYmFyIQ").unwrap(), b"foobar!");
        assert_eq!(decode("A"), None);
        assert_eq!(decode("ab$="), None);
    }
}

//! JavaScript numbers: JSON number tokens read as `Number(..)` reads them ([`parse`]), and
//! integers written as digits without `core::fmt`. Printing a float is left to JavaScript
//! (`String(n)`), where the client needs it.
//!
//! The reader is this crate's exact one ([`exact`]), except in a JavaScript host that asks
//! for the engine's own `Number` (feature `js-numbers` on wasm32, the browser client): the
//! same values, and the client loads 1.6 KB gzip less.

#[cfg(not(all(feature = "js-numbers", target_arch = "wasm32")))]
mod exact;
#[cfg(not(all(feature = "js-numbers", target_arch = "wasm32")))]
pub(crate) use exact::parse;

#[cfg(all(feature = "js-numbers", target_arch = "wasm32"))]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The value of a JSON number token: JavaScript's `Number(token)`.
    #[wasm_bindgen(js_name = Number)]
    pub(crate) fn parse(token: &str) -> f64;
}

/// Appends the decimal digits of `n`.
pub(crate) fn push_u64(out: &mut String, n: u64) {
    if n >= 10 {
        push_u64(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Appends the last `width` hexadecimal digits of `n`, with `digits` (`b"0123456789abcdef"` or
/// upper case): `\u` escapes and percent-encoding, without `core::fmt` (which would weigh on
/// the browser client's bytes).
pub(crate) fn push_hex(out: &mut String, n: u32, width: u32, digits: &[u8; 16]) {
    for shift in (0..width).rev() {
        out.push(char::from(digits[((n >> (shift * 4)) & 0xf) as usize]));
    }
}

/// Lower-case hexadecimal digits, for [`push_hex`] (JSON's `\u` escapes: not in a JavaScript
/// host's build, whose `JSON.stringify` writes them).
#[cfg(any(test, not(all(feature = "js-json", target_arch = "wasm32"))))]
pub(crate) const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";
/// Upper-case hexadecimal digits, for [`push_hex`].
pub(crate) const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_as_escapes_and_percent_encoding_write_them() {
        let mut out = String::new();
        push_hex(&mut out, 0x1f, 4, LOWER_HEX);
        push_hex(&mut out, 0xab, 2, UPPER_HEX);
        push_hex(&mut out, 0x12345, 4, LOWER_HEX);
        assert_eq!(out, "001fAB2345");
    }
}

//! A small JSON scanner: validates JSON text exactly as `JSON.parse` accepts it and reads the
//! few values the protocol needs (event names, handshake fields, attachment placeholders)
//! without building a tree. It never recurses, so deeply nested input cannot overflow the
//! stack.
//!
//! In the browser client (feature `js-json` on wasm32) the JavaScript engine validates and
//! unescapes instead, and the scanner only finds where values end (`json/js_engine.rs`).

use std::borrow::Cow;

#[cfg(any(test, all(feature = "js-json", target_arch = "wasm32")))]
mod bounds;
#[cfg(all(feature = "js-json", target_arch = "wasm32"))]
mod js_engine;
#[cfg(all(feature = "js-json", target_arch = "wasm32"))]
pub use js_engine::{validate, write_string};

/// Why a text is not the JSON the protocol expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset where the scanner gave up.
    pub at: usize,
}

impl JsonError {
    /// "invalid JSON at byte N" (what [`std::fmt::Display`] writes).
    pub fn message(&self) -> String {
        let mut out = String::from("invalid JSON at byte ");
        crate::number::push_u64(&mut out, self.at as u64);
        out
    }
}

error_from_message!(JsonError);

/// The kind of a JSON value, read from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Number,
    True,
    False,
    Null,
}

/// A cursor over JSON text.
pub(crate) struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Scanner { text, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn err<T>(&self) -> Result<T, JsonError> {
        Err(JsonError { at: self.pos })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    /// Byte offset of the cursor.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` (after whitespace) or fails.
    pub(crate) fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.err()
        }
    }

    /// Consumes `byte` (after whitespace) if it is next.
    pub(crate) fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// The kind of the next value (after whitespace), without consuming it.
    pub(crate) fn peek_kind(&mut self) -> Result<Kind, JsonError> {
        self.skip_ws();
        Ok(match self.peek() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b'-' | b'0'..=b'9') => Kind::Number,
            Some(b't') => Kind::True,
            Some(b'f') => Kind::False,
            Some(b'n') => Kind::Null,
            _ => return self.err(),
        })
    }

    /// Fails unless only whitespace is left.
    pub(crate) fn expect_end(&mut self) -> Result<(), JsonError> {
        self.skip_ws();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            self.err()
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), JsonError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.err()
        }
    }

    /// Reads a number token and returns its text.
    #[cfg(not(all(feature = "js-json", target_arch = "wasm32")))]
    pub(crate) fn read_number(&mut self) -> Result<&'a str, JsonError> {
        self.skip_ws();
        let start = self.pos;
        let b = self.bytes();
        let digits = |pos: &mut usize| {
            let from = *pos;
            while b.get(*pos).is_some_and(u8::is_ascii_digit) {
                *pos += 1;
            }
            *pos - from
        };
        let mut p = self.pos;
        if b.get(p) == Some(&b'-') {
            p += 1;
        }
        match b.get(p) {
            Some(b'0') => p += 1,
            Some(b'1'..=b'9') => {
                digits(&mut p);
            }
            _ => {
                self.pos = p;
                return self.err();
            }
        }
        if b.get(p) == Some(&b'.') {
            p += 1;
            if digits(&mut p) == 0 {
                self.pos = p;
                return self.err();
            }
        }
        if let Some(b'e' | b'E') = b.get(p) {
            p += 1;
            if let Some(b'+' | b'-') = b.get(p) {
                p += 1;
            }
            if digits(&mut p) == 0 {
                self.pos = p;
                return self.err();
            }
        }
        self.pos = p;
        Ok(&self.text[start..p])
    }

    /// Skips a string token, returning its raw contents (between the quotes) and whether it
    /// contains escapes.
    #[cfg(not(all(feature = "js-json", target_arch = "wasm32")))]
    fn raw_string(&mut self) -> Result<(&'a str, bool), JsonError> {
        self.expect(b'"')?;
        let start = self.pos;
        let b = self.bytes();
        let mut escaped = false;
        loop {
            match b.get(self.pos) {
                None => return self.err(),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 1;
                    match b.get(self.pos) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                        Some(b'u') => {
                            let hex = b.get(self.pos + 1..self.pos + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return self.err();
                            }
                            self.pos += 5;
                        }
                        _ => return self.err(),
                    }
                }
                Some(0..=0x1f) => return self.err(),
                Some(_) => self.pos += 1,
            }
        }
        let raw = &self.text[start..self.pos];
        self.pos += 1;
        Ok((raw, escaped))
    }

    /// Reads a string token and returns its unescaped value. A lone UTF-16 surrogate
    /// (valid in JSON, not in UTF-8) becomes U+FFFD.
    #[cfg(not(all(feature = "js-json", target_arch = "wasm32")))]
    pub(crate) fn read_string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        let (raw, escaped) = self.raw_string()?;
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        Ok(Cow::Owned(unescape(raw)))
    }

    /// Skips one complete value of any depth, validating it.
    #[cfg(not(all(feature = "js-json", target_arch = "wasm32")))]
    pub(crate) fn skip_value(&mut self) -> Result<(), JsonError> {
        self.walk(&mut |_| {})
    }

    /// Skips one complete value, calling `visit` for each object member whose value is a
    /// scalar, and for each object end (`key = None`). Used by the placeholder check.
    /// Containers are tracked on a heap stack, never by recursion.
    fn walk(&mut self, visit: &mut dyn FnMut(Event<'a>)) -> Result<(), JsonError> {
        // true = inside an object, false = inside an array
        let mut stack: Vec<bool> = Vec::new();
        loop {
            // Read one value.
            let mut key: Option<Cow<'a, str>> = None;
            if stack.last() == Some(&true) {
                key = Some(self.read_string()?);
                self.expect(b':')?;
            }
            let kind = self.peek_kind()?;
            if let (Some(k), Kind::Object | Kind::Array) = (&key, kind) {
                // A container member: its key is reported before its contents.
                visit(Event::Member(k.clone(), Scalar::Other));
            }
            match kind {
                Kind::Object => {
                    self.pos += 1;
                    visit(Event::ObjectStart);
                    if self.eat(b'}') {
                        visit(Event::ObjectEnd);
                    } else {
                        stack.push(true);
                        continue;
                    }
                }
                Kind::Array => {
                    self.pos += 1;
                    if !self.eat(b']') {
                        stack.push(false);
                        continue;
                    }
                }
                Kind::String => {
                    self.raw_string()?;
                    if let Some(k) = key {
                        visit(Event::Member(k, Scalar::Other));
                    }
                }
                Kind::Number => {
                    let n = self.read_number()?;
                    if let Some(k) = key {
                        visit(Event::Member(k, Scalar::Number(n)));
                    }
                }
                Kind::True => {
                    self.literal("true")?;
                    if let Some(k) = key {
                        visit(Event::Member(k, Scalar::True));
                    }
                }
                Kind::False => {
                    self.literal("false")?;
                    if let Some(k) = key {
                        visit(Event::Member(k, Scalar::Other));
                    }
                }
                Kind::Null => {
                    self.literal("null")?;
                    if let Some(k) = key {
                        visit(Event::Member(k, Scalar::Other));
                    }
                }
            }
            // After a value: close containers or move to the next element.
            loop {
                let Some(&in_object) = stack.last() else {
                    return Ok(());
                };
                if self.eat(b',') {
                    break;
                }
                self.expect(if in_object { b'}' } else { b']' })?;
                if in_object {
                    visit(Event::ObjectEnd);
                }
                stack.pop();
            }
        }
    }
}

/// What [`Scanner::walk`] reports.
enum Event<'a> {
    ObjectStart,
    ObjectEnd,
    Member(Cow<'a, str>, Scalar<'a>),
}

/// A scalar member value, as far as the placeholder check cares.
enum Scalar<'a> {
    True,
    Number(&'a str),
    Other,
}

/// `raw` without the JSON whitespace around it (not Unicode's: no tables linked).
pub(crate) fn trim(raw: &str) -> &str {
    let outside = |b: &u8| !matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let bytes = raw.as_bytes();
    let start = bytes.iter().position(outside).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(outside).map_or(start, |last| last + 1);
    &raw[start..end]
}

/// The value of four hex digits, or U+FFFD when they are not.
#[cfg(not(all(feature = "js-json", target_arch = "wasm32")))]
fn hex4(digits: &str) -> u16 {
    digits.bytes().try_fold(0u16, |value, b| Some(value << 4 | char::from(b).to_digit(16)? as u16)).unwrap_or(0xfffd)
}

#[cfg(not(all(feature = "js-json", target_arch = "wasm32")))]
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut units: Vec<u16> = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.bytes().position(|b| b == b'\\') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let c = rest.as_bytes()[0];
        rest = &rest[1..];
        if c == b'u' {
            // Collect a run of \uXXXX escapes so surrogate pairs decode together.
            units.clear();
            units.push(hex4(&rest[..4]));
            rest = &rest[4..];
            while rest.starts_with("\\u") {
                units.push(hex4(&rest[2..6]));
                rest = &rest[6..];
            }
            out.extend(char::decode_utf16(units.iter().copied()).map(|r| r.unwrap_or('\u{fffd}')));
        } else {
            out.push(match c {
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                other => other as char,
            });
        }
    }
    out.push_str(rest);
    out
}

/// Checks that `text` is one JSON value, as `JSON.parse` would accept it.
#[cfg(not(all(feature = "js-json", target_arch = "wasm32")))]
pub fn validate(text: &str) -> Result<(), JsonError> {
    let mut s = Scanner::new(text);
    s.skip_value()?;
    s.expect_end()
}

/// The value of a JavaScript number token, as `Number(token)` reads it.
pub(crate) fn number_value(token: &str) -> f64 {
    crate::number::parse(token)
}

/// The longest `num` token of an attachment placeholder that is read (a longer one is not a
/// valid `num`: stricter than the reference, which reads any length).
const MAX_PLACEHOLDER_NUM_LEN: usize = 64;

/// Checks every attachment placeholder in `text` as socket.io-parser's `reconstructPacket`
/// does: an object whose `_placeholder` is `true` must have a numeric `num` in
/// `0..attachments`. Placeholders nested inside a valid placeholder are replaced whole and
/// not looked at, as in the reference.
pub(crate) fn check_placeholders(text: &str, attachments: usize) -> Result<(), ()> {
    struct Frame {
        placeholder: bool,
        num: Option<f64>,
        nested_error: bool,
    }
    let mut frames: Vec<Frame> = Vec::new();
    let mut scanner = Scanner::new(text);
    let mut top_error = false;
    scanner
        .walk(&mut |event| match event {
            Event::ObjectStart => frames.push(Frame { placeholder: false, num: None, nested_error: false }),
            Event::Member(key, value) => {
                if let Some(frame) = frames.last_mut() {
                    match &*key {
                        "_placeholder" => frame.placeholder = matches!(value, Scalar::True),
                        "num" => {
                            frame.num = match value {
                                // Read exactly, as `Number(..)`: bounded, so that a packet of
                                // huge numbers cannot buy big-integer work by the megabyte.
                                Scalar::Number(n) if n.len() <= MAX_PLACEHOLDER_NUM_LEN => Some(number_value(n)),
                                _ => None,
                            }
                        }
                        _ => {}
                    }
                }
            }
            Event::ObjectEnd => {
                let Some(frame) = frames.pop() else { return };
                let error = if frame.placeholder {
                    !frame.num.is_some_and(|n| n >= 0.0 && n < attachments as f64)
                } else {
                    frame.nested_error
                };
                match frames.last_mut() {
                    Some(parent) => parent.nested_error |= error,
                    None => top_error |= error,
                }
            }
        })
        .map_err(|_| ())?;
    if top_error {
        Err(())
    } else {
        Ok(())
    }
}

/// Escapes `value` as a JSON string literal, as `JSON.stringify` does.
#[cfg(not(all(feature = "js-json", target_arch = "wasm32")))]
pub fn write_string(out: &mut String, value: &str) {
    out.push('"');
    let mut start = 0;
    // What is escaped is ASCII, and no byte of a longer UTF-8 sequence is: bytes suffice.
    for (i, &b) in value.as_bytes().iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&value[start..i]);
        if escape.is_empty() {
            out.push_str("\\u");
            crate::number::push_hex(out, u32::from(b), 4, crate::number::LOWER_HEX);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_json_parse_accepts() {
        for ok in ["0", "-0.5e+3", " [1, {\"a\": [true, false, null]}] ", "\"\\ud800\"", "{}", "[]"] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_what_json_parse_rejects() {
        for bad in ["", "01", "1.", ".5", "[1,]", "{\"a\" 1}", "\"\t\"", "'a'", "[1] 2", "tru", "\"\\x\"", "{1:2}"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let deep = "[".repeat(200_000) + &"]".repeat(200_000);
        assert_eq!(validate(&deep), Ok(()));
        assert!(validate(&"[".repeat(200_000)).is_err());
    }

    #[test]
    fn unescapes_strings_and_surrogate_pairs() {
        let mut s = Scanner::new(r#""a\n\u00e9\ud83d\ude00\ud800""#);
        assert_eq!(s.read_string().unwrap(), "a\né😀\u{fffd}");
    }

    #[test]
    fn placeholders_are_checked_like_reconstruct_packet() {
        assert_eq!(check_placeholders(r#"["a",{"_placeholder":true,"num":0}]"#, 1), Ok(()));
        assert_eq!(check_placeholders(r#"["a",{"_placeholder":true,"num":1}]"#, 1), Err(()));
        assert_eq!(check_placeholders(r#"["a",{"_placeholder":true,"num":"0"}]"#, 1), Err(()));
        assert_eq!(check_placeholders(r#"["a",{"_placeholder":false,"num":9}]"#, 1), Ok(()));
        // a nested invalid placeholder inside a valid one is replaced whole
        let nested = r#"[{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":7}}]"#;
        assert_eq!(check_placeholders(nested, 1), Ok(()));
        let nested_bad = r#"[{"y":{"x":{"_placeholder":true,"num":7}}}]"#;
        assert_eq!(check_placeholders(nested_bad, 1), Err(()));
        // `num` is read as `Number(..)` reads it, up to 64 characters.
        let num = |n: &str| format!(r#"[{{"_placeholder":true,"num":{n}}}]"#);
        assert_eq!(check_placeholders(&num("0.99999999999999999999"), 1), Err(()), "rounds to 1");
        assert_eq!(check_placeholders(&num("1e-400"), 1), Ok(()), "rounds to 0");
        let long = format!("0.{}", "0".repeat(62));
        assert_eq!(check_placeholders(&num(&long), 1), Ok(()), "64 characters");
        assert_eq!(check_placeholders(&num(&format!("{long}0")), 1), Err(()), "65 characters");
    }

    #[test]
    fn strings_are_written_like_json_stringify() {
        let mut out = String::new();
        write_string(&mut out, "a\"\\\n\u{1}é");
        assert_eq!(out, r#""a\"\\\n\u0001é""#);
    }
}

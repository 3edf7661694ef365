//! The JSON reads of a JavaScript host (feature `js-json` on wasm32, the browser client): the
//! engine's `JSON.parse` validates text and unescapes strings, so the client ships no JSON
//! grammar. The scanner only finds where values end. Every text it reads was accepted by
//! [`validate`] first (a handshake, a CONNECT, an event whose recovery offset is read, and
//! everything a server decodes), or is an event's data that the page parses before using
//! it, refusing it with "parse error": on text that is not JSON it returns wrong bounds or an
//! error, never a panic (it stops only at ASCII bytes, so every slice falls on a character
//! boundary).

use std::borrow::Cow;

use wasm_bindgen::prelude::*;

use super::{JsonError, Scanner};

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse(text)`: the value, or what it threw.
    #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
    fn parse(text: &str) -> Result<JsValue, JsValue>;
}

/// Checks that `text` is one JSON value: `JSON.parse` accepts it. The engine does not tell
/// where it failed: the error's byte is 0.
pub fn validate(text: &str) -> Result<(), JsonError> {
    parse(text).map(drop).map_err(|_| JsonError { at: 0 })
}

impl<'a> Scanner<'a> {
    /// Reads a number token (the characters a JSON number is made of) and returns its text;
    /// `Number()` reads its value.
    pub(crate) fn read_number(&mut self) -> Result<&'a str, JsonError> {
        self.skip_ws();
        let start = self.pos;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        if self.pos == start {
            return self.err();
        }
        Ok(&self.text[start..self.pos])
    }

    /// Skips a string token, returning its raw contents (between the quotes) and whether it
    /// contains escapes.
    pub(super) fn raw_string(&mut self) -> Result<(&'a str, bool), JsonError> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return self.err(),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 2;
                }
                Some(_) => self.pos += 1,
            }
        }
        let raw = &self.text[start..self.pos];
        self.pos += 1;
        Ok((raw, escaped))
    }

    /// Reads a string token and returns its value, unescaped by `JSON.parse` (a lone UTF-16
    /// surrogate becomes U+FFFD, as it crosses into UTF-8).
    pub(crate) fn read_string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        let (raw, escaped) = self.raw_string()?;
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        let token = &self.text[self.pos - raw.len() - 2..self.pos];
        parse(token).ok().and_then(|value| value.as_string()).map(Cow::Owned).ok_or(JsonError { at: self.pos })
    }

    /// Skips one value: a string, a scalar, or a container up to its closing bracket (strings
    /// inside skipped whole; depth counted, never recursed).
    pub(crate) fn skip_value(&mut self) -> Result<(), JsonError> {
        let mut depth = 0usize;
        loop {
            self.skip_ws();
            match self.peek() {
                None => return self.err(),
                Some(b'"') => {
                    self.raw_string()?;
                }
                Some(b'[' | b'{') => {
                    depth += 1;
                    self.pos += 1;
                }
                Some(b']' | b'}') if depth > 0 => {
                    depth -= 1;
                    self.pos += 1;
                }
                Some(b',' | b':') if depth > 0 => self.pos += 1,
                Some(b']' | b'}' | b',' | b':') => return self.err(),
                // A number or a literal: up to the next structural byte or whitespace.
                Some(_) => {
                    while !matches!(
                        self.peek(),
                        None | Some(b'"' | b'[' | b']' | b'{' | b'}' | b',' | b':' | b' ' | b'\t' | b'\n' | b'\r')
                    ) {
                        self.pos += 1;
                    }
                }
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }
}

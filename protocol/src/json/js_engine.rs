//! The JSON reads of a JavaScript host (feature `js-json` on wasm32, the browser client): the
//! engine's `JSON.parse` validates text and unescapes strings, and `JSON.stringify` escapes
//! them, so the client ships no JSON grammar; the scanner only finds where values end (`bounds.rs`). Every text it reads was
//! accepted by [`validate`] first (a handshake, a CONNECT, an event whose recovery offset is
//! read, and everything a server decodes), or is an event's data that the page parses before
//! using it, refusing it with "parse error".

use std::borrow::Cow;

use wasm_bindgen::prelude::*;

use super::{JsonError, Scanner};

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse(text)`: the value, or what it threw.
    #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
    fn parse(text: &str) -> Result<JsValue, JsValue>;

    /// `JSON.stringify(text)`: the string as a JSON literal.
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify)]
    fn stringify(text: &str) -> String;
}

/// Escapes `value` as a JSON string literal: `JSON.stringify`'s (the same text as the exact
/// writer's, a Rust string holding no lone surrogate).
pub fn write_string(out: &mut String, value: &str) {
    out.push_str(&stringify(value));
}

/// Checks that `text` is one JSON value: `JSON.parse` accepts it. The engine does not tell
/// where it failed: the error's byte is 0.
pub fn validate(text: &str) -> Result<(), JsonError> {
    parse(text).map(drop).map_err(|_| JsonError { at: 0 })
}

impl<'a> Scanner<'a> {
    /// Reads a number token and returns its text; `Number()` reads its value.
    pub(crate) fn read_number(&mut self) -> Result<&'a str, JsonError> {
        self.number_bounds()
    }

    /// Skips a string token, returning its raw contents and whether it contains escapes.
    pub(super) fn raw_string(&mut self) -> Result<(&'a str, bool), JsonError> {
        self.string_bounds()
    }

    /// Reads a string token and returns its value, unescaped by `JSON.parse` (a lone UTF-16
    /// surrogate becomes U+FFFD, as it crosses into UTF-8).
    pub(crate) fn read_string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        let (raw, escaped) = self.string_bounds()?;
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        let token = &self.text[self.pos - raw.len() - 2..self.pos];
        parse(token).ok().and_then(|value| value.as_string()).map(Cow::Owned).ok_or(JsonError { at: self.pos })
    }

    /// Skips one value (`bounds.rs`).
    pub(crate) fn skip_value(&mut self) -> Result<(), JsonError> {
        self.value_bounds()
    }
}

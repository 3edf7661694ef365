//! Where JSON values end, without checking them: the scanner of a JavaScript host (feature
//! `js-json`, `js_engine.rs`), whose engine validates. On JSON it finds the bounds the exact
//! scanner finds (tested below against it); on text that is not JSON it returns wrong bounds
//! or an error, never a panic: it stops only at ASCII bytes, so every slice falls on a
//! character boundary.

use super::{JsonError, Scanner};

impl<'a> Scanner<'a> {
    /// The text of a number token: the characters a JSON number is made of.
    pub(super) fn number_bounds(&mut self) -> Result<&'a str, JsonError> {
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
    pub(super) fn string_bounds(&mut self) -> Result<(&'a str, bool), JsonError> {
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

    /// Skips one value: a string, a scalar, or a container up to its closing bracket (strings
    /// inside skipped whole; depth counted, never recursed).
    pub(super) fn value_bounds(&mut self) -> Result<(), JsonError> {
        let mut depth = 0usize;
        loop {
            self.skip_ws();
            match self.peek() {
                None => return self.err(),
                Some(b'"') => {
                    self.string_bounds()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Any JSON value, strings drawn from all of Unicode (escapes included once printed).
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e300f64..1e300).prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// Every element of `[value, value]` as the exact scanner and the bounds scanner see it.
    fn elements(text: &str, bounds: bool) -> Vec<(usize, usize)> {
        let mut s = Scanner::new(text);
        s.expect(b'[').unwrap();
        let mut out = Vec::new();
        loop {
            s.skip_ws();
            let start = s.position();
            if bounds { s.value_bounds() } else { s.skip_value() }.unwrap();
            out.push((start, s.position()));
            if !s.eat(b',') {
                return out;
            }
        }
    }

    proptest! {
        #[test]
        fn finds_the_bounds_the_exact_scanner_finds(value in json_value(), pretty in any::<bool>()) {
            let pair = Value::Array(vec![value.clone(), value]);
            let text = if pretty { serde_json::to_string_pretty(&pair) } else { serde_json::to_string(&pair) }.unwrap();
            prop_assert_eq!(elements(&text, true), elements(&text, false));
        }

        #[test]
        fn reads_the_strings_and_numbers_the_exact_scanner_reads(s in any::<String>(), n in -1e300f64..1e300) {
            let text = serde_json::to_string(&s).unwrap();
            prop_assert_eq!(Scanner::new(&text).string_bounds().unwrap(), Scanner::new(&text).raw_string().unwrap());
            let text = serde_json::to_string(&n).unwrap();
            prop_assert_eq!(Scanner::new(&text).number_bounds().unwrap(), Scanner::new(&text).read_number().unwrap());
        }

        #[test]
        fn never_panics_on_text_that_is_not_json(text in any::<String>()) {
            let _ = Scanner::new(&text).value_bounds();
            let _ = Scanner::new(&text).string_bounds();
            let _ = Scanner::new(&text).number_bounds();
        }
    }
}

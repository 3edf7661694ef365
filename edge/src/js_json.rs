//! JSON that JavaScript wrote (a client's arguments, auth and acknowledgements, an emit
//! request), read with serde_json. A JavaScript string may hold a lone surrogate
//! (half an emoji, from `text.slice(0, n)` at a length limit), which `JSON.stringify` writes as
//! an escape such as `\ud83d`; a Rust `String` cannot hold one, and serde_json refuses the
//! whole text. Such an escape is read as U+FFFD instead, as the protocol core's own JSON
//! reader does, so that the event still reaches its handler.

use serde::de::DeserializeOwned;

/// `text` read as a `T`, lone surrogate escapes read as U+FFFD.
pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_str(text).or_else(|error| match without_lone_surrogates(text) {
        Some(replaced) => serde_json::from_str(&replaced),
        None => Err(error),
    })
}

/// `text` with each escape of a lone surrogate replaced by `\ufffd`; none when it has none.
fn without_lone_surrogates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let unit_at = |i: usize| -> Option<u16> {
        let digits = bytes.get(i..i + 6).filter(|e| e.starts_with(b"\\u"))?;
        u16::from_str_radix(std::str::from_utf8(&digits[2..]).ok()?, 16).ok()
    };
    let mut lone = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        match unit_at(i) {
            Some(0xd800..=0xdbff) if matches!(unit_at(i + 6), Some(0xdc00..=0xdfff)) => i += 12,
            Some(0xd800..=0xdfff) => {
                lone.push(i);
                i += 6;
            }
            // Any other escape: `\\`, `\"`, `\n`, a `\u` of another unit.
            _ => i += 2,
        }
    }
    if lone.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for at in lone {
        out.push_str(&text[copied..at]);
        out.push_str("\\ufffd");
        copied = at + 6;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_surrogate_is_read_as_the_replacement_character() {
        assert_eq!(parse::<Vec<String>>(r#"["hi \ud83d"]"#).unwrap(), ["hi \u{fffd}"]);
        assert_eq!(parse::<Vec<String>>(r#"["\ude00 and \ud83d\ude00"]"#).unwrap(), ["\u{fffd} and 😀"]);
        assert_eq!(parse::<String>(r#""\ud83d\ud83d\ude00""#).unwrap(), "\u{fffd}😀");
        // An escaped backslash before "ud83d" is text, not an escape.
        assert_eq!(parse::<String>(r#""\\ud83d""#).unwrap(), "\\ud83d");
        assert_eq!(without_lone_surrogates(r#"["\\ud83d", "\u00e9\n"]"#), None);
    }

    #[test]
    fn other_errors_stay_errors() {
        assert!(parse::<String>(r#""\ud83d"#).is_err(), "an unterminated string");
        assert!(parse::<u32>(r#""\ud83d""#).is_err(), "a string where a number is wanted");
    }
}

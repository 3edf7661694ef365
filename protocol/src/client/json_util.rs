//! The few JSON reads and writes the client logic needs, on text, without a tree.

use crate::json::{self, Kind, Scanner};

/// A JSON container's entries, as (key, raw value text): an object's members, or an array's
/// elements under empty keys.
pub(crate) type Entries<'a> = Vec<(String, &'a str)>;

/// The elements of a JSON array (keys empty), or `None` if `text` is not one.
pub(crate) fn array_elements(text: &str) -> Option<Entries<'_>> {
    entries(text, false)
}

/// The members of a JSON object, or `None` if `text` is not one.
pub(crate) fn object_members(text: &str) -> Option<Entries<'_>> {
    entries(text, true)
}

/// The entries of a JSON object (`object`) or array: one reader for both, which the browser
/// client's wasm holds in fewer bytes than two.
fn entries(text: &str, object: bool) -> Option<Entries<'_>> {
    // A JavaScript host's scanner finds bounds in valid JSON only (`json/js_engine.rs`).
    #[cfg(all(feature = "js-json", target_arch = "wasm32"))]
    json::validate(text).ok()?;
    let (open, close) = if object { (b'{', b'}') } else { (b'[', b']') };
    let mut s = Scanner::new(text);
    s.expect(open).ok()?;
    let mut out = Vec::new();
    if !s.eat(close) {
        loop {
            let mut key = String::new();
            if object {
                key = s.read_string().ok()?.into_owned();
                s.expect(b':').ok()?;
            }
            s.peek_kind().ok()?;
            let start = s.position();
            s.skip_value().ok()?;
            out.push((key, &text[start..s.position()]));
            if s.eat(b',') {
                continue;
            }
            s.expect(close).ok()?;
            break;
        }
    }
    s.expect_end().ok()?;
    Some(out)
}

/// The value of `key` in a JSON object (the last one, as `JSON.parse` keeps).
pub(crate) fn member<'a>(members: &[(String, &'a str)], key: &str) -> Option<&'a str> {
    let mut i = members.len();
    while i > 0 {
        i -= 1;
        if members[i].0 == key {
            return Some(members[i].1);
        }
    }
    None
}

/// The unescaped value of a raw JSON string token.
pub(crate) fn string_value(raw: &str) -> Option<String> {
    let mut s = Scanner::new(raw);
    if s.peek_kind().ok()? != Kind::String {
        return None;
    }
    Some(s.read_string().ok()?.into_owned())
}

/// Whether a raw JSON value is JavaScript-truthy.
pub(crate) fn truthy(raw: &str) -> bool {
    let raw = json::trim(raw);
    let number = raw.as_bytes().first().is_some_and(|&b| b == b'-' || b.is_ascii_digit());
    let zero = number && json::number_value(raw) == 0.0;
    !(zero || matches!(raw, "\"\"" | "false" | "null"))
}

/// `JSON.stringify(Object.assign({pid, offset}, auth))`: the recovery fields first, members of
/// `auth` overriding them in place or following them. An `offset` of `None` is `undefined`
/// (left out unless `auth` sets it). Non-object `auth` adds nothing.
pub(crate) fn merge_recovery(pid: &str, offset: Option<&str>, auth: Option<&str>) -> String {
    let members = auth.and_then(object_members).unwrap_or_default();
    let mut out = String::from("{\"pid\":");
    match member(&members, "pid") {
        Some(raw) => out.push_str(raw),
        None => json::write_string(&mut out, pid),
    }
    let own_offset = member(&members, "offset");
    if own_offset.is_some() || offset.is_some() {
        out.push_str(",\"offset\":");
    }
    match (own_offset, offset) {
        (Some(raw), _) => out.push_str(raw),
        (None, Some(offset)) => json::write_string(&mut out, offset),
        (None, None) => {}
    }
    // Object.assign sets the prototype for `__proto__`: not an own, serialized property.
    for (key, raw) in &members {
        if !matches!(key.as_str(), "pid" | "offset" | "__proto__") {
            out.push(',');
            json::write_string(&mut out, key);
            out.push(':');
            out.push_str(raw);
        }
    }
    out.push('}');
    out
}

/// `[first, ...rest]` -> `[head, ...rest]` text without `first`, prefixed by `head` if given.
pub(crate) fn rest_of_array(elements: &[(String, &str)], head: Option<&str>) -> String {
    let mut out = String::from("[");
    for (i, e) in head.into_iter().chain(elements.iter().map(|e| e.1)).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(e);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_fields_merge_like_object_assign() {
        assert_eq!(merge_recovery("p1", Some("o1"), None), r#"{"pid":"p1","offset":"o1"}"#);
        assert_eq!(merge_recovery("p1", None, Some(r#"{"token":"t"}"#)), r#"{"pid":"p1","token":"t"}"#);
        assert_eq!(
            merge_recovery("p1", None, Some(r#"{"offset":"mine","a":[1,{"b":2}],"pid":null}"#)),
            r#"{"pid":null,"offset":"mine","a":[1,{"b":2}]}"#
        );
        assert_eq!(merge_recovery("p\"1", Some("x"), Some("42")), r#"{"pid":"p\"1","offset":"x"}"#);
        assert_eq!(
            merge_recovery("p1", Some("o1"), Some(r#"{"__proto__":{"x":1},"t\n":1}"#)),
            r#"{"pid":"p1","offset":"o1","t\n":1}"#
        );
    }

    #[test]
    fn reads_arrays_and_objects() {
        let values = |e: Entries<'static>| e.into_iter().map(|(k, v)| (k.is_empty(), v)).collect::<Vec<_>>();
        let elements = array_elements(r#"[ "a" , {"b":[1]} ,3]"#).map(values);
        assert_eq!(elements, Some(vec![(true, r#""a""#), (true, r#"{"b":[1]}"#), (true, "3")]));
        assert_eq!(array_elements("[]"), Some(vec![]));
        assert_eq!(array_elements("{}"), None);
        let m = object_members(r#"{"message":"no","data":{"x":1}}"#).unwrap();
        assert_eq!(member(&m, "data"), Some(r#"{"x":1}"#));
        assert!(truthy(r#""x""#) && truthy("1") && !truthy("0") && !truthy(r#""""#) && !truthy("null"));
        assert_eq!(rest_of_array(&array_elements("[1,2]").unwrap(), Some("null")), "[null,1,2]");
        assert_eq!(rest_of_array(&[], None), "[]");
    }
}

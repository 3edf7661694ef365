//! Small JSON helpers for the server core: building packet data and reading snapshots with the
//! crate's scanner (no JSON tree is built).

use crate::json::{self, check_placeholders, write_string, Kind, Scanner};
use crate::socket::is_reserved_event;

use super::{ApiError, SnapshotError};

impl From<json::JsonError> for SnapshotError {
    fn from(error: json::JsonError) -> Self {
        SnapshotError::Invalid(error)
    }
}

/// Whether `text` is one JSON value whose top level is of `kind`.
pub(crate) fn is_json_of(text: &str, kind: Kind) -> bool {
    json::validate(text).is_ok() && Scanner::new(text).peek_kind().ok() == Some(kind)
}

/// The elements of a JSON array text, without the brackets (`""` for an empty array).
/// `text` must be a valid JSON array.
pub(crate) fn array_inner(text: &str) -> &str {
    let t = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    t[1..t.len() - 1].trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// The first element of a JSON array text, as JSON text; `null` when the array is empty
/// (JavaScript passes `undefined`, which `JSON.stringify` writes as `null` in an array).
pub(crate) fn first_element(text: &str) -> String {
    let mut s = Scanner::new(text);
    if s.expect(b'[').is_err() || s.eat(b']') {
        return "null".into();
    }
    s.skip_ws();
    let start = s.position();
    if s.skip_value().is_err() {
        return "null".into();
    }
    text[start..s.position()].to_owned()
}

/// The value of the string member `key` of a JSON object text, if it is a string.
pub(crate) fn string_member(text: &str, key: &str) -> Option<String> {
    let mut s = Scanner::new(text);
    s.expect(b'{').ok()?;
    if s.eat(b'}') {
        return None;
    }
    let mut found = None;
    loop {
        let k = s.read_string().ok()?;
        s.expect(b':').ok()?;
        if *k == *key && s.peek_kind().ok()? == Kind::String {
            // the last duplicate wins, as in JSON.parse
            found = Some(s.read_string().ok()?.into_owned());
        } else {
            s.skip_value().ok()?;
        }
        if !s.eat(b',') {
            s.expect(b'}').ok()?;
            return found;
        }
    }
}

/// Appends `[..]` of JSON strings.
pub(crate) fn write_string_array<'a>(out: &mut String, items: impl IntoIterator<Item = &'a String>) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(out, item);
    }
    out.push(']');
}

/// Appends `["<base64>",..]`.
pub(crate) fn write_binaries(out: &mut String, items: &[Vec<u8>]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        crate::base64::encode_into(item, out);
        out.push('"');
    }
    out.push(']');
}

/// A reader over a snapshot text.
pub(crate) struct Reader<'a> {
    pub(crate) text: &'a str,
    pub(crate) s: Scanner<'a>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Reader { text, s: Scanner::new(text) }
    }

    /// Reads an object, calling `f` with each key; `f` must consume the value.
    pub(crate) fn object(
        &mut self,
        mut f: impl FnMut(&mut Self, &str) -> Result<(), SnapshotError>,
    ) -> Result<(), SnapshotError> {
        self.s.expect(b'{')?;
        if self.s.eat(b'}') {
            return Ok(());
        }
        loop {
            let key = self.s.read_string()?.into_owned();
            self.s.expect(b':')?;
            f(self, &key)?;
            if !self.s.eat(b',') {
                self.s.expect(b'}')?;
                return Ok(());
            }
        }
    }

    /// Reads an array, calling `f` for each element; `f` must consume it.
    pub(crate) fn array(
        &mut self,
        mut f: impl FnMut(&mut Self) -> Result<(), SnapshotError>,
    ) -> Result<(), SnapshotError> {
        self.s.expect(b'[')?;
        if self.s.eat(b']') {
            return Ok(());
        }
        loop {
            f(self)?;
            if !self.s.eat(b',') {
                self.s.expect(b']')?;
                return Ok(());
            }
        }
    }

    pub(crate) fn string(&mut self) -> Result<String, SnapshotError> {
        Ok(self.s.read_string()?.into_owned())
    }

    pub(crate) fn u64(&mut self) -> Result<u64, SnapshotError> {
        self.s.read_number()?.parse().map_err(|_| SnapshotError::Field("number"))
    }

    pub(crate) fn is_null(&mut self) -> Result<bool, SnapshotError> {
        if self.s.peek_kind()? == Kind::Null {
            self.s.skip_value()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    pub(crate) fn opt_u64(&mut self) -> Result<Option<u64>, SnapshotError> {
        if self.is_null()? {
            Ok(None)
        } else {
            self.u64().map(Some)
        }
    }

    pub(crate) fn bool(&mut self) -> Result<bool, SnapshotError> {
        match self.s.peek_kind()? {
            Kind::True => {
                self.s.skip_value()?;
                Ok(true)
            }
            Kind::False => {
                self.s.skip_value()?;
                Ok(false)
            }
            _ => Err(SnapshotError::Field("bool")),
        }
    }

    /// The raw JSON text of the next value.
    pub(crate) fn raw(&mut self) -> Result<String, SnapshotError> {
        self.s.skip_ws();
        let start = self.s.position();
        self.s.skip_value()?;
        Ok(self.text[start..self.s.position()].to_owned())
    }

    pub(crate) fn strings(&mut self) -> Result<Vec<String>, SnapshotError> {
        let mut out = Vec::new();
        self.array(|r| {
            out.push(r.string()?);
            Ok(())
        })?;
        Ok(out)
    }

    pub(crate) fn binaries(&mut self) -> Result<Vec<Vec<u8>>, SnapshotError> {
        let mut out = Vec::new();
        self.array(|r| {
            let text = r.string()?;
            out.push(crate::base64::decode(&text).ok_or(SnapshotError::Field("base64"))?);
            Ok(())
        })?;
        Ok(out)
    }

    pub(crate) fn skip(&mut self) -> Result<(), SnapshotError> {
        self.s.skip_value()?;
        Ok(())
    }

    pub(crate) fn end(&mut self) -> Result<(), SnapshotError> {
        self.s.expect_end()?;
        Ok(())
    }
}

/// An event name an application may emit (not one of the protocol's own).
fn check_event(event: &str) -> Result<(), ApiError> {
    if is_reserved_event(event) {
        return Err(ApiError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}

/// Arguments must be a JSON array. Placeholders are checked only when there are attachments:
/// without any, the packet goes as text, where an object shaped like a placeholder is plain
/// data (socket.io-parser reconstructs binary packets only).
pub(super) fn check_args(args: &str, attachments: &[Vec<u8>]) -> Result<(), ApiError> {
    if !is_json_of(args, Kind::Array) {
        return Err(ApiError::InvalidArgs);
    }
    if attachments.is_empty() {
        return Ok(());
    }
    check_placeholders(args, attachments.len()).map_err(|()| ApiError::InvalidAttachments)
}

/// What every emit checks before it changes anything: the event name and the arguments.
pub(super) fn check_emit(event: &str, args: &str, attachments: &[Vec<u8>]) -> Result<(), ApiError> {
    check_event(event)?;
    check_args(args, attachments)
}

/// `[event, ...args, offset?]` as JSON text, of arguments [`check_emit`] accepted.
pub(super) fn event_data(event: &str, args: &str, offset: Option<&str>) -> String {
    let inner = array_inner(args);
    let mut out = String::with_capacity(event.len() + args.len() + 32);
    out.push('[');
    write_string(&mut out, event);
    if !inner.is_empty() {
        out.push(',');
        out.push_str(inner);
    }
    if let Some(offset) = offset {
        out.push(',');
        write_string(&mut out, offset);
    }
    out.push(']');
    out
}

//! The Engine.IO `open` packet data and the HTTP errors of the reference server.

use crate::json::{self, Kind, Scanner};

/// The session parameters the server sends in its `open` packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The session id.
    pub sid: String,
    /// Transports the client may upgrade to (`["websocket"]` from polling, `[]` otherwise).
    pub upgrades: Vec<String>,
    /// Milliseconds between two server pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong.
    pub ping_timeout: u64,
    /// Largest payload, in bytes, the server accepts in one request or message.
    pub max_payload: u64,
}

/// Why an `open` packet could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// The data is not JSON.
    Json(json::JsonError),
    /// A field is missing or has the wrong type.
    Field(&'static str),
}

impl HandshakeError {
    /// What went wrong (what [`std::fmt::Display`] writes).
    pub fn message(&self) -> String {
        match self {
            HandshakeError::Json(error) => crate::concat(&["handshake is not JSON: ", &error.message()]),
            HandshakeError::Field(name) => crate::concat(&["handshake field `", name, "` is missing or invalid"]),
        }
    }
}

error_from_message!(HandshakeError);

impl From<json::JsonError> for HandshakeError {
    fn from(error: json::JsonError) -> Self {
        HandshakeError::Json(error)
    }
}

impl Handshake {
    /// The JSON text, in the reference server's field order.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(128);
        out.push_str("{\"sid\":");
        json::write_string(&mut out, &self.sid);
        out.push_str(",\"upgrades\":[");
        for (i, upgrade) in self.upgrades.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::write_string(&mut out, upgrade);
        }
        out.push_str(&format!(
            "],\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{}}}",
            self.ping_interval, self.ping_timeout, self.max_payload
        ));
        out
    }

    /// Reads the JSON text of an `open` packet. Unknown fields are ignored.
    pub fn from_json(text: &str) -> Result<Self, HandshakeError> {
        json::validate(text)?;
        let (mut sid, mut upgrades, mut interval, mut timeout, mut max_payload) = (None, None, None, None, None);
        let mut s = Scanner::new(text);
        s.expect(b'{')?;
        if !s.eat(b'}') {
            loop {
                let key = s.read_string()?;
                s.expect(b':')?;
                let kind = s.peek_kind()?;
                match (&*key, kind) {
                    ("sid", Kind::String) => sid = Some(s.read_string()?.into_owned()),
                    ("upgrades", Kind::Array) => {
                        let mut list = Vec::new();
                        s.expect(b'[')?;
                        if !s.eat(b']') {
                            loop {
                                if s.peek_kind()? != Kind::String {
                                    return Err(HandshakeError::Field("upgrades"));
                                }
                                list.push(s.read_string()?.into_owned());
                                if !s.eat(b',') {
                                    s.expect(b']')?;
                                    break;
                                }
                            }
                        }
                        upgrades = Some(list);
                    }
                    ("pingInterval", Kind::Number) => interval = Some(read_millis(&mut s, "pingInterval")?),
                    ("pingTimeout", Kind::Number) => timeout = Some(read_millis(&mut s, "pingTimeout")?),
                    ("maxPayload", Kind::Number) => max_payload = Some(read_millis(&mut s, "maxPayload")?),
                    _ => s.skip_value()?,
                }
                if !s.eat(b',') {
                    s.expect(b'}')?;
                    break;
                }
            }
        }
        Ok(Handshake {
            sid: sid.ok_or(HandshakeError::Field("sid"))?,
            upgrades: upgrades.unwrap_or_default(),
            ping_interval: interval.ok_or(HandshakeError::Field("pingInterval"))?,
            ping_timeout: timeout.ok_or(HandshakeError::Field("pingTimeout"))?,
            max_payload: max_payload.ok_or(HandshakeError::Field("maxPayload"))?,
        })
    }
}

fn read_millis(s: &mut Scanner<'_>, field: &'static str) -> Result<u64, HandshakeError> {
    let value = json::number_value(s.read_number()?);
    if value >= 0.0 && value <= u64::MAX as f64 && value.fract() == 0.0 {
        Ok(value as u64)
    } else {
        Err(HandshakeError::Field(field))
    }
}

/// The errors the reference Engine.IO server answers a bad HTTP request with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// `transport` is missing or not one the server runs.
    #[error("Transport unknown")]
    UnknownTransport = 0,
    /// No session has this `sid`.
    #[error("Session ID unknown")]
    UnknownSid = 1,
    /// A handshake with a method other than GET.
    #[error("Bad handshake method")]
    BadHandshakeMethod = 2,
    /// Anything else malformed (wrong transport for the session, bad upgrade, ...).
    #[error("Bad request")]
    BadRequest = 3,
    /// Refused by the server's checks (origin, `allowRequest`).
    #[error("Forbidden")]
    Forbidden = 4,
    /// `EIO` is not `4`.
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion = 5,
}

impl ServerError {
    /// The error's numeric code, as in the JSON body.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The HTTP status: 403 for `Forbidden`, 400 otherwise.
    pub fn status(self) -> u16 {
        if self == ServerError::Forbidden {
            403
        } else {
            400
        }
    }

    /// The JSON body `{"code":n,"message":"..."}` (served as `application/json`).
    pub fn body(self) -> String {
        format!("{{\"code\":{},\"message\":\"{}\"}}", self.code(), self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_round_trips_in_reference_order() {
        let h = Handshake {
            sid: "lv_VI97HAXpY6yYWAAAC".into(),
            upgrades: vec!["websocket".into()],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload: 1_000_000,
        };
        let text = h.to_json();
        assert_eq!(
            text,
            r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        assert_eq!(Handshake::from_json(&text), Ok(h));
        assert_eq!(Handshake::from_json(r#"{"sid":"x"}"#), Err(HandshakeError::Field("pingInterval")));
        assert!(Handshake::from_json("{").is_err());
    }

    #[test]
    fn server_errors_match_the_reference() {
        assert_eq!(ServerError::UnknownSid.body(), r#"{"code":1,"message":"Session ID unknown"}"#);
        assert_eq!(ServerError::Forbidden.status(), 403);
        assert_eq!(ServerError::BadRequest.status(), 400);
    }
}

//! What is remembered of each WebSocket an object has accepted:
//! - by workerd, across evictions: its tags ([`Tags`]), set when it is accepted;
//! - by an object's instance: its session's handle, so that a message is matched to its
//!   session with one call out of wasm (no `getTags`, no session id copied into wasm memory,
//!   no lookup by id).

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasmio_protocol::engine::SessionHandle;
use worker::WebSocket;

#[wasm_bindgen]
extern "C" {
    /// A `WeakMap` from WebSockets to session handles, as JavaScript numbers.
    #[wasm_bindgen(js_name = WeakMap)]
    type HandleMap;

    #[wasm_bindgen(constructor, js_class = "WeakMap")]
    fn new() -> HandleMap;

    /// The handle kept for a WebSocket, read as a number in the same call (`js_sys::WeakMap`'s
    /// `get` would return a value to read with a second one).
    #[wasm_bindgen(method, js_class = "WeakMap")]
    fn get(this: &HandleMap, key: &js_sys::Object) -> Option<f64>;

    #[wasm_bindgen(method, js_class = "WeakMap")]
    fn set(this: &HandleMap, key: &js_sys::Object, handle: f64);

    #[wasm_bindgen(method, js_class = "WeakMap")]
    fn delete(this: &HandleMap, key: &js_sys::Object);
}

/// Tag of a WebSocket that is probing for an upgrade (beside the sid tag).
pub(crate) const PROBE_TAG: &str = "probe";
/// The tag telling when a hibernatable WebSocket was accepted (`accepted@<ms>`): a session
/// rebuilt after an eviction knows since when its client was alive even if it never answered
/// a ping (no sid has an `@`).
const ACCEPTED_TAG: &str = "accepted@";
/// Tag of a WebSocket whose client takes no binary frames: its request carried the `b64`
/// query parameter (socket.io-client's `forceBase64`), so binary goes as `b<base64>` text,
/// as the reference server sends it.
pub(crate) const BASE64_TAG: &str = "b64";

/// Closes a hibernatable WebSocket for good: its attachment is emptied first, so that no
/// later instance brings its session back ([`closed_by_object`]). workerd lists a WebSocket
/// the object closed until its peer answers the close, which a dead peer never does.
pub(crate) fn close_for_good(ws: &WebSocket, code: u16, reason: &str) {
    if let Err(error) = ws.serialize_attachment("") {
        worker::console_error!("a WebSocket being closed could not be marked closed: {error}");
    }
    // Closing a socket the peer already closed fails harmlessly.
    let _ = ws.close(Some(code), Some(reason));
}

/// Whether the object closed this WebSocket ([`close_for_good`]) and waits for its peer's
/// answer: its session is over.
pub(crate) fn closed_by_object(ws: &WebSocket) -> bool {
    matches!(ws.deserialize_attachment::<String>(), Ok(Some(attachment)) if attachment.is_empty())
}

/// The tags of a hibernatable WebSocket, as workerd keeps them: its session's id, when it
/// was accepted, and the marks above.
pub(crate) struct Tags(pub(crate) Vec<String>);

impl Tags {
    /// The tags of a WebSocket of session `sid` accepted at `now_ms`, with `marks`
    /// ([`PROBE_TAG`], [`BASE64_TAG`]).
    pub(crate) fn new(sid: &str, now_ms: u64, marks: &[&str]) -> Self {
        let accepted = format!("{ACCEPTED_TAG}{now_ms}");
        Tags([sid, &accepted].into_iter().chain(marks.iter().copied()).map(str::to_owned).collect())
    }

    /// Its session's id (the tag that is neither a mark nor the acceptance time).
    pub(crate) fn sid(&self) -> Option<&str> {
        let is_sid = |tag: &&String| *tag != PROBE_TAG && *tag != BASE64_TAG && !tag.starts_with(ACCEPTED_TAG);
        self.0.iter().find(is_sid).map(String::as_str)
    }

    /// When it was accepted.
    pub(crate) fn accepted_at(&self) -> Option<u64> {
        self.0.iter().find_map(|tag| tag.strip_prefix(ACCEPTED_TAG)?.parse().ok())
    }

    /// Whether it carries `mark`.
    pub(crate) fn has(&self, mark: &str) -> bool {
        self.0.iter().any(|tag| tag == mark)
    }
}

/// What an instance keeps of a WebSocket's session.
pub(crate) enum KnownSession {
    /// Its handle (which may have ended since).
    Handle(SessionHandle),
    /// Its id, when the handle does not fit a JavaScript number.
    Sid(String),
}

/// The sessions of the WebSockets an instance has met: set when it accepts one (a standard
/// WebSocket has no tags), or when it first meets a hibernatable one an earlier instance
/// accepted (its tag read once).
pub(crate) struct WebSocketSessions {
    handles: RefCell<HandleMap>,
    /// The ids of the sessions whose handle does not fit a JavaScript number exactly (a slot
    /// reused 2^21 times), created at the first one: until then a WebSocket with no handle
    /// is not looked for there.
    ids: RefCell<Option<js_sys::WeakMap>>,
}

impl WebSocketSessions {
    /// Nothing remembered yet.
    pub(crate) fn new() -> Self {
        WebSocketSessions { handles: RefCell::new(HandleMap::new()), ids: RefCell::new(None) }
    }

    /// What this instance kept of `ws`'s session, if it met it.
    pub(crate) fn known(&self, ws: &WebSocket) -> Option<KnownSession> {
        let key = key_of(ws);
        if let Some(bits) = self.handles.borrow().get(key) {
            return Some(KnownSession::Handle(SessionHandle::from_bits(bits as u64)));
        }
        self.ids.borrow().as_ref()?.get(key).as_string().map(KnownSession::Sid)
    }

    /// Keeps `ws`'s session: its handle as a number when a JavaScript number holds it exactly
    /// (below 2^53), else its id.
    pub(crate) fn remember(&self, ws: &WebSocket, handle: SessionHandle, sid: &str) {
        let bits = handle.to_bits();
        if bits < 1 << f64::MANTISSA_DIGITS {
            self.handles.borrow().set(key_of(ws), bits as f64);
            return;
        }
        // A handle kept before for this WebSocket would be read first.
        self.handles.borrow().delete(key_of(ws));
        let mut ids = self.ids.borrow_mut();
        ids.get_or_insert_with(js_sys::WeakMap::new).set(key_of(ws), &JsValue::from_str(sid));
    }

    /// Forgets every WebSocket, as a new instance starts (the hibernation test hook).
    pub(crate) fn clear(&self) {
        *self.handles.borrow_mut() = HandleMap::new();
        *self.ids.borrow_mut() = None;
    }
}

/// A WebSocket as a `WeakMap` key.
fn key_of(ws: &WebSocket) -> &js_sys::Object {
    ws.as_ref().unchecked_ref()
}

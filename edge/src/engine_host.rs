//! The Engine.IO host inside a Durable Object: a thin adapter between workerd (HTTP requests,
//! hibernatable WebSockets, one alarm) and the core's [`Endpoint`], which owns the sessions,
//! their timers and every lifecycle rule. The host reads the clock once per input, carries
//! out the endpoint's outputs on the runtime's objects, and hands the sessions' events to an
//! [`EngineApp`] (the echo server, the Socket.IO server).
//!
//! Polling GETs are held open inside this object until the session has something to send.
//! WebSockets are accepted with the hibernation API and tagged with their sid, so a woken
//! object finds its sessions again ([`Endpoint::resume_websocket`]). One alarm, set to the
//! earliest deadline of all sessions, sends the pings of the whole object.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use futures_channel::oneshot;
use rustc_hash::FxHashMap;
use wasm_bindgen::prelude::*;
use wasmio_protocol::engine::{
    Channel, CloseReason, Data, Endpoint, EndpointError, Frame, Output, PollOutcome, PostError, ServerError,
    ServerEvent, SessionHandle, TransportKind,
};
use worker::{Response, Result, State, WebSocket, WebSocketIncomingMessage, WebSocketPair};

use crate::auto_pongs::AutoPongs;
use crate::config::{Config, HeartbeatMode};
use crate::handshake_request::{request_info, RequestInfo};
use crate::http;
use crate::routing::{is_websocket_upgrade, new_sid, object_of_sid, query_of, query_value, EngineQuery};
use crate::websocket_sessions::{
    close_for_good, closed_by_object, KnownSession, Tags, WebSocketSessions, BASE64_TAG, PROBE_TAG,
};
use crate::OBJECT_HEADER;

/// The code of a WebSocket's close event when its connection was lost without a close frame
/// (RFC 6455, 7.1.5).
const CONNECTION_LOST: usize = 1006;

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues`, present in workerd.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);

    /// A WebSocket seen through `send(string)`.
    type TextSender;

    /// Sends a string already in JavaScript (no copy out of wasm memory per call).
    #[wasm_bindgen(method, catch, js_name = send)]
    fn send(this: &TextSender, data: &js_sys::JsString) -> std::result::Result<(), JsValue>;

    /// Sends a string read out of wasm memory within the same call.
    #[wasm_bindgen(method, catch, js_name = send)]
    fn send_text(this: &TextSender, data: &str) -> std::result::Result<(), JsValue>;
}

/// A random number.
pub fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    get_random_values(&mut bytes);
    u32::from_le_bytes(bytes)
}

/// 20 random base64url characters (120 bits), like the reference `base64id`.
pub fn random_id() -> String {
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 20];
    get_random_values(&mut bytes);
    bytes.iter().map(|b| URL_SAFE[(b & 63) as usize] as char).collect()
}

/// The current time, ms since the epoch (`Date.now()`: one call, no `Date` object).
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// Why the application refused a new session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session refused: {0}")]
pub struct OpenRefused(pub String);

/// The application on top of Engine.IO sessions. The host never holds a borrow of its state
/// while calling it, so it may call [`EngineHost::send`] and [`EngineHost::close`].
pub trait EngineApp {
    /// A session completed its handshake; refused, the handshake is answered 400 and the
    /// session ends.
    fn on_open(&self, host: &EngineHost, sid: &str, request: RequestInfo) -> std::result::Result<(), OpenRefused>;
    /// A session delivered a message.
    fn on_message(&self, host: &EngineHost, sid: &str, data: Data);
    /// A session moved from polling to its WebSocket: what the application persists for it
    /// must now travel with that WebSocket.
    fn on_upgrade(&self, host: &EngineHost, sid: &str);
    /// A session closed.
    fn on_close(&self, host: &EngineHost, sid: &str, reason: CloseReason);
}

/// What this object holds for one session of the endpoint: its id, and the runtime objects
/// the endpoint's outputs are carried out on.
struct Transports {
    sid: String,
    websocket: Option<WebSocket>,
    probe: Option<WebSocket>,
    /// The held poll GET, answered through this channel (a payload, or an error).
    held_poll: Option<oneshot::Sender<std::result::Result<String, ServerError>>>,
}

impl Transports {
    fn new(sid: &str) -> Self {
        Transports { sid: sid.to_owned(), websocket: None, probe: None, held_poll: None }
    }

    fn channel(&mut self, channel: Channel) -> &mut Option<WebSocket> {
        match channel {
            Channel::Transport => &mut self.websocket,
            Channel::Probe => &mut self.probe,
        }
    }
}

/// Which sessions' deadlines an input visits ([`EngineHost::visit_deadlines`]).
enum Deadlines {
    /// The alarm fired: those due soon ([`Endpoint::handle_alarm`]).
    Alarm,
    /// Any other input: those already past, if any ([`Endpoint::handle_overdue`]). workerd
    /// delivers the alarm between events, so a client sending without pause would otherwise
    /// get no ping, and see a ping timeout.
    Overdue,
}

/// What feeds the events of a WebSocket accepted without hibernation to the object.
type DeliverEvents = Box<dyn Fn(WebSocket)>;

/// The Engine.IO sessions of one Durable Object: the core's [`Endpoint`] and the WebSockets
/// and held requests its outputs are carried out on.
pub struct EngineHost {
    state: State,
    config: Rc<Config>,
    endpoint: RefCell<Endpoint>,
    transports: RefCell<FxHashMap<SessionHandle, Transports>>,
    /// Events carried out of the endpoint while no application was at hand (a send or close
    /// the application asked for), delivered at the next [`EngineHost::drive`].
    pending_events: RefCell<VecDeque<(String, ServerEvent)>>,
    /// Whether workerd answers pongs ([`EngineHost::answer_pongs_automatically`]).
    auto_pongs: AutoPongs,
    /// Whether this instance has read the alarm its previous instance left set.
    alarm_read: Cell<bool>,
    /// With strict heartbeats, WebSockets are accepted without hibernation and their events
    /// reach the object through this ([`EngineHost::deliver_standard_websocket_events`]).
    deliver_events: RefCell<Option<DeliverEvents>>,
    /// The session of each WebSocket this instance has met.
    websocket_sessions: WebSocketSessions,
    /// The time of the WebSocket message being handled, read once for all its work
    /// ([`EngineHost::now`]).
    message_time: Cell<Option<u64>>,
}

impl EngineHost {
    /// The host of the object with this state.
    pub fn new(state: State, config: Rc<Config>) -> Self {
        EngineHost {
            endpoint: RefCell::new(Endpoint::new(config.engine.clone())),
            state,
            config,
            transports: RefCell::new(FxHashMap::default()),
            pending_events: RefCell::new(VecDeque::new()),
            auto_pongs: AutoPongs::off(),
            alarm_read: Cell::new(false),
            deliver_events: RefCell::new(None),
            websocket_sessions: WebSocketSessions::new(),
            message_time: Cell::new(None),
        }
    }

    /// With strict heartbeats, WebSockets are accepted without hibernation, so that a dead
    /// peer closed by the alarm loses its connection at once (workerd releases a hibernatable
    /// one only when it is closed in its own event); `deliver` then receives each accepted
    /// WebSocket, to feed its events to the object's handlers.
    pub fn deliver_standard_websocket_events(&self, deliver: impl Fn(WebSocket) + 'static) {
        if self.config.heartbeat == HeartbeatMode::Strict {
            *self.deliver_events.borrow_mut() = Some(Box::new(deliver));
        }
    }

    /// Accepts a WebSocket of session `sid` (`handle`), asked for by a request with `query`
    /// (tagged `marks` beside the sid when hibernatable, and [`BASE64_TAG`] when its client
    /// takes no binary frames, which the session is told).
    fn accept(&self, ws: &WebSocket, query: &str, handle: SessionHandle, sid: &str, marks: &[&str]) -> Result<()> {
        self.websocket_sessions.remember(ws, handle, sid);
        // As the reference: any non-empty value (`b64=1` from socket.io-client).
        let base64_only = query_value(query, "b64").is_some_and(|value| !value.is_empty());
        if base64_only {
            self.endpoint.borrow_mut().send_binary_as_text(handle);
        }
        let marks: Vec<&str> = marks.iter().copied().chain(base64_only.then_some(BASE64_TAG)).collect();
        match &*self.deliver_events.borrow() {
            Some(deliver) => {
                ws.accept()?;
                // Binary messages as bytes (workerd's standard default is a Blob).
                let raw: &web_sys::WebSocket = ws.as_ref();
                raw.set_binary_type(web_sys::BinaryType::Arraybuffer);
                deliver(ws.clone());
            }
            None => {
                let tags = Tags::new(sid, now_ms(), &marks);
                let all: Vec<&str> = tags.0.iter().map(String::as_str).collect();
                self.state.accept_websocket_with_tags(ws, &all);
            }
        }
        Ok(())
    }

    /// The object's state (storage, WebSockets).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Serves an Engine.IO request forwarded by the fetch entry. The runtime's request is read
    /// as it is, not wrapped in workers-rs's `Request` (which copies out its method and URL,
    /// reads its `cf` properties and parses the whole URL at each `url()`): its URL is read
    /// once, by the caller, which passes it (`url`), and only its query parsed.
    pub async fn fetch(&self, req: web_sys::Request, url: &str, app: &impl EngineApp) -> Result<web_sys::Response> {
        let query = query_of(url);
        let EngineQuery { transport, sid, v4 } = EngineQuery::parse(query);
        match (sid, transport) {
            (_, None) => http::engine_error(&req, &self.config, ServerError::UnknownTransport),
            (None, Some(kind)) => self.handshake(&req, query, kind, app),
            (Some(sid), Some(transport)) => self.session_request(&req, query, sid, transport, v4, app).await,
        }
    }

    /// A frame arrived on one of the object's WebSockets.
    pub fn websocket_message(&self, ws: &WebSocket, message: WebSocketIncomingMessage, app: &impl EngineApp) {
        let frame = match message {
            WebSocketIncomingMessage::String(text) => Frame::Text(text),
            WebSocketIncomingMessage::Binary(bytes) => Frame::Binary(bytes),
        };
        if let Some(handle) = self.websocket_handle(ws) {
            let now = now_ms();
            // One read serves the message's whole synchronous handling (the application's,
            // through `now`, too): the time it arrived. At the edge the clock does not move
            // while JavaScript runs anyway; under local workerd it does (85 ms over a busy
            // loop), by no more than the handling's own duration.
            let outer = self.message_time.replace(Some(now));
            self.endpoint.borrow_mut().handle_websocket_frame(handle, frame, now);
            self.visit_deadlines(now, Deadlines::Overdue);
            self.drive(app);
            self.message_time.set(outer);
        }
    }

    /// The current time, ms since the epoch: the time read for the WebSocket message being
    /// handled, if any, else `Date.now()`.
    pub fn now(&self) -> u64 {
        self.message_time.get().unwrap_or_else(now_ms)
    }

    /// One of the object's WebSockets closed from the client's side with close code `code`:
    /// a close frame the client sent is answered, completing the close handshake (workerd
    /// leaves the answer to the object), then the session learns it. A connection lost without
    /// a close frame (1006) gets no answer: there is no one to write to, and workerd reports the
    /// failed write of a standard WebSocket's close as an uncaught "Network connection lost"
    /// error.
    pub fn websocket_closed_by_peer(&self, ws: &WebSocket, code: usize, app: &impl EngineApp) {
        if code != CONNECTION_LOST {
            // Closed meanwhile by the object itself: there is nothing left to answer.
            let _ = ws.close(Some(1000), Some("closed"));
        }
        self.websocket_gone(ws, app);
    }

    /// One of the object's WebSockets closed: its session ends with `transport close`.
    pub fn websocket_gone(&self, ws: &WebSocket, app: &impl EngineApp) {
        self.websocket_lost(ws, Endpoint::handle_websocket_closed, app);
    }

    /// One of the object's WebSockets failed (workerd's error event, or a message refused as
    /// too big): its session ends with `transport error`, as the reference's on its `ws`'s
    /// error (the application's `disconnect` handler reads it).
    pub fn websocket_failed(&self, ws: &WebSocket, app: &impl EngineApp) {
        self.websocket_lost(ws, Endpoint::handle_websocket_failed, app);
    }

    fn websocket_lost(&self, ws: &WebSocket, lost: fn(&mut Endpoint, SessionHandle, u64), app: &impl EngineApp) {
        let Some(handle) = self.websocket_handle(ws) else { return };
        let mut endpoint = self.endpoint.borrow_mut();
        // A polling session only has a probe; a WebSocket session only its WebSocket (an
        // upgraded probe keeps its probe tag, so the tag cannot tell).
        if let (Some(kind), Some(transports)) =
            (endpoint.transport(handle), self.transports.borrow_mut().get_mut(&handle))
        {
            match kind {
                TransportKind::Polling => transports.probe = None,
                TransportKind::WebSocket => transports.websocket = None,
            }
        }
        lost(&mut endpoint, handle, now_ms());
        drop(endpoint);
        self.drive(app);
    }

    /// Lets workerd answer pongs (`3`) with a noop (`6`) itself, so that heartbeats do not
    /// wake the object; the alarm reads when the last one came ([`EngineHost::alarm`]).
    pub fn answer_pongs_automatically(&self) -> Result<()> {
        self.auto_pongs.enable(&self.state)
    }

    /// The alarm fired: the endpoint visits the sessions with a deadline near
    /// ([`Endpoint::handle_alarm`]), told when workerd last answered each one's pong.
    pub fn alarm(&self, app: &impl EngineApp) {
        self.restore_websocket_sessions(|_, _| {});
        self.visit_deadlines(now_ms(), Deadlines::Alarm);
        self.drive(app);
    }

    /// Has the endpoint visit the sessions' deadlines, told when workerd last answered each
    /// one's pong.
    fn visit_deadlines(&self, now: u64, which: Deadlines) {
        let transports = self.transports.borrow();
        let auto_pong_at = |handle: SessionHandle| {
            self.auto_pongs.answered_at(&self.state, transports.get(&handle)?.websocket.as_ref()?)
        };
        let mut endpoint = self.endpoint.borrow_mut();
        match which {
            Deadlines::Alarm => endpoint.handle_alarm(now, auto_pong_at),
            Deadlines::Overdue => endpoint.handle_overdue(now, auto_pong_at),
        }
    }

    /// Tells the endpoint when an earlier instance last pinged WebSocket sessions (kept in
    /// storage from [`EngineHost::take_websocket_ping`]), before sessions are restored: a
    /// client silent since is closed at that ping's deadline ([`Endpoint::pinged_before`]).
    pub fn pinged_before(&self, at_ms: u64) {
        self.endpoint.borrow_mut().pinged_before(at_ms);
    }

    /// When this instance last pinged WebSocket sessions, if that changed since the last call
    /// and an eviction can come before the pings' deadline (hibernation, with automatic pongs).
    pub fn take_websocket_ping(&self) -> Option<u64> {
        let pinged_at = self.endpoint.borrow_mut().take_websocket_ping();
        pinged_at.filter(|_| self.auto_pongs.enabled())
    }

    /// Drops every session from memory, as an eviction from memory would; WebSocket sessions
    /// come back from their tags at the next event. (Used by the hibernation test hook.)
    pub fn forget(&self) {
        *self.endpoint.borrow_mut() = Endpoint::new(self.config.engine.clone());
        self.transports.borrow_mut().clear();
        self.pending_events.borrow_mut().clear();
        self.websocket_sessions.clear();
    }

    /// Queues a message on a session and writes what it can right away.
    pub fn send(&self, sid: &str, data: Data) {
        let mut endpoint = self.endpoint.borrow_mut();
        if let Some(handle) = endpoint.lookup(sid) {
            endpoint.send(handle, data, self.now());
        }
        drop(endpoint);
        self.carry_out();
    }

    /// Sends one text message to many sessions: the WebSocket frame is built and, for more
    /// than one, handed to JavaScript once, then written to every session that takes it
    /// directly; the others (polling, upgrading, closing) get it through the endpoint.
    pub fn send_text_to_many(&self, sids: &[String], text: &str) {
        let mut frame: Option<js_sys::JsString> = None;
        let now = self.now();
        let mut endpoint = self.endpoint.borrow_mut();
        let transports = self.transports.borrow();
        for sid in sids {
            let Some(handle) = endpoint.lookup(sid) else { continue };
            let direct = transports
                .get(&handle)
                .and_then(|t| t.websocket.as_ref())
                .filter(|_| endpoint.writes_messages_directly(handle));
            match direct {
                Some(ws) => {
                    let ws: &TextSender = ws.as_ref().unchecked_ref();
                    // A failed send means the socket is closing: its close event ends the session.
                    let _ = match sids.len() {
                        // One recipient (an emit to the socket itself): one call out of wasm.
                        1 => ws.send_text(&message_frame(text)),
                        _ => ws.send(frame.get_or_insert_with(|| js_sys::JsString::from(message_frame(text)))),
                    };
                }
                None => endpoint.send(handle, Data::Text(text.to_owned()), now),
            }
        }
        drop((endpoint, transports));
        self.carry_out();
    }

    /// Closes a session from the server side.
    pub fn close(&self, sid: &str, reason: CloseReason) {
        let mut endpoint = self.endpoint.borrow_mut();
        if let Some(handle) = endpoint.lookup(sid) {
            endpoint.close(handle, reason, now_ms());
        }
        drop(endpoint);
        self.carry_out();
    }

    /// Every session with whether it can take a message now (socket.io's `transport.writable`).
    pub fn writability(&self) -> Vec<(String, bool)> {
        let endpoint = self.endpoint.borrow();
        endpoint.sessions().map(|(handle, sid)| (sid.to_owned(), endpoint.is_writable(handle))).collect()
    }

    /// The deployment's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How many sessions are open (not yet closed) in this instance's memory.
    pub fn open_sessions(&self) -> usize {
        self.endpoint.borrow().open_sessions()
    }

    /// The WebSocket carrying a session, if it runs over one.
    pub fn websocket(&self, sid: &str) -> Option<WebSocket> {
        let handle = self.endpoint.borrow().lookup(sid)?;
        self.transports.borrow().get(&handle)?.websocket.clone()
    }

    fn handshake(
        &self,
        req: &web_sys::Request,
        query: &str,
        kind: TransportKind,
        app: &impl EngineApp,
    ) -> Result<web_sys::Response> {
        let sid = new_sid(&object_name(req)?, &random_id());
        let now = now_ms();
        let info = request_info(req, query)?;
        let admitted = self.endpoint.borrow_mut().admit(&info.address, now);
        let handle = match admitted.and_then(|()| self.endpoint.borrow_mut().open(sid.clone(), kind, now)) {
            Ok(handle) => handle,
            Err(EndpointError::TooManyHandshakes { retry_after_ms }) => {
                return http::too_many_requests(req, &self.config, retry_after_ms.div_ceil(1000))
            }
            // The object is full: another time, or another object (a new handshake).
            Err(EndpointError::Full) => return http::status(req, &self.config, 503),
            Err(EndpointError::DuplicateSid | EndpointError::UnknownSession) => {
                return http::engine_error(req, &self.config, ServerError::BadRequest)
            }
        };
        // Decided before anything is sent: a refused session gets 400, not an open packet.
        if let Err(refused) = app.on_open(self, &sid, info) {
            worker::console_warn!("{refused}");
            self.endpoint.borrow_mut().close(handle, CloseReason::ForcedClose, now);
            self.carry_out();
            return http::engine_error(req, &self.config, ServerError::BadRequest);
        }
        let mut transports = Transports::new(&sid);
        let response = match kind {
            TransportKind::WebSocket => {
                let pair = WebSocketPair::new()?;
                self.accept(&pair.server, query, handle, &sid, &[])?;
                transports.websocket = Some(pair.server);
                self.transports.borrow_mut().insert(handle, transports);
                Response::from_websocket(pair.client).map(Into::into)
            }
            TransportKind::Polling => {
                self.transports.borrow_mut().insert(handle, transports);
                match self.endpoint.borrow_mut().handle_poll(handle, now) {
                    Ok(PollOutcome::Respond(open)) => http::text(req, &self.config, &open),
                    _ => http::engine_error(req, &self.config, ServerError::BadRequest),
                }
            }
        };
        self.carry_out();
        self.drive(app);
        response
    }

    /// A request of session `sid` on `transport`, its query `query` (`v4`: it says `EIO=4`).
    async fn session_request(
        &self,
        req: &web_sys::Request,
        query: &str,
        sid: String,
        transport: TransportKind,
        v4: bool,
        app: &impl EngineApp,
    ) -> Result<web_sys::Response> {
        let config = &self.config;
        let lookup = {
            let endpoint = self.endpoint.borrow();
            endpoint.lookup(&sid).and_then(|handle| Some((handle, endpoint.transport(handle)?)))
        };
        let is_post = req.method() == "POST";
        // As the reference: a request of a session in another protocol revision is refused
        // before it is served (its body is drained, never handled).
        let other_revision = !v4;
        // A POST is known before its body is read: a second one meanwhile is an overlap. Only
        // a POST the session's polling transport serves counts (another is refused, 400, and
        // leaves the session as it was, as the reference's `verify()`).
        let begun = match lookup {
            Some((handle, TransportKind::Polling))
                if is_post && !other_revision && transport == TransportKind::Polling =>
            {
                Some(self.endpoint.borrow_mut().begin_post(handle, now_ms()))
            }
            _ => None,
        };
        // Binary content, in a POST that overlaps no other, ends the session before its body
        // is read, as the reference's "invalid content"; the body is drained, never handled.
        if let (Some((handle, TransportKind::Polling)), Some(Ok(()))) = (lookup, &begun) {
            let octet_stream = req.headers().get("Content-Type")?.as_deref() == Some("application/octet-stream");
            if transport == TransportKind::Polling && octet_stream {
                self.endpoint.borrow_mut().handle_post_invalid_content(handle, now_ms());
                self.drive(app);
                http::read_body(req, config.engine.max_payload, false).await?;
                return http::status(req, config, 400);
            }
        }
        // A body is read (bounded) before any answer: workerd breaks the connection of a
        // request whose body is left unread. Nobody's body is kept but an open session's.
        let posting = lookup.filter(|_| begun == Some(Ok(()))).map(|(handle, _)| handle);
        let body = match is_post {
            true => {
                let read = http::read_body(req, config.engine.max_payload, posting.is_some()).await;
                if let (Some(handle), Ok(http::Body::TooLarge) | Err(_)) = (posting, &read) {
                    self.endpoint.borrow_mut().handle_post_aborted(handle);
                }
                match read? {
                    http::Body::Complete(body) => Some(body),
                    http::Body::Drained => None,
                    http::Body::TooLarge => return http::status(req, config, 413),
                }
            }
            false => None,
        };
        let Some((handle, current)) = lookup else {
            return http::engine_error(req, config, ServerError::UnknownSid);
        };
        if other_revision {
            return http::engine_error(req, config, ServerError::BadRequest);
        }
        if let Some(Err(error)) = begun {
            self.drive(app);
            return http::engine_error(req, config, error);
        }
        let now = now_ms();
        match (transport, is_post) {
            (TransportKind::WebSocket, _) if is_websocket_upgrade(req) => {
                let pair = WebSocketPair::new()?;
                if self.endpoint.borrow_mut().handle_websocket_open(handle, now).is_err() {
                    // As the reference: a WebSocket for a session that is already upgraded
                    // or upgrading is accepted, then closed at once.
                    pair.server.accept()?;
                    pair.server.close(Some(1000), Some("the session already has a WebSocket"))?;
                    return Response::from_websocket(pair.client).map(Into::into);
                }
                self.accept(&pair.server, query, handle, &sid, &[PROBE_TAG])?;
                if let Some(transports) = self.transports.borrow_mut().get_mut(&handle) {
                    transports.probe = Some(pair.server);
                }
                self.drive(app);
                Response::from_websocket(pair.client).map(Into::into)
            }
            (TransportKind::Polling, false) if current == TransportKind::Polling => {
                let outcome = self.endpoint.borrow_mut().handle_poll(handle, now);
                let held = match outcome {
                    Ok(PollOutcome::Hold) => {
                        let (sender, receiver) = oneshot::channel();
                        if let Some(transports) = self.transports.borrow_mut().get_mut(&handle) {
                            transports.held_poll = Some(sender);
                        }
                        Some(receiver)
                    }
                    _ => None,
                };
                self.drive(app);
                match (outcome, held) {
                    (Ok(PollOutcome::Respond(body)), _) => http::text(req, config, &body),
                    (Ok(PollOutcome::Hold), Some(receiver)) => {
                        self.schedule_alarm(None).await?;
                        match receiver.await {
                            Ok(Ok(body)) => http::text(req, config, &body),
                            Ok(Err(error)) => http::engine_error(req, config, error),
                            Err(_) => http::engine_error(req, config, ServerError::UnknownSid),
                        }
                    }
                    (Ok(PollOutcome::Reject(error)), _) => http::engine_error(req, config, error),
                    _ => http::engine_error(req, config, ServerError::UnknownSid),
                }
            }
            (TransportKind::Polling, true) if current == TransportKind::Polling => {
                let body = body.unwrap_or_default();
                let outcome = self.endpoint.borrow_mut().handle_post(handle, &body, now);
                self.visit_deadlines(now, Deadlines::Overdue);
                self.drive(app);
                match outcome {
                    Ok(()) => http::text(req, config, "ok"),
                    Err(PostError::PayloadTooLarge) => http::status(req, config, 413),
                    Err(PostError::Rejected(error)) => http::engine_error(req, config, error),
                }
            }
            _ => http::engine_error(req, config, ServerError::BadRequest),
        }
    }

    /// Carries out the endpoint's outputs and hands the events to the application, until
    /// nothing is left (the application's calls may produce more).
    fn drive(&self, app: &impl EngineApp) {
        loop {
            self.carry_out();
            let Some((sid, event)) = self.pending_events.borrow_mut().pop_front() else { return };
            match event {
                ServerEvent::Message(data) => app.on_message(self, &sid, data),
                ServerEvent::Upgraded => app.on_upgrade(self, &sid),
                ServerEvent::Closed(reason) => app.on_close(self, &sid, reason),
                ServerEvent::Heartbeat => {}
            }
        }
    }

    /// Carries out the endpoint's outputs; events wait in `pending_events`.
    fn carry_out(&self) {
        loop {
            let Some(output) = self.endpoint.borrow_mut().poll_output() else { return };
            let mut transports = self.transports.borrow_mut();
            match output {
                Output::Send { handle, channel, frame } => {
                    let Some(ws) = transports.get_mut(&handle).and_then(|t| t.channel(channel).as_ref()) else {
                        continue;
                    };
                    // A failed send means the socket is closing: its close event ends the session.
                    let _ = match frame {
                        Frame::Text(text) => ws.send_with_str(text),
                        Frame::Binary(bytes) => ws.send_with_bytes(bytes),
                    };
                }
                Output::AnswerPoll { handle, answer } => {
                    let Some(held) = transports.get_mut(&handle).and_then(|t| t.held_poll.take()) else { continue };
                    let delivered_packets = answer.is_ok();
                    if held.send(answer).is_err() && delivered_packets {
                        // The GET went away: its packets are lost with it, so the session
                        // ends (a recovering socket gets them back when it reconnects).
                        drop(transports);
                        self.endpoint.borrow_mut().handle_poll_aborted(handle, now_ms());
                    }
                }
                Output::CloseWebSocket { handle, channel, code, reason } => {
                    if let Some(ws) = transports.get_mut(&handle).and_then(|t| t.channel(channel).take()) {
                        close_for_good(&ws, code, reason);
                    }
                }
                Output::PromoteProbe { handle } => {
                    if let Some(t) = transports.get_mut(&handle) {
                        t.websocket = t.probe.take();
                    }
                }
                Output::Event { handle, event } => {
                    if let Some(t) = transports.get(&handle) {
                        self.pending_events.borrow_mut().push_back((t.sid.clone(), event));
                    }
                }
                Output::Removed { handle } => {
                    transports.remove(&handle);
                }
            }
        }
    }

    /// The session a WebSocket of this object carries (or probes for), rebuilt from the
    /// WebSocket's tag when this instance does not know it.
    fn websocket_handle(&self, ws: &WebSocket) -> Option<SessionHandle> {
        let sid = match self.websocket_sessions.known(ws) {
            Some(KnownSession::Handle(handle)) if self.endpoint.borrow().sid(handle).is_some() => return Some(handle),
            Some(KnownSession::Sid(sid)) => sid,
            // A standard WebSocket has no tags: its session ended, with this instance.
            _ if self.deliver_events.borrow().is_some() => return None,
            // Not met yet, or its session ended: the tag tells.
            _ => Tags(self.state.get_tags(ws)).sid()?.to_owned(),
        };
        let known = self.endpoint.borrow().lookup(&sid);
        let handle = known.or_else(|| {
            self.restore_websocket_sessions(|_, _| {});
            self.endpoint.borrow().lookup(&sid)
        })?;
        self.websocket_sessions.remember(ws, handle, &sid);
        Some(handle)
    }

    /// The object's name as its WebSocket sessions' ids tell it, if it has any.
    pub fn name_from_sessions(&self) -> Option<String> {
        self.state
            .get_websockets()
            .iter()
            .find_map(|ws| Tags(self.state.get_tags(ws)).sid().and_then(object_of_sid).map(str::to_owned))
    }

    /// After a wake-up from hibernation: rebuilds the sessions of the accepted WebSockets
    /// this instance does not know, and shows `each` every accepted WebSocket of a session
    /// with its session id.
    pub fn restore_websocket_sessions(&self, mut each: impl FnMut(&str, &WebSocket)) {
        let now = now_ms();
        for ws in self.state.get_websockets() {
            // A WebSocket this instance knows is not asked for its tags again (alarms visit all).
            let known = match self.websocket_sessions.known(&ws) {
                Some(KnownSession::Handle(handle)) => self.endpoint.borrow().sid(handle).map(str::to_owned),
                Some(KnownSession::Sid(sid)) => self.endpoint.borrow().lookup(&sid).map(|_| sid),
                None => None,
            };
            if let Some(sid) = known {
                each(&sid, &ws);
                continue;
            }
            // One this object closed, whose peer has not answered (a dead peer never does): its
            // session ended then, and its disconnection was announced.
            if closed_by_object(&ws) {
                continue;
            }
            let tags = Tags(self.state.get_tags(&ws));
            let Some(sid) = tags.sid().map(str::to_owned) else { continue };
            each(&sid, &ws);
            if let Some(handle) = self.endpoint.borrow().lookup(&sid) {
                self.websocket_sessions.remember(&ws, handle, &sid);
                continue;
            }
            let handle = self.resume_from_tags(&mut self.endpoint.borrow_mut(), &sid, &ws, &tags, now);
            self.websocket_sessions.remember(&ws, handle, &sid);
            let mut transports = Transports::new(&sid);
            transports.websocket = Some(ws);
            self.transports.borrow_mut().insert(handle, transports);
        }
        self.carry_out();
    }

    /// Rebuilds in `endpoint` session `sid` of a hibernatable WebSocket an instance does not
    /// know, from the WebSocket's `tags`.
    fn resume_from_tags(
        &self,
        endpoint: &mut Endpoint,
        sid: &str,
        ws: &WebSocket,
        tags: &Tags,
        now: u64,
    ) -> SessionHandle {
        // A client silent past its heartbeat is closed, not pinged again by each new instance
        // (Endpoint::resume_websocket).
        let last_heard = self.auto_pongs.last_heard(&self.state, ws, tags.accepted_at());
        let handle = endpoint.resume_websocket(sid, now, last_heard);
        if tags.has(BASE64_TAG) {
            endpoint.send_binary_as_text(handle);
        }
        handle
    }

    /// Runs what [`EngineHost::restore_websocket_sessions`] runs for a WebSocket this instance
    /// does not know (its tags read, its session rebuilt from them) for this hibernatable
    /// WebSocket, into a scratch endpoint that is dropped: so that V8 has compiled that path
    /// before an instance needs it (see `SocketIoServer`'s rehearsal). Only on a WebSocket still
    /// open, whose tags workerd gives (the restore meets no other): false when it could not.
    pub fn rehearse_resume(&self, ws: &WebSocket) -> bool {
        let raw: &web_sys::WebSocket = ws.as_ref();
        if raw.ready_state() != web_sys::WebSocket::OPEN {
            return false;
        }
        let Ok(tags) = self.state.as_raw().get_tags(raw) else { return false };
        let tags = Tags(tags);
        let Some(sid) = tags.sid() else { return false };
        let mut scratch = Endpoint::new(self.config.engine.clone());
        self.resume_from_tags(&mut scratch, sid, ws, &tags, now_ms());
        true
    }

    /// Sets the object's alarm to the earliest deadline of its sessions and `extra` (the
    /// application's own deadline), when that is earlier than the alarm already set.
    pub async fn schedule_alarm(&self, extra: Option<u64>) -> Result<()> {
        if !self.alarm_read.replace(true) {
            // A new instance: the alarm its previous instance set is still pending. Setting
            // it again would be a storage write, which every frame and response of this event
            // waits for (workerd's output gate): a woken object would answer later. An alarm
            // at or before now is the one running (workerd then reports none) or about to.
            let now = now_ms();
            let pending = self.state.storage().get_alarm().await?.map(|ms| ms.max(0) as u64).filter(|&at| at > now);
            self.endpoint.borrow_mut().alarm_found(pending);
        }
        let Some(at) = self.endpoint.borrow_mut().alarm_to_set(extra) else { return Ok(()) };
        // An i64 is an offset from now for workers-rs.
        let offset = at.saturating_sub(now_ms()) as i64;
        let set = self.state.storage().set_alarm(offset).await;
        if set.is_err() {
            self.endpoint.borrow_mut().alarm_lost();
        }
        set
    }
}

/// The name of this object, as the fetch entry told it ([`OBJECT_HEADER`]).
pub fn object_name(req: &web_sys::Request) -> Result<String> {
    req.headers()
        .get(OBJECT_HEADER)?
        .ok_or_else(|| worker::Error::RustError(format!("a request reached the object without {OBJECT_HEADER}")))
}

/// The Engine.IO WebSocket frame of a text message: `4` then the text (built without
/// `format!`, which costs a formatter call on every broadcast).
fn message_frame(text: &str) -> String {
    let mut frame = String::with_capacity(text.len() + 1);
    frame.push('4');
    frame.push_str(text);
    frame
}

//! The Engine.IO host inside a Durable Object: it moves bytes and time between workerd (HTTP
//! requests, hibernatable WebSockets, one alarm) and `engine::ServerSession`, and hands
//! what the sessions deliver to an [`EngineApp`] (the echo server, the Socket.IO server).
//!
//! Polling GETs are held open inside this object until the session has something to send.
//! WebSockets are accepted with the hibernation API and tagged with their sid, so a woken
//! object finds its sessions again ([`ServerSession::resume_websocket`]). One alarm, set to
//! the earliest deadline of all sessions, sends the pings of the whole object.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use futures_channel::oneshot;
use wasm_bindgen::prelude::*;
use wasmio_protocol::engine::{
    CloseReason, Data, Frame, PollOutcome, PostError, ServerError, ServerEvent, ServerSession, ServerTransmit,
    TransportKind,
};
use wasmio_protocol::json::write_string;
use worker::{Method, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage, WebSocketPair};

use crate::config::Config;
use crate::http;
use crate::routing::{is_websocket_upgrade, new_sid, object_of_sid, query_param};
use crate::OBJECT_HEADER;

/// The request headers kept in `socket.handshake.headers` (each cut to 200 characters).
const HANDSHAKE_HEADERS: [&str; 3] = ["host", "origin", "user-agent"];

/// Tag of a WebSocket that is probing for an upgrade (beside the sid tag).
const PROBE_TAG: &str = "probe";

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues`, present in workerd.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);

    /// The Durable Object state seen through the one method workers-rs does not bind.
    type AutoResponseState;

    /// `ctx.getWebSocketAutoResponseTimestamp(ws)`: when workerd last answered this socket
    /// automatically.
    #[wasm_bindgen(method, js_name = getWebSocketAutoResponseTimestamp)]
    fn get_websocket_auto_response_timestamp(this: &AutoResponseState, ws: &web_sys::WebSocket)
        -> Option<js_sys::Date>;

    /// A WebSocket seen through `send(string)` with a string already in JavaScript (no copy
    /// out of wasm memory per call).
    type JsStringSender;

    #[wasm_bindgen(method, catch, js_name = send)]
    fn send(this: &JsStringSender, data: &js_sys::JsString) -> std::result::Result<(), JsValue>;
}

/// The client's pong, and the noop workerd answers it with without waking the object.
const PONG: &str = "3";
const NOOP: &str = "6";

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

/// The current time, ms since the epoch.
pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// One session and the transports it owns in this object.
struct Session {
    machine: ServerSession,
    /// The held poll GET, answered through this channel (a payload, or an error).
    held_poll: Option<oneshot::Sender<std::result::Result<String, ServerError>>>,
    websocket: Option<WebSocket>,
    probe: Option<WebSocket>,
}

impl Session {
    /// Once the upgrade completed, the probe is the session's WebSocket.
    fn adopt_probe(&mut self) {
        if self.websocket.is_none() && self.machine.transport() == TransportKind::WebSocket {
            self.websocket = self.probe.take();
        }
    }
}

/// What the handshake request tells about the client (socket.io's `handshake`).
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// The query parameters, a JSON object text.
    pub query: String,
    /// The request headers, a JSON object text.
    pub headers: String,
    /// The client address (`CF-Connecting-IP`).
    pub address: String,
}

/// The application on top of Engine.IO sessions. The host never holds a borrow of its state
/// while calling it, so it may call [`EngineHost::send`] and [`EngineHost::close`].
pub trait EngineApp {
    /// A session completed its handshake.
    fn on_open(&self, host: &EngineHost, sid: &str, request: RequestInfo);
    /// A session delivered a message.
    fn on_message(&self, host: &EngineHost, sid: &str, data: Data);
    /// A session moved from polling to its WebSocket: what the application persists for it
    /// must now travel with that WebSocket.
    fn on_upgrade(&self, host: &EngineHost, sid: &str);
    /// A session closed.
    fn on_close(&self, host: &EngineHost, sid: &str, reason: CloseReason);
}

/// The Engine.IO sessions of one Durable Object.
pub struct EngineHost {
    state: State,
    config: Config,
    sessions: RefCell<HashMap<String, Session>>,
    /// The alarm time currently set, if known: every session's deadline is at or after it.
    alarm_at: RefCell<Option<u64>>,
    /// Sessions handled since the alarm was last scheduled: only their deadlines can have
    /// moved, so scheduling looks at them alone, not at every session of the object.
    touched: RefCell<Vec<String>>,
    /// Whether workerd answers pongs ([`EngineHost::answer_pongs_automatically`]).
    auto_pongs: Cell<bool>,
}

impl EngineHost {
    /// The host of the object with this state.
    pub fn new(state: State, config: Config) -> Self {
        EngineHost {
            state,
            config,
            sessions: RefCell::new(HashMap::new()),
            alarm_at: RefCell::new(None),
            touched: RefCell::new(Vec::new()),
            auto_pongs: Cell::new(false),
        }
    }

    /// The object's state (storage, WebSockets).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Serves an Engine.IO request forwarded by the fetch entry.
    pub async fn fetch(&self, req: Request, app: &impl EngineApp) -> Result<Response> {
        let url = req.url()?;
        let transport = query_param(&url, "transport").and_then(|t| TransportKind::from_name(&t));
        match (query_param(&url, "sid"), transport) {
            (_, None) => http::engine_error(&req, &self.config, ServerError::UnknownTransport),
            (None, Some(TransportKind::Polling)) => self.handshake_polling(&req, app),
            (None, Some(TransportKind::WebSocket)) => self.handshake_websocket(&req, app),
            (Some(sid), Some(transport)) => self.session_request(req, sid, transport, app).await,
        }
    }

    /// A frame arrived on one of the object's WebSockets.
    pub fn websocket_message(&self, ws: &WebSocket, message: WebSocketIncomingMessage, app: &impl EngineApp) {
        let frame = match message {
            WebSocketIncomingMessage::String(text) => Frame::Text(text),
            WebSocketIncomingMessage::Binary(bytes) => Frame::Binary(bytes),
        };
        if let Some(sid) = self.websocket_sid(ws) {
            let now = now_ms();
            self.with_session(&sid, |s| s.machine.handle_websocket_frame(frame, now));
            self.drive(&sid, app);
        }
    }

    /// The client closed one of the object's WebSockets: the close handshake is completed
    /// (workerd leaves the answer to the object), then the session learns it.
    pub fn websocket_closed_by_peer(&self, ws: &WebSocket, app: &impl EngineApp) {
        // A reply on an already closed socket fails harmlessly.
        let _ = ws.close(Some(1000), Some("closed"));
        self.websocket_gone(ws, app);
    }

    /// One of the object's WebSockets closed or failed.
    pub fn websocket_gone(&self, ws: &WebSocket, app: &impl EngineApp) {
        let Some(sid) = self.websocket_sid(ws) else { return };
        // A polling session only has a probe; a WebSocket session only its WebSocket (an
        // upgraded probe keeps its probe tag, so the tag cannot tell).
        self.with_session(&sid, |s| {
            match s.machine.transport() {
                TransportKind::Polling => s.probe = None,
                TransportKind::WebSocket => s.websocket = None,
            }
            s.machine.handle_websocket_closed();
        });
        self.drive(&sid, app);
    }

    /// Lets workerd answer pongs (`3`) with a noop (`6`) itself, so that heartbeats do not
    /// wake the object; the alarm reads when the last one came ([`EngineHost::alarm`]).
    pub fn answer_pongs_automatically(&self) -> Result<()> {
        let pair = worker::WebSocketRequestResponsePair::new(PONG, NOOP)?;
        self.state.set_websocket_auto_response(&pair);
        self.auto_pongs.set(true);
        Ok(())
    }

    /// The alarm fired (set for the earliest deadline of all sessions: a ping, a pong
    /// deadline). With automatic pongs, the pong each WebSocket session got in time is fed to
    /// it first; then pings due within half an interval go out now, so that all heartbeats
    /// share one alarm per cycle (the pong deadline of a round is the next round's ping
    /// time when pingTimeout >= pingInterval / 2). Then every session handles the time, and one
    /// that missed its pong is closed.
    pub fn alarm(&self, app: &impl EngineApp) {
        *self.alarm_at.borrow_mut() = None;
        self.restore_websocket_sessions();
        let now = now_ms();
        let engine = &self.config.engine;
        let sids: Vec<String> = self.sessions.borrow().keys().cloned().collect();
        for sid in sids {
            self.with_session(&sid, |s| {
                let Some(ws) = s.websocket.as_ref().filter(|_| self.auto_pongs.get()) else { return };
                if let Some(ping_at) = s.machine.awaiting_pong_since() {
                    let state: &AutoResponseState = self.state.as_raw().unchecked_ref();
                    let answered = state.get_websocket_auto_response_timestamp(ws.as_ref());
                    let in_time = |at: u64| at >= ping_at && at <= ping_at + engine.ping_timeout;
                    // Fed as of the ping, so that the next ping is due one interval after it.
                    if answered.is_some_and(|date| in_time(date.get_time() as u64)) {
                        s.machine.handle_websocket_frame(Frame::Text(PONG.to_owned()), ping_at);
                    }
                }
                if s.machine.next_ping_at().is_some_and(|at| at <= now + engine.ping_interval / 2) {
                    s.machine.ping_early(now);
                }
            });
            self.with_session(&sid, |s| s.machine.handle_timeout(now));
            self.drive(&sid, app);
        }
    }

    /// Drops every session from memory, as an eviction from memory would; WebSocket sessions
    /// come back from their tags at the next event. (Used by the hibernation test hook.)
    pub fn forget(&self) {
        self.sessions.borrow_mut().clear();
        *self.alarm_at.borrow_mut() = None;
    }

    /// Queues a message on a session and writes what it can right away.
    pub fn send(&self, sid: &str, data: Data) {
        self.with_session(sid, |s| s.machine.send(data));
        self.flush(sid);
    }

    /// Sends one text message to many sessions: the WebSocket frame is built and handed to
    /// JavaScript once, then written to every session that takes it directly; the others
    /// (polling, upgrading, closing) get it through [`EngineHost::send`].
    pub fn send_text_to_many(&self, sids: &[String], text: &str) {
        let mut frame: Option<js_sys::JsString> = None;
        for sid in sids {
            let direct: Option<JsStringSender> = self
                .sessions
                .borrow()
                .get(sid)
                .filter(|s| s.machine.writes_messages_directly())
                .and_then(|s| s.websocket.as_ref())
                .map(|ws| ws.as_ref().clone().unchecked_into::<JsStringSender>());
            match direct {
                Some(ws) => {
                    let frame = frame.get_or_insert_with(|| js_sys::JsString::from(format!("4{text}")));
                    // A failed send means the socket is closing: its close event ends the session.
                    let _ = ws.send(frame);
                }
                None => self.send(sid, Data::Text(text.to_owned())),
            }
        }
    }

    /// Closes a session from the server side.
    pub fn close(&self, sid: &str, reason: CloseReason) {
        self.with_session(sid, |s| s.machine.close(reason));
        self.flush(sid);
    }

    /// Every session with whether it can take a message now (socket.io's `transport.writable`):
    /// a WebSocket always, polling only while a GET is held.
    pub fn writability(&self) -> Vec<(String, bool)> {
        self.sessions
            .borrow()
            .iter()
            .map(|(sid, s)| (sid.clone(), s.websocket.is_some() || s.held_poll.is_some()))
            .collect()
    }

    /// How many sessions are open (not yet closed) in this instance's memory.
    pub fn open_sessions(&self) -> usize {
        self.sessions.borrow().values().filter(|s| !s.machine.is_closed()).count()
    }

    /// The WebSocket carrying a session, if it runs over one.
    pub fn websocket(&self, sid: &str) -> Option<WebSocket> {
        self.sessions.borrow().get(sid).and_then(|s| s.websocket.clone())
    }

    fn handshake_polling(&self, req: &Request, app: &impl EngineApp) -> Result<Response> {
        let sid = new_sid(&object_name(req)?, &random_id());
        let now = now_ms();
        let mut machine = ServerSession::new(sid.clone(), TransportKind::Polling, self.config.engine.clone(), now);
        let PollOutcome::Respond(open) = machine.handle_poll(now) else {
            return http::engine_error(req, &self.config, ServerError::BadRequest);
        };
        self.add_session(&sid, Session { machine, held_poll: None, websocket: None, probe: None });
        app.on_open(self, &sid, request_info(req)?);
        http::text(req, &self.config, open)
    }

    fn handshake_websocket(&self, req: &Request, app: &impl EngineApp) -> Result<Response> {
        let sid = new_sid(&object_name(req)?, &random_id());
        let pair = WebSocketPair::new()?;
        self.state.accept_websocket_with_tags(&pair.server, &[&sid]);
        let machine = ServerSession::new(sid.clone(), TransportKind::WebSocket, self.config.engine.clone(), now_ms());
        self.add_session(&sid, Session { machine, held_poll: None, websocket: Some(pair.server), probe: None });
        self.flush(&sid);
        app.on_open(self, &sid, request_info(req)?);
        Response::from_websocket(pair.client)
    }

    async fn session_request(
        &self,
        mut req: Request,
        sid: String,
        transport: TransportKind,
        app: &impl EngineApp,
    ) -> Result<Response> {
        let config = &self.config;
        // A body is read before any answer: workerd breaks the connection of a request whose
        // body is left unread (the next request on it would fail).
        let body = if req.method() == Method::Post { Some(req.text().await?) } else { None };
        let Some(current) = self.sessions.borrow().get(&sid).map(|s| s.machine.transport()) else {
            return http::engine_error(&req, config, ServerError::UnknownSid);
        };
        let now = now_ms();
        match (transport, req.method()) {
            (TransportKind::WebSocket, _) if is_websocket_upgrade(&req) => {
                let pair = WebSocketPair::new()?;
                let accepted = self.with_session(&sid, |s| s.machine.handle_websocket_open(now));
                if accepted != Some(Ok(())) {
                    // As the reference: a WebSocket for a session that is already upgraded
                    // or upgrading is accepted, then closed at once.
                    pair.server.accept()?;
                    pair.server.close(Some(1000), Some("the session already has a WebSocket"))?;
                    return Response::from_websocket(pair.client);
                }
                self.state.accept_websocket_with_tags(&pair.server, &[&sid, PROBE_TAG]);
                self.with_session(&sid, |s| s.probe = Some(pair.server));
                Response::from_websocket(pair.client)
            }
            (TransportKind::Polling, Method::Get) if current == TransportKind::Polling => {
                let outcome = self.with_session(&sid, |s| s.machine.handle_poll(now));
                self.drive(&sid, app);
                match outcome {
                    Some(PollOutcome::Respond(body)) => http::text(&req, config, body),
                    Some(PollOutcome::Hold) => {
                        let (sender, receiver) = oneshot::channel();
                        self.with_session(&sid, |s| s.held_poll = Some(sender));
                        // Something may have been queued meanwhile: answer at once then.
                        self.flush(&sid);
                        self.schedule_alarm(None).await?;
                        match receiver.await {
                            Ok(Ok(body)) => http::text(&req, config, body),
                            Ok(Err(error)) => http::engine_error(&req, config, error),
                            Err(_) => http::engine_error(&req, config, ServerError::UnknownSid),
                        }
                    }
                    Some(PollOutcome::Reject(error)) => http::engine_error(&req, config, error),
                    None => http::engine_error(&req, config, ServerError::UnknownSid),
                }
            }
            (TransportKind::Polling, Method::Post) if current == TransportKind::Polling => {
                let body = body.unwrap_or_default();
                let outcome = self.with_session(&sid, |s| s.machine.handle_post(&body, now));
                self.drive(&sid, app);
                match outcome {
                    Some(Ok(())) => http::text(&req, config, "ok".to_owned()),
                    Some(Err(PostError::PayloadTooLarge)) => http::status(&req, config, 413),
                    Some(Err(PostError::Rejected(error))) => http::engine_error(&req, config, error),
                    None => http::engine_error(&req, config, ServerError::UnknownSid),
                }
            }
            _ => http::engine_error(&req, config, ServerError::BadRequest),
        }
    }

    fn add_session(&self, sid: &str, session: Session) {
        self.touch(sid);
        self.sessions.borrow_mut().insert(sid.to_owned(), session);
    }

    fn with_session<T>(&self, sid: &str, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        self.touch(sid);
        self.sessions.borrow_mut().get_mut(sid).map(f)
    }

    /// Notes that `sid`'s deadlines may have moved (once per run of calls for one session:
    /// an event handles its session many times in a row).
    fn touch(&self, sid: &str) {
        let mut touched = self.touched.borrow_mut();
        if touched.last().map(String::as_str) != Some(sid) {
            touched.push(sid.to_owned());
        }
    }

    /// Writes everything the session wants to transmit.
    fn flush(&self, sid: &str) {
        let mut sessions = self.sessions.borrow_mut();
        let Some(session) = sessions.get_mut(sid) else { return };
        while let Some(transmit) = session.machine.poll_transmit() {
            perform(session, transmit);
        }
    }

    /// Writes what the session transmits and hands its events to the application, until it
    /// has nothing left; forgets it once closed.
    fn drive(&self, sid: &str, app: &impl EngineApp) {
        loop {
            self.flush(sid);
            let event = self.with_session(sid, |s| s.machine.poll_event());
            match event.flatten() {
                Some(ServerEvent::Message(data)) => app.on_message(self, sid, data),
                Some(ServerEvent::Closed(reason)) => app.on_close(self, sid, reason),
                Some(ServerEvent::Upgraded) => {
                    self.with_session(sid, Session::adopt_probe);
                    app.on_upgrade(self, sid);
                }
                Some(ServerEvent::Heartbeat) => {}
                None => {
                    let mut sessions = self.sessions.borrow_mut();
                    // A closed polling session stays until its last packets (the close packet
                    // among them) went out with a poll.
                    if sessions.get(sid).is_some_and(|s| s.machine.is_closed() && !s.machine.has_queued()) {
                        sessions.remove(sid);
                    }
                    return;
                }
            }
        }
    }

    fn websocket_sid(&self, ws: &WebSocket) -> Option<String> {
        let tags = self.state.get_tags(ws);
        let sid = tags.into_iter().find(|t| t != PROBE_TAG)?;
        if !self.sessions.borrow().contains_key(&sid) {
            self.restore_websocket_sessions();
        }
        Some(sid)
    }

    /// The session id a WebSocket of this object is tagged with.
    pub fn tagged_sid(&self, ws: &WebSocket) -> Option<String> {
        self.state.get_tags(ws).into_iter().find(|t| t != PROBE_TAG)
    }

    /// The object's name as its WebSocket sessions' ids tell it, if it has any.
    pub fn name_from_sessions(&self) -> Option<String> {
        self.state.get_websockets().iter().find_map(|ws| {
            let tags = self.state.get_tags(ws);
            tags.iter().find(|t| *t != PROBE_TAG).and_then(|sid| object_of_sid(sid)).map(str::to_owned)
        })
    }

    /// After a wake-up from hibernation: rebuilds the sessions of the accepted WebSockets.
    pub fn restore_websocket_sessions(&self) {
        let now = now_ms();
        let mut sessions = self.sessions.borrow_mut();
        for ws in self.state.get_websockets() {
            let Some(sid) = self.state.get_tags(&ws).into_iter().find(|t| t != PROBE_TAG) else { continue };
            sessions.entry(sid.clone()).or_insert_with(|| Session {
                machine: ServerSession::resume_websocket(sid, self.config.engine.clone(), now),
                held_poll: None,
                websocket: Some(ws),
                probe: None,
            });
        }
    }

    /// Sets the object's alarm to the earliest deadline of its sessions and `extra` (the
    /// application's own deadline). Only the sessions handled since the last call are looked
    /// at, unless the alarm time is unknown (a fresh instance, or the alarm just fired).
    pub async fn schedule_alarm(&self, extra: Option<u64>) -> Result<()> {
        let touched = std::mem::take(&mut *self.touched.borrow_mut());
        let current = *self.alarm_at.borrow();
        let earliest = {
            let sessions = self.sessions.borrow();
            match current {
                None => sessions.values().filter_map(|s| s.machine.poll_timeout()).min(),
                Some(_) => {
                    touched.iter().filter_map(|sid| sessions.get(sid)).filter_map(|s| s.machine.poll_timeout()).min()
                }
            }
        };
        let Some(next) = earliest.into_iter().chain(extra).min() else { return Ok(()) };
        if current.is_some_and(|at| at <= next) {
            return Ok(());
        }
        *self.alarm_at.borrow_mut() = Some(next);
        // An i64 is an offset from now for workers-rs.
        let offset = next.saturating_sub(now_ms()) as i64;
        self.state.storage().set_alarm(offset).await
    }
}

/// The name of this object, as the fetch entry told it ([`OBJECT_HEADER`]).
pub fn object_name(req: &Request) -> Result<String> {
    req.headers()
        .get(OBJECT_HEADER)?
        .ok_or_else(|| worker::Error::RustError(format!("a request reached the object without {OBJECT_HEADER}")))
}

/// The handshake request as socket.io's `handshake` shows it.
fn request_info(req: &Request) -> Result<RequestInfo> {
    let mut query = String::from("{");
    for (i, (key, value)) in req.url()?.query_pairs().enumerate() {
        if i > 0 {
            query.push(',');
        }
        write_string(&mut query, &key);
        query.push(':');
        write_string(&mut query, &value);
    }
    query.push('}');
    // Only a few headers: the handshake travels in a WebSocket attachment of 2 KiB at most.
    let mut headers = String::from("{");
    for name in HANDSHAKE_HEADERS {
        if let Some(value) = req.headers().get(name)? {
            if headers.len() > 1 {
                headers.push(',');
            }
            write_string(&mut headers, name);
            headers.push(':');
            write_string(&mut headers, &value.chars().take(200).collect::<String>());
        }
    }
    headers.push('}');
    let address = req.headers().get("CF-Connecting-IP")?.unwrap_or_else(|| "127.0.0.1".to_owned());
    Ok(RequestInfo { query, headers, address })
}

/// Writes one transmit of a session to its transport.
fn perform(session: &mut Session, transmit: ServerTransmit) {
    let send = |ws: &Option<WebSocket>, frame: Frame| {
        if let Some(ws) = ws {
            // A failed send means the socket is closing: its close event ends the session.
            let _ = match frame {
                Frame::Text(text) => ws.send_with_str(text),
                Frame::Binary(bytes) => ws.send_with_bytes(bytes),
            };
        }
    };
    match transmit {
        ServerTransmit::PollResponse(body) => {
            if let Some(held) = session.held_poll.take() {
                // An error means the GET went away: nobody is left to answer.
                let _ = held.send(Ok(body));
            }
        }
        ServerTransmit::PollRejected(error) => {
            if let Some(held) = session.held_poll.take() {
                let _ = held.send(Err(error));
            }
        }
        ServerTransmit::WebSocket(frame) => {
            session.adopt_probe();
            send(&session.websocket, frame);
        }
        ServerTransmit::Probe(frame) => send(&session.probe, frame),
        ServerTransmit::CloseWebSocket { code } => {
            if let Some(ws) = session.websocket.take().or_else(|| session.probe.take()) {
                let _ = ws.close(Some(code), Some("closed by the server"));
            }
        }
        ServerTransmit::CloseProbe => {
            if let Some(ws) = session.probe.take() {
                let _ = ws.close(Some(1000), Some("upgrade abandoned"));
            }
        }
    }
}

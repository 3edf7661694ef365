//! The Durable Object that owns Engine.IO sessions: it moves bytes and time between workerd
//! (HTTP requests, hibernatable WebSockets, one alarm) and `engine::ServerSession`.
//!
//! Polling GETs are held open inside this object until the session has something to send.
//! WebSockets are accepted with the hibernation API and tagged with their sid, so a woken
//! object finds its sessions again ([`ServerSession::resume_websocket`]). One alarm, set to
//! the earliest deadline of all sessions, sends the pings of the whole object.

use std::cell::RefCell;
use std::collections::HashMap;

use futures_channel::oneshot;
use wasm_bindgen::prelude::*;
use wasmio_protocol::engine::{
    Frame, PollOutcome, PostError, ServerError, ServerEvent, ServerSession, ServerTransmit, TransportKind,
};
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage,
    WebSocketPair,
};

use crate::config::Config;
use crate::http;
use crate::routing::{is_websocket_upgrade, new_sid, query_param};

/// Tag of a WebSocket that is probing for an upgrade (beside the sid tag).
const PROBE_TAG: &str = "probe";

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues`, present in workerd.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// 20 random base64url characters (120 bits), like the reference `base64id`.
fn random_id() -> String {
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 20];
    get_random_values(&mut bytes);
    bytes.iter().map(|b| URL_SAFE[(b & 63) as usize] as char).collect()
}

fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// One session and the transports it owns in this object.
struct Session {
    machine: ServerSession,
    /// The held poll GET, answered through this channel.
    held_poll: Option<oneshot::Sender<String>>,
    websocket: Option<WebSocket>,
    probe: Option<WebSocket>,
}

/// The Engine.IO server object.
#[durable_object]
pub struct EngineObject {
    state: State,
    config: Config,
    sessions: RefCell<HashMap<String, Session>>,
    /// The alarm time currently set, if any.
    alarm_at: RefCell<Option<u64>>,
}

impl DurableObject for EngineObject {
    fn new(state: State, env: Env) -> Self {
        EngineObject {
            state,
            config: Config::from_env(&env),
            sessions: RefCell::new(HashMap::new()),
            alarm_at: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let url = req.url()?;
        let transport = query_param(&url, "transport").and_then(|t| TransportKind::from_name(&t));
        let response = match (query_param(&url, "sid"), transport) {
            (_, None) => http::engine_error(&req, &self.config, ServerError::UnknownTransport),
            (None, Some(TransportKind::Polling)) => self.handshake_polling(&req),
            (None, Some(TransportKind::WebSocket)) => self.handshake_websocket(),
            (Some(sid), Some(transport)) => self.session_request(req, sid, transport).await,
        };
        self.schedule_alarm().await?;
        response
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let frame = match message {
            WebSocketIncomingMessage::String(text) => Frame::Text(text),
            WebSocketIncomingMessage::Binary(bytes) => Frame::Binary(bytes),
        };
        if let Some(sid) = self.websocket_sid(&ws) {
            let now = now_ms();
            self.with_session(&sid, |s| s.machine.handle_websocket_frame(frame, now));
            self.drive(&sid);
        }
        self.schedule_alarm().await
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        self.websocket_gone(&ws);
        self.schedule_alarm().await
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.websocket_gone(&ws);
        self.schedule_alarm().await
    }

    async fn alarm(&self) -> Result<Response> {
        *self.alarm_at.borrow_mut() = None;
        self.restore_websocket_sessions();
        let now = now_ms();
        let sids: Vec<String> = self.sessions.borrow().keys().cloned().collect();
        for sid in sids {
            self.with_session(&sid, |s| s.machine.handle_timeout(now));
            self.drive(&sid);
        }
        self.schedule_alarm().await?;
        Response::ok("")
    }
}

impl EngineObject {
    fn object_name(&self) -> String {
        self.state.id().name().unwrap_or_else(|| "0".to_owned())
    }

    fn handshake_polling(&self, req: &Request) -> Result<Response> {
        let sid = new_sid(&self.object_name(), &random_id());
        let mut machine = ServerSession::new(sid.clone(), TransportKind::Polling, self.config.engine.clone(), now_ms());
        let PollOutcome::Respond(open) = machine.handle_poll(now_ms()) else {
            return http::engine_error(req, &self.config, ServerError::BadRequest);
        };
        self.sessions.borrow_mut().insert(sid, Session { machine, held_poll: None, websocket: None, probe: None });
        http::text(req, &self.config, open)
    }

    fn handshake_websocket(&self) -> Result<Response> {
        let sid = new_sid(&self.object_name(), &random_id());
        let pair = WebSocketPair::new()?;
        self.state.accept_websocket_with_tags(&pair.server, &[&sid]);
        let machine = ServerSession::new(sid.clone(), TransportKind::WebSocket, self.config.engine.clone(), now_ms());
        self.sessions
            .borrow_mut()
            .insert(sid.clone(), Session { machine, held_poll: None, websocket: Some(pair.server), probe: None });
        self.drive(&sid);
        Response::from_websocket(pair.client)
    }

    async fn session_request(&self, mut req: Request, sid: String, transport: TransportKind) -> Result<Response> {
        let config = &self.config;
        let Some(current) = self.sessions.borrow().get(&sid).map(|s| s.machine.transport()) else {
            return http::engine_error(&req, config, ServerError::UnknownSid);
        };
        let now = now_ms();
        match (transport, req.method()) {
            (TransportKind::WebSocket, _) if is_websocket_upgrade(&req) => {
                let pair = WebSocketPair::new()?;
                let accepted = self.with_session(&sid, |s| s.machine.handle_websocket_open(now));
                if accepted != Some(Ok(())) {
                    return http::engine_error(&req, config, ServerError::BadRequest);
                }
                self.state.accept_websocket_with_tags(&pair.server, &[&sid, PROBE_TAG]);
                self.with_session(&sid, |s| s.probe = Some(pair.server));
                Response::from_websocket(pair.client)
            }
            (TransportKind::Polling, Method::Get) if current == TransportKind::Polling => {
                match self.with_session(&sid, |s| s.machine.handle_poll(now)) {
                    Some(PollOutcome::Respond(body)) => {
                        self.drive(&sid);
                        http::text(&req, config, body)
                    }
                    Some(PollOutcome::Hold) => {
                        let (sender, receiver) = oneshot::channel();
                        self.with_session(&sid, |s| s.held_poll = Some(sender));
                        self.drive(&sid);
                        self.schedule_alarm().await?;
                        match receiver.await {
                            Ok(body) => http::text(&req, config, body),
                            Err(_) => http::engine_error(&req, config, ServerError::UnknownSid),
                        }
                    }
                    Some(PollOutcome::Reject(error)) => {
                        self.drive(&sid);
                        http::engine_error(&req, config, error)
                    }
                    None => http::engine_error(&req, config, ServerError::UnknownSid),
                }
            }
            (TransportKind::Polling, Method::Post) if current == TransportKind::Polling => {
                let body = req.text().await?;
                let outcome = self.with_session(&sid, |s| s.machine.handle_post(&body, now_ms()));
                self.drive(&sid);
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

    fn with_session<T>(&self, sid: &str, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        self.sessions.borrow_mut().get_mut(sid).map(f)
    }

    /// Performs everything the session wants to transmit and hands its events to the
    /// application, until it has nothing left; forgets it once closed.
    fn drive(&self, sid: &str) {
        loop {
            let mut sessions = self.sessions.borrow_mut();
            let Some(session) = sessions.get_mut(sid) else { return };
            if let Some(transmit) = session.machine.poll_transmit() {
                perform(session, transmit);
                continue;
            }
            match session.machine.poll_event() {
                // The conformance application: an Engine.IO echo.
                Some(ServerEvent::Message(data)) => session.machine.send(data),
                Some(ServerEvent::Closed(_)) => {}
                Some(ServerEvent::Heartbeat | ServerEvent::Upgraded) => {}
                None => {
                    if session.machine.is_closed() {
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

    fn websocket_gone(&self, ws: &WebSocket) {
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
        self.drive(&sid);
    }

    /// After a wake-up from hibernation: rebuilds the sessions of the accepted WebSockets.
    fn restore_websocket_sessions(&self) {
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

    /// Sets the object's alarm to the earliest deadline of its sessions.
    async fn schedule_alarm(&self) -> Result<()> {
        let next = self.sessions.borrow().values().filter_map(|s| s.machine.poll_timeout()).min();
        let Some(next) = next else { return Ok(()) };
        let current = *self.alarm_at.borrow();
        if current.is_some_and(|at| at <= next) {
            return Ok(());
        }
        *self.alarm_at.borrow_mut() = Some(next);
        // An i64 is an offset from now for workers-rs.
        let offset = next.saturating_sub(now_ms()) as i64;
        self.state.storage().set_alarm(offset).await
    }
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
                let _ = held.send(body);
            }
        }
        ServerTransmit::WebSocket(frame) => {
            if session.websocket.is_none() && session.machine.transport() == TransportKind::WebSocket {
                // The upgrade just completed: the probe is now the session's WebSocket.
                session.websocket = session.probe.take();
            }
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

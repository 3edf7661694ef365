//! The bare Engine.IO echo server of the Engine.IO test suite: every message goes back to
//! its sender.

use wasmio_protocol::engine::{CloseReason, Data};
use worker::{Env, Response, Result, State, WebSocket, WebSocketIncomingMessage};

use crate::config::Config;
use crate::durable::Hosted;
use crate::engine_host::{EngineApp, EngineHost, OpenRefused};
use crate::handshake_request::RequestInfo;

/// The echo server's state.
pub struct EchoServer {
    host: EngineHost,
}

/// The application: echo.
struct Echo;

impl EngineApp for Echo {
    fn on_open(&self, _host: &EngineHost, _sid: &str, _request: RequestInfo) -> Result<(), OpenRefused> {
        Ok(())
    }

    fn on_message(&self, host: &EngineHost, sid: &str, data: Data) {
        host.send(sid, data);
    }

    fn on_upgrade(&self, _host: &EngineHost, _sid: &str) {}

    fn on_close(&self, _host: &EngineHost, _sid: &str, _reason: CloseReason) {}
}

impl EchoServer {
    /// The state of a new instance of the echo object.
    pub fn new(state: State, env: Env) -> Self {
        EchoServer { host: EngineHost::new(state, Config::cached(&env)) }
    }
}

impl Hosted for EchoServer {
    fn host(&self) -> &EngineHost {
        &self.host
    }

    async fn fetch(&self, req: web_sys::Request) -> Result<web_sys::Response> {
        let url = req.url();
        let response = self.host.fetch(req, &url, &Echo).await;
        self.host.schedule_alarm(None).await?;
        response
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        self.host.websocket_message(&ws, message, &Echo);
        self.host.schedule_alarm(None).await
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, _reason: String, _clean: bool) -> Result<()> {
        self.host.websocket_closed_by_peer(&ws, code, &Echo);
        self.host.schedule_alarm(None).await
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.host.websocket_failed(&ws, &Echo);
        self.host.schedule_alarm(None).await
    }

    async fn alarm(&self) -> Result<Response> {
        self.host.alarm(&Echo);
        self.host.schedule_alarm(None).await?;
        Response::ok("")
    }
}

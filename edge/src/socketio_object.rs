//! The Durable Object that is a Socket.IO server: Engine.IO sessions ([`EngineHost`]), the
//! sans-IO Socket.IO core ([`Server`]) and the application's handlers ([`App`]).
//!
//! State that must survive hibernation is written after every event: each WebSocket's
//! attachment holds its session snapshot, DO storage holds what spans sessions (recovery
//! log, pending acks). A fresh instance rebuilds the core from them before its first event
//! (both in `persistence.rs`).

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::JsValue;
use wasmio_protocol::engine::{CloseReason, Data};
use wasmio_protocol::server::{
    Accept, ApiError, Config as CoreConfig, ConnectRequest, Event, Message, RecoveryConfig, Server, SessionInfo,
    Transmit,
};
use worker::wasm_bindgen_futures;
use worker::{Env, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage};

use crate::app::{App, Relay};
use crate::app::{Args, ConnectError, EventHandling, Handshake, Leaving, RateKey, Socket};
use crate::awaited_acks::AwaitedAcks;
use crate::cluster::{AckCollections, ClusterRequest, CLUSTER_PATH};
use crate::config::{Config, HeartbeatMode};
use crate::context::{task, ConnectContext, Context, Tasks};
use crate::credentials::SessionCredentials;
use crate::durable::Hosted;
use crate::engine_host::{now_ms, random_id, EngineApp, EngineHost, OpenRefused};
use crate::handshake_request::RequestInfo;
use crate::persistence::OUTBOX_RETRY_MS;
use crate::rate_limits::{bucket_key, Buckets};
use crate::relays::{RelayAnswer, RelayBody, Relays, RELAYED, RELAY_PATH};
use crate::remote_recovery::{MOVED_PATH, RECOVER_PATH};
use crate::room_directory::{Holdings, DIRECTORY_PATH};
use crate::routing::{new_sid, path_of};
use crate::sync_kv::SyncKv;
use crate::test_hooks::Wakeups;

/// The paths of the requests only other objects make (see `SocketIoServer::serve_internal`).
const INTERNAL_PATHS: [&str; 5] = [DIRECTORY_PATH, RELAY_PATH, CLUSTER_PATH, RECOVER_PATH, MOVED_PATH];

/// The state of the Socket.IO server object: Engine.IO sessions, the Socket.IO core of
/// `wasmio-protocol` and the application's handlers.
pub struct SocketIoServer {
    pub(crate) host: EngineHost,
    pub(crate) app: App,
    pub(crate) core: RefCell<Server>,
    pub(crate) restored: Cell<bool>,
    /// The rate limits' buckets.
    pub(crate) rate_limits: RefCell<Buckets>,
    /// Events dropped by rate limits since the object started.
    pub(crate) dropped: Cell<u64>,
    /// How often workerd woke the object, by cause: since it started, or with test hooks
    /// since it was created (`None` until this instance read them from storage).
    pub(crate) wakeups: Cell<Option<Wakeups>>,
    pub(crate) test_hooks: bool,
    pub(crate) env: Env,
    /// This object's name (from the fetch entry's header, else from storage).
    pub(crate) name: RefCell<Option<String>>,
    /// Broadcasts for the other objects of the deployment.
    pub(crate) relays: Relays,
    /// CONNECTs asking to recover a session that another object holds, to ask it for before
    /// the event ends.
    pub(crate) remote_recoveries: RefCell<Vec<ConnectRequest>>,
    /// Acknowledgements awaited from clients, by (socket id, ack id): the handler's name.
    pub(crate) awaited_acks: RefCell<AwaitedAcks>,
    /// The `Cookie` and `Authorization` of each session's handshake, while the session lives.
    pub(crate) credentials: SessionCredentials,
    /// This object, for the contexts of async handlers.
    pub(crate) me: RefCell<Weak<SocketIoServer>>,
    /// Async handlers' futures, awaited before the event that queued them ends.
    pub(crate) tasks: Tasks,
    /// The rooms the room directory knows this object holds.
    pub(crate) holdings: Holdings,
    /// Cluster broadcasts with acknowledgements waiting for their recipients.
    pub(crate) collections: AckCollections,
    /// What the object sends while the room directory does not know the rooms it holds
    /// ([`SocketIoServer::holding_back`]), in order, until the event's `settle` told it.
    pub(crate) held_back: RefCell<Vec<Transmit>>,
    /// The object's synchronous storage, looked up at its first use ([`SocketIoServer::kv`]).
    pub(crate) kv: OnceCell<SyncKv>,
    /// How many requests of other objects to refuse still (test hooks only).
    pub(crate) failures_to_inject: Cell<u32>,
    /// When this instance started (ms since the epoch), for [`crate::ObjectStats`].
    pub(crate) started_ms: u64,
}

impl SocketIoServer {
    /// The state of a new instance of the object serving `app` ([`crate::deployment`]
    /// declares the Durable Object class around it).
    pub fn new(state: State, env: Env, mut app: App) -> Self {
        let config = Config::cached(&env);
        if let Some(ms) = config.connect_timeout_ms {
            app = app.connect_timeout(ms);
        }
        let core = Server::new(core_config(&app, &config));
        let test_hooks = config.test_hooks;
        let shards = config.shards;
        let heartbeat = config.heartbeat;
        let host = EngineHost::new(state, config);
        if heartbeat == HeartbeatMode::Hibernate {
            if let Err(error) = host.answer_pongs_automatically() {
                worker::console_error!("pongs will wake the object: {error}");
            }
        }
        SocketIoServer {
            host,
            test_hooks,
            app,
            core: RefCell::new(core),
            restored: Cell::new(false),
            rate_limits: RefCell::new(Buckets::default()),
            dropped: Cell::new(0),
            wakeups: Cell::new(None),
            env,
            name: RefCell::new(None),
            relays: Relays::new(shards),
            remote_recoveries: RefCell::new(Vec::new()),
            awaited_acks: RefCell::new(AwaitedAcks::default()),
            credentials: SessionCredentials::default(),
            me: RefCell::new(Weak::new()),
            tasks: Tasks::default(),
            holdings: Holdings::default(),
            collections: AckCollections::default(),
            held_back: RefCell::new(Vec::new()),
            kv: OnceCell::new(),
            failures_to_inject: Cell::new(0),
            started_ms: now_ms(),
        }
    }

    /// The context of an async handler for socket `sid` of `nsp`.
    fn context(&self, sid: &str, nsp: &str, ack: Option<u64>) -> Context {
        Context {
            object: self.me.borrow().clone(),
            env: self.env.clone(),
            sid: sid.to_owned(),
            nsp: nsp.to_owned(),
            ack: Rc::new(Cell::new(ack)),
            departed_data: None,
        }
    }

    /// The object's storage.
    pub(crate) fn storage(&self) -> worker::Storage {
        self.host.state().storage()
    }

    /// Runs `f` on socket `sid` of `nsp` (with the acknowledgement still awaited in `ack`),
    /// then delivers what it did.
    pub(crate) fn with_socket<R>(
        &self,
        sid: &str,
        nsp: &str,
        ack: &Cell<Option<u64>>,
        departed_data: Option<String>,
        f: impl FnOnce(&mut Socket) -> R,
    ) -> R {
        let result = {
            let mut core = self.core.borrow_mut();
            let socket = self.socket(&mut core, sid.to_owned(), nsp.to_owned(), ack.take());
            let mut socket = Socket { departed_data, ..socket };
            let result = f(&mut socket);
            ack.set(socket.ack);
            result
        };
        self.pump();
        result
    }

    /// The requests only other objects make (the fetch entry forwards none of them: relays,
    /// cluster operations, recoveries, the room directory) and the test hooks; `None` for an
    /// Engine.IO request.
    async fn serve_internal(&self, mut req: Request) -> Result<Option<Response>> {
        if req.path() == DIRECTORY_PATH {
            return crate::room_directory::serve(&self.storage(), &req.text().await?).await.map(Some);
        }
        if [RELAY_PATH, CLUSTER_PATH].contains(&req.path().as_str()) && self.test_hooks && self.inject_failure() {
            return Response::error("failure injected by the test hook", 503).map(Some);
        }
        if req.path() == RELAY_PATH {
            let relays = req.json::<RelayBody>().await?.into_relays();
            if self.test_hooks {
                self.count(|w| w.relays += 1).await?;
            }
            self.restore()?;
            self.learn_name(req.inner())?;
            let mut answer = RelayAnswer::default();
            for (index, relay) in relays.iter().enumerate() {
                let attachments = relay.attachment_bytes();
                let now = now_ms();
                let delivered =
                    self.core.borrow_mut().broadcast(&relay.broadcast(), &relay.event, &relay.args, attachments, now);
                match delivered {
                    Ok(delivery) => answer.moved_to.extend(delivery.moved_to.into_iter().map(|to| (index, to))),
                    Err(error) => {
                        worker::console_error!("a relayed broadcast of {:?} was refused: {error}", relay.event)
                    }
                }
            }
            self.pump();
            self.settle().await?;
            // The sender relays on to where sessions moved (`Relays::send`).
            return match answer.moved_to.is_empty() {
                true => Response::ok(RELAYED).map(Some),
                false => Response::from_json(&answer).map(Some),
            };
        }
        if req.path() == CLUSTER_PATH {
            let request: ClusterRequest = req.json().await?;
            self.restore()?;
            self.learn_name(req.inner())?;
            let answer = self.apply_cluster(request).await;
            self.settle().await?;
            return Response::from_json(&answer).map(Some);
        }
        if req.path() == RECOVER_PATH {
            return self.serve_recovery(req).await.map(Some);
        }
        if req.path() == MOVED_PATH {
            return self.serve_moved(req).await.map(Some);
        }
        match self.test_hooks {
            true => self.serve_test_hook(&req).await.transpose(),
            false => Ok(None),
        }
    }
}

impl Hosted for SocketIoServer {
    fn started(self: &Rc<Self>) {
        *self.me.borrow_mut() = Rc::downgrade(self);
    }

    fn host(&self) -> &EngineHost {
        &self.host
    }

    async fn fetch(&self, req: web_sys::Request) -> Result<web_sys::Response> {
        let url = req.url();
        if INTERNAL_PATHS.contains(&path_of(&url)) || self.test_hooks {
            if let Some(answer) = self.serve_internal(Request::from(Clone::clone(&req))).await? {
                return Ok(answer.into());
            }
        }
        self.count(|w| w.fetches += 1).await?;
        self.restore()?;
        self.learn_name(&req)?;
        let response = self.host.fetch(req, &url, self).await;
        self.settle().await?;
        response
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        self.count(|w| w.websocket_messages += 1).await?;
        self.restore()?;
        self.host.websocket_message(&ws, message, self);
        self.settle().await
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, _reason: String, _clean: bool) -> Result<()> {
        self.restore()?;
        self.host.websocket_closed_by_peer(&ws, code, self);
        self.settle().await
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.restore()?;
        self.host.websocket_failed(&ws, self);
        self.settle().await
    }

    async fn alarm(&self) -> Result<Response> {
        self.count(|w| w.alarms += 1).await?;
        self.restore()?;
        self.relays.retry_failed();
        self.host.alarm(self);
        self.core.borrow_mut().handle_timeout(now_ms());
        self.pump();
        self.settle().await?;
        Response::ok("")
    }
}

impl EngineApp for SocketIoServer {
    fn on_open(&self, _host: &EngineHost, sid: &str, request: RequestInfo) -> std::result::Result<(), OpenRefused> {
        let info = SessionInfo { query: request.query, headers: request.headers, address: request.address };
        let opened = self.core.borrow_mut().handle_open(sid, info, now_ms());
        if opened.is_ok() {
            self.credentials.keep(self.kv(), sid, request.credentials);
        }
        self.pump();
        opened.map_err(|error| OpenRefused(error.to_string()))
    }

    fn on_message(&self, host: &EngineHost, sid: &str, data: Data) {
        self.core.borrow_mut().handle_message(sid, data, host.now());
        self.pump();
    }

    fn on_upgrade(&self, _host: &EngineHost, sid: &str) {
        self.core.borrow_mut().handle_upgrade(sid);
    }

    fn on_close(&self, _host: &EngineHost, sid: &str, reason: CloseReason) {
        self.credentials.forget(self.kv(), sid);
        self.core.borrow_mut().handle_close(sid, reason, now_ms());
        self.pump();
    }
}

pub(crate) fn core_config(app: &App, config: &Config) -> CoreConfig {
    let defaults = CoreConfig::default();
    let mut namespaces = app.static_names();
    if !namespaces.iter().any(|n| n == "/") {
        namespaces.push("/".to_owned());
    }
    CoreConfig {
        connect_timeout_ms: app.connect_timeout_ms.unwrap_or(defaults.connect_timeout_ms),
        recovery: app
            .recovery_ms
            .map(|ms| RecoveryConfig { max_disconnection_duration_ms: ms, ..RecoveryConfig::default() }),
        namespaces,
        dynamic_namespaces: app.has_dynamic(),
        announce_lost_sockets: app.lost_sockets_announced(),
        attachment_timeout_ms: config.attachment_timeout_ms.unwrap_or(defaults.attachment_timeout_ms),
        ..defaults
    }
}

impl SocketIoServer {
    /// Runs the queued async handlers beside the object's next events, then settles what they
    /// changed. The event that queued them ends first: workerd delivers a WebSocket's next
    /// message only once the event of the last one ended, and a handler may await that very
    /// message (its own socket's acknowledgement of a broadcast, a pong). socket.io's
    /// handlers likewise run side by side.
    pub(crate) fn start_tasks(&self) {
        let (tasks, object) = (self.tasks.take(), self.me.borrow().clone());
        self.beside_next_events(async move {
            for task in tasks {
                task.await;
            }
            if let Some(object) = object.upgrade() {
                if let Err(error) = object.settle().await {
                    worker::console_error!("the state the async handlers changed was not saved: {error}");
                }
            }
        });
    }

    /// Relays what waits for the other objects beside the object's next events, as the
    /// outbox is written: the event ends first, so that its socket's next message (the next of
    /// a burst of broadcasts) is taken meanwhile and goes in the relay after, with whatever
    /// else waits, instead of one relay per message.
    pub(crate) fn start_relay(&self) {
        if !self.relays.waiting() {
            return;
        }
        let object = self.me.borrow().clone();
        self.beside_next_events(async move {
            if let Some(object) = object.upgrade() {
                object.relay_now().await;
            }
        });
    }

    /// Runs `work` without the current event awaiting it, handed to `waitUntil`: where the
    /// platform keeps an object alive for such work (workerd without it: the work still runs
    /// while the object is in memory).
    pub(crate) fn beside_next_events(&self, work: impl std::future::Future<Output = ()> + 'static) {
        let promise = wasm_bindgen_futures::future_to_promise(async move {
            work.await;
            Ok(JsValue::UNDEFINED)
        });
        if let Err(error) = self.host.state().as_raw().wait_until(&promise) {
            worker::console_warn!("waitUntil refused the object's work: {error:?}");
        }
    }

    /// Tells the room directory which rooms this object holds now (in a deployment of many
    /// objects), then sends what was held back meanwhile.
    pub(crate) async fn sync_holdings(&self) {
        let mut failed = false;
        if self.holding_back() {
            let held_now = || {
                let core = self.core.borrow();
                (core.rooms_version(), core.held_rooms())
            };
            let synced = match self.name() {
                Some(name) => self.holdings.sync(&self.env, &self.storage(), &name, held_now).await,
                None => Err("this object does not know its name".to_owned()),
            };
            if let Err(error) = synced {
                worker::console_error!("the room directory was not told this object's rooms: {error}");
                failed = true;
            }
        }
        // What was held back goes once the directory knows the rooms held now (rooms changed
        // meanwhile: their event's sync, waiting for its turn, sends it), and after a failure
        // at once (the next event tries again): nothing waits longer.
        if failed || !self.holding_back() {
            for transmit in std::mem::take(&mut *self.held_back.borrow_mut()) {
                self.transmit(transmit);
            }
        }
    }

    /// Relays the broadcasts queued for the other objects now.
    pub(crate) async fn relay_now(&self) {
        if let Err(error) = self.relays.send(&self.env, &self.host.state().storage(), self.name()).await {
            worker::console_error!("{error}");
            // What an object did not take waits in its backlog for the alarm (Relays::retry_failed).
            if let Err(error) = self.host.schedule_alarm(Some(now_ms() + OUTBOX_RETRY_MS)).await {
                worker::console_error!("the alarm to relay again was not set: {error}");
            }
        }
    }

    /// This object's name, when known.
    pub(crate) fn name(&self) -> Option<String> {
        self.name.borrow().clone()
    }

    /// Whether what the object sends waits for the room directory: in a deployment of many
    /// objects, while the rooms held here changed since it was told (a room gained its first
    /// member here, say), so that a client told it joined gets every broadcast to the room,
    /// from any object, from then on.
    fn holding_back(&self) -> bool {
        self.relays.shards > 1 && !self.holdings.is_synced(self.core.borrow().rooms_version())
    }

    /// Broadcasts to this object's sockets a broadcast made here outside a socket handler
    /// ([`crate::Context::io`]), and queues it for the other objects.
    pub(crate) fn broadcast_from_here(&self, relay: Relay) -> std::result::Result<(), ApiError> {
        let mut selection = relay.broadcast();
        selection.local = false;
        let delivery = self.core.borrow_mut().broadcast(
            &selection,
            &relay.event,
            &relay.args,
            relay.attachment_bytes(),
            now_ms(),
        )?;
        self.relays.queue().borrow_mut().push(Relay { logged: delivery.logged, ..relay });
        self.pump();
        Ok(())
    }

    /// Runs the core's events through the application and its transmits through Engine.IO,
    /// until both are empty.
    pub(crate) fn pump(&self) {
        loop {
            let transmit = self.core.borrow_mut().poll_transmit();
            if let Some(transmit) = transmit {
                match self.holding_back() {
                    true => self.held_back.borrow_mut().push(transmit),
                    false => self.transmit(transmit),
                }
                continue;
            }
            let event = self.core.borrow_mut().poll_event();
            let Some(event) = event else { return };
            self.dispatch(event);
        }
    }

    /// Writes a transmit of the core.
    fn transmit(&self, transmit: Transmit) {
        match transmit {
            Transmit::Packet { sessions, packet } if packet.attachments.is_empty() => {
                self.host.send_text_to_many(&sessions, &packet.text);
            }
            Transmit::Packet { sessions, packet } => {
                for session in sessions {
                    for data in packet.to_engine_data() {
                        self.host.send(&session, data);
                    }
                }
            }
            Transmit::Close { session } => self.host.close(&session, CloseReason::ForcedClose),
        }
    }

    fn socket<'s>(&'s self, core: &'s mut Server, sid: String, nsp: String, ack: Option<u64>) -> Socket<'s> {
        Socket {
            server: core,
            sid,
            nsp,
            ack,
            now_ms: self.host.now(),
            relays: self.relays.queue(),
            host: &self.host,
            awaited_acks: &self.awaited_acks,
            departed_data: None,
        }
    }

    fn dispatch(&self, event: Event) {
        let mut core = self.core.borrow_mut();
        match event {
            Event::ConnectRequest(request) => self.decide_connect(&mut core, request),
            Event::Connection { nsp, sid, .. } => {
                let Some(ns) = self.app.find(&nsp) else { return };
                let mut socket = self.socket(&mut core, sid, nsp.clone(), None);
                for handler in ns.connection_handlers() {
                    if let Err(error) = handler(&mut socket) {
                        worker::console_error!("a connection handler of {nsp} failed: {error}");
                    }
                }
            }
            Event::Message(message) => self.on_event(&mut core, message),
            Event::Disconnect { nsp, sid, reason, data, .. } => {
                self.rate_limits.borrow_mut().forget_socket(&nsp, &sid);
                self.awaited_acks.borrow_mut().forget_socket(&sid);
                let Some(ns) = self.app.find(&nsp) else { return };
                let departed_data = Some(data);
                let mut socket =
                    Socket { departed_data: departed_data.clone(), ..self.socket(&mut core, sid, nsp.clone(), None) };
                for handler in ns.disconnect_handlers() {
                    if let Err(error) = handler(&mut socket, reason.as_str()) {
                        worker::console_error!("a disconnect handler of {nsp} failed: {error}");
                    }
                }
                for handler in ns.async_disconnect_handlers() {
                    let context =
                        Context { departed_data: departed_data.clone(), ..self.context(&socket.sid, &nsp, None) };
                    let future = handler(context.clone(), reason.as_str().to_owned());
                    self.tasks.push(task(&context, "disconnect".to_owned(), future));
                }
            }
            Event::Ack { sid, id, result } => {
                let Some(name) = self.awaited_acks.borrow_mut().take(&sid, id) else { return };
                let Some(nsp) = core.socket(&sid).map(|s| s.nsp) else { return };
                let Some(handler) = self.app.find(&nsp).and_then(|ns| ns.ack_handler(&name)).cloned() else {
                    worker::console_error!(
                        "no acknowledgement handler {name:?} in {nsp} (Namespace::on_ack): the answer (or timeout) of socket {sid} is dropped"
                    );
                    return;
                };
                let result = result.map(|a| Args { json: a.args, attachments: a.attachments });
                if let Err(error) = handler(&mut self.socket(&mut core, sid, nsp.clone(), None), result) {
                    worker::console_error!("the acknowledgement handler {name:?} of {nsp} failed: {error}");
                }
            }
            Event::Disconnecting { nsp, sid, reason, rooms, data, .. } => {
                let Some(ns) = self.app.find(&nsp) else { return };
                let leaving = Leaving { reason: reason.as_str(), rooms: &rooms, data: &data };
                let mut socket = self.socket(&mut core, sid, nsp.clone(), None);
                for handler in ns.disconnecting_handlers() {
                    if let Err(error) = handler(&mut socket, &leaving) {
                        worker::console_error!("a disconnecting handler of {nsp} failed: {error}");
                    }
                }
            }
            Event::BroadcastAck { id, error, responses } => self.collections.resolve(id, responses, error.is_some()),
            Event::Error { .. } => {}
        }
    }

    /// Decides a CONNECT, unless its recovery id names another object: that one is asked
    /// first ([`SocketIoServer::recover_remote`]).
    fn decide_connect(&self, core: &mut Server, request: ConnectRequest) {
        if self.holder_elsewhere(core, &request).is_some() {
            self.remote_recoveries.borrow_mut().push(request);
            return;
        }
        self.decide_connect_here(core, request);
    }

    /// Runs the namespace's middlewares on a CONNECT, then accepts or refuses it.
    pub(crate) fn decide_connect_here(&self, core: &mut Server, request: ConnectRequest) {
        let ConnectRequest { session, nsp, auth, run_middlewares, .. } = request;
        let Some(ns) = self.app.find(&nsp) else {
            if let Err(error) = core.refuse_namespace(&session, &nsp) {
                worker::console_warn!("the CONNECT to {nsp} could not be refused: {error}");
            }
            return;
        };
        let info = core.session_info(&session).unwrap_or_default();
        let credentials = self.credentials.of(&session);
        let mut handshake = Handshake {
            nsp: &nsp,
            auth: &auth,
            query: &info.query,
            headers: &info.headers,
            address: &info.address,
            cookie: credentials.cookie.as_deref(),
            authorization: credentials.authorization.as_deref(),
            data: None,
        };
        if run_middlewares {
            for middleware in ns.connect_middlewares() {
                if let Err(error) = middleware(&mut handshake) {
                    reject_connect(core, &session, &nsp, error);
                    return;
                }
            }
            let awaited = ns.async_connect_middlewares();
            if !awaited.is_empty() {
                // The async middlewares decide once awaited, before the event ends.
                let context = ConnectContext::of(&handshake, &self.env);
                let (object, awaited) = (self.me.borrow().clone(), awaited.to_vec());
                self.tasks.push(Box::pin(async move {
                    let mut refused = None;
                    for middleware in awaited {
                        if let Err(error) = middleware(context.clone()).await {
                            refused = Some(error);
                            break;
                        }
                    }
                    let Some(object) = object.upgrade() else { return };
                    match refused {
                        Some(error) => reject_connect(&mut object.core.borrow_mut(), &session, &nsp, error),
                        None => {
                            object.accept_connect(&mut object.core.borrow_mut(), &session, &nsp, context.take_data())
                        }
                    }
                    object.pump();
                }));
                return;
            }
        }
        self.accept_connect(core, &session, &nsp, handshake.data.take());
    }

    /// Accepts a CONNECT whose middlewares passed.
    fn accept_connect(&self, core: &mut Server, session: &str, nsp: &str, data: Option<String>) {
        // A recovery id names this object, so that a reconnection landing on another object
        // finds the session here.
        let object = self.name.borrow().clone().unwrap_or_default();
        let accept = Accept {
            // Named after this object too: `to(socket id)` from another object reaches it alone.
            sid: new_sid(&object, &random_id()),
            pid: core.config().recovery.is_some().then(|| new_sid(&object, &random_id())),
            data,
        };
        match core.accept_connect(session, nsp, accept, now_ms()) {
            Ok(()) => {}
            // The session went away meanwhile.
            Err(error @ (ApiError::UnknownSession | ApiError::NoPendingConnect)) => {
                worker::console_warn!("the CONNECT to {nsp} was not accepted: {error}")
            }
            // State too large to keep across hibernation, too many namespaces: the client is
            // told why.
            Err(error) => reject_connect(core, session, nsp, ConnectError::new(error.to_string())),
        }
    }

    fn on_event(&self, core: &mut Server, message: Message) {
        let Message { sid, nsp, name, args, attachments, ack } = message;
        let Some(ns) = self.app.find(&nsp) else { return };
        if let Some(limit) = ns.limit() {
            let key = match limit.key {
                RateKey::Socket => bucket_key(&limit, &nsp, &sid, "", ""),
                _ => {
                    let info = core.socket(&sid);
                    let (address, data) =
                        info.as_ref().map_or(("", "{}"), |i| (i.info.address.as_str(), i.data.as_str()));
                    bucket_key(&limit, &nsp, &sid, address, data)
                }
            };
            if !self.rate_limits.borrow_mut().take(&key, &limit, now_ms()) {
                self.dropped.set(self.dropped.get() + 1);
                if limit.disconnect {
                    if let Err(error) = core.disconnect(&sid, false, now_ms()) {
                        worker::console_warn!("socket {sid} over its rate limit could not be disconnected: {error}");
                    }
                } else if ack.is_some() {
                    // An awaited ack learns why at once, rather than at its timeout (or never).
                    self.socket(core, sid, nsp, ack).refuse("rate limit exceeded");
                }
                return;
            }
        }
        let args = Args { json: args, attachments };
        let mut socket = self.socket(core, sid, nsp.clone(), ack);
        for middleware in ns.event_middlewares() {
            if let Err(error) = middleware(&mut socket, &name, &args) {
                socket.refuse(&error.message);
                return;
            }
        }
        // An event nobody handles is dropped silently, as socket.io does (an awaited ack
        // times out on the client).
        match ns.event_handler(&name) {
            None => {}
            Some(EventHandling::Now(handler)) => {
                if let Err(error) = handler(&mut socket, args) {
                    worker::console_warn!("the handler of {name:?} in {nsp} failed: {error}");
                    socket.refuse(&error.to_string());
                }
            }
            Some(EventHandling::Awaited(handler)) => {
                let context = self.context(&socket.sid, &nsp, socket.ack.take());
                let future = handler(context.clone(), args);
                self.tasks.push(task(&context, name, future));
            }
        }
    }
}

/// Refuses a CONNECT a middleware refused: `connect_error` with its message and data.
fn reject_connect(core: &mut Server, session: &str, nsp: &str, error: ConnectError) {
    let data = error.data.map(|d| d.to_string());
    if let Err(error) = core.reject_connect(session, nsp, &error.message, data.as_deref()) {
        worker::console_warn!("the CONNECT to {nsp} could not be refused: {error}");
    }
}

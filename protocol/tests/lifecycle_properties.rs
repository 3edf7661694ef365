//! The lifecycle property: what a broadcast promises survives the evictions and restarts of the
//! Durable Object that runs the server.
//!
//! The model: one simulated object runs the Socket.IO core ([`Server`], connection state recovery
//! on) and the Engine.IO [`Endpoint`], driven as the edge library drives them: every
//! CONNECT is accepted with a fresh socket id and pid, every `chat` event is broadcast to `/`.
//! Two to four real client machines ([`Manager`]), each WebSocket-only, polling-only, or polling
//! then upgrading, reach it through a network of messages in flight that proptest delivers a few
//! at a time, so that anything can happen between any two inputs of the object: a client connects
//! or emits `chat` (with a unique id), a client's transports are cut (the server notices the
//! closed WebSocket or aborted poll, or only learns it from heartbeats), time passes (heartbeats,
//! reconnection delays, expiry of the recovery log), the object is evicted or restarted.
//!
//! Across an eviction the object keeps what the edge keeps (`restore()` and `settle()` in
//! edge/src/socketio_object.rs): per WebSocket, its session id and the snapshot last
//! written as [`Server::take_writes`] said; in storage, the shared snapshot and the live records
//! of connected sockets. The core is rebuilt from those, the WebSocket sessions are
//! resumed; polling sessions are lost (their requests fail). A restart loses the WebSockets too.
//!
//! Checked after 100 s more of working network (every client reconnects, the sessions of cut
//! transports time out):
//! - a client receives each broadcast at most once, and in broadcast order;
//! - under one pid (one session, across its recoveries) a client receives every broadcast from
//!   the first one after the pid was issued (or earlier: a recovery replays from the client's last
//!   offset, which may come from its previous pid) without a gap: a gap may only end a session,
//!   after a disconnection the client saw, when a reconnection was not recovered;
//! - a reconnection carrying a pid is not recovered only for a reason the protocol gives: no
//!   offset yet, the old socket still connected on the server, or the offset expired;
//! - the session each client holds at the end is complete (every broadcast since its pid was
//!   issued) and the server knows its socket;
//! - the application sees each socket connect, then disconnect once, even a socket lost with
//!   the object's memory (a polling session at an eviction, any session at a restart): the
//!   sockets it saw connect and not disconnect are those the server holds at the end;
//! - at each eviction, what was persisted is what memory held (`take_writes` missed nothing) and
//!   every WebSocket session is restored from its attachment; storage holds a live record for
//!   exactly the sockets the server holds.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use serde_json::Value;
use wasmio_protocol::client::{
    EmitOptions, Event as ClientEvent, Manager, ManagerConfig, SocketEvent, SocketId, SocketOptions,
};
use wasmio_protocol::engine::{
    Channel, ClientConfig, ClientTransmit, CloseReason, Endpoint, Frame, Output, PollOutcome, ServerConfig,
    ServerEvent, SessionHandle, TransportId, TransportKind,
};
use wasmio_protocol::server::{
    Accept, Broadcast, Config, Event, RecoveryConfig, Server, SessionInfo, Transmit, Write,
    DEFAULT_MAX_INLINE_SNAPSHOT_BYTES, LIVE_PREFIX, SHARED_KEY, SNAPSHOT_PREFIX,
};

#[derive(Debug, Clone, Copy)]
enum Action {
    /// The client connects its `/` socket (once).
    Connect(usize),
    /// The client emits `chat` with a fresh id (buffered while it is disconnected).
    Chat(usize),
    /// The client's transports are cut and what it had in flight is lost; the server notices
    /// (closed WebSocket, aborted poll) or not.
    Cut(usize, bool),
    /// The network delivers this many messages.
    Deliver(usize),
    /// Time passes, the network delivering everything.
    Advance(u64),
    Evict,
    Restart,
}

/// One transport of one client: the client's index and the id its manager gave.
type Link = (usize, u32);

/// What the server side does on a client's transport.
#[derive(Debug)]
enum Down {
    Poll(String),
    Failed,
    PostDone,
    Opened,
    Frame(Frame),
    Closed,
}

#[derive(Debug)]
enum Wire {
    Up(usize, ClientTransmit),
    Down(Link, Down),
}

/// What a client's application saw, with its socket's pid then.
#[derive(Debug)]
enum Seen {
    Connect(String),
    Disconnect,
    Chat(String, u64),
}

struct Client {
    manager: Manager,
    socket: SocketId,
    opened: bool,
    links: BTreeSet<u32>,
    seen: Vec<Seen>,
}

/// What the object holds for one Engine.IO session of its endpoint: the transports its outputs
/// are carried out on, and its WebSocket's attachment.
struct Conn {
    sid: String,
    held_poll: Option<Link>,
    websocket: Option<Link>,
    probe: Option<Link>,
    /// The WebSocket's attachment: the session snapshot last written.
    attachment: Option<String>,
}

struct World {
    now: u64,
    server: Server,
    endpoint: Endpoint,
    conns: BTreeMap<SessionHandle, Conn>,
    clients: Vec<Client>,
    wire: VecDeque<Wire>,
    /// Transports cut on the client side: what is written on them is lost.
    dead: BTreeSet<Link>,
    /// The object's storage, written as [`Server::take_writes`] says.
    storage: BTreeMap<String, String>,
    /// Source of ids (random in the edge), never reused.
    next_id: u64,
    /// Chat ids in broadcast order; when each offset was emitted.
    broadcasts: Vec<u64>,
    emitted: BTreeMap<String, u64>,
    /// How many broadcasts were made before each pid was issued, and when.
    issued: BTreeMap<String, usize>,
    issued_at: BTreeMap<String, u64>,
    /// Reconnections not recovered without a reason.
    unexcused: Vec<String>,
    /// The sockets the application saw connect and not yet disconnect (`connection` and
    /// `disconnect` events), and any event out of that order.
    app_sockets: BTreeSet<String>,
    app_misordered: Vec<String>,
}

fn sid_of(query: &str) -> Option<String> {
    query.split('&').find_map(|kv| kv.strip_prefix("sid=")).map(str::to_owned)
}

fn link_id(transmit: &ClientTransmit) -> u32 {
    match transmit {
        ClientTransmit::PollGet { id, .. }
        | ClientTransmit::PollPost { id, .. }
        | ClientTransmit::OpenWebSocket { id, .. }
        | ClientTransmit::WebSocket { id, .. }
        | ClientTransmit::Close { id } => id.0,
    }
}

impl World {
    /// Clients with these transports (two: polling, then upgraded to WebSocket); session
    /// snapshots past `max_inline_snapshot_bytes` are kept in storage.
    fn new(transports: &[Vec<TransportKind>], max_inline_snapshot_bytes: usize) -> Self {
        let clients = transports
            .iter()
            .map(|transports| {
                let engine = ClientConfig {
                    transports: transports.clone(),
                    upgrade: transports.len() > 1,
                    ..Default::default()
                };
                let mut manager = Manager::new(ManagerConfig { engine, ..Default::default() }, || 0.5);
                let socket = manager.socket("/", SocketOptions::default());
                Client { manager, socket, opened: false, links: BTreeSet::new(), seen: Vec::new() }
            })
            .collect();
        World {
            now: 1_000,
            server: Server::new(Config {
                recovery: Some(RecoveryConfig::default()),
                max_inline_snapshot_bytes,
                ..Config::default()
            }),
            endpoint: Endpoint::new(ServerConfig::default()),
            conns: BTreeMap::new(),
            clients,
            wire: VecDeque::new(),
            dead: BTreeSet::new(),
            storage: BTreeMap::new(),
            next_id: 0,
            broadcasts: Vec::new(),
            emitted: BTreeMap::new(),
            issued: BTreeMap::new(),
            issued_at: BTreeMap::new(),
            unexcused: Vec::new(),
            app_sockets: BTreeSet::new(),
            app_misordered: Vec::new(),
        }
    }

    fn act(&mut self, action: Action) {
        let n = self.clients.len();
        match action {
            Action::Connect(c) if !self.clients[c % n].opened => {
                let client = &mut self.clients[c % n];
                client.opened = true;
                client.manager.connect_socket(client.socket, self.now);
                self.client_drain(c % n);
            }
            Action::Connect(_) => {}
            Action::Chat(c) => {
                self.next_id += 1;
                let client = &mut self.clients[c % n];
                let data = format!(r#"["chat",{}]"#, self.next_id);
                client.manager.emit(client.socket, &data, vec![], EmitOptions::default(), self.now).unwrap();
                self.client_drain(c % n);
            }
            Action::Cut(c, noticed) => self.cut(c % n, noticed),
            Action::Deliver(count) => (0..count).for_each(|_| self.step()),
            Action::Advance(ms) => self.advance(ms),
            Action::Evict => self.evict(false),
            Action::Restart => self.evict(true),
        }
    }

    fn step(&mut self) {
        match self.wire.pop_front() {
            Some(Wire::Up(c, transmit)) => self.up(c, transmit),
            Some(Wire::Down(link, down)) => self.down(link, down),
            None => {}
        }
    }

    fn drain(&mut self) {
        for _ in 0..100_000 {
            if self.wire.is_empty() {
                return;
            }
            self.step();
        }
        panic!("the network never drains");
    }

    /// A client's request, frame or close reaches the object: one input, then `settle`.
    fn up(&mut self, c: usize, transmit: ClientTransmit) {
        let (now, link) = (self.now, (c, link_id(&transmit)));
        if self.dead.contains(&link) {
            return;
        }
        let fail = Wire::Down(link, Down::Failed);
        let lookup = |endpoint: &Endpoint, query: &str| sid_of(query).and_then(|sid| endpoint.lookup(&sid));
        match transmit {
            ClientTransmit::PollGet { query, .. } => {
                let handle = match sid_of(&query) {
                    Some(_) => lookup(&self.endpoint, &query),
                    None => Some(self.handshake(TransportKind::Polling)),
                };
                match handle.map(|h| (h, self.endpoint.handle_poll(h, now))) {
                    Some((_, Ok(PollOutcome::Respond(body)))) => {
                        self.wire.push_back(Wire::Down(link, Down::Poll(body)))
                    }
                    Some((h, Ok(PollOutcome::Hold))) => self.conns.get_mut(&h).unwrap().held_poll = Some(link),
                    _ => self.wire.push_back(fail),
                }
            }
            ClientTransmit::PollPost { query, body, .. } => {
                match lookup(&self.endpoint, &query).map(|h| self.endpoint.handle_post(h, &body, now)) {
                    Some(Ok(())) => self.wire.push_back(Wire::Down(link, Down::PostDone)),
                    _ => self.wire.push_back(fail),
                }
            }
            ClientTransmit::OpenWebSocket { query, .. } => match sid_of(&query) {
                None => {
                    self.wire.push_back(Wire::Down(link, Down::Opened));
                    let handle = self.handshake(TransportKind::WebSocket);
                    self.conns.get_mut(&handle).unwrap().websocket = Some(link);
                }
                Some(_) => {
                    let handle = lookup(&self.endpoint, &query);
                    match handle.filter(|h| self.endpoint.handle_websocket_open(*h, now).is_ok()) {
                        Some(h) => {
                            self.conns.get_mut(&h).unwrap().probe = Some(link);
                            self.wire.push_back(Wire::Down(link, Down::Opened));
                        }
                        None => self.wire.push_back(fail),
                    }
                }
            },
            ClientTransmit::WebSocket { frame, .. } => {
                let on = |l: Option<Link>| l == Some(link);
                if let Some((h, _)) = self.conns.iter().find(|(_, conn)| on(conn.websocket) || on(conn.probe)) {
                    self.endpoint.handle_websocket_frame(*h, frame, now);
                }
            }
            ClientTransmit::Close { .. } => self.lose(|l| *l == link),
        }
        self.run_server();
    }

    /// The object sees the transports matching `gone` end: a WebSocket closed, a poll aborted.
    fn lose(&mut self, gone: impl Fn(&Link) -> bool) {
        for (handle, conn) in &mut self.conns {
            let take = |link: &mut Option<Link>| link.take_if(|l| gone(l)).is_some();
            if take(&mut conn.websocket) | take(&mut conn.probe) {
                self.endpoint.handle_websocket_closed(*handle, self.now);
            }
            if take(&mut conn.held_poll) {
                self.endpoint.handle_poll_aborted(*handle, self.now);
            }
        }
    }

    fn handshake(&mut self, kind: TransportKind) -> SessionHandle {
        self.next_id += 1;
        let sid = format!("e{}", self.next_id);
        let handle = self.endpoint.open(sid.clone(), kind, self.now).unwrap();
        self.server.handle_open(&sid, SessionInfo::default(), self.now).unwrap();
        let conn = Conn { sid, held_poll: None, websocket: None, probe: None, attachment: None };
        self.conns.insert(handle, conn);
        handle
    }

    /// What the object did on a transport reaches the client, unless the transport was cut.
    fn down(&mut self, (c, id): Link, down: Down) {
        if self.dead.contains(&(c, id)) {
            return;
        }
        let (manager, now, id) = (&mut self.clients[c].manager, self.now, TransportId(id));
        match down {
            Down::Poll(body) => manager.handle_poll_response(id, &body, now),
            Down::Failed => manager.handle_transport_error(id, "request failed", now),
            Down::PostDone => manager.handle_post_done(id, now),
            Down::Opened => manager.handle_websocket_open(id, now),
            Down::Frame(frame) => manager.handle_websocket_frame(id, frame, now),
            Down::Closed => manager.handle_transport_closed(id, now),
        }
        self.client_drain(c);
    }

    fn client_drain(&mut self, c: usize) {
        let now = self.now;
        let client = &mut self.clients[c];
        // As the browser driver: the events first (the application reacts within the input),
        // then the transmits.
        loop {
            while let Some(event) = client.manager.poll_event() {
                let ClientEvent::Socket { event, .. } = event else { continue };
                let pid = client.manager.get_socket(client.socket).and_then(|s| s.pid()).unwrap_or_default().to_owned();
                match event {
                    SocketEvent::Connect => client.seen.push(Seen::Connect(pid)),
                    SocketEvent::Disconnect { .. } => client.seen.push(Seen::Disconnect),
                    SocketEvent::Event { data, .. } => {
                        let data: Vec<Value> = serde_json::from_str(&data).unwrap();
                        client.seen.push(Seen::Chat(pid, data[1].as_u64().unwrap()));
                    }
                    _ => {}
                }
            }
            while let Some(transmit) = client.manager.poll_transmit() {
                client.links.insert(link_id(&transmit));
                self.wire.push_back(Wire::Up(c, transmit));
            }
            // The driver's tick once the task that wrote to a WebSocket is over.
            if !client.manager.wants_tick() {
                break;
            }
            client.manager.handle_tick(now);
        }
    }

    /// Carries out the endpoint's outputs and runs the core until nothing moves, then settles.
    fn run_server(&mut self) {
        let now = self.now;
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(output) = self.endpoint.poll_output() {
                moved = true;
                self.carry_out(output);
            }
            while let Some(event) = self.server.poll_event() {
                moved = true;
                self.on_event(event);
            }
            while let Some(transmit) = self.server.poll_transmit() {
                moved = true;
                match transmit {
                    Transmit::Packet { sessions, packet } => {
                        let handles: Vec<SessionHandle> =
                            sessions.iter().filter_map(|sid| self.endpoint.lookup(sid)).collect();
                        for handle in handles {
                            packet.to_engine_data().into_iter().for_each(|data| self.endpoint.send(handle, data, now));
                        }
                    }
                    Transmit::Close { session } => {
                        if let Some(handle) = self.endpoint.lookup(&session) {
                            self.endpoint.close(handle, CloseReason::ForcedClose, now);
                        }
                    }
                }
            }
            if !moved {
                return self.settle();
            }
        }
        panic!("the server never settles");
    }

    /// One output of the endpoint, as the edge library's `EngineHost` carries it out.
    fn carry_out(&mut self, output: Output) {
        let now = self.now;
        let down = |conn: &mut Conn, channel: Channel| match channel {
            Channel::Transport => conn.websocket,
            Channel::Probe => conn.probe,
        };
        let (link, down) = match output {
            Output::Send { handle, channel, frame } => {
                (self.conns.get_mut(&handle).and_then(|c| down(c, channel)), Down::Frame(frame))
            }
            Output::AnswerPoll { handle, answer } => {
                let down = match answer {
                    Ok(body) => Down::Poll(body),
                    Err(_) => Down::Failed,
                };
                (self.conns.get_mut(&handle).and_then(|c| c.held_poll.take()), down)
            }
            Output::CloseWebSocket { handle, channel, .. } => {
                let conn = self.conns.get_mut(&handle);
                let link = conn.and_then(|c| match channel {
                    Channel::Transport => c.websocket.take(),
                    Channel::Probe => c.probe.take(),
                });
                (link, Down::Closed)
            }
            Output::PromoteProbe { handle } => {
                let conn = self.conns.get_mut(&handle).unwrap();
                conn.websocket = conn.probe.take();
                return;
            }
            Output::Event { handle, event } => {
                let sid = self.conns[&handle].sid.clone();
                match event {
                    ServerEvent::Message(data) => self.server.handle_message(&sid, data, now),
                    ServerEvent::Closed(reason) => self.server.handle_close(&sid, reason, now),
                    ServerEvent::Upgraded => self.server.handle_upgrade(&sid),
                    ServerEvent::Heartbeat => {}
                }
                return;
            }
            Output::Removed { handle } => {
                let conn = self.conns.remove(&handle).unwrap();
                // Whatever the object still held for it goes (a WebSocket it did not close).
                let left = [(conn.held_poll, Down::Failed), (conn.websocket, Down::Closed), (conn.probe, Down::Closed)];
                self.wire.extend(left.into_iter().filter_map(|(link, down)| Some(Wire::Down(link?, down))));
                return;
            }
        };
        if let Some(link) = link {
            self.wire.push_back(Wire::Down(link, down));
        }
    }

    /// The application, as the chat deployment's: accepts every CONNECT, broadcasts every `chat`.
    fn on_event(&mut self, event: Event) {
        match event {
            Event::ConnectRequest(request) => {
                assert!(!request.recovered, "a recoverable CONNECT skips the middlewares");
                self.excuse(&request.session, &request.auth);
                self.next_id += 1;
                let pid = format!("p{}", self.next_id);
                let accept = Accept { sid: format!("s{}", self.next_id), pid: Some(pid.clone()), data: None };
                self.server.accept_connect(&request.session, &request.nsp, accept, self.now).unwrap();
                self.issued.insert(pid.clone(), self.broadcasts.len());
                self.issued_at.insert(pid, self.now);
            }
            Event::Connection { sid, .. } if !self.app_sockets.insert(sid.clone()) => {
                self.app_misordered.push(format!("{sid} connected twice"));
            }
            Event::Disconnect { sid, .. } if !self.app_sockets.remove(&sid) => {
                self.app_misordered.push(format!("{sid} disconnected while not connected"));
            }
            Event::Message(message) if message.name == "chat" => {
                let op = Broadcast::new("/");
                let delivery = self.server.broadcast(&op, "chat", &message.args, vec![], self.now).unwrap();
                let args: Vec<Value> = serde_json::from_str(&message.args).unwrap();
                self.broadcasts.push(args[0].as_u64().unwrap());
                let text = &delivery.packet.expect("the sender receives it").text;
                let data: Vec<Value> = serde_json::from_str(text.strip_prefix('2').unwrap()).unwrap();
                self.emitted.insert(data.last().and_then(Value::as_str).unwrap().to_owned(), self.now);
            }
            _ => {}
        }
    }

    /// A CONNECT carrying a pid is not recovered: records it unless the protocol allows that
    /// (its offset, or the position its socket connected at, expired). A socket the server
    /// still holds is taken over; a client without an offset recovers from its position.
    fn excuse(&mut self, session: &str, auth: &str) {
        let auth: Value = serde_json::from_str(auth).unwrap();
        let Some(pid) = auth["pid"].as_str() else { return };
        let max = RecoveryConfig::default().max_disconnection_duration_ms;
        let excused = match auth["offset"].as_str() {
            None => self.issued_at.get(pid).is_some_and(|&at| self.now > at + max),
            Some(offset) => self.emitted.get(offset).is_some_and(|&at| self.now > at + max),
        };
        if !excused {
            self.unexcused.push(format!("at {} ms, session {session} with {auth}", self.now));
        }
    }

    /// After each input, what the edge persists: WebSocket attachments, shared state, live records.
    fn settle(&mut self) {
        let (writes, unpersisted) = self.server.take_writes();
        assert_eq!(unpersisted, Vec::new(), "every session survives an eviction");
        for write in writes {
            match write {
                Write::Attachment { session, snapshot } => {
                    if let Some(conn) = self.websocket_conn(&session) {
                        conn.attachment = Some(snapshot);
                    }
                }
                Write::StoredSnapshot { session, key, snapshot } => {
                    if let Some(conn) = self.websocket_conn(&session) {
                        conn.attachment = Some(key.clone());
                        self.storage.insert(key, snapshot);
                    }
                }
                Write::Put { key, value } => drop(self.storage.insert(key, value)),
                Write::Delete { key } => drop(self.storage.remove(&key)),
            }
        }
        // A stored snapshot is deleted once its session is gone.
        for key in self.storage.keys().filter_map(|k| k.strip_prefix(SNAPSHOT_PREFIX)) {
            assert!(self.server.has_session(key), "the stored snapshot of session {key} outlived it");
        }
    }

    /// The object's entry of a session carried by a WebSocket (which keeps its snapshot).
    fn websocket_conn(&mut self, session: &str) -> Option<&mut Conn> {
        let handle = self.endpoint.lookup(session)?;
        let on_websocket = self.endpoint.transport(handle) == Some(TransportKind::WebSocket);
        self.conns.get_mut(&handle).filter(|c| c.websocket.is_some() && on_websocket)
    }

    /// Memory is dropped; the core is rebuilt from storage and (unless restarting) WebSockets.
    fn evict(&mut self, restart: bool) {
        let now = self.now;
        let config = self.server.config().clone();
        // what was persisted is what memory held: `take_writes` missed nothing
        let header = self.storage.get(SHARED_KEY).map(String::as_str);
        let parts = self.storage.iter().map(|(key, value)| (key.as_str(), value.as_str()));
        let mut server = Server::restore_stored(config, header, parts, []).expect("the stored shared state reads");
        assert_eq!(server.shared_to_json(), self.server.shared_to_json(), "the stored shared state is current");
        let mut kept = BTreeMap::new();
        let mut endpoint = Endpoint::new(ServerConfig::default());
        for (handle, conn) in std::mem::take(&mut self.conns) {
            let on_websocket = self.endpoint.transport(handle) == Some(TransportKind::WebSocket);
            if !restart && on_websocket && conn.websocket.is_some() {
                let sid = conn.sid.clone();
                let current = self.server.session_to_json(&sid).ok();
                // The attachment holds the snapshot, or the key of the storage entry holding it.
                let stored = |key: &str| self.storage.get(key).cloned();
                let held = conn.attachment.as_deref().map(|a| stored(a).unwrap_or_else(|| a.to_owned()));
                assert_eq!(held, current, "the snapshot of WebSocket session {sid} is current");
                // (the edge closes a WebSocket it cannot restore; here, every one must be)
                let restored = conn.attachment.as_deref().map(|text| server.restore_attachment(text, stored));
                assert_eq!(restored, Some(Ok(sid.clone())), "WebSocket session {sid} is restored from its attachment");
                kept.insert(endpoint.resume_websocket(&sid, now, None), Conn { probe: None, held_poll: None, ..conn });
                continue;
            }
            // what lived in memory only is gone: its requests fail, its WebSockets close
            let lost = [(conn.held_poll, Down::Failed), (conn.websocket, Down::Closed), (conn.probe, Down::Closed)];
            self.wire.extend(lost.into_iter().filter_map(|(link, down)| Some(Wire::Down(link?, down))));
        }
        // As the edge does: the stored snapshots of sessions that did not come back are deleted.
        self.storage.retain(|key, _| key.strip_prefix(SNAPSHOT_PREFIX).is_none_or(|sid| server.has_session(sid)));
        let unreadable = server.adopt_orphans(self.live().map(|(pid, r)| (pid, r.as_str())), now);
        assert_eq!(unreadable, Vec::<String>::new());
        (self.server, self.endpoint, self.conns) = (server, endpoint, kept);
        self.run_server();
    }

    fn cut(&mut self, c: usize, noticed: bool) {
        self.wire.retain(|wire| !matches!(wire, Wire::Up(d, _) | Wire::Down((d, _), _) if *d == c));
        let links = std::mem::take(&mut self.clients[c].links);
        self.dead.extend(links.iter().map(|&id| (c, id)));
        if noticed {
            self.lose(|(d, _)| *d == c);
            self.run_server();
        }
        for id in links {
            self.clients[c].manager.handle_transport_error(TransportId(id), "cut", self.now);
        }
        self.client_drain(c);
    }

    /// The live records in storage, by pid.
    fn live(&self) -> impl Iterator<Item = (&str, &String)> {
        self.storage.iter().filter_map(|(key, record)| Some((key.strip_prefix(LIVE_PREFIX)?, record)))
    }

    fn next_timer(&self) -> Option<u64> {
        let clients = self.clients.iter().filter_map(|c| c.manager.poll_timeout());
        clients.chain(self.endpoint.poll_timeout()).chain(self.server.poll_timeout()).min()
    }

    /// Fires what is due now: the clients' timers, then the object's alarm.
    fn fire(&mut self) {
        let now = self.now;
        for c in 0..self.clients.len() {
            if self.clients[c].manager.poll_timeout().is_some_and(|at| at <= now) {
                self.clients[c].manager.handle_timeout(now);
                self.client_drain(c);
            }
        }
        self.endpoint.handle_alarm(now, |_| None);
        self.server.handle_timeout(now);
        self.run_server();
    }

    fn advance(&mut self, ms: u64) {
        let until = self.now + ms;
        for _ in 0..10_000 {
            self.drain();
            match self.next_timer() {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    self.fire();
                }
                _ => return self.now = until,
            }
        }
        panic!("timers keep firing");
    }

    fn check(&self) -> Result<(), TestCaseError> {
        prop_assert!(self.unexcused.is_empty(), "reconnections not recovered: {:#?}", self.unexcused);
        let order: BTreeMap<u64, usize> = self.broadcasts.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        prop_assert_eq!(order.len(), self.broadcasts.len(), "a chat was broadcast twice");
        let sockets = self.server.fetch_sockets(&Broadcast::new("/"));
        prop_assert!(self.app_misordered.is_empty(), "connection/disconnect events: {:?}", self.app_misordered);
        let held: BTreeSet<String> = sockets.iter().map(|s| s.sid.clone()).collect();
        prop_assert_eq!(&self.app_sockets, &held, "sockets the application saw connect and not disconnect");
        let pids: BTreeSet<&str> = sockets.iter().filter_map(|s| s.pid.as_deref()).collect();
        prop_assert_eq!(self.live().map(|(pid, _)| pid).collect::<BTreeSet<_>>(), pids, "live records in storage");
        for (c, client) in self.clients.iter().enumerate().filter(|(_, c)| c.opened) {
            let socket = client.manager.get_socket(client.socket).unwrap();
            prop_assert!(socket.connected(), "client {} is not connected at the end: {:?}", c, client.seen);
            let sid = socket.id().unwrap_or_default();
            prop_assert!(self.server.socket(sid).is_some(), "the server does not know socket {} of client {}", sid, c);
            // the client's sessions, one per pid, with the broadcasts received in each
            let mut runs: Vec<(&str, Vec<usize>)> = Vec::new();
            let (mut last, mut connected) = (None, false);
            for seen in &client.seen {
                let pid = match seen {
                    Seen::Disconnect => {
                        connected = false;
                        continue;
                    }
                    Seen::Connect(pid) => {
                        prop_assert!(!connected, "client {} connected twice without a disconnection", c);
                        connected = true;
                        pid
                    }
                    Seen::Chat(pid, _) => pid,
                };
                if runs.last().is_none_or(|(p, _)| p != pid) {
                    prop_assert!(self.issued.contains_key(pid), "client {} got pid {:?} nobody issued", c, pid);
                    prop_assert!(runs.iter().all(|(p, _)| p != pid), "client {} went back to {}", c, pid);
                    runs.push((pid, Vec::new()));
                }
                if let Seen::Chat(_, id) = seen {
                    let Some(&at) = order.get(id) else { return Err(TestCaseError::fail(format!("{id} unsent"))) };
                    prop_assert!(last < Some(at), "client {} received chat {} twice or out of order", c, id);
                    last = Some(at);
                    runs.last_mut().unwrap().1.push(at);
                }
            }
            for (i, (pid, got)) in runs.iter().enumerate() {
                // A recovery replays from the client's last offset, which may predate its pid (as
                // socket.io-client keeps it): what it missed under its previous pid comes first.
                let issued = self.issued[*pid];
                let first = got.first().copied().unwrap_or(issued);
                let end = if i + 1 == runs.len() { self.broadcasts.len() } else { first + got.len() };
                prop_assert!(first <= issued, "client {} missed broadcasts under {}: {:?}", c, pid, client.seen);
                let expected: Vec<usize> = (first..end).collect();
                prop_assert_eq!(got, &expected, "broadcasts client {} received under {}: {:?}", c, pid, client.seen);
            }
        }
        Ok(())
    }
}

fn transports() -> impl Strategy<Value = Vec<TransportKind>> {
    use TransportKind::*;
    prop::sample::select(vec![vec![WebSocket], vec![Polling], vec![Polling, WebSocket]])
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        2 => (0..4usize).prop_map(Action::Connect),
        4 => (0..4usize).prop_map(Action::Chat),
        1 => (0..4usize, any::<bool>()).prop_map(|(c, noticed)| Action::Cut(c, noticed)),
        4 => (1..8usize).prop_map(Action::Deliver),
        2 => prop_oneof![0..3_000u64, 3_000..60_000u64].prop_map(Action::Advance),
        1 => Just(Action::Evict),
        1 => Just(Action::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn broadcasts_survive_evictions_and_restarts(
        clients in prop::collection::vec(transports(), 2..=4),
        actions in prop::collection::vec(action(), 1..40),
        // 100 bytes: a session's snapshot goes to storage once it has a socket, and back.
        max_inline_snapshot_bytes in prop::sample::select(vec![DEFAULT_MAX_INLINE_SNAPSHOT_BYTES, 100]),
    ) {
        let mut world = World::new(&clients, max_inline_snapshot_bytes);
        for action in actions {
            world.act(action);
        }
        world.advance(100_000); // every client reconnects, stale sessions time out
        world.check()?;
    }
}

/// The model does recover: every client keeps its session through an eviction, a restart and
/// a cut, and receives every broadcast once.
#[test]
fn sessions_are_recovered_across_evictions_restarts_and_cuts() {
    use {Action::*, TransportKind::*};
    let mut world = World::new(&[vec![WebSocket], vec![Polling], vec![Polling, WebSocket]], 100);
    // (a chat written on a transport the object just dropped is lost: time passes first)
    let actions = [Connect(0), Connect(1), Connect(2), Advance(100), Chat(0), Deliver(3), Evict, Advance(9_000)];
    let more = [Chat(1), Advance(10), Restart, Advance(9_000), Chat(2), Cut(1, true), Advance(9_000), Chat(0)];
    actions.into_iter().chain(more).for_each(|action| world.act(action));
    world.advance(100_000);
    world.check().unwrap();
    assert_eq!(world.broadcasts.len(), 4);
    let stored = world.storage.keys().filter(|k| k.starts_with(SNAPSHOT_PREFIX)).count();
    assert_eq!(stored, 2, "the WebSocket sessions' snapshots (past 100 bytes) are in storage");
    for client in &world.clients {
        let pids: Vec<&String> =
            client.seen.iter().filter_map(|s| if let Seen::Connect(p) = s { Some(p) } else { None }).collect();
        assert!(pids.len() > 1 && pids.iter().all(|p| *p == pids[0]), "recovered each time: {:?}", client.seen);
    }
}

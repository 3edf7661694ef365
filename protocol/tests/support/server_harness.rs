//! The server core's test harness: a [`Server`] fed canned packets at a clock the test
//! moves, its transmits flattened ([`Out`]) for assertions.

use wasmio_protocol::engine::Data;
use wasmio_protocol::server::{Accept, Broadcast, Config, Event, RecoveryConfig, Server, SessionInfo, Transmit};

/// A flattened transmit: (sessions, text, attachments) or a close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Send(Vec<String>, String, Vec<Vec<u8>>),
    Close(String),
}

pub struct Harness {
    pub server: Server,
    pub now: u64,
}

impl Harness {
    pub fn new(config: Config) -> Self {
        Harness { server: Server::new(config), now: 1_000 }
    }

    /// A server with connection state recovery whose broadcasts are logged under `origin`,
    /// as one of several Durable Objects relaying to each other.
    pub fn recovering(origin: &str) -> Self {
        let mut h = Harness::new(recovery_config());
        h.server.set_origin(origin);
        h
    }

    pub fn open(&mut self, session: &str) {
        self.server.handle_open(session, SessionInfo::default(), self.now).unwrap();
    }

    pub fn text(&mut self, session: &str, text: &str) {
        self.server.handle_message(session, Data::Text(text.into()), self.now);
    }

    pub fn binary(&mut self, session: &str, bytes: &[u8]) {
        self.server.handle_message(session, Data::Binary(bytes.to_vec()), self.now);
    }

    pub fn outs(&mut self) -> Vec<Out> {
        std::iter::from_fn(|| self.server.poll_transmit())
            .map(|t| match t {
                Transmit::Packet { sessions, packet } => {
                    Out::Send(sessions, packet.text.clone(), packet.attachments.clone())
                }
                Transmit::Close { session } => Out::Close(session),
            })
            .collect()
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }

    /// The text frames sent to `session`, in order (drains all transmits).
    pub fn texts_for(&mut self, session: &str) -> Vec<String> {
        self.outs()
            .into_iter()
            .filter_map(|o| match o {
                Out::Send(s, text, _) if s.iter().any(|x| x == session) => Some(text),
                _ => None,
            })
            .collect()
    }

    /// Opens `session`, connects it to `nsp` and accepts it as `sid` (pid `p-<sid>`).
    pub fn connect(&mut self, session: &str, nsp: &str, sid: &str) {
        if !self.server.has_session(session) {
            self.open(session);
        }
        let packet = if nsp == "/" { "0".to_owned() } else { format!("0{nsp},") };
        self.text(session, &packet);
        let events = self.events();
        assert!(matches!(&events[..], [Event::ConnectRequest(r)] if r.nsp == nsp), "{events:?}");
        let pid = self.server.config().recovery.is_some().then(|| format!("p-{sid}"));
        self.server.accept_connect(session, nsp, Accept { sid: sid.into(), pid, data: None }, self.now).unwrap();
        self.events();
        self.outs();
    }
}

pub fn config_with(namespaces: &[&str]) -> Config {
    Config { namespaces: namespaces.iter().map(|s| s.to_string()).collect(), ..Config::default() }
}

pub fn recovery_config() -> Config {
    Config { recovery: Some(RecoveryConfig::default()), ..Config::default() }
}

pub fn sessions(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Connects e1/s1 with recovery, joins "r", returns the offset of a first broadcast.
pub fn recovery_setup(h: &mut Harness) -> String {
    h.connect("e1", "/", "s1");
    h.server.join("s1", ["r"]).unwrap();
    h.server.set_data("s1", r#"{"n":1}"#).unwrap();
    h.server.broadcast(&Broadcast::new("/"), "m1", "[]", vec![], h.now).unwrap();
    let text = h.texts_for("e1").pop().unwrap();
    // the offset is the last argument
    let offset = text.trim_start_matches(r#"2["m1",""#).trim_end_matches("\"]").to_owned();
    assert_eq!(text, format!(r#"2["m1","{offset}"]"#));
    offset
}

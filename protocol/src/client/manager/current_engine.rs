//! The manager's engine (socket.io-client's `manager.engine`): the Engine.IO session of the
//! connection being opened or open, and the generation that tags its transport ids, so that
//! what still arrives for the transports of an engine a reconnection replaced is told apart
//! and dropped.

use crate::engine::{ClientConfig, ClientSession, ClientTransmit, TransportId, TransportKind};
use crate::fifo::Fifo;

/// Transport ids of the manager: the engine generation in the high bits.
const GENERATION_SHIFT: u32 = 16;

/// The current (or last) engine session of a manager and its generation.
#[derive(Debug)]
pub(super) struct CurrentEngine {
    session: Option<ClientSession>,
    /// Counts the sessions made, wrapping past the bits left above [`GENERATION_SHIFT`] (and
    /// skipping 0): the high bits of the transport ids the manager gives out.
    generation: u32,
    config: ClientConfig,
}

impl CurrentEngine {
    /// No engine yet; the sessions made later use `config`.
    pub(super) fn new(config: ClientConfig) -> Self {
        CurrentEngine { session: None, generation: 0, config }
    }

    /// A new session replaces the current one, whose transports' ids are no longer
    /// recognised (what it still had to send must be drained first).
    pub(super) fn replace(&mut self, prior_websocket_success: bool) -> &mut ClientSession {
        self.generation = (self.generation + 1) & ((1 << (32 - GENERATION_SHIFT)) - 1);
        if self.generation == 0 {
            self.generation = 1;
        }
        self.session.insert(ClientSession::new(self.config.clone(), prior_websocket_success))
    }

    /// The transports of the sessions made from now on (the current one keeps its own).
    pub(super) fn set_transports(&mut self, transports: Vec<TransportKind>) {
        self.config.transports = transports;
    }

    /// The session, if one was made.
    pub(super) fn session(&self) -> Option<&ClientSession> {
        self.session.as_ref()
    }

    /// The session, if one was made, to change.
    pub(super) fn session_mut(&mut self) -> Option<&mut ClientSession> {
        self.session.as_mut()
    }

    /// The session transport `id` (a manager's id) belongs to, with the transport's id in
    /// it; none for a transport of an engine replaced since.
    pub(super) fn for_transport(&mut self, id: TransportId) -> Option<(&mut ClientSession, TransportId)> {
        if id.0 >> GENERATION_SHIFT != self.generation {
            return None;
        }
        let local = TransportId(id.0 & ((1 << GENERATION_SHIFT) - 1));
        self.session.as_mut().map(|session| (session, local))
    }

    /// The session's WebSocket whose messages pass on to the manager now (a manager's id;
    /// see [`ClientSession::message_websocket`]).
    pub(super) fn message_websocket(&self) -> Option<TransportId> {
        self.session.as_ref()?.message_websocket().map(|local| manager_id(self.generation, local))
    }

    /// Moves the session's transmits to `out`, their transport ids made the manager's.
    pub(super) fn drain_transmits(&mut self, out: &mut Fifo<ClientTransmit>) {
        let Some(session) = self.session.as_mut() else { return };
        while let Some(mut transmit) = session.poll_transmit() {
            let id = transmit.transport_mut();
            *id = manager_id(self.generation, *id);
            out.push(transmit);
        }
    }
}

/// The manager's id of transport `local` of the session of generation `generation`.
fn manager_id(generation: u32, local: TransportId) -> TransportId {
    TransportId(generation << GENERATION_SHIFT | local.0)
}

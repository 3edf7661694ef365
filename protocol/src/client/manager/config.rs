//! The manager's settings ([`ManagerConfig`]) and its `_readyState` ([`ReadyState`]).

use crate::engine::ClientConfig;

#[cfg(doc)]
use super::Manager;

/// Settings of a manager, with socket.io-client's option names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerConfig {
    /// The Engine.IO options (`transports`, `upgrade`, `rememberUpgrade`, ...).
    pub engine: ClientConfig,
    /// `reconnection` (default true).
    pub reconnection: bool,
    /// `reconnectionAttempts`: `None` is `Infinity` (the default; 0 also means Infinity, as
    /// `opts.reconnectionAttempts || Infinity` reads it).
    pub reconnection_attempts: Option<u32>,
    /// `reconnectionDelay` in ms (default 1000; 0 means the default).
    pub reconnection_delay: u64,
    /// `reconnectionDelayMax` in ms (default 5000; 0 means the default).
    pub reconnection_delay_max: u64,
    /// `randomizationFactor` (default 0.5).
    pub randomization_factor: f64,
    /// `timeout`: ms for the engine to open, `None` for `false` (default 20000).
    pub timeout: Option<u64>,
    /// The application's JSON engine writes the JSON it emits and parses the JSON it
    /// receives (the browser client: `JSON.stringify` and `JSON.parse`), so the core scans
    /// neither: it checks an emit's or a received event's start (an array, the event name),
    /// and the application reports received JSON that does not parse with
    /// [`Manager::handle_invalid_payload`]. Default `false`: the core checks all of it.
    pub application_json: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            engine: ClientConfig::default(),
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: 1000,
            reconnection_delay_max: 5000,
            randomization_factor: 0.5,
            timeout: Some(20_000),
            application_json: false,
        }
    }
}

/// The manager's `_readyState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyState {
    /// No engine is open or opening.
    Closed,
    /// An engine is opening.
    Opening,
    /// The engine is open.
    Open,
}

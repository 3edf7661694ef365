//! What each Socket.IO object of a deployment holds and how often workerd woke it, read
//! through [`crate::Emitter::object_stats`] for an operations view (no test hook needed).

use serde::{Deserialize, Serialize};
use wasmio_protocol::server::Broadcast;

use crate::socketio_object::SocketIoServer;

/// One numbered object, as [`crate::Emitter::object_stats`] reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStats {
    /// The object's name (`0`, `1`, ...: the first part of its sids).
    pub object: String,
    /// Open Engine.IO sessions (connections, each carrying sockets of any namespaces).
    pub sessions: usize,
    /// Connected sockets of the application's declared namespaces.
    pub sockets: usize,
    /// The rooms held here (sockets' own-id rooms aside), with their connected members.
    pub rooms: Vec<RoomStats>,
    /// Events workerd delivered to the current instance of the object.
    pub events: EventCounts,
    /// When the current instance started (ms since the epoch): an idle object is evicted,
    /// and the next event starts a new instance, whose counts start again.
    pub instance_started_ms: u64,
    /// The object's next alarm (ms since the epoch): the next heartbeat or timeout deadline.
    pub next_alarm_ms: Option<u64>,
}

/// A room of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomStats {
    /// Its namespace.
    pub nsp: String,
    /// Its name.
    pub room: String,
    /// Its members connected to this object (a room also counts while only recoverable
    /// sessions are in it, with no member connected).
    pub members: usize,
}

/// The events workerd delivered to an instance of an object (each one wakes it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventCounts {
    /// HTTP requests: handshakes, polls, POSTs, WebSocket upgrades.
    pub fetches: u64,
    /// WebSocket messages (pongs answered by workerd itself never reach the object).
    pub websocket_messages: u64,
    /// Alarms: heartbeats and timeouts.
    pub alarms: u64,
}

impl SocketIoServer {
    /// This object's [`ObjectStats`].
    pub(crate) async fn object_stats(&self) -> ObjectStats {
        let (sockets, rooms) = {
            let core = self.core.borrow();
            let sockets = self.app.static_names().into_iter().map(|nsp| core.fetch_sockets(&local(nsp)).len()).sum();
            let rooms = core
                .held_rooms()
                .into_iter()
                .map(|(nsp, room)| {
                    let members = core.fetch_sockets(&local(nsp.clone()).to(room.clone())).len();
                    RoomStats { nsp, room, members }
                })
                .collect();
            (sockets, rooms)
        };
        let wakeups = self.wakeups.get().unwrap_or_default();
        let next_alarm_ms = match self.storage().get_alarm().await {
            Ok(alarm) => alarm.and_then(|at| u64::try_from(at).ok()),
            Err(error) => {
                worker::console_warn!("the alarm of this object could not be read: {error}");
                None
            }
        };
        ObjectStats {
            object: self.name().unwrap_or_default(),
            sessions: self.host.open_sessions(),
            sockets,
            rooms,
            events: EventCounts {
                fetches: wakeups.fetches,
                websocket_messages: wakeups.websocket_messages,
                alarms: wakeups.alarms,
            },
            instance_started_ms: self.started_ms,
            next_alarm_ms,
        }
    }
}

/// Every socket of `nsp` on this object.
fn local(nsp: String) -> Broadcast {
    Broadcast::new(nsp).local()
}

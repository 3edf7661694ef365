//! What a server-side handler ([`crate::app::Namespace::on_server_side`]) reaches: the
//! sockets of its namespace on the object it runs in.

use serde::Serialize;
use wasmio_protocol::server::{ApiError, Broadcast, Server, SocketInfo};

use crate::app::Args;

/// The sockets of one namespace on one object.
pub struct LocalIo<'a> {
    pub(crate) server: &'a mut Server,
    pub(crate) nsp: String,
    pub(crate) now_ms: u64,
}

impl LocalIo<'_> {
    /// The namespace.
    pub fn nsp(&self) -> &str {
        &self.nsp
    }

    /// The sockets of the namespace in `room` (all of them for `None`) on this object.
    pub fn sockets(&self, room: Option<&str>) -> Vec<SocketInfo> {
        self.server.fetch_sockets(&self.selection(room))
    }

    /// Emits `event` with the arguments `value` stands for ([`Args::of`]) to the sockets of
    /// the namespace in `room` (all of them for `None`) on this object only: the emitter asked
    /// every object already.
    pub fn emit<T: Serialize + ?Sized>(&mut self, room: Option<&str>, event: &str, value: &T) -> Result<(), ApiError> {
        let args = Args::of(value)?;
        let selection = self.selection(room);
        self.server.broadcast(&selection, event, &args.json, args.attachments, self.now_ms).map(drop)
    }

    fn selection(&self, room: Option<&str>) -> Broadcast {
        let all = Broadcast::new(self.nsp.clone()).local();
        match room {
            Some(room) => all.to(room),
            None => all,
        }
    }
}

//! Which rooms this server holds members of: what a deployment of many servers needs to send
//! a room's broadcasts only to the servers that hold its members.

use std::collections::BTreeSet;

use super::Server;

impl Server {
    /// Every (namespace, room) that a connected socket or a recoverable session of this server
    /// is in, sockets' own-id rooms aside (a socket id names its server by itself). A
    /// recoverable session counts: the broadcasts it misses must be logged here, where its
    /// reconnection recovers them.
    pub fn held_rooms(&self) -> BTreeSet<(String, String)> {
        let live = self.nsps.iter().flat_map(|(nsp, n)| {
            n.rooms.keys().filter(|room| !self.sockets.contains_key(*room)).map(move |room| (nsp.clone(), room.clone()))
        });
        let recoverable =
            self.shared.persisted.values().flat_map(|p| {
                p.rooms.iter().filter(|room| **room != p.sid).map(move |room| (p.nsp.clone(), room.clone()))
            });
        live.chain(recoverable).collect()
    }
}

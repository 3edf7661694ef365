//! What both Engine.IO session machines share: transports, close reasons, the payload batcher.

use std::collections::VecDeque;

use crate::fifo::Fifo;

use super::packet::{Packet, PacketType, SEPARATOR};

/// The transports of Engine.IO v4 that wasmio speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling: GET receives, POST sends.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter and in `upgrades`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }

    /// The transport with this query-parameter name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "polling" => Some(TransportKind::Polling),
            "websocket" => Some(TransportKind::WebSocket),
            _ => None,
        }
    }
}

/// Why an Engine.IO session closed, named as the official packages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The transport was closed (by the peer, or a `close` packet arrived).
    TransportClose,
    /// The transport failed (network error, protocol violation, oversize message).
    TransportError,
    /// No heartbeat in time.
    PingTimeout,
    /// Undecodable data arrived.
    ParseError,
    /// The local side closed the session on purpose.
    ForcedClose,
    /// The server is shutting down.
    ServerShuttingDown,
}

impl CloseReason {
    /// The reason string socket.io and socket.io-client use.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShuttingDown => "server shutting down",
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Takes packets from the front of `queue` into one polling payload of at most `max_bytes`
/// (always at least one packet, so an oversize packet still goes out alone). A `close` packet
/// never follows data in the same payload, as with the reference (which closes once the data
/// drained): socket.io-client handles the data a tick later, after a close in the same
/// payload would already have ended the session.
pub(crate) fn take_payload(queue: &mut impl PacketQueue, max_bytes: u64) -> String {
    let mut out = String::new();
    let mut size = 0u64;
    while let Some(packet) = queue.front() {
        let len = packet.polling_len() as u64 + u64::from(!out.is_empty());
        if !out.is_empty() && (size + len > max_bytes || packet.kind == PacketType::Close) {
            break;
        }
        if !out.is_empty() {
            out.push(SEPARATOR);
        }
        packet.write_polling(&mut out);
        size += len;
        queue.pop_front();
    }
    out
}

/// The packets a polling payload is taken from, oldest first ([`take_payload`]): the server
/// session's queue and the client session's write buffer.
pub(crate) trait PacketQueue {
    /// The oldest packet.
    fn front(&self) -> Option<&Packet>;
    /// Removes the oldest packet.
    fn pop_front(&mut self);
}

impl PacketQueue for VecDeque<Packet> {
    fn front(&self) -> Option<&Packet> {
        VecDeque::front(self)
    }
    fn pop_front(&mut self) {
        VecDeque::pop_front(self);
    }
}

impl PacketQueue for Fifo<Packet> {
    fn front(&self) -> Option<&Packet> {
        Fifo::front(self)
    }
    fn pop_front(&mut self) {
        self.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_batched_within_the_limit() {
        let mut queue: VecDeque<Packet> = (0..5).map(|i| Packet::message(format!("{i}{i}{i}"))).collect();
        // each packet is 4 bytes; two fit in 9 bytes with their separator
        assert_eq!(take_payload(&mut queue, 9), "4000\x1e4111");
        assert_eq!(take_payload(&mut queue, 1), "4222");
        assert_eq!(take_payload(&mut queue, 100), "4333\x1e4444");
        assert!(queue.is_empty());
    }

    #[test]
    fn a_close_packet_goes_in_a_payload_of_its_own() {
        let mut queue: VecDeque<Packet> =
            [Packet::message("a"), Packet::bare(PacketType::Close), Packet::message("b")].into_iter().collect();
        assert_eq!(take_payload(&mut queue, 100), "4a");
        assert_eq!(take_payload(&mut queue, 100), "1\x1e4b");
    }
}

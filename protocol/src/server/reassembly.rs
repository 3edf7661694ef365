//! A session's binary packet in reassembly: its header arrived as a text message, its
//! attachments follow as binary ones.

use crate::engine::Data;
use crate::json::check_placeholders;
use crate::socket::{decode_text, DecodeError, Packet};

/// The binary packet a session is reassembling (at most one at a time), and its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Reassembly {
    /// The packet whose attachments are arriving, with the count its header announced.
    pub(super) packet: Option<(Packet, usize)>,
    /// When its attachments are due ([`super::Config::attachment_timeout_ms`]).
    pub(super) deadline: Option<u64>,
    /// Whether the session's snapshot keeps its attachments however large (it waited
    /// [`super::PARTIAL_KEPT_AFTER_MS`]); else only within the WebSocket attachment's limit.
    pub(super) kept: bool,
}

/// The bounds on one binary packet's attachments.
#[derive(Debug, Clone, Copy)]
pub(super) struct AttachmentLimits {
    /// At most this many attachments.
    pub(super) count: usize,
    /// At most this many bytes in all.
    pub(super) bytes: usize,
}

impl Reassembly {
    /// Whether a packet is waiting for attachments.
    pub(super) fn is_pending(&self) -> bool {
        self.packet.is_some()
    }

    /// When the waiting packet's attachments are due, if one waits.
    pub(super) fn deadline(&self) -> Option<u64> {
        self.packet.as_ref().and(self.deadline)
    }

    /// Marks the waiting packet as kept in the snapshot whatever its size; false when there is
    /// none or it already was.
    pub(super) fn keep(&mut self) -> bool {
        let changed = self.packet.is_some() && !self.kept;
        self.kept |= changed;
        changed
    }

    /// Decodes one Engine.IO message of the session: a whole packet, or `None` while a binary
    /// packet waits for more attachments (a new one is due at `due_ms`). A message out of
    /// order, or attachments past `limits`, is an error (the packet is dropped when too large).
    pub(super) fn receive(
        &mut self,
        data: Data,
        limits: AttachmentLimits,
        due_ms: u64,
    ) -> Result<Option<Packet>, DecodeError> {
        match data {
            Data::Text(_) if self.packet.is_some() => Err(DecodeError::UnexpectedText),
            Data::Text(text) => match decode_text(&text, limits.count)? {
                (packet, 0) => Ok(Some(packet)),
                (packet, expected) => {
                    *self = Self { packet: Some((packet, expected)), deadline: Some(due_ms), kept: false };
                    Ok(None)
                }
            },
            Data::Binary(bytes) => {
                let Some((packet, expected)) = self.packet.as_mut() else {
                    return Err(DecodeError::UnexpectedBinary);
                };
                if packet.attachments.iter().map(Vec::len).sum::<usize>() + bytes.len() > limits.bytes {
                    self.packet = None;
                    return Err(DecodeError::AttachmentsTooLarge);
                }
                packet.attachments.push(bytes);
                if packet.attachments.len() < *expected {
                    return Ok(None);
                }
                let (packet, expected) = self.packet.take().expect("a packet in reassembly");
                match packet.data.as_deref().map(|data| check_placeholders(data, expected)) {
                    Some(Err(())) => Err(DecodeError::IllegalPlaceholder),
                    _ => Ok(Some(packet)),
                }
            }
        }
    }
}

//! How the manager's work leaves the wasm: [`run`] performs its transmits and hands its
//! events to the host ([`dispatch`]), one call per event.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::host::Host;
use crate::{ack_number, to_buffers, Driver, Inner};
use wasmio_protocol::client::{ErrorMessage, Event, Manager, ManagerEvent, SocketEvent};
use wasmio_protocol::engine::{Data, TransportKind};

/// Whether a WebSocket worked for the last engine of any manager of the page: it is global in
/// engine.io-client (`priorWebsocketSuccess`), so that with `rememberUpgrade` a new manager
/// starts on a WebSocket once one worked. Each manager reads it before an input and leaves
/// its own outcome after.
pub(crate) static PRIOR_WEBSOCKET_SUCCESS: AtomicBool = AtomicBool::new(false);

/// Performs what the manager asks, hands its events to the host, and sets the timer.
/// Events go first, as socket.io-client emits them before any I/O they lead to: a
/// `reconnect_attempt` listener changes the query before the attempt's handshake is sent.
/// A listener may call the driver while it is handed an event: that call runs this loop again
/// for its own events ([`Driver`]'s `with`), as socket.io-client emits them within the call.
pub(crate) fn run(driver: &Driver) {
    let cell = &driver.inner;
    loop {
        let mut inner = cell.borrow_mut();
        if let Some(event) = inner.manager.poll_event() {
            let frame = inner.frame.take();
            drop(inner);
            dispatch(&driver.host, event, frame.as_ref());
            cell.borrow_mut().frame = frame;
            continue;
        }
        let Some(transmit) = inner.manager.poll_transmit() else { break };
        inner.perform(&driver.host, transmit);
    }
    let mut inner = cell.borrow_mut();
    PRIOR_WEBSOCKET_SUCCESS.store(inner.manager.prior_websocket_success(), Ordering::Relaxed);
    inner.schedule(&driver.host);
    inner.publish_shortcut(&driver.host);
}

impl Inner {
    /// Gives the page the manager's shortcut for received events ([`Host::route`]) when it
    /// changed. Every input that may change the manager ends here, before the page runs
    /// again: a WebSocket message never finds a shortcut older than the manager's state.
    pub(crate) fn publish_shortcut(&mut self, host: &Host) {
        let shortcut = self.manager.event_shortcut();
        if shortcut == self.shortcut {
            return;
        }
        host.route(shortcut.map_or(-1.0, |s| s.websocket.0.into()), shortcut.map_or(0, |s| s.sockets));
        self.shortcut = shortcut;
    }
}

/// `m`, told the page's [`PRIOR_WEBSOCKET_SUCCESS`] (which [`run`] updates after each input)
/// before an input that may open an engine: a call of the page, or a timer (a reconnection).
/// A received frame never opens one.
pub(crate) fn prior_websocket_success_read(m: &mut Manager) -> &mut Manager {
    m.set_prior_websocket_success(PRIOR_WEBSOCKET_SUCCESS.load(Ordering::Relaxed));
    m
}

/// The length in UTF-16 units (JavaScript's `length`) of `text`.
pub(crate) fn utf16_len(text: &str) -> u32 {
    let mut len = 0;
    for b in text.bytes() {
        // A unit per UTF-8 lead byte, two for a 4-byte sequence (a surrogate pair).
        len += u32::from(b & 0xc0 != 0x80) + u32::from(b >= 0xf0);
    }
    len
}

/// An event without attachments.
const NO_BINS: &[Vec<u8>] = &[];

/// The arguments of [`Host::event`]: kind, socket, `a`, `b`, the attachments, `n`.
type HostEvent<'a> = (u32, u32, Option<&'a str>, Option<&'a str>, &'a [Vec<u8>], f64);

/// Hands an event to the host: JSON text that is the end of the WebSocket frame being handled
/// goes as that part of the frame's own string ([`Host::frame_event`]), anything else copied.
pub(crate) fn dispatch(host: &Host, event: Event, frame: Option<&String>) {
    if let (Some(text), Event::Socket { socket, event }) = (frame, &event) {
        // Where `data` starts when it ends the frame.
        let start = |data: &str| {
            (!data.is_empty() && text.ends_with(data)).then(|| utf16_len(&text[..text.len() - data.len()]))
        };
        match event {
            SocketEvent::Event { data, attachments, ack_id } if attachments.is_empty() => {
                if let Some(start) = start(data) {
                    return host.frame_event(13, socket.0, start, ack_id.map_or(-1.0, |id| id as f64));
                }
            }
            SocketEvent::AckResponse { handle, args, attachments, with_error } if attachments.is_empty() => {
                if let Some(start) = start(args) {
                    let kind = 14 + u32::from(*with_error);
                    return host.frame_event(kind, socket.0, start, ack_number(*handle));
                }
            }
            _ => {}
        }
    }
    let (kind, socket, a, b, bins, n): HostEvent<'_> = match &event {
        Event::Manager(event) => match event {
            ManagerEvent::Open => (0, 0, None, None, NO_BINS, 0.0),
            ManagerEvent::Error(error) => (1, 0, Some(error.message()), None, NO_BINS, 0.0),
            ManagerEvent::Ping => (2, 0, None, None, NO_BINS, 0.0),
            ManagerEvent::Close { reason, description } => {
                (3, 0, Some(reason.as_str()), description.as_deref(), NO_BINS, 0.0)
            }
            ManagerEvent::Reconnect(attempt) => (4, 0, None, None, NO_BINS, (*attempt).into()),
            ManagerEvent::ReconnectAttempt(attempt) => (5, 0, None, None, NO_BINS, (*attempt).into()),
            ManagerEvent::ReconnectError(error) => (6, 0, Some(error.message()), None, NO_BINS, 0.0),
            ManagerEvent::ReconnectFailed => (7, 0, None, None, NO_BINS, 0.0),
            ManagerEvent::Upgrade(kind) => (8, 0, Some(kind.as_str()), None, NO_BINS, 0.0),
            ManagerEvent::EnginePacket { created, packet } => {
                let (text, bins) = match &packet.data {
                    Data::Text(text) => (Some(text.as_str()), NO_BINS),
                    Data::Binary(bytes) => (None, std::slice::from_ref(bytes)),
                };
                (9, 0, Some(packet.kind.name()), text, bins, f64::from(u8::from(*created)))
            }
            ManagerEvent::Drain => (9, 0, None, None, NO_BINS, 2.0),
            ManagerEvent::Upgrading => (9, 0, Some(TransportKind::WebSocket.as_str()), None, NO_BINS, 3.0),
            ManagerEvent::Packet(packet) => {
                let id = packet.id.map_or(-1.0, |id| id as f64);
                (30, packet.kind as u32, Some(&packet.nsp), packet.data.as_deref(), &packet.attachments, id)
            }
        },
        Event::Socket { socket, event } => {
            let s = socket.0;
            match event {
                SocketEvent::Connect => (10, s, None, None, NO_BINS, 0.0),
                SocketEvent::ConnectError { message, data } => {
                    let (message, json) = match message {
                        ErrorMessage::Text(text) => (text, 0.0),
                        ErrorMessage::Json(raw) => (raw, 1.0),
                    };
                    (11, s, Some(message.as_str()), data.as_deref(), NO_BINS, json)
                }
                SocketEvent::Disconnect { reason, description } => {
                    (12, s, Some(reason.as_str()), description.as_deref(), NO_BINS, 0.0)
                }
                SocketEvent::Event { data, attachments, ack_id } => {
                    (13, s, Some(data.as_str()), None, attachments, ack_id.map_or(-1.0, |id| id as f64))
                }
                SocketEvent::AckResponse { handle, args, attachments, with_error } => {
                    (14 + u32::from(*with_error), s, Some(args.as_str()), None, attachments, ack_number(*handle))
                }
                SocketEvent::AckError { handle, error } => {
                    (16, s, Some(error.message()), None, NO_BINS, ack_number(*handle))
                }
                SocketEvent::AuthRequest => (18, s, None, None, NO_BINS, 0.0),
                SocketEvent::AckDropped { handle } => (19, s, None, None, NO_BINS, ack_number(*handle)),
            }
        }
    };
    host.event(kind, socket, a, b, to_buffers(bins), n);
}

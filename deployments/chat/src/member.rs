//! Who a socket of the demo app is: a name and the room it came for, checked at the CONNECT of
//! both of the room's namespaces (`/chat`, `/board`) and kept in `socket.data`.
//!
//! A room lives on one Durable Object: the client connects with the query parameter
//! `partition=room:<room>`, so every connection to the room (its chat, its board) reaches the
//! object that keeps the room's history and drawing in its storage. A CONNECT whose room is
//! not its connection's partition is refused, and a socket recovered through such a connection
//! (a recovery skips the middleware) is disconnected.

use serde::{Deserialize, Serialize};
use wasmio_edge::app::{ConnectError, EventError, HandlerError, Handshake, Socket};

/// The longest room name.
const MAX_ROOM: usize = 32;
/// The longest display name, in characters.
const MAX_NAME: usize = 24;

/// A member of a room, as `socket.data` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The display name.
    pub name: String,
    /// The room.
    pub room: String,
}

impl Member {
    /// The member of a socket of the room's namespaces (set by [`admit`]).
    pub fn of(socket: &Socket) -> Result<Member, HandlerError> {
        socket.data::<Member>().ok_or_else(|| EventError::new("not a member of a room").into())
    }

    /// The member of a socket that connects, or recovers, to one of the room's namespaces;
    /// `None`, and the socket disconnected, when its connection is not on its room's
    /// partition. A recovery skips [`admit`]: a client recovering through another room's
    /// connection would carry its room onto an object that does not keep the room's history
    /// and drawing, and number messages apart from the room's (found by a hostile-input round).
    pub fn arriving(socket: &mut Socket) -> Result<Option<Member>, HandlerError> {
        let member = Member::of(socket)?;
        let query = socket.info().map(|info| info.info.query).unwrap_or_default();
        if partition(&query).ok().flatten() == Some(partition_of(&member.room)) {
            return Ok(Some(member));
        }
        socket.disconnect(false)?;
        Ok(None)
    }
}

/// What a client sends as `auth`.
#[derive(Deserialize)]
struct Auth {
    name: String,
    room: String,
}

/// The query of a connection, as far as the app reads it.
#[derive(Deserialize)]
struct Query {
    partition: Option<String>,
}

/// The `partition` query parameter of a connection.
fn partition(query: &str) -> Result<Option<String>, serde_json::Error> {
    Ok(serde_json::from_str::<Query>(query)?.partition)
}

/// The `partition` that keeps a room on one object.
pub fn partition_of(room: &str) -> String {
    format!("room:{room}")
}

/// Whether `room` is a room name: 1 to 32 of `a-z`, `0-9` and `-`.
pub fn is_room_name(room: &str) -> bool {
    (1..=MAX_ROOM).contains(&room.len())
        && room.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Characters that show nothing or reorder the text around them (zero-width spaces and joiners,
/// direction marks, embeddings, overrides and isolates, the byte order mark): in a name they
/// would hide it, or reverse what the members list shows next to it.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// The connection middleware of the room's namespaces: a valid name and room, on the room's
/// partition; the member becomes `socket.data`.
pub fn admit(handshake: &mut Handshake) -> Result<(), ConnectError> {
    let auth: Auth = handshake.auth()?;
    let name = auth.name.trim().to_owned();
    let name_chars = name.chars().count();
    if name_chars == 0 || name_chars > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ConnectError::new(format!("a name has 1 to {MAX_NAME} characters")));
    }
    if name.chars().any(is_invisible) {
        return Err(ConnectError::new("a name has no invisible or direction-changing characters"));
    }
    if !is_room_name(&auth.room) {
        return Err(ConnectError::new(format!("a room name has 1 to {MAX_ROOM} of a-z, 0-9 and -")));
    }
    let partition = partition(handshake.query).map_err(|e| ConnectError::new(format!("invalid query: {e}")))?;
    if partition.as_deref() != Some(partition_of(&auth.room).as_str()) {
        return Err(ConnectError::new(format!(
            "connect with the query parameter partition={}",
            partition_of(&auth.room)
        )));
    }
    handshake.set_data(&Member { name, room: auth.room })
}

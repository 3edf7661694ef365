//! The object's storage, from the side of the Socket.IO server object: what a new instance
//! reads before its first event ([`SocketIoServer::restore`]) and what is written after
//! each event ([`SocketIoServer::settle`]), so that an eviction or a restart loses nothing
//! (the lifecycle invariants of docs/ARCHITECTURE.md).

use std::cell::Cell;
use std::collections::HashMap;
use wasmio_protocol::engine::CloseReason;

use wasmio_protocol::server::{
    Server, Unpersisted, Write, ACK_PREFIX, LIVE_PREFIX, LOG_PREFIX, PERSISTED_PREFIX, SHARED_KEY, SNAPSHOT_PREFIX,
};
use worker::{Result, WebSocket};

use crate::app::Relay;
use crate::awaited_acks::AWAITED_PREFIX;
use crate::config::HeartbeatMode;
use crate::credentials::CREDENTIALS_PREFIX;
use crate::engine_host::now_ms;
use crate::rate_limits::RATE_PREFIX;
use crate::relays::{OUTBOX_PREFIX, RELAYED_TO_KEY};
use crate::socketio_object::{core_config, SocketIoServer};
use crate::sync_kv::SyncKv;

/// How soon after a broadcast is written to the outbox the object's alarm is due, at the
/// latest: the instance that follows a restart relays what it holds (relays::OUTBOX_PREFIX).
pub(crate) const OUTBOX_RETRY_MS: u64 = 5_000;

thread_local! {
    /// Whether this isolate rehearsed the restore path ([`SocketIoServer::restore`]) yet.
    static RESTORE_REHEARSED: Cell<bool> = const { Cell::new(false) };
}

/// Storage key of the object's name (see [`crate::OBJECT_HEADER`]).
const NAME_KEY: &str = "object-name";

/// Storage key of when the object last pinged its WebSocket clients (milliseconds since the
/// epoch): a client silent since is closed at that ping's deadline by whichever instance
/// is awake then ([`crate::engine_host::EngineHost::pinged_before`]). One write per heartbeat cycle.
const PINGED_KEY: &str = "pinged-at";

impl SocketIoServer {
    /// Before the first event of this instance: rebuilds the core from the WebSocket
    /// attachments and storage (a no-op on a brand new object).
    pub(crate) fn restore(&self) -> Result<()> {
        if self.restored.get() {
            return Ok(());
        }
        let storage = self.kv()?;
        // Everything the object keeps, in one read: a woken instance needs all of it. A read
        // that fails fails this event, and the next event reads again (never an empty state).
        let all = storage.text_entries()?;
        self.restored.set(true);
        let with = |prefix: &str| -> Vec<(String, String)> {
            all.iter().filter(|(key, _)| key.starts_with(prefix)).cloned().collect()
        };
        let value = |key: &str| all.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if self.name.borrow().is_none() {
            // State written before the name was stored: every sid of this object starts with it.
            *self.name.borrow_mut() = value(NAME_KEY).or_else(|| self.host.name_from_sessions());
        }
        let origin = self.name.borrow().clone().unwrap_or_default();
        let shared = value(SHARED_KEY);
        let mut parts = Vec::new();
        for prefix in [LOG_PREFIX, PERSISTED_PREFIX, ACK_PREFIX] {
            parts.extend(with(prefix));
        }
        let live = with(LIVE_PREFIX);
        self.rate_limits.borrow_mut().restore(with(RATE_PREFIX), now_ms());
        self.awaited_acks.borrow_mut().restore(with(AWAITED_PREFIX));
        // Broadcasts the previous instance logged and did not relay to every object (a
        // restart, a failed object): relayed again first, applied once where they arrived.
        self.relays.resume(with(OUTBOX_PREFIX), value(RELAYED_TO_KEY));
        let config = core_config(&self.app, self.host.config());
        let entries = parts.iter().map(|(key, value)| (key.as_str(), value.as_str()));
        let mut core = match Server::restore_stored(config.clone(), shared.as_deref(), entries, []) {
            Ok(core) => core,
            Err(error) => {
                worker::console_error!("the shared Socket.IO state is unreadable, recovery log lost: {error}");
                Server::new(config)
            }
        };
        // The previous instance's last pings, before the WebSocket sessions are rebuilt.
        if let Some(at) = value(PINGED_KEY).and_then(|at| at.parse().ok()) {
            self.host.pinged_before(at);
        }
        // Per session: a WebSocket whose snapshot is missing, unreadable or another session's
        // is closed with a close packet, so that its client reconnects (and recovers). A
        // snapshot too large for the attachment is in storage, its key in the attachment.
        let mut websockets = Vec::new();
        self.host.restore_websocket_sessions(|sid, ws| websockets.push((sid.to_owned(), ws.clone())));
        let stored: HashMap<String, String> = with(SNAPSHOT_PREFIX).into_iter().collect();
        let mut lost = Vec::new();
        for (sid, ws) in websockets {
            match read_back(&mut core, &ws, |key| stored.get(key).cloned()) {
                Ok(id) if id == sid => {}
                Ok(id) => lost.push((sid, format!("its WebSocket carries the snapshot of {id}"))),
                Err(error) => lost.push((sid, error)),
            }
        }
        // Sockets lost with the previous instance (polling sessions live in memory only; a
        // restart loses the WebSockets too) disconnect now: their handlers run below.
        let records: Vec<(String, String)> = live
            .into_iter()
            .filter_map(|(key, record)| Some((key.strip_prefix(LIVE_PREFIX)?.to_owned(), record)))
            .collect();
        let unreadable =
            core.adopt_orphans(records.iter().map(|(pid, record)| (pid.as_str(), record.as_str())), now_ms());
        // The stored snapshots and credentials of sessions that did not come back (a restart
        // loses every WebSocket) are deleted.
        let mut gone: Vec<String> =
            stored.into_keys().filter(|key| !core.has_session(&key[SNAPSHOT_PREFIX.len()..])).collect();
        gone.extend(self.credentials.restore(with(CREDENTIALS_PREFIX), |sid| core.has_session(sid)));
        core.set_origin(&origin);
        *self.core.borrow_mut() = core;
        storage.write(&[], &gone)?;
        for key in unreadable {
            worker::console_error!("the live record {key} is unreadable: dropped");
            storage.write(&[], &[format!("{LIVE_PREFIX}{key}")])?;
        }
        for (sid, why) in lost {
            worker::console_error!("session {sid} could not be restored ({why}): closed, its client reconnects");
            self.host.close(&sid, CloseReason::ForcedClose);
        }
        self.pump();
        Ok(())
    }

    /// Once per isolate: runs what a woken instance runs to rebuild a WebSocket session (its
    /// snapshot read back from the WebSocket, its session rebuilt from it and from its tags)
    /// on the session whose snapshot this event kept, into a scratch core and endpoint that are
    /// dropped. V8 compiles a wasm function at its first call, and a fresh object's first
    /// connection has nothing to restore: without the rehearsal, the first wake in an isolate
    /// paid for compiling the restore path (docs/ARCHITECTURE.md, cold wakes). A snapshot that
    /// does not read back is reported: its session would not survive an eviction.
    fn rehearse_restore_once(&self, ws: &WebSocket) {
        if self.host.config().heartbeat != HeartbeatMode::Hibernate || RESTORE_REHEARSED.replace(true) {
            return;
        }
        let mut scratch = Server::new(core_config(&self.app, self.host.config()));
        if let Err(why) = read_back(&mut scratch, ws, |_| None) {
            worker::console_error!(
                "a WebSocket's snapshot does not read back ({why}): its session would not survive an eviction"
            );
        }
        if !self.host.rehearse_resume(ws) {
            // A WebSocket closing meanwhile: the next snapshot kept rehearses instead.
            RESTORE_REHEARSED.set(false);
        }
    }

    /// The object's synchronous storage: `ctx.storage.kv`, looked up once per instance (an
    /// error for a class that is not SQLite-backed, see [`SyncKv::of`]).
    pub(crate) fn kv(&self) -> Result<&SyncKv> {
        if let Some(kv) = self.kv.get() {
            return Ok(kv);
        }
        let kv = SyncKv::of(self.host.state())?;
        Ok(self.kv.get_or_init(|| kv))
    }

    /// Keeps the name the fetch entry gave this object, in storage too: an instance woken by
    /// an alarm or a WebSocket message learns it from there.
    pub(crate) fn learn_name(&self, req: &web_sys::Request) -> Result<()> {
        // An object's name never changes: once known, its requests need not be read for it.
        if self.name.borrow().is_some() {
            return Ok(());
        }
        let Some(name) = req.headers().get(crate::OBJECT_HEADER)? else { return Ok(()) };
        self.kv()?.write(&[(NAME_KEY.to_owned(), name.clone())], &[])?;
        self.core.borrow_mut().set_origin(&name);
        *self.name.borrow_mut() = Some(name);
        Ok(())
    }

    /// After an event: starts the async handlers it queued, finishes the CONNECTs waiting for
    /// another object, persists what changed and sets the alarm.
    pub(crate) async fn settle(&self) -> Result<()> {
        if !self.tasks.is_empty() {
            // Handlers may await for long (acknowledgements, other objects, bindings): the
            // heartbeats and timers due meanwhile need the alarm set now.
            let deadline = self.core.borrow().poll_timeout();
            self.host.schedule_alarm(deadline).await?;
            self.start_tasks();
        }
        self.recover_remote().await?;
        let (writes, unpersisted) = self.core.borrow_mut().take_writes();
        let (mut puts, mut deletes) = (Vec::new(), Vec::new());
        for write in writes {
            match write {
                Write::Attachment { session, snapshot } => {
                    if let Some(ws) = self.host.websocket(&session) {
                        ws.serialize_attachment(snapshot)?;
                        self.rehearse_restore_once(&ws);
                    }
                }
                Write::StoredSnapshot { session, key, snapshot } => {
                    if let Some(ws) = self.host.websocket(&session) {
                        ws.serialize_attachment(&key)?;
                        puts.push((key, snapshot));
                    }
                }
                Write::Put { key, value } => puts.push((key, value)),
                Write::Delete { key } => deletes.push(key),
            }
        }
        // A session that became recoverable here under another object's pid came here by a
        // recovery: that object is told again (until 2026-12-06 it forgot the move 2 minutes
        // after it, and a reconnection through a third object was not recovered).
        for pid in puts.iter().filter_map(|(key, _)| key.strip_prefix(PERSISTED_PREFIX)) {
            if let Some(me) = self.name.borrow().as_deref() {
                self.tell_home(pid, me);
            }
        }
        if let Some(at) = self.host.take_websocket_ping() {
            puts.push((PINGED_KEY.to_owned(), at.to_string()));
        }
        let awaited = self.awaited_acks.borrow_mut().take_writes();
        for (key, value) in self.rate_limits.borrow_mut().take_writes().into_iter().chain(awaited) {
            match value {
                Some(value) => puts.push((key, value)),
                None => deletes.push(key),
            }
        }
        // The broadcasts logged for recovery wait in storage until every object took them
        // (relays::OUTBOX_PREFIX), written with the rest before any is sent.
        let made = self.relays.take_made();
        let puts_before = puts.len();
        puts.extend(made.iter().filter_map(Relay::outbox_entry));
        let outbox_written = puts.len() > puts_before;
        // Most events change nothing durable: the storage binding is not even looked up then.
        let written = match puts.is_empty() && deletes.is_empty() {
            true => Ok(()),
            false => self.kv().and_then(|storage| storage.write(&puts, &deletes)),
        };
        self.relays.make_ready(made);
        written?;
        if outbox_written {
            // Should this instance end before the relay is done, an alarm wakes the next one
            // to relay it, even if no client comes back to this object.
            self.host.schedule_alarm(Some(now_ms() + OUTBOX_RETRY_MS)).await?;
        }
        for Unpersisted { session, error } in unpersisted {
            worker::console_error!("session {session} will not survive hibernation: {error}");
        }
        self.sync_holdings().await;
        self.start_relay();
        let deadline = self.core.borrow().poll_timeout();
        self.host.schedule_alarm(deadline).await
    }
}

/// Adds to `core` the session whose snapshot `ws` keeps in its attachment (or the storage key
/// of it, read from `stored`). Returns the session's id, or why it could not.
fn read_back(core: &mut Server, ws: &WebSocket, stored: impl FnOnce(&str) -> Option<String>) -> Result<String, String> {
    match ws.deserialize_attachment::<String>() {
        Ok(Some(attachment)) => core.restore_attachment(&attachment, stored).map_err(|e| e.to_string()),
        Ok(None) => Err("no snapshot".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

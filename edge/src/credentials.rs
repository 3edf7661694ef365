//! The `Cookie` and `Authorization` headers of each session's handshake, for the connect
//! middlewares of the namespaces its client joins, also later: in memory, and in storage
//! under [`CREDENTIALS_PREFIX`]`<sid>` while the session lives, so that a CONNECT after an
//! eviction finds them, as socket.io's `handshake.headers` keeps them for the connection's
//! life. Until 2026-12-06 they were in memory only, and such a CONNECT (a namespace opened a
//! while after the handshake, a `disconnect()` then `connect()` on the same connection) was
//! refused by a middleware that reads the cookie.

use std::cell::RefCell;
use std::collections::HashMap;

use worker::Result;

use crate::handshake_request::Credentials;
use crate::sync_kv::SyncKv;

/// Storage key prefix of a session's credentials, followed by its id.
pub(crate) const CREDENTIALS_PREFIX: &str = "credentials:";

/// The credentials of the object's sessions that sent any.
#[derive(Default)]
pub(crate) struct SessionCredentials {
    by_session: RefCell<HashMap<String, Credentials>>,
}

impl SessionCredentials {
    /// Keeps the credentials of new session `sid` (nothing when it sent none).
    pub(crate) fn keep(&self, storage: Result<&SyncKv>, sid: &str, credentials: Credentials) {
        if credentials == Credentials::default() {
            return;
        }
        let value = serde_json::to_string(&(&credentials.cookie, &credentials.authorization));
        let written = storage.and_then(|kv| {
            kv.write(&[(format!("{CREDENTIALS_PREFIX}{sid}"), value.map_err(worker::Error::from)?)], &[])
        });
        if let Err(error) = written {
            worker::console_warn!("the credentials of session {sid} will not survive an eviction: {error}");
        }
        self.by_session.borrow_mut().insert(sid.to_owned(), credentials);
    }

    /// Forgets the credentials of session `sid`, which ended.
    pub(crate) fn forget(&self, storage: Result<&SyncKv>, sid: &str) {
        if self.by_session.borrow_mut().remove(sid).is_none() {
            return;
        }
        if let Err(error) = storage.and_then(|kv| kv.write(&[], &[format!("{CREDENTIALS_PREFIX}{sid}")])) {
            worker::console_warn!("the credentials of ended session {sid} stay in storage: {error}");
        }
    }

    /// The credentials of session `sid` (none when it sent none).
    pub(crate) fn of(&self, sid: &str) -> Credentials {
        self.by_session.borrow().get(sid).cloned().unwrap_or_default()
    }

    /// Drops what is in memory, as an eviction does (test hooks only).
    pub(crate) fn clear(&self) {
        self.by_session.borrow_mut().clear();
    }

    /// On a new instance: takes back the stored credentials of the sessions that came back
    /// (`came_back`). Returns the keys of the others (ended with the previous instance), to
    /// delete, and of those that do not read.
    pub(crate) fn restore(&self, entries: Vec<(String, String)>, came_back: impl Fn(&str) -> bool) -> Vec<String> {
        let mut gone = Vec::new();
        let mut by_session = self.by_session.borrow_mut();
        for (key, value) in entries {
            let sid = &key[CREDENTIALS_PREFIX.len()..];
            match serde_json::from_str::<(Option<String>, Option<String>)>(&value) {
                Ok((cookie, authorization)) if came_back(sid) => {
                    by_session.insert(sid.to_owned(), Credentials { cookie, authorization });
                }
                Ok(_) => gone.push(key),
                Err(error) => {
                    worker::console_error!("the stored credentials of session {sid} are unreadable: {error}");
                    gone.push(key);
                }
            }
        }
        gone
    }
}

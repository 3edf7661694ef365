//! Connection state recovery across objects: a reconnection that lands on another object than
//! the one holding its session asks that one for it ([`Server::export_recovery`]), which sends
//! the question on when the session moved again. An object that took a session tells the
//! object its pid names ([`Server::note_moved`]), so that a question asked there goes
//! straight to the holder however often the session moved.

use wasmio_protocol::server::{ConnectRequest, Server};
use worker::{Request, Response, Result};

use crate::config::Config;
use crate::emitter::post_to_object;
use crate::engine_host::now_ms;
use crate::routing::{is_numbered_object, object_of_sid};
use crate::socketio_object::SocketIoServer;

/// The path by which an object asks another for a disconnected session to recover
/// ([`Server::export_recovery`]).
pub(crate) const RECOVER_PATH: &str = "/__recover";

/// The path by which an object that took a session tells the object its pid names.
pub(crate) const MOVED_PATH: &str = "/__moved";

/// How many times a recovery request is sent on after sessions that moved more than once.
const MAX_RECOVERY_HOPS: u32 = 4;

/// What [`RECOVER_PATH`] is asked: the session of `pid` in `nsp`, missed packets after
/// `offset`, for object `from`; `hops` counts how often the question was sent on.
#[derive(serde::Serialize, serde::Deserialize)]
struct RecoveryAsk {
    pid: String,
    offset: String,
    nsp: String,
    from: String,
    hops: u32,
}

impl RecoveryAsk {
    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain strings and numbers serialize")
    }
}

/// What [`MOVED_PATH`] is told: object `to` took the session of `pid` at `at` (ms).
#[derive(serde::Serialize, serde::Deserialize)]
struct MovedNote {
    pid: String,
    to: String,
    at: u64,
}

impl SocketIoServer {
    /// Answers another object's [`RecoveryAsk`].
    pub(crate) async fn serve_recovery(&self, mut req: Request) -> Result<Response> {
        let ask: RecoveryAsk = req.json().await?;
        self.restore()?;
        self.learn_name(req.inner())?;
        let exported =
            self.core.borrow_mut().export_recovery(&ask.pid, &ask.nsp, Some(&ask.offset), &ask.from, now_ms());
        let moved_to = self.core.borrow().moved_to(&ask.pid).map(str::to_owned);
        // A socket still connected here under that pid was taken over: its session closes.
        self.pump();
        self.settle().await?;
        match (exported, moved_to) {
            (Some(session), _) => Response::ok(session),
            // The session moved on after an earlier recovery: ask where it went.
            (None, Some(next)) if ask.hops < MAX_RECOVERY_HOPS && next != ask.from => {
                let onward = RecoveryAsk { hops: ask.hops + 1, ..ask };
                let mut answer = self.post_to_object(&next, RECOVER_PATH, onward.to_json()).await?;
                let body = answer.text().await?;
                Ok(Response::ok(body)?.with_status(answer.status_code()))
            }
            (None, _) => Response::error("not recoverable here", 404),
        }
    }

    /// Takes another object's [`MovedNote`].
    pub(crate) async fn serve_moved(&self, mut req: Request) -> Result<Response> {
        let note: MovedNote = req.json().await?;
        self.restore()?;
        self.learn_name(req.inner())?;
        self.core.borrow_mut().note_moved(&note.pid, &note.to, note.at);
        self.settle().await?;
        Response::ok("noted")
    }

    /// POSTs `body` to `path` of the numbered object `object` (telling it its name).
    async fn post_to_object(&self, object: &str, path: &str, body: String) -> Result<Response> {
        post_to_object(&self.env, object, path, body).await
    }

    /// Asks the objects that hold the sessions this event's CONNECTs want to recover for them,
    /// then decides those CONNECTs: recovered when the session came, fresh if not.
    pub(crate) async fn recover_remote(&self) -> Result<()> {
        let requests = std::mem::take(&mut *self.remote_recoveries.borrow_mut());
        for mut request in requests {
            let from = request.recover_from.clone().expect("deferred for a recovery");
            let holder = self.holder_elsewhere(&self.core.borrow(), &request);
            let Some(holder) = holder else {
                // It came back here meanwhile.
                self.decide_connect_here(&mut self.core.borrow_mut(), request);
                self.pump();
                continue;
            };
            let me = self.name.borrow().clone().unwrap_or_default();
            let ask =
                RecoveryAsk { pid: from.pid, offset: from.offset, nsp: request.nsp.clone(), from: me.clone(), hops: 0 };
            // Whatever goes wrong, the CONNECT is decided (fresh) and the next ones are asked for.
            match self.ask_for_session(&holder, &ask).await {
                Ok(Some(exported)) => {
                    let imported = self.core.borrow_mut().import_recovery(&mut request, &exported, now_ms());
                    match imported {
                        Ok(()) => self.tell_home(&ask.pid, &me),
                        Err(error) => worker::console_error!("object {holder} exported an unreadable session: {error}"),
                    }
                }
                Ok(None) => {}
                Err(error) => worker::console_error!("object {holder} could not be asked for a session: {error}"),
            }
            self.decide_connect_here(&mut self.core.borrow_mut(), request);
            self.pump();
        }
        Ok(())
    }

    /// Asks `holder` for the session `ask` names: its export, or `None` when it has none to give.
    async fn ask_for_session(&self, holder: &str, ask: &RecoveryAsk) -> Result<Option<String>> {
        let mut answer = self.post_to_object(holder, RECOVER_PATH, ask.to_json()).await?;
        // Read whatever the status: an unread answer keeps the subrequest open.
        let exported = answer.text().await?;
        Ok((answer.status_code() == 200).then_some(exported))
    }

    /// Tells the object `pid` names that this object (`me`) took its session, beside the next
    /// events (the recovering CONNECT is not held back for it), and again when the session
    /// becomes recoverable here (it disconnected): that object forgets a move after the
    /// recovery window, and the session may have lived here longer. Not told, it still knows
    /// where the session first went, and questions follow the moves from there.
    pub(crate) fn tell_home(&self, pid: &str, me: &str) {
        let Some(home) = self.object_named_by(pid).filter(|home| *home != me) else { return };
        let note = MovedNote { pid: pid.to_owned(), to: me.to_owned(), at: now_ms() };
        let body = serde_json::to_string(&note).expect("plain strings and numbers serialize");
        let (env, home) = (self.env.clone(), home.to_owned());
        self.beside_next_events(async move {
            // The answer is read whatever its status: an unread one keeps the subrequest open.
            let failure = match post_to_object(&env, &home, MOVED_PATH, body).await {
                Ok(mut answer) => match (answer.status_code(), answer.text().await) {
                    (200, Ok(_)) => return,
                    (status, text) => format!("status {status}: {}", text.unwrap_or_else(|e| e.to_string())),
                },
                Err(error) => error.to_string(),
            };
            worker::console_error!("object {home} was not told where a session it named went: {failure}");
        });
    }

    /// The object that holds the session a CONNECT asks to recover, when not this one: for a
    /// session that moved on from here, the one it moved to (the newest this object knows: a
    /// session that came back here and left again is not where its pid's object last sent it),
    /// else the one its pid names.
    pub(crate) fn holder_elsewhere(&self, core: &Server, request: &ConnectRequest) -> Option<String> {
        let from = request.recover_from.as_ref()?;
        let holder = match core.moved_to(&from.pid) {
            Some(moved_to) => moved_to,
            None => self.object_named_by(&from.pid)?,
        };
        (self.name.borrow().as_deref() != Some(holder)).then(|| holder.to_owned())
    }

    /// The object a pid names, when it is one of this deployment's: a pid is the client's
    /// word, and asking an object of any other name would create it.
    fn object_named_by<'a>(&self, pid: &'a str) -> Option<&'a str> {
        object_of_sid(pid).filter(|object| is_numbered_object(object, Config::cached(&self.env).shards))
    }
}

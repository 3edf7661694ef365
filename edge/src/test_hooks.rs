//! Test hooks (deployments with `TEST_HOOKS`): how often workerd woke an object, an eviction
//! on demand, and failures of an object's requests from other objects.

use worker::{Request, Response, Result};

use crate::socketio_object::{core_config, SocketIoServer};
use wasmio_protocol::server::Server;

/// Storage key of the wake-up counts (test hooks only, see [`SocketIoServer::count`]).
const WAKEUPS_KEY: &str = "wasmio-wakeups";

/// Counts of the events workerd delivered to the object.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Wakeups {
    pub(crate) fetches: u64,
    pub(crate) websocket_messages: u64,
    pub(crate) alarms: u64,
    /// Instances of the object (one more after each eviction) that counted an event.
    pub(crate) instances: u64,
    /// Batches of broadcasts relayed to it by other objects.
    #[serde(default)]
    pub(crate) relays: u64,
}

impl SocketIoServer {
    /// Serves a test hook, if `req` asks for one.
    pub(crate) async fn serve_test_hook(&self, req: &Request) -> Option<Result<Response>> {
        let path = req.path();
        if path.ends_with(crate::FORGET_HOOK) {
            self.forget();
            return Some(Response::ok("forgotten"));
        }
        if path.ends_with(crate::FAIL_HOOK) {
            let times = crate::routing::query_value(crate::routing::query_of(&req.inner().url()), "times");
            self.failures_to_inject.set(times.and_then(|t| t.parse().ok()).unwrap_or(1));
            return Some(Response::ok("failing"));
        }
        if path.ends_with(crate::STATS_HOOK) {
            return Some(self.stats(req).await);
        }
        None
    }

    /// Whether a request of another object is to be refused (see [`crate::FAIL_HOOK`]).
    pub(crate) fn inject_failure(&self) -> bool {
        let left = self.failures_to_inject.get();
        self.failures_to_inject.set(left.saturating_sub(1));
        left > 0
    }

    /// The wake-up counts and the object's sizes, as JSON.
    async fn stats(&self, req: &Request) -> Result<Response> {
        self.restore()?;
        // (the fetch entry names the object: a fresh one read first knows its name for the
        // room directory, which the settle below tells)
        self.learn_name(req.inner())?;
        // (a restore may have disconnected sockets lost with the previous instance)
        self.settle().await?;
        // An instance woken by this read alone counts too (an object evicted with no client
        // left has no other event to count it).
        self.count(|_| {}).await?;
        let w = self.wakeups.get().unwrap_or_default();
        Response::ok(format!(
            "{{\"fetches\":{},\"websocketMessages\":{},\"alarms\":{},\"instances\":{},\"relays\":{},\"droppedEvents\":{},\"openSessions\":{},\"wasmMemoryBytes\":{}}}",
            w.fetches,
            w.websocket_messages,
            w.alarms,
            w.instances,
            w.relays,
            self.dropped.get(),
            self.host.open_sessions(),
            wasm_memory_bytes()
        ))
    }

    /// Counts a wake-up. With test hooks the counts also live in storage, written during the
    /// wake-up being counted (no extra one), synchronously (an awaited write per message cost
    /// each one about 0.2 ms): workerd evicts an object 10 s after its last event, hibernated
    /// WebSockets or not, and an in-memory count would restart each time.
    pub(crate) async fn count(&self, f: impl FnOnce(&mut Wakeups)) -> Result<()> {
        let mut wakeups = match self.wakeups.get() {
            Some(wakeups) => wakeups,
            None if self.test_hooks => {
                let stored = self.stored_wakeups().await?;
                // Another event of this instance may have read them meanwhile.
                self.wakeups.get().unwrap_or(Wakeups { instances: stored.instances + 1, ..stored })
            }
            None => Wakeups { instances: 1, ..Wakeups::default() },
        };
        f(&mut wakeups);
        self.wakeups.set(Some(wakeups));
        if self.test_hooks {
            let json = serde_json::to_string(&wakeups).map_err(|e| worker::Error::RustError(e.to_string()))?;
            self.kv()?.write(&[(WAKEUPS_KEY.to_owned(), json)], &[])?;
        }
        Ok(())
    }

    /// The counts in storage: JSON text, or the structured value of versions that wrote them
    /// with the asynchronous API.
    async fn stored_wakeups(&self) -> Result<Wakeups> {
        match self.kv()?.text(WAKEUPS_KEY)? {
            Some(json) => serde_json::from_str(&json).map_err(|e| worker::Error::RustError(e.to_string())),
            None => Ok(self.host.state().storage().get(WAKEUPS_KEY).await?.unwrap_or_default()),
        }
    }

    /// Drops everything held in memory, as an eviction does: the next event rebuilds the
    /// state from the WebSocket attachments and storage alone.
    fn forget(&self) {
        self.host.forget();
        *self.core.borrow_mut() = Server::new(core_config(&self.app, self.host.config()));
        self.rate_limits.borrow_mut().clear();
        self.credentials.clear();
        self.awaited_acks.borrow_mut().clear();
        self.holdings.clear();
        self.relays.forget();
        self.restored.set(false);
        self.wakeups.set(None);
    }
}

/// The size of this instance's wasm memory (it grows, and never shrinks).
fn wasm_memory_bytes() -> usize {
    #[cfg(target_arch = "wasm32")]
    return core::arch::wasm32::memory_size(0) * 65_536;
    #[cfg(not(target_arch = "wasm32"))]
    0
}

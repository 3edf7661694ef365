//! The deployment of this repository on [`wasmio_edge`]: the chat of the seed article and the
//! reference handlers of the protocol texts' test suites, chosen by the `APP` variable of
//! `wrangler.toml` (`chat` by default).

mod apps;

wasmio_edge::deployment!(apps::build);

/// A cron trigger (a `[triggers] crons` schedule, or `GET /__scheduled` under
/// `wrangler dev --test-scheduled`) tells the sockets of room `clock` in namespace `/rooms`
/// the time: a broadcast made outside any socket, with [`wasmio_edge::Emitter`].
#[worker::event(scheduled)]
pub async fn scheduled(_event: worker::ScheduledEvent, env: worker::Env, _ctx: worker::ScheduleContext) {
    let tick = wasmio_edge::Emitter::new(&env).of("/rooms").to("clock");
    if let Err(error) = tick.emit("tick", &wasmio_edge::now_ms()).await {
        worker::console_error!("the clock's tick was not emitted: {error}");
    }
}

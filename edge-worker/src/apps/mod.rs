//! The applications this deployment can run, chosen by the `APP` variable of `wrangler.toml`.

mod chat;
mod conformance;

use wasmio_edge::app::App;
use worker::Env;

/// The application `APP` names (`chat` when unset or unknown).
pub fn build(env: &Env) -> App {
    match env.var("APP").map(|v| v.to_string()).as_deref() {
        Ok("conformance") => conformance::app(),
        _ => chat::app(),
    }
}

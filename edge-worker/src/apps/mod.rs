//! The applications a deployment can run, chosen by the `APP` variable of `wrangler.toml`.

mod chat;
mod conformance;

use crate::app::App;

/// The application named `name` (`chat` when unknown).
pub fn build(name: &str) -> App {
    match name {
        "conformance" => conformance::app(),
        _ => chat::app(),
    }
}

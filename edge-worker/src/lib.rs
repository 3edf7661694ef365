//! The deployment of this repository on [`wasmio_edge`]: the chat of the seed article and the
//! reference handlers of the protocol texts' test suites, chosen by the `APP` variable of
//! `wrangler.toml` (`chat` by default).

mod apps;

wasmio_edge::deployment!(apps::build);

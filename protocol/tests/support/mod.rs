//! What several integration tests share. Each test binary compiles this module and uses
//! part of it, so unused items are expected per binary.
#![allow(dead_code)]

pub mod client_net;
pub mod engine_loopback;
pub mod server_harness;

//! Native runner of the codec benchmark: measures each fixture's op (encode, then decode
//! again) and prints `{"native":{fixture: ns per op}}` on stdout.
//!
//! Usage: `wasmio-codec-bench [FIXTURES]` (default `bench/codec/fixtures.json`). The harness is
//! the one of `bench/codec/run.mjs`: batches doubled until one lasts 10 ms and at least
//! 100 ms went by (warm-up), then the median of 5 samples of about 25 ms each.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use wasmio_codec_bench::load_fixtures;
use wasmio_protocol::socket::Decoder;

const WARMUP: Duration = Duration::from_millis(100);
const MIN_BATCH: Duration = Duration::from_millis(10);
const SAMPLE: Duration = Duration::from_millis(25);
const SAMPLES: usize = 5;

/// The median time of one iteration of `run(iterations)`, in nanoseconds.
fn measure(mut run: impl FnMut(u64)) -> f64 {
    let mut time = |iterations: u64| {
        let start = Instant::now();
        run(iterations);
        start.elapsed()
    };
    let warmup_start = Instant::now();
    let mut iterations = 1;
    let mut batch = time(iterations);
    while batch < MIN_BATCH || warmup_start.elapsed() < WARMUP {
        if batch < MIN_BATCH {
            iterations *= 2;
        }
        batch = time(iterations);
    }
    let per_sample = (SAMPLE.as_secs_f64() / batch.as_secs_f64() * iterations as f64).ceil() as u64;
    let mut samples: Vec<f64> = (0..SAMPLES).map(|_| time(per_sample).as_nanos() as f64 / per_sample as f64).collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

fn main() -> ExitCode {
    let path = std::env::args().nth(1).unwrap_or_else(|| "bench/codec/fixtures.json".into());
    let fixtures = match std::fs::read_to_string(&path)
        .map_err(|e| format!("{path}: {e}"))
        .and_then(|json| load_fixtures(&json))
    {
        Ok(fixtures) => fixtures,
        Err(error) => {
            eprintln!("wasmio-codec-bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut decoder = Decoder::default();
    let results: serde_json::Map<String, serde_json::Value> = fixtures
        .iter()
        .map(|fixture| (fixture.name.clone(), measure(|n| fixture.run(&mut decoder, n)).into()))
        .collect();
    println!("{}", serde_json::json!({ "native": results }));
    ExitCode::SUCCESS
}

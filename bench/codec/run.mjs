// Codec benchmark: wasmio-protocol natively and as wasm in Node, against socket.io-parser and
// engine.io-parser, on the fixtures of fixtures.json. Builds nothing: run bench/codec/build.sh.
//
// `node bench/codec/run.mjs` runs the contenders interleaved (native, wasm, official, native, ...)
// for ROUNDS rounds, each in a fresh process, then prints the medians and ratios and writes
// bench/results/codec.json. `node bench/codec/run.mjs --contender wasm|official` is one such
// process: it prints `{column: {fixture: ns per op}}` on stdout, as the native runner does.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { deepStrictEqual } from "node:assert/strict";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const FIXTURES_PATH = join(ROOT, "bench/codec/fixtures.json");
const WASM_MODULE = join(ROOT, "bench/codec/wasm-out/wasmio_codec_bench_wasm.js");
const NATIVE_BIN = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, "target"), "release/wasmio-codec-bench");
const RESULTS_PATH = join(ROOT, "bench/results/codec.json");
const ROUNDS = 7;
const CONTENDERS = ["native", "wasm", "official"];
// Result columns and their titles; the ratios are official / each of ours.
const COLUMNS = [
  ["native", "native"],
  ["wasm", "wasm"],
  ["wasm_per_call", "wasm/call"],
  ["official", "official"],
];

// The harness of the native runner (bench/codec/src/main.rs), to the same constants.
const WARMUP_NS = 100e6;
const MIN_BATCH_NS = 10e6;
const SAMPLE_NS = 25e6;
const SAMPLES = 5;

/** The median time of one iteration of `run(iterations)`, in nanoseconds. */
function measure(run) {
  const time = (iterations) => {
    const start = process.hrtime.bigint();
    run(iterations);
    return Number(process.hrtime.bigint() - start);
  };
  const warmupStart = process.hrtime.bigint();
  let iterations = 1;
  let batch = time(iterations);
  while (batch < MIN_BATCH_NS || Number(process.hrtime.bigint() - warmupStart) < WARMUP_NS) {
    if (batch < MIN_BATCH_NS) iterations *= 2;
    batch = time(iterations);
  }
  const perSample = Math.ceil((SAMPLE_NS / batch) * iterations);
  const samples = Array.from({ length: SAMPLES }, () => time(perSample) / perSample).sort((a, b) => a - b);
  return samples[SAMPLES >> 1];
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Measures `op` of each fixture, `op` built by `makeOp(fixture)` and run once to check it. */
function measureAll(fixtures, makeOp) {
  const results = {};
  for (const fixture of fixtures) {
    const op = makeOp(fixture);
    op(true);
    let sink;
    results[fixture.name] = measure((iterations) => {
      for (let i = 0; i < iterations; i++) sink = op(false);
    });
    if (sink === undefined) throw new Error(`${fixture.name}: the op produced nothing`);
  }
  return results;
}

const attachmentsOf = (fixture) => fixture.attachments.map((text) => new Uint8Array(Buffer.from(text, "base64")));

/** The wasm contender: the op loop inside wasm, then the codec called per frame from JavaScript. */
function runWasm(fixturesText, fixtures) {
  const { Bench, Codec } = createRequire(import.meta.url)(WASM_MODULE);
  const bench = new Bench(fixturesText);
  const wasm = {};
  fixtures.forEach((fixture, index) => {
    wasm[fixture.name] = measure((iterations) => bench.run(index, iterations));
  });
  const codec = new Codec();
  const wasmPerCall = measureAll(fixtures, (fixture) => {
    if (fixture.kind === "payload") {
      return (check) => {
        const payload = codec.encode_payload(fixture.messages);
        const messages = codec.decode_payload(payload);
        if (check) deepStrictEqual([payload, messages], [fixture.wire, fixture.messages]);
        return messages;
      };
    }
    const attachments = attachmentsOf(fixture);
    return (check) => {
      const frames = codec.encode(fixture.nsp, fixture.id, fixture.data, attachments);
      let done = codec.add_text(frames[0]);
      for (let i = 1; i < frames.length; i++) done = codec.add_binary(frames[i]);
      const packet = done ? [codec.nsp(), codec.id(), codec.data(), codec.attachments()] : undefined;
      if (check) deepStrictEqual([frames[0], packet], [fixture.wire, [fixture.nsp, fixture.id, fixture.data, attachments]]);
      return packet;
    };
  });
  return { wasm, wasm_per_call: wasmPerCall };
}

/** The official contender: socket.io-parser and engine.io-parser. */
function runOfficial(fixtures) {
  const require = createRequire(join(ROOT, "package.json"));
  const { Encoder, Decoder, PacketType } = require("socket.io-parser");
  const { encodePayload, decodePayload } = require("engine.io-parser");
  const encoder = new Encoder();
  const decoder = new Decoder();
  let decoded;
  decoder.on("decoded", (packet) => (decoded = packet));
  const official = measureAll(fixtures, (fixture) => {
    if (fixture.kind === "payload") {
      const packets = fixture.messages.map((data) => ({ type: "message", data }));
      return (check) => {
        let payload;
        encodePayload(packets, (encoded) => (payload = encoded));
        const result = decodePayload(payload);
        if (check) deepStrictEqual([payload, result], [fixture.wire, packets]);
        return result;
      };
    }
    const attachments = attachmentsOf(fixture).map((bytes) => Buffer.from(bytes));
    const data = JSON.parse(fixture.data, (_, value) => (value?._placeholder === true ? attachments[value.num] : value));
    const packet = { type: PacketType.EVENT, nsp: fixture.nsp, data, ...(fixture.id === undefined ? {} : { id: fixture.id }) };
    return (check) => {
      decoded = undefined;
      const frames = encoder.encode(packet);
      for (const frame of frames) decoder.add(frame);
      if (check) deepStrictEqual([frames[0], decoded], [fixture.wire, packet]);
      return decoded;
    };
  });
  return { official };
}

/** Runs one contender in a fresh process and returns its `{column: {fixture: ns}}`. */
function spawnContender(contender) {
  const [command, args] =
    contender === "native" ? [NATIVE_BIN, [FIXTURES_PATH]] : [process.execPath, [fileURLToPath(import.meta.url), "--contender", contender]];
  const child = spawnSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (child.status !== 0) throw new Error(`${contender} contender failed (${child.error ?? `exit ${child.status}`})`);
  return JSON.parse(child.stdout);
}

function machine() {
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
  let rustc = "unknown";
  try {
    rustc = execFileSync("rustc", ["--version"], { encoding: "utf8" }).trim();
  } catch {}
  return { cpu: cpuModel, cores: cpus().length, node: process.version, rustc, load_average_1min: loadavg()[0] };
}

const NOTES = [
  "op = encode the fixture, then decode the result (Socket.IO: text frame, then each attachment; Engine.IO: the whole payload).",
  "Not the same work: socket.io-parser's Encoder walks the JS value for binaries and JSON.stringifies it, its Decoder JSON.parses",
  "  the data into objects; wasmio keeps data as JSON text (encode copies it, decode validates it and copies it): that is the",
  "  architecture, the application side gets JSON text. On receipt wasmio copies each attachment into an owned buffer; the",
  "  official decoder keeps the Buffer it is given.",
  "ours wasm = the op loop inside wasm (codec cost). ours wasm/call = called from JavaScript once per frame, strings and bytes",
  "  copied across the boundary (encode: text + attachments in, frames out; decode: frames in, nsp/id/data/attachments out).",
  "ratio = official ns/op / ours ns/op: above 1, ours is faster.",
];

function report(fixtures, rounds) {
  const medians = Object.fromEntries(
    COLUMNS.map(([column]) => [column, Object.fromEntries(fixtures.map(({ name }) => [name, median(rounds.map((r) => r[column][name]))]))]),
  );
  const ratios = Object.fromEntries(
    COLUMNS.filter(([column]) => column !== "official").map(([column]) => [
      column,
      Object.fromEntries(fixtures.map(({ name }) => [name, medians.official[name] / medians[column][name]])),
    ]),
  );
  const ours = COLUMNS.filter(([column]) => column !== "official");
  const header = ["fixture", ...COLUMNS.map(([, title]) => title), ...ours.map(([, title]) => `ratio ${title}`)];
  const rows = fixtures.map(({ name }) => [
    name,
    ...COLUMNS.map(([column]) => medians[column][name].toFixed(0)),
    ...ours.map(([column]) => `${ratios[column][name].toFixed(2)}x`),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i].length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
  console.log(`\nCodec benchmark: ns per op (encode + decode), median of ${rounds.length} rounds; ratio = official / ours\n`);
  console.log(line(header));
  rows.forEach((row) => console.log(line(row)));
  return { medians, ratios };
}

function main() {
  for (const [path, what] of [[NATIVE_BIN, "native runner"], [WASM_MODULE, "wasm module"]]) {
    if (!existsSync(path)) throw new Error(`${what} missing (${relative(ROOT, path)}): run bash bench/codec/build.sh`);
  }
  const fixtures = JSON.parse(readFileSync(FIXTURES_PATH, "utf8")).fixtures;
  const host = machine();
  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    process.stderr.write(`round ${round}/${ROUNDS}:`);
    const results = {};
    for (const contender of CONTENDERS) {
      process.stderr.write(` ${contender}`);
      Object.assign(results, spawnContender(contender));
    }
    process.stderr.write("\n");
    rounds.push(results);
  }
  const { medians, ratios } = report(fixtures, rounds);
  console.log(`\nmachine: ${host.cpu}, ${host.cores} cores (load ${host.load_average_1min.toFixed(2)} at start); ${host.rustc}; node ${host.node}`);
  console.log(`\nnotes:\n${NOTES.map((note) => `  ${note}`).join("\n")}`);
  mkdirSync(dirname(RESULTS_PATH), { recursive: true });
  const harness = { warmup_ns: WARMUP_NS, min_batch_ns: MIN_BATCH_NS, sample_ns: SAMPLE_NS, samples: SAMPLES, rounds: ROUNDS };
  const raw = { date: new Date().toISOString(), machine: host, harness, fixtures: fixtures.map((f) => f.name), rounds, medians, ratios, notes: NOTES };
  writeFileSync(RESULTS_PATH, `${JSON.stringify(raw, null, 2)}\n`);
  console.log(`\nraw results: ${relative(ROOT, RESULTS_PATH)}`);
}

if (process.argv[2] === "--contender") {
  const fixturesText = readFileSync(FIXTURES_PATH, "utf8");
  const fixtures = JSON.parse(fixturesText).fixtures;
  const run = { wasm: () => runWasm(fixturesText, fixtures), official: () => runOfficial(fixtures) }[process.argv[3]];
  if (!run) throw new Error(`unknown contender ${process.argv[3]}`);
  console.log(JSON.stringify(run()));
} else {
  try {
    main();
  } catch (error) {
    console.error(`bench/codec/run.mjs: ${error.message}`);
    process.exit(1);
  }
}

// A deployment of one's own: the template (templates/edge-app) copied to a folder of its own,
// built by `wrangler dev` as a separate crate against the library (edge/), and used by the
// official socket.io-client over WebSocket and over polling.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startWorker } from "./harness.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

describe("the template of a user's own server", () => {
  let worker;
  const sockets = [];
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), "wasmio-app-"));
    cpSync(join(ROOT, "templates/edge-app"), dir, { recursive: true, filter: (src) => !/\/(build|target|\.wrangler)$/.test(src) });
    const manifest = readFileSync(join(dir, "Cargo.toml"), "utf8");
    const pointed = manifest.replace('path = "../../edge"', `path = "${join(ROOT, "edge")}"`);
    assert.notEqual(pointed, manifest, "the template names the library by path");
    writeFileSync(join(dir, "Cargo.toml"), pointed);
    copyFileSync(join(ROOT, "Cargo.lock"), join(dir, "Cargo.lock")); // the versions tested here
    // The dependencies built for this repository's worker are reused (same versions, profile);
    // worker-build uses the tools `make setup` installed, as the Makefile tells it (offline).
    process.env.CARGO_TARGET_DIR ??= join(ROOT, "target");
    process.env.WASM_BINDGEN_BIN ??= join(homedir(), ".cargo/bin/wasm-bindgen");
    process.env.WASM_OPT_BIN ??= join(ROOT, "node_modules/.bin/wasm-opt");
    process.env.ESBUILD_BIN ??= join(ROOT, "node_modules/.bin/esbuild");
    worker = await startWorker(undefined, { dir });
  });
  after(async () => {
    sockets.forEach((s) => s.close());
    await worker?.stop();
  });

  it("builds against the library, runs under wrangler dev and serves its handlers", async () => {
    const connect = (transports) => {
      const socket = io(worker.url, { forceNew: true, transports });
      sockets.push(socket);
      return new Promise((resolve, reject) => {
        socket.once("connect", () => resolve(socket));
        socket.once("connect_error", reject);
      });
    };
    const a = await connect(["websocket"]);
    const b = await connect(["polling"]);
    const joined = new Promise((resolve) => a.once("joined", resolve));
    await new Promise((r) => setTimeout(r, 100));
    a.emit("join", "lobby");
    await new Promise((r) => setTimeout(r, 200));
    b.emit("join", "lobby");
    assert.equal(await joined, b.id, "a member of the room hears who joined");
    const said = new Promise((resolve) => a.once("said", resolve));
    b.emit("say", "hello from polling");
    assert.equal(await said, "hello from polling");
  });
});

// The whole stack of `make demo` through the platform's lifecycle: wasmio's browser client
// (the classic build the edge serves at /socket.io/socket.io.js, in real Chromium pages) against
// the chat deployment (4 shards, socket.io's timings, connection state recovery) under real
// workerd, one page per transport path (polling then upgrade, WebSocket only, polling only):
// - a real idle eviction (no test hook: the pages stay silent until workerd has dropped the
//   objects' memory, which `__stats` proves by counting instances): chat goes on, every
//   message exactly once, no disconnect;
// - a restart of workerd on its persisted state: every page's socket reconnects on its own
//   and recovers its connection state, then chat goes on, every message exactly once.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { PATHS, awaitEviction, chatRound, partitionFor, until, workerStarter } from "./chat.mjs";

const IDLE_MS = 30_000; // see lifecycle.test.mjs
const SHARDS = 4;
const VARS = { TEST_HOOKS: "1", MAX_HANDSHAKES_PER_MINUTE: "0" };
const CHROMIUM_ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];
// An object with a polling client always has a request in flight and is never evicted: each
// path on an object of its own, so that the WebSocket ones (1 and 2) can be.
const OBJECT_OF_PATH = { "polling then upgrade": 1, "websocket only": 2, "polling only": 3 };

const start = workerStarter(undefined, VARS);
let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});
after(() => browser?.close());

/**
 * A page of the worker's origin whose one socket (wasmio's `io()` from the worker's classic
 * build) takes transport path `path`; it reports what it hears to this process. The object
 * has the interface `chatRound` reads: `path`, `socket.emit`, `received`, `disconnects`.
 */
async function pageClient(url, path) {
  const page = await browser.newPage();
  const client = { path, page, received: [], disconnects: [], connectErrors: [], state: {} };
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.exposeFunction("report", (kind, value) => {
    if (kind === "message") client.received.push(value);
    else if (kind === "disconnect") client.disconnects.push(value);
    else if (kind === "connect_error") client.connectErrors.push(value);
    else client.state = value;
  });
  // A document the worker serves (the script itself, shown as text: a page of the worker's
  // origin and address, which Chromium lets reach it), the client script then added to it.
  const script = `${url}/socket.io/socket.io.js`;
  await page.goto(script);
  await page.addScriptTag({ url: script });
  const options = { forceNew: true, ...PATHS[path], query: { partition: partitionFor(OBJECT_OF_PATH[path], SHARDS) } };
  await page.evaluate((options) => {
    const socket = io(options);
    const state = () => ({
      connected: socket.connected,
      recovered: socket.recovered,
      sid: socket.io.engine?.id,
      transport: socket.io.engine?.transport?.name,
    });
    socket.on("connect", () => {
      report("state", state());
      socket.io.engine.once("upgrade", () => report("state", state()));
    });
    socket.on("chat message", (message) => report("message", message.text));
    socket.on("disconnect", (reason) => (report("disconnect", reason), report("state", state())));
    socket.on("connect_error", (error) => report("connect_error", error.message));
    window.socket = socket;
  }, options);
  client.socket = { emit: (event, text) => page.evaluate(([e, t]) => window.socket.emit(e, t), [event, text]) };
  client.errors = errors;
  return client;
}

describe("wasmio's browser client against the chat deployment through the lifecycle", () => {
  it("chats exactly once on every transport path through a real idle eviction and a restart of workerd", async () => {
    let worker = await start();
    const { port, persist } = worker;
    const clients = [];
    try {
      for (const path of Object.keys(PATHS)) clients.push(await pageClient(worker.url, path));
      await until(() => clients.every((c) => c.state.connected), 20_000, "every page to connect");
      await until(() => clients[0].state.transport === "websocket", 20_000, "the upgrade");
      const objects = clients.map((c) => Number(c.state.sid.split("-")[0]));
      assert.deepEqual(objects, [1, 2, 3], "each path on its own object");

      await chatRound(clients, "before");
      await awaitEviction(worker.url, SHARDS, [1, 2], IDLE_MS); // the WebSocket clients' objects
      await chatRound(clients, "after-eviction");
      for (const c of clients) {
        assert.deepEqual(c.disconnects, [], `${c.path}: no disconnect through the eviction`);
        assert.deepEqual(c.connectErrors, [], `${c.path}: no connect error`);
      }

      await worker.stop();
      worker = await start({ port, persist });
      await until(
        () => clients.every((c) => c.state.connected && c.disconnects.length > 0),
        30_000,
        "the pages' reconnections",
      );
      for (const c of clients) assert.equal(c.state.recovered, true, `${c.path}: recovered after the restart`);
      await chatRound(clients, "after-restart");
      for (const c of clients) assert.deepEqual(c.errors, [], `${c.path}: no error in the page`);
    } finally {
      await Promise.all(clients.map((c) => c.page.close()));
    }
  });
});

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
import { PATHS, awaitEviction, chatRound, partitionFor, until, workerStarter } from "./chat.mjs";
import { launchBrowser, pageClient } from "./pages.mjs";

const IDLE_MS = 30_000; // see lifecycle.test.mjs
const SHARDS = 4;
const VARS = { TEST_HOOKS: "1", MAX_HANDSHAKES_PER_MINUTE: "0" };
// An object with a polling client always has a request in flight and is never evicted: each
// path on an object of its own, so that the WebSocket ones (1 and 2) can be.
const OBJECT_OF_PATH = { "polling then upgrade": 1, "websocket only": 2, "polling only": 3 };

const start = workerStarter(undefined, VARS);
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser?.close());

describe("wasmio's browser client against the chat deployment through the lifecycle", () => {
  it("chats exactly once on every transport path through a real idle eviction and a restart of workerd", async () => {
    let worker = await start();
    const { port, persist } = worker;
    const clients = [];
    try {
      for (const path of Object.keys(PATHS)) {
        clients.push(await pageClient(browser, worker.url, path, partitionFor(OBJECT_OF_PATH[path], SHARDS)));
      }
      await until(() => clients.every((c) => c.socket.connected), 20_000, "every page to connect");
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
        () => clients.every((c) => c.socket.connected && c.disconnects.length > 0),
        30_000,
        "the pages' reconnections",
      );
      for (const c of clients) assert.equal(c.socket.recovered, true, `${c.path}: recovered after the restart`);
      await chatRound(clients, "after-restart");
      for (const c of clients) assert.deepEqual(c.errors, [], `${c.path}: no error in the page`);
    } finally {
      await Promise.all(clients.map((c) => c.page.close()));
    }
  });
});

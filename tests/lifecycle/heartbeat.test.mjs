// Heartbeats through a real idle eviction (chat deployment, official socket.io-client 4.8.4 on
// every transport path): an instance woken by chat messages before a client's next ping is due
// does not ping it at the wake (until 2026-12-04 every woken instance pinged each WebSocket
// client at once, and then had a pong deadline to be woken for again). The pings still come:
// at their time, or early on another alarm within half an interval of it, where heartbeats
// align (protocol/src/engine/endpoint.rs).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chatRound, closeAll, connectClients, instances, partitionFor, sleep, workerStarter } from "./chat.mjs";

const SHARDS = 4;
const PING_INTERVAL = 60_000;
const VARS = { TEST_HOOKS: "1", MAX_HANDSHAKES_PER_MINUTE: "0", PING_INTERVAL: String(PING_INTERVAL) };
// Local workerd evicts an object about 10 s after its last event (the chat deployment's own
// alarms come within seconds of the messages); the first ping is due 60 s in, after the wake.
const IDLE_MS = 30_000;
// The chat's own alarm (the relay's retry) comes 5 s after its messages: a ping within this
// window of the wake was sent by the wake itself.
const AT_WAKE_MS = 3_000;

const start = workerStarter(undefined, VARS);

describe("heartbeats through a real eviction", () => {
  it("an object woken before a ping is due does not ping at the wake, on every path", async () => {
    const worker = await start();
    // The WebSocket sessions on an object of their own (one with a polling client always has a
    // request in flight and is never evicted).
    const placement = {
      "polling then upgrade": partitionFor(1, SHARDS),
      "websocket only": partitionFor(1, SHARDS),
      "polling only": partitionFor(2, SHARDS),
    };
    const connectedAt = Date.now();
    const clients = await connectClients(worker.url, 1, {}, placement);
    for (const c of clients) {
      c.pings = [];
      c.socket.io.on("ping", () => c.pings.push(Date.now()));
    }
    try {
      await chatRound(clients, "before");
      const before = await instances(worker.url, SHARDS);
      await sleep(IDLE_MS);
      // The messages wake the WebSocket clients' object: a new instance counts them (reading
      // the counts counts nothing, so it tells an eviction only after a counted event).
      const wokenAt = Date.now();
      await chatRound(clients, "after-eviction");
      const after = await instances(worker.url, SHARDS);
      assert.ok(after[1] > before[1], `object 1 was evicted: instances ${before} before, ${after} after`);
      assert.ok(wokenAt + AT_WAKE_MS < connectedAt + PING_INTERVAL, "woken before a ping was due");
      // Past the first ping's time: each client has had it.
      await sleep(Math.max(0, connectedAt + PING_INTERVAL + 3_000 - Date.now()));
      for (const c of clients) {
        const when = c.pings.map((t) => `${t - connectedAt} ms`).join(", ") || "none";
        const woken = `woken ${wokenAt - connectedAt} ms in; pings at ${when}`;
        assert.ok(!c.pings.some((t) => t >= wokenAt && t < wokenAt + AT_WAKE_MS), `${c.path}: no ping at the wake (${woken})`);
        assert.ok(c.pings.length >= 1, `${c.path}: pinged by its time (${woken})`);
        assert.deepEqual(c.disconnects, [], `${c.path}: no disconnect`);
      }
      await chatRound(clients, "after-pings");
    } finally {
      closeAll(clients);
    }
  });
});

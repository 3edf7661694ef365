// A reconnect storm: 1,000 official socket.io-client 4.8.4 clients (WebSocket only: wrangler
// dev's local proxy runs out of connections with 1,000 polling clients) connected to the chat
// deployment are all cut at once by a restart of workerd on its persisted state. Every one
// must come back (reconnect and recover its connection state) within STORM_BOUND_MS, and a
// message sent afterwards must reach every one of them exactly once.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startWorker } from "../edge/harness.mjs";
import { sleep, until } from "./chat.mjs";

// 1,000 clients connect from one loopback address: no handshake budget per address.
const VARS = { MAX_HANDSHAKES_PER_MINUTE: "0" };

const CLIENTS = Number(process.env.STORM_CLIENTS ?? 1000);
// socket.io-client waits 1 s, then up to 5 s (randomized) between attempts: the storm must be
// over within a few of its attempts. Measured here: see the test's output.
const STORM_BOUND_MS = 60_000;

const workers = [];
after(() => Promise.all(workers.map((w) => w.stop())));

describe("reconnect storm", () => {
  it(`${CLIENTS} clients cut at once by a restart all come back, none lost`, async () => {
    let worker = await startWorker(undefined, { vars: VARS });
    workers.push(worker);
    const { port, persist } = worker;
    const clients = [];
    for (let i = 0; i < CLIENTS; i++) {
      const socket = io(worker.url, { forceNew: true, transports: ["websocket"] });
      const client = { socket, received: [], disconnects: 0 };
      socket.on("chat message", (m) => client.received.push(m.text));
      socket.on("disconnect", () => client.disconnects++);
      clients.push(client);
      if (i % 50 === 49) await sleep(100); // connect at a pace the local proxy accepts
    }
    try {
      await until(() => clients.every((c) => c.socket.connected), 120_000, "every client to connect");
      // A first message gives every client an offset in the recovery log (a client that has
      // received nothing cannot be recovered, as with the reference server).
      clients[0].socket.emit("chat message", "before the storm");
      await until(() => clients.every((c) => c.received.includes("before the storm")), 30_000, "the first message");
      await worker.stop();
      const restarted = Date.now();
      worker = await startWorker(undefined, { vars: VARS, port, persist });
      workers.push(worker);
      await until(() => clients.every((c) => c.disconnects > 0), 30_000, "every client to see the restart");
      await until(() => clients.every((c) => c.socket.connected), STORM_BOUND_MS, "every client to come back");
      const tookMs = Date.now() - restarted;
      const recovered = clients.filter((c) => c.socket.recovered).length;
      console.log(`${CLIENTS} clients back ${tookMs} ms after the restart began; ${recovered} recovered their state`);
      assert.equal(recovered, CLIENTS, "every client recovered its connection state");
      clients[0].socket.emit("chat message", "after the storm");
      await until(() => clients.every((c) => c.received.includes("after the storm")), 30_000, "the message to reach everyone");
      await sleep(1000);
      const doubled = clients.filter((c) => c.received.filter((t) => t === "after the storm").length !== 1).length;
      assert.equal(doubled, 0, "every client got the message exactly once");
    } finally {
      for (const c of clients) c.socket.close();
    }
  });
});

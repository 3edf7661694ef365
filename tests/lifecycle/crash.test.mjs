// A crash under traffic: on every transport path and three objects of the chat deployment,
// official socket.io-client 4.8.4 clients (two per path) and wasmio's browser client (the
// classic build the worker serves, one Chromium page per path) chat without pause while
// workerd is killed (SIGKILL, as a crash or the loss of the whole process does) and restarted
// on its persisted state, twice. Socket.IO delivers at most once: a message a client wrote to
// a connection as it died may be lost, as with the reference server. Everything else holds:
// - no client receives a message twice, nor one sender's messages out of order;
// - a message that reached anyone reached everyone (nothing half-delivered across objects);
// - only messages emitted around a kill are lost; those emitted while the clients were
//   disconnected are buffered by the client and delivered after the reconnection;
// - every client reconnects by itself and recovers its connection state.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PATHS, closeAll, connectClients, partitionFor, sleep, until, workerStarter } from "./chat.mjs";
import { launchBrowser, pageClient, startSending } from "./pages.mjs";

const SHARDS = 4;
const KILLS = 2;
const OBJECT_OF_PATH = { "polling then upgrade": 0, "websocket only": 1, "polling only": 2 };
// Each client sends one message every 200-400 ms: what it buffers while disconnected (a restart,
// 1-6 s here, then its reconnection delay: up to 11 s in all with two suites running at once)
// stays under the chat's burst of 60 per socket, so its rate limit drops nothing. At 100-200 ms,
// two runs at once lost the last buffered messages of the polling-only clients (2026-12-06).
const GAP_MS = 200;
// A message emitted this close to a kill may have been written to the dying connection.
const IN_FLIGHT_MS = 1_000;
// Every client connects from one loopback address: no handshake budget per address.
const start = workerStarter(undefined, { MAX_HANDSHAKES_PER_MINUTE: "0" });
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser?.close());

/** The same sending loop as `startSending`'s, for an official client (run by this process). */
function startSendingOfficial(client, prefix, gapMs) {
  const sent = [];
  let sending = true;
  const loop = (async () => {
    for (let seq = 0; sending; seq++) {
      const label = `${prefix}:${seq}`;
      sent.push({ label, at: Date.now() });
      client.socket.emit("chat message", label);
      await sleep(gapMs * (1 + Math.random()));
    }
  })();
  return () => ((sending = false), loop.then(() => sent));
}

describe("a crash of workerd under traffic", () => {
  it("loses only what was in flight: nothing doubled, reordered or half-delivered, both clients, every path", async () => {
    let worker = await start();
    const { port, persist } = worker;
    const placement = Object.fromEntries(Object.entries(OBJECT_OF_PATH).map(([p, o]) => [p, partitionFor(o, SHARDS)]));
    const clients = await connectClients(worker.url, 2, {}, placement);
    const pages = [];
    const stops = [];
    try {
      for (const path of Object.keys(PATHS)) pages.push(await pageClient(browser, worker.url, path, placement[path]));
      await until(() => pages.every((c) => c.socket.connected), 20_000, "every page to connect");
      await until(() => pages[0].state.transport === "websocket", 20_000, "the page's upgrade");
      clients.push(...pages);
      for (const [i, c] of clients.entries()) {
        stops.push(c.page ? await startSending(c, `c${i}`, GAP_MS) : startSendingOfficial(c, `c${i}`, GAP_MS));
      }
      const kills = []; // { from, to }: from the kill until the new workerd answers
      for (let k = 0; k < KILLS; k++) {
        await sleep(2_000 + Math.random() * 2_000);
        const from = Date.now();
        await worker.stop();
        worker = await start({ port, persist });
        kills.push({ from, to: Date.now() });
        await until(() => clients.every((c) => c.socket.connected), 30_000, `the reconnections after kill ${k + 1}`);
        for (const c of clients) assert.equal(c.socket.recovered, true, `${c.path}: recovered after kill ${k + 1}`);
      }
      await sleep(2_000);
      const sent = await Promise.all(stops.splice(0).map((stop) => stop()));
      const total = sent.reduce((n, labels) => n + labels.length, 0);
      // Everything sent after the last kill has arrived once the counts stop growing.
      let received = -1;
      await until(() => {
        const now = clients.reduce((n, c) => n + c.received.length, 0);
        const settled = now === received;
        received = now;
        return settled;
      }, 20_000, "the deliveries to settle");

      const receivers = new Map(); // label -> indexes of the clients that received it
      for (const [r, c] of clients.entries()) {
        const who = `${c.page ? "wasmio" : "official"} ${c.path} client c${r}`;
        const lastOf = new Map();
        for (const label of c.received) {
          const [sender, seq] = label.split(":");
          assert.ok(!(receivers.get(label) ?? []).includes(r), `${who} received ${label} twice`);
          assert.ok(!(lastOf.get(sender) >= Number(seq)), `${who} received ${label} after ${sender}:${lastOf.get(sender)}`);
          lastOf.set(sender, Number(seq));
          receivers.set(label, [...(receivers.get(label) ?? []), r]);
        }
      }
      const lost = [];
      for (const labels of sent) {
        for (const { label, at } of labels) {
          const got = receivers.get(label) ?? [];
          if (got.length === 0) lost.push({ label, at });
          else assert.equal(got.length, clients.length, `${label} reached clients ${got} only`);
        }
      }
      const nearKill = ({ at }) => kills.some(({ from }) => Math.abs(at - from) <= IN_FLIGHT_MS);
      const restarts = kills.map(({ from, to }) => `${to - from} ms`).join(", ");
      console.log(`${total} messages, ${lost.length} lost around the kills (restarts took ${restarts})`);
      const away = lost.filter((m) => !nearKill(m));
      const began = Math.min(...sent.flat().map(({ at }) => at));
      const whence = ({ label, at }) => {
        const c = clients[Number(label.split(":")[0].slice(1))];
        const kinds = `${c.page ? "wasmio" : "official"} ${c.path}`;
        const killsAt = kills.map(({ from }) => from - began).join(", ");
        return `${label}: ${kinds}, sent ${at - began} ms after sending began (kills at ${killsAt} ms), its disconnects: ${c.disconnects?.join(",") || "none"}`;
      };
      assert.deepEqual(away.map((m) => m.label), [], `messages lost away from a kill:\n${away.map(whence).join("\n")}`);
      // The kills came after the first seconds of traffic: most messages went through.
      assert.ok(lost.length < total / 10, `${lost.length} of ${total} lost`);
      for (const c of pages) assert.deepEqual(c.errors, [], `wasmio ${c.path}: no error in the page`);
    } finally {
      await Promise.all(stops.map((stop) => stop().catch(() => {})));
      closeAll(clients.filter((c) => !c.page));
      await Promise.all(pages.map((c) => c.page.close()));
    }
  });
});

// A crash under traffic: on every transport path and three objects of the chat deployment,
// official socket.io-client 4.8.4 clients (two per path) and wasmio's browser client (the
// classic build the worker serves, one Chromium page per path) chat without pause while
// workerd is killed (SIGKILL, as a crash or the loss of the whole process does) and restarted
// on its persisted state, twice. Socket.IO delivers at most once: a message a client wrote to
// a connection as it died may be lost, as with the reference server. Everything else holds:
// - no client receives a message twice, nor one sender's messages out of order;
// - a message that reached anyone reached everyone (nothing half-delivered across objects);
// - only what a dying transport carried is lost: a sender's last messages before its
//   disconnection at a kill (or at a POST wrangler dev's proxy refused, see below), never one
//   followed by a delivered message of the same connection; those emitted while the clients
//   were disconnected are buffered by the client and delivered after the reconnection;
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
// The longest a message may have been on its way when its transport died: a polling client's
// POST waits for the one before it, answered after more than 1 s on a loaded machine.
const IN_FLIGHT_MS = 3_000;
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
    const workers = [worker];
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
        workers.push(worker);
        kills.push({ from, to: Date.now() });
        await until(() => clients.every((c) => c.socket.connected), 30_000, `the reconnections after kill ${k + 1}`);
        for (const c of clients) assert.equal(c.socket.recovered, true, `${c.path}: recovered after kill ${k + 1}`);
      }
      await sleep(2_000);
      const sent = await Promise.all(stops.splice(0).map((stop) => stop()));
      const total = sent.reduce((n, labels) => n + labels.length, 0);
      // The last messages are on their way, to polling clients a poll away (hundreds of ms on a
      // loaded machine): the deliveries have settled once every client has as many as any
      // other and no count grew for a second (checked every 50 ms, a settlement seen too early
      // reported the last messages as half-delivered). A client still short after 20 s is
      // reported below, message by message.
      let counts = "";
      let stableSince = Date.now();
      await until(() => {
        const now = clients.map((c) => c.received.length);
        if (now.join() !== counts) [counts, stableSince] = [now.join(), Date.now()];
        return Math.min(...now) === Math.max(...now) && Date.now() - stableSince >= 1_000;
      }, 20_000, "the deliveries to settle").catch(() => {});

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
      const began = Math.min(...sent.flat().map(({ at }) => at));
      const since = (at) => `${at - began} ms`;
      const name = (i) => `c${i} (${clients[i].page ? "wasmio" : "official"} ${clients[i].path})`;
      const history = (i) => clients[i].timeline.filter((e) => e.at >= began).map((e) => `${since(e.at)} ${e.what}`);
      const restarts = kills.map(({ from, to }) => `${since(from)} to ${since(to)}`).join(", ");
      // What each workerd's wrangler reported other than 200, 101 and 304 answers, and any error.
      const unusual = workers.map((w, i) => {
        const lines = w.log().split("\n").filter((l) => /^\[wrangler:/.test(l) ? !/ (200|101|304) /.test(l) : /error|panic/i.test(l));
        return `workerd ${i + 1}: ${lines.slice(-20).join("\n") || "nothing"}`;
      });
      const report = (m) => {
        const sender = Number(m.label.split(":")[0].slice(1));
        const missed = clients.map((_, i) => i).filter((i) => !m.got.includes(i) && i !== sender);
        return [
          `${m.label}, sent at ${since(m.at)}, reached ${m.got.length} of ${clients.length} clients`,
          ...[sender, ...(m.got.length ? missed : [])].map((i) => `  ${name(i)}${i === sender ? ", its sender" : ""}: ${history(i).join("; ") || "no disconnection"}`),
        ].join("\n");
      };
      const context = () => `(sending began at 0 ms; kills ${restarts})\n${unusual.join("\n")}`;

      const partial = [];
      const lost = [];
      for (const labels of sent) {
        for (const { label, at } of labels) {
          const got = receivers.get(label) ?? [];
          if (got.length === 0) lost.push({ label, at, got });
          else if (got.length < clients.length) partial.push({ label, at, got });
        }
      }
      assert.deepEqual(partial.map((m) => m.label), [], `messages that reached some clients only:\n${partial.map(report).join("\n")}\n${context()}`);
      // At most once: a transport that dies takes with it what it was carrying, the last
      // messages its sender wrote before that disconnection (within IN_FLIGHT_MS), and nothing
      // else. A disconnection
      // counts when it came with a kill (between the kill and the new workerd's answer), or
      // when wrangler dev's proxy answered a POST 503 (the worker never answers a POST so): under
      // load it refuses now and then a request it could not pass on to workerd, a development
      // tool's artefact Cloudflare's edge does not have. Measured 2026-12-06 with polling
      // clients posting about 5 s apart (workerd's keep-alive idle time) beside two runs of this
      // test: 2 to 6 POSTs of 72 answered 503 through wrangler dev (4 runs), each such message
      // lost; 0 of 72 by the same build on workerd reached directly (Miniflare, 3 runs).
      const lostLabels = new Set(lost.map((m) => m.label));
      const acceptable = ({ label, at }) => {
        const sender = Number(label.split(":")[0].slice(1));
        const ended = clients[sender].timeline.find((e) => e.at >= at && e.what.startsWith("disconnect"));
        if (!ended) return false;
        const atKill = kills.some(({ from, to }) => ended.at >= from && ended.at <= to);
        const refusedByProxy = ended.what.includes("xhr post error 503");
        const tail = sent[sender].filter((m) => m.at > at && m.at < ended.at).every((m) => lostLabels.has(m.label));
        return (atKill || refusedByProxy) && tail && ended.at - at <= IN_FLIGHT_MS;
      };
      const unexplained = lost.filter((m) => !acceptable(m));
      console.log(`${total} messages, ${lost.length} lost with the transport that carried them (kills ${restarts})`);
      assert.deepEqual(unexplained.map((m) => m.label), [], `messages lost otherwise:\n${unexplained.map(report).join("\n")}\n${context()}`);
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

// Rooms that span objects, with connection state recovery, under real workerd (conformance
// deployment, APP = "rooms-recovery", 8 objects): official clients on every transport path join
// room `r` without a partition, so each reconnection lands on a random object, which takes the
// session from the object that held it (a handover). One client emits to the room every 10 ms
// while the others are cut at random. A broadcast relayed to the old holder only, because its
// sender looked the room up before the new holder joined it, used to reach neither: 8 of 4,000
// deliveries were missed, every reconnection told it recovered. Now the old holder names where
// the session went, and the sender relays the broadcast there too.
//
// Asserted: a client told it recovered missed nothing and got nothing twice. A refused recovery
// is allowed (the client rejoins the room), and then only what came after the last message it
// received before its disconnection, until it rejoined, may be missing.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startWorker } from "./harness.mjs";

const PATHS = { "websocket only": ["websocket"], "polling then upgrade": ["polling", "websocket"], "polling only": ["polling"] };
const MESSAGES = 1200;
const GAP_MS = 10;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const workers = [];
after(() => Promise.all(workers.map((w) => w.stop())));

/** A member of room `r` of `/rooms`, rejoining it after a refused recovery. */
async function receiver(url, path, index) {
  const options = { forceNew: true, transports: PATHS[path], reconnectionDelay: 100, reconnectionDelayMax: 300 };
  const socket = io(`${url}/rooms`, options);
  const client = { name: `${path} #${index}`, socket, got: new Map(), objects: [], reconnects: [], gaps: [], lastHeard: -1 };
  socket.on("room-message", (n) => client.got.set(n, (client.got.get(n) ?? 0) + 1));
  // The last message received before a disconnection: those after it were on their way.
  socket.on("disconnect", () => (client.lastHeard = Math.max(-1, ...client.got.keys())));
  socket.on("connect", () => {
    client.objects.push(socket.io.engine?.id?.split("-")[0] ?? "?");
    if (client.objects.length === 1) return;
    client.reconnects.push(socket.recovered);
    if (socket.recovered) return;
    // A fresh socket is in no room: what was emitted until it is back in `r` may be missed.
    const gap = { after: client.lastHeard, to: Infinity };
    client.gaps.push(gap);
    socket.timeout(5_000).emitWithAck("join", "r").then(() => (gap.to = Date.now()), () => {});
  });
  await new Promise((resolve, reject) => (socket.once("connect", resolve), socket.once("connect_error", reject)));
  assert.equal(await socket.timeout(5_000).emitWithAck("join", "r"), "r");
  return client;
}

/** `[1, 2, 3, 7]` as "1-3,7". */
function ranges(numbers) {
  const out = [];
  for (const n of numbers) {
    const last = out.at(-1);
    if (last && last[1] === n - 1) last[1] = n;
    else out.push([n, n]);
  }
  return out.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(",");
}

describe("a room spanning objects while its members' sessions move between them", () => {
  it("delivers every broadcast once to each member told it recovered, on every transport path", async () => {
    // socket.io's default heartbeat: the cuts are the test's.
    const vars = { APP: "rooms-recovery", SHARDS: "8", HEARTBEAT: "hibernate", PING_INTERVAL: "25000", PING_TIMEOUT: "20000" };
    const worker = await startWorker("conformance", { vars });
    workers.push(worker);
    const receivers = [];
    for (const path of Object.keys(PATHS)) for (const i of [1, 2]) receivers.push(await receiver(worker.url, path, i));
    const sender = io(`${worker.url}/rooms`, { forceNew: true, transports: ["websocket"] });
    await new Promise((resolve) => sender.once("connect", resolve));
    const emittedAt = [];
    let sending = true;
    const cutter = (async () => {
      while (sending) {
        await sleep(200 + Math.random() * 600);
        // A connected receiver: one cut again before its reconnection's CONNECT arrived may not
        // have received what it was handed (a known limit: docs/ARCHITECTURE.md).
        const connected = receivers.filter((c) => c.socket.connected);
        connected[Math.floor(Math.random() * connected.length)]?.socket.io.engine.close();
      }
    })();
    for (let n = 0; n < MESSAGES; n++) {
      emittedAt.push(Date.now());
      sender.emit("to-room", "r", n);
      await sleep(GAP_MS);
    }
    sending = false;
    await cutter;
    // Settled: every receiver connected, and no count grew for 2 s (at most 30 s).
    const total = () => receivers.reduce((sum, c) => sum + [...c.got.values()].reduce((a, b) => a + b, 0), 0);
    for (let last = -1, stable = 0, deadline = Date.now() + 30_000; stable < 2_000 && Date.now() < deadline; await sleep(100)) {
      const now = total();
      stable = now === last && receivers.every((c) => c.socket.connected) ? stable + 100 : 0;
      last = now;
    }
    sender.close();
    for (const c of receivers) c.socket.close();

    const moves = receivers.reduce((sum, c) => sum + c.objects.filter((o, i) => i > 0 && o !== c.objects[i - 1]).length, 0);
    const reconnects = receivers.flatMap((c) => c.reconnects);
    const problems = [];
    for (const c of receivers) {
      const excused = (n) => c.gaps.some((g) => n > g.after && emittedAt[n] <= g.to);
      const missing = [];
      const twice = [];
      for (let n = 0; n < MESSAGES; n++) {
        const count = c.got.get(n) ?? 0;
        if (count === 0 && !excused(n)) missing.push(n);
        if (count > 1) twice.push(n);
      }
      if (missing.length || twice.length) {
        const where = `objects ${c.objects.join(">")}, recovered ${c.reconnects.join(",")}`;
        problems.push(`${c.name} (${where}): missing ${ranges(missing)}; twice ${ranges(twice)}`);
      }
    }
    const summary = `${reconnects.length} reconnections (${reconnects.filter((r) => !r).length} refused), ${moves} moves between objects`;
    const errors = worker.log().split("\n").filter((line) => /error|panic/i.test(line));
    assert.deepEqual(problems, [], `${summary}\n${errors.slice(-30).join("\n")}`);
    // The run exercised handovers on every path: most reconnections land on another object.
    assert.ok(moves >= 10, `too few handovers to tell: ${summary}`);
    for (const path of Object.keys(PATHS)) {
      const moved = receivers.filter((c) => c.name.startsWith(path)).some((c) => c.objects.some((o, i) => i > 0 && o !== c.objects[i - 1]));
      assert.ok(moved, `no ${path} client moved between objects: ${summary}`);
    }
    console.log(`# ${summary}`);
  });
});

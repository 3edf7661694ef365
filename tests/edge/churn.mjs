// Members of a room that spans objects, cut at random while one client emits to the room: the
// handover load of tests/edge/handover.test.mjs and tests/lifecycle/handover.test.mjs. Official
// socket.io-client 4.8.4 clients on every transport path join room `r` of `/rooms` (the
// conformance deployment's APP = "rooms-recovery") without a partition, so each reconnection
// lands on a random object, which takes the session from the object that held it.
//
// The check: a client told it recovered missed nothing and got nothing twice (but for
// socket.io-client's own replays of a closed engine's last packets, counted apart). A refused recovery
// is allowed (the client rejoins the room), and then only what came after the last message it
// received before its disconnection, until it rejoined, may be missing. A message no member got
// that the sender emitted in the second before its own connection was cut may never have reached
// the server (a client's emit is sent at most once, as with socket.io).
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { partitionFor } from "../lifecycle/chat.mjs";

/** The transports of each path. */
export const CHURN_PATHS = { "websocket only": ["websocket"], "polling then upgrade": ["polling", "websocket"], "polling only": ["polling"] };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Cuts `client`'s next reconnection while it receives what it missed (sent before its
 * CONNECT): once `client.cutAt` is set, at the `cutAt`-th packet of `/rooms` before the
 * CONNECT, some of it received, some not; `client.earlyCuts` counts the cuts. The engine's
 * stream is read as it arrives: socket.io-client hands packets to the socket a tick later.
 */
export function cutWhileReceiving(client) {
  Object.assign(client, { cutAt: 0, earlyCuts: 0 });
  const { socket } = client;
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    let seen = 0;
    let connected = false;
    engine.on("packet", ({ type, data }) => {
      if (type !== "message" || typeof data !== "string") return;
      connected ||= data.startsWith("0/rooms,");
      if (!client.cutAt || connected || !data.startsWith("2/rooms,") || ++seen < client.cutAt) return;
      client.cutAt = 0;
      client.earlyCuts++;
      engine.close();
    });
  });
}

/** A member of room `r` of `/rooms`, rejoining it after a refused recovery. */
async function member(url, path, index) {
  const options = { forceNew: true, transports: CHURN_PATHS[path], reconnectionDelay: 100, reconnectionDelayMax: 300 };
  const socket = io(`${url}/rooms`, options);
  const client = { name: `${path} #${index}`, socket, got: new Map(), late: new Set(), objects: [], reconnects: [], gaps: [], lastHeard: -1 };
  socket.on("room-message", (n) => client.got.set(n, (client.got.get(n) ?? 0) + 1));
  // socket.io-client hands the socket a payload's packets one tick after decoding them: those
  // of an engine closed meanwhile (a cut during an upgrade closes once the last poll is in)
  // reach a disconnected socket, which buffers them and replays them at its next connection
  // without moving its recovery offset, so the recovered copies come too. Such duplicates are
  // the client library's, whatever the server (bench/delivery counts them apart the same way).
  socket.io.on("packet", (packet) => {
    if (socket.connected || socket.io.engine?.readyState === "open") return;
    if (packet.type === 2 && packet.data?.[0] === "room-message") client.late.add(packet.data[1]);
  });
  cutWhileReceiving(client);
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

/**
 * The room of `/rooms` at `url`: `perPath` members on each transport path and a WebSocket
 * sender. `run(messages)` emits the next `messages` numbered messages, one every 10 ms, while
 * a connected member is cut every 0.2 to 0.8 s (one cut in three again while its reconnection
 * receives what it missed). `settled()` waits until every member is
 * connected and no count grew for 2 s (at most 30 s). `check(worker)` waits so, then asserts
 * the delivery (see the file's comment) and that the sessions moved between objects (at least
 * `minMoves` moves, one on every path); it returns a summary. `close()` closes every client.
 */
export async function churnRoom(url, perPath = 2) {
  const members = [];
  for (const path of Object.keys(CHURN_PATHS)) for (let i = 1; i <= perPath; i++) members.push(await member(url, path, i));
  const sender = io(`${url}/rooms`, { forceNew: true, transports: ["websocket"] });
  await new Promise((resolve) => sender.once("connect", resolve));
  const emittedAt = [];
  // A client's emit is sent at most once: what the sender emitted into a connection that died
  // with the server (a restart) may never have reached it.
  const senderCuts = [];
  sender.on("disconnect", () => senderCuts.push(Date.now()));
  return {
    members,
    sender,
    async run(messages) {
      let sending = true;
      const cutter = (async () => {
        while (sending) {
          await sleep(200 + Math.random() * 600);
          // A connected member on an open engine. socket.io-client's socket can be connected
          // while its manager opens the next engine (the CONNECT of a payload handed to it after
          // its engine closed): closing an engine still opening leaves the manager waiting for
          // its 20 s connect timeout, as it listens to an engine's close only once it is open.
          const connected = members.filter((c) => c.socket.connected && c.socket.io.engine?.readyState === "open");
          const cut = connected[Math.floor(Math.random() * connected.length)];
          if (!cut) continue;
          // One cut in three is followed by another at the 1st, 2nd or 3rd packet the
          // reconnection receives.
          cut.cutAt = Math.random() < 1 / 3 ? 1 + Math.floor(Math.random() * 3) : 0;
          cut.socket.io.engine.close();
        }
      })();
      for (let end = emittedAt.length + messages; emittedAt.length < end; ) {
        while (!sender.connected) await sleep(50);
        emittedAt.push(Date.now());
        sender.emit("to-room", "r", emittedAt.length - 1);
        await sleep(10);
      }
      sending = false;
      await cutter;
    },
    async settled() {
      const total = () => members.reduce((sum, c) => sum + [...c.got.values()].reduce((a, b) => a + b, 0), 0);
      for (let last = -1, stable = 0, deadline = Date.now() + 30_000; stable < 2_000 && Date.now() < deadline; await sleep(100)) {
        const now = total();
        stable = now === last && members.every((c) => c.socket.connected) ? stable + 100 : 0;
        last = now;
      }
    },
    async check(worker, minMoves = 10) {
      await this.settled();
      const moved = (c) => c.objects.filter((o, i) => i > 0 && o !== c.objects[i - 1]).length;
      const moves = members.reduce((sum, c) => sum + moved(c), 0);
      const reconnects = members.flatMap((c) => c.reconnects);
      const problems = [];
      const heardByNone = (n) => members.every((c) => !c.got.has(n));
      const lostWithSender = [];
      let replayedByClient = 0;
      for (let n = 0; n < emittedAt.length; n++) {
        if (heardByNone(n) && senderCuts.some((at) => emittedAt[n] <= at && emittedAt[n] > at - 1000)) lostWithSender.push(n);
      }
      for (const c of members) {
        const excused = (n) => c.gaps.some((g) => n > g.after && emittedAt[n] <= g.to);
        const missing = [];
        const twice = [];
        for (let n = 0; n < emittedAt.length; n++) {
          const count = c.got.get(n) ?? 0;
          if (count === 0 && !excused(n) && !lostWithSender.includes(n)) missing.push(n);
          if (count > 1 && c.late.has(n)) replayedByClient++;
          else if (count > 1) twice.push(n);
        }
        if (missing.length || twice.length) {
          const where = `objects ${c.objects.join(">")}, recovered ${c.reconnects.join(",")}`;
          problems.push(`${c.name} (${where}): missing ${ranges(missing)}; twice ${ranges(twice)}`);
        }
      }
      const earlyCuts = members.reduce((sum, c) => sum + c.earlyCuts, 0);
      const summary = `${emittedAt.length} messages, ${reconnects.length} reconnections (${reconnects.filter((r) => !r).length} refused), ${earlyCuts} cut while receiving what they missed, ${moves} moves between objects, ${lostWithSender.length} lost with the sender's connection (${ranges(lostWithSender)}), ${replayedByClient} received twice as socket.io-client replayed a closed engine's last packets`;
      const errors = worker.log().split("\n").filter((line) => /error|panic/i.test(line));
      assert.deepEqual(problems, [], `${summary}\n${errors.slice(-30).join("\n")}`);
      // The run exercised handovers on every path: most reconnections land on another object.
      assert.ok(moves >= minMoves, `too few handovers to tell: ${summary}`);
      for (const path of Object.keys(CHURN_PATHS)) {
        assert.ok(members.some((c) => c.name.startsWith(path) && moved(c) > 0), `no ${path} client moved between objects: ${summary}`);
      }
      return summary;
    },
    close() {
      sender.close();
      for (const c of members) c.socket.close();
    },
  };
}

/**
 * A member of `/rooms` at `url` placed on numbered object `object` of `shards` by its
 * `partition` query, over the transports of `path` ([`CHURN_PATHS`]): what it hears (`got`)
 * and its connections (`connects`: the object, then " recovered" when it was). `client` is
 * the `io` of the client to use (socket.io-client's by default), named `clientName`.
 */
export function placedMember(url, path, object, shards, client = io, clientName = "") {
  const query = { partition: partitionFor(object, shards) };
  const options = { forceNew: true, transports: CHURN_PATHS[path], query, reconnectionDelay: 100, reconnectionDelayMax: 300 };
  const socket = client(`${url}/rooms`, options);
  const member = { name: `${clientName}${path} from object ${object}`, path, socket, got: [], connects: [] };
  socket.on("room-message", (text) => member.got.push(text));
  socket.on("connect", () => member.connects.push(`${socket.io.engine?.id?.split("-")[0]}${socket.recovered ? " recovered" : ""}`));
  return member;
}

/** Closes each member's connection (the server sees it) and keeps it away. */
export function cutAway(members) {
  for (const m of members) {
    m.socket.io.reconnection(false);
    m.socket.io.engine.close();
  }
}

/**
 * Sends each member, away since [`cutAway`], to numbered object `objectOf(member)` of `shards`
 * (the `partition` query its next handshake carries, as a refreshed token would be), and lets
 * it reconnect.
 */
export function sendTo(members, objectOf, shards) {
  for (const m of members) {
    m.socket.io.opts.query.partition = partitionFor(objectOf(m), shards);
    m.socket.io.reconnection(true);
    m.socket.connect();
  }
}

// socket.io's adapter operations across the Durable Objects of a deployment of 16
// (wasmio_edge::Context::io, the conformance app's `/cluster` namespace), with the official
// client on every transport path: fetchSockets, socketsJoin / socketsLeave, disconnectSockets,
// serverSideEmit with answers, a broadcast with acknowledgements collected from every object
// (and its timeout), a room's broadcast reaching only the objects that hold its members (a
// count of relays, from the test hooks' statistics), and an object that fails being retried,
// then reported to the caller.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startWorker } from "./harness.mjs";

const SHARDS = 16;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The numbered object a `partition` query parameter sends a new session to (FNV-1a, as the worker). */
function objectOf(key) {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash % SHARDS;
}

/** A partition key whose sessions go to object `n`. */
function partitionOf(n) {
  for (let i = 0; ; i++) if (objectOf(`p${i}`) === n) return `p${i}`;
}

describe("cluster-wide operations over 16 objects", () => {
  let worker;
  const sockets = [];
  let a, b, c; // a: object 3 (polling then WebSocket), b: object 7 (WebSocket only), c: object 11 (polling only)

  /** A socket of /cluster on object `n`, named `name`. */
  async function member(n, name, transports) {
    // Custom headers, as an API key or a tenant would be sent; the cookie is a credential.
    const extraHeaders = { "x-team": `team-${name}`, cookie: "session=secret" };
    const socket = io(`${worker.url}/cluster`, { forceNew: true, transports, query: { partition: partitionOf(n) }, extraHeaders });
    sockets.push(socket);
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    assert.equal(await socket.timeout(3000).emitWithAck("set-name", name), name);
    return socket;
  }

  const ask = (socket, event, arg = {}) => socket.timeout(8000).emitWithAck(event, arg);
  const stats = async (n) => (await fetch(`${worker.url}/socket.io/__stats?object=${n}`)).json();
  const relays = async () => Promise.all([...Array(SHARDS).keys()].map(async (n) => (await stats(n)).relays));
  const names = (list) => list.map((s) => s.data.name).sort();

  before(async () => {
    // socket.io's default heartbeat.
    const vars = { SHARDS: String(SHARDS), PING_INTERVAL: "25000", PING_TIMEOUT: "20000" };
    worker = await startWorker("conformance", { vars });
    a = await member(3, "ann", ["polling", "websocket"]);
    b = await member(7, "bob", ["websocket"]);
    c = await member(11, "cyd", ["polling"]);
    assert.deepEqual([a, b, c].map((s) => s.id.split("-")[0]), ["3", "7", "11"], "socket ids name their objects");
    for (const s of [a, b]) assert.equal(await s.timeout(3000).emitWithAck("join", "duo"), "duo");
  });
  after(async () => {
    sockets.forEach((s) => s.close());
    await worker?.stop();
  });

  it("a broadcast to a room of 2 members among 16 objects costs at most 2 relays, to the members' objects", async () => {
    const before = await relays();
    const heard = [a, b].map((s) => new Promise((resolve) => s.once("room-message", resolve)));
    let outsiderHeard = false;
    c.on("room-message", () => (outsiderHeard = true));
    a.emit("to-room", "duo", "hi duo");
    assert.deepEqual(await Promise.all(heard), ["hi duo", "hi duo"]);
    await sleep(300);
    c.off("room-message");
    assert.equal(outsiderHeard, false, "a socket outside the room hears nothing");
    const spent = (await relays()).map((count, n) => count - before[n]);
    const total = spent.reduce((x, y) => x + y, 0);
    assert.ok(total <= 2, `relays per object: ${spent}`);
    assert.equal(spent[7], 1, `object 7 holds bob: ${spent}`);
    assert.deepEqual(spent.filter((_, n) => n !== 7), Array(SHARDS - 1).fill(0), `relays per object: ${spent}`);
  });

  it("a broadcast relayed to another object keeps binary inside its argument as binary", async () => {
    const heard = [a, b].map((s) => new Promise((resolve) => s.once("room-message", resolve)));
    b.emit("to-room", "duo", { name: "a.bin", data: Buffer.from([1, 2, 3]) });
    for (const got of await Promise.all(heard)) {
      assert.equal(got.name, "a.bin");
      assert.ok(ArrayBuffer.isView(got.data) || got.data instanceof ArrayBuffer, `binary, not ${JSON.stringify(got.data)}`);
      assert.deepEqual([...new Uint8Array(got.data.buffer ?? got.data, got.data.byteOffset, got.data.byteLength)], [1, 2, 3]);
    }
  });

  it("fetchSockets gathers the sockets of every object, all of them or a room's", async () => {
    assert.deepEqual(names(await ask(c, "fetch")), ["ann", "bob", "cyd"]);
    const duo = await ask(c, "fetch", { room: "duo" });
    assert.deepEqual(names(duo), ["ann", "bob"]);
    assert.ok(duo.every((s) => s.rooms.includes("duo") && s.rooms.includes(s.id)), JSON.stringify(duo));
    assert.deepEqual(names(await ask(a, "fetch", { except: "duo" })), ["cyd"]);
  });

  it("fetchSockets shows each socket's handshake headers, its custom ones included and its cookie left out", async () => {
    const all = await ask(a, "fetch");
    for (const s of all) {
      assert.equal(s.headers["x-team"], `team-${s.data.name}`, JSON.stringify(s.headers));
      assert.equal(s.headers.host, new URL(worker.url).host);
      assert.equal(s.headers.cookie, undefined, "credentials are not in handshake.headers");
      assert.equal(s.headers["sec-websocket-key"], undefined, "nor the WebSocket upgrade's own headers");
    }
  });

  it("socketsJoin and socketsLeave change the rooms of sockets on other objects", async () => {
    assert.equal(await ask(c, "join-all", { room: "duo", rooms: ["club"] }), "joined");
    assert.deepEqual(names(await ask(c, "fetch", { room: "club" })), ["ann", "bob"]);
    // The joined sockets get the room's broadcasts from a third object.
    const heard = [a, b].map((s) => new Promise((resolve) => s.once("room-message", resolve)));
    c.emit("to-room", "club", "welcome to the club");
    assert.deepEqual(await Promise.all(heard), ["welcome to the club", "welcome to the club"]);
    assert.equal(await ask(a, "leave-all", { rooms: ["club"] }), "left");
    assert.deepEqual(await ask(c, "fetch", { room: "club" }), []);
  });

  it("serverSideEmit runs the handler of every other object and returns their answers", async () => {
    const answers = await ask(a, "census", null);
    assert.equal(answers.length, SHARDS - 1, JSON.stringify(answers));
    const counted = answers.reduce((sum, answer) => sum + answer.sockets, 0);
    assert.equal(counted, 2, `bob and cyd, on other objects than ann's: ${JSON.stringify(answers)}`);
  });

  it("a broadcast with acknowledgements collects the answers of every object's sockets, or times out", async () => {
    b.on("question", (asker, callback) => callback(`bob answers ${asker === a.id ? "ann" : asker}`));
    c.on("question", (asker, callback) => callback(`cyd answers ${asker === a.id ? "ann" : asker}`));
    // dee shares ann's object: answers from the asker's own object count too.
    const d = await member(3, "dee", ["websocket"]);
    d.on("question", (asker, callback) => callback(`dee answers ${asker === a.id ? "ann" : asker}`));
    const all = await ask(a, "poll", { except: a.id, timeout: 3000 });
    d.close();
    assert.deepEqual({ ...all, responses: all.responses.sort() }, {
      responses: ["bob answers ann", "cyd answers ann", "dee answers ann"],
      timedOut: false,
    });
    c.off("question");
    c.on("question", () => {}); // never answers
    const started = Date.now();
    const partial = await ask(a, "poll", { except: a.id, timeout: 1000 });
    assert.deepEqual(partial, { responses: ["bob answers ann"], timedOut: true });
    assert.ok(Date.now() - started >= 900, "the timeout was waited for");
    b.off("question");
    c.off("question");
  });

  it("a broadcast with acknowledgements reaches its asker too, whose next events are handled while it waits", async () => {
    a.on("question", (asker, callback) => callback(asker === a.id ? "ann answers herself" : "?"));
    b.on("question", (asker, callback) => callback("bob answers"));
    c.on("question", () => {}); // never answers: the poll lasts until its timeout
    const order = [];
    const poll = ask(a, "poll", { timeout: 1500 }).then((answer) => (order.push("poll"), answer));
    // the asker's next event does not wait for its poll (as socket.io runs handlers side by side)
    const fetched = ask(a, "fetch", { room: "duo" }).then((sockets) => (order.push("fetch"), sockets));
    const [answer, duo] = await Promise.all([poll, fetched]);
    assert.deepEqual({ ...answer, responses: answer.responses.sort() }, {
      responses: ["ann answers herself", "bob answers"],
      timedOut: true,
    });
    assert.deepEqual(names(duo), ["ann", "bob"]);
    assert.deepEqual(order, ["fetch", "poll"]);
    for (const socket of [a, b, c]) socket.off("question");
  });

  it("a burst of room broadcasts from one WebSocket reaches another object in order, in fewer relays than broadcasts", async () => {
    const before = (await stats(3)).relays;
    const heard = [];
    const all = new Promise((resolve) => {
      const listener = (text) => heard.push(text) === 30 && (a.off("room-message", listener), resolve());
      a.on("room-message", listener);
    });
    // bob (object 7) sends them at once: the object takes the next while a relay is under way,
    // and relays what waits together (one relay per message before: each event awaited its own)
    for (let i = 0; i < 30; i++) b.emit("to-room", "duo", `burst ${i}`);
    await all;
    assert.deepEqual(heard, [...Array(30).keys()].map((i) => `burst ${i}`));
    const relayed = (await stats(3)).relays - before;
    assert.ok(relayed >= 1 && relayed < 30, `${relayed} relays reached object 3`);
  });

  it("a failing object is retried, then reported to the caller, a broadcast with acknowledgements returning the others' answers", async () => {
    // Object 7 refuses the next 2 requests of other objects: the third attempt passes.
    assert.equal((await fetch(`${worker.url}/socket.io/__fail?object=7&times=2`)).status, 200);
    const heard = new Promise((resolve) => b.once("room-message", resolve));
    a.emit("to-room", "duo", "despite failures");
    assert.equal(await heard, "despite failures");
    // Refusing more than the attempts: the operation fails and names the object.
    await fetch(`${worker.url}/socket.io/__fail?object=7&times=10`);
    const failed = await ask(c, "fetch", { room: "duo" });
    assert.match(failed.error, /objects \["7"\] did not take the operation/);
    // A broadcast with acknowledgements returns the answers of the objects that took it, timed
    // out (as socket.io's cluster adapters), instead of failing as a whole.
    a.on("question", (_asker, callback) => callback("ann answers"));
    const partial = await ask(c, "poll", { room: "duo", timeout: 2000 });
    a.off("question");
    assert.deepEqual(partial, { responses: ["ann answers"], timedOut: true });
    await fetch(`${worker.url}/socket.io/__fail?object=7&times=0`);
    assert.deepEqual(names(await ask(c, "fetch", { room: "duo" })), ["ann", "bob"]);
  });

  it("a socket that joins a room while the room's last other member on its object leaves it gets the room's broadcasts from other objects, on every path", async () => {
    // Two events of one object change its rooms at once: the leave would empty the room there,
    // the join fills it again. The room directory must end up listing the object (it was told
    // the removal last, and the joined member missed broadcasts for up to a ping interval).
    const paths = [["polling", "websocket"], ["websocket"], ["polling"]];
    const roomie = async (n, transports) => {
      const socket = io(`${worker.url}/rooms`, { forceNew: true, transports, query: { partition: partitionOf(n) } });
      sockets.push(socket);
      await new Promise((resolve, reject) => (socket.once("connect", resolve), socket.once("connect_error", reject)));
      return socket;
    };
    const sender = await roomie(9, ["websocket"]);
    const missed = [];
    for (const transports of paths) {
      const [leaver, joiner] = [await roomie(5, ["websocket"]), await roomie(5, transports)];
      for (let round = 0; round < 8; round++) {
        const room = `swap-${transports.join("+")}-${round}`;
        await ask(leaver, "join", room);
        await ask(sender, "join", room);
        await Promise.all([ask(leaver, "leave", room), ask(joiner, "join", room)]);
        const heard = new Promise((resolve) => {
          const timer = setTimeout(() => (joiner.off("room-message"), resolve(false)), 2000);
          joiner.once("room-message", () => (clearTimeout(timer), resolve(true)));
        });
        sender.emit("to-room-all", room, "welcome");
        if (!(await heard)) missed.push(room);
        await ask(joiner, "leave", room);
      }
      leaver.close();
      joiner.close();
    }
    sender.close();
    assert.deepEqual(missed, [], "rounds whose joined member missed the broadcast from another object");
  });

  it("an object that refuses broadcasts for longer than the retries gets them all, in order, once it takes them again", async () => {
    // Object 7 (bob's) refuses every request of other objects for a while: the relays of ann's
    // broadcasts (object 3) fail after their attempts, and the ones made meanwhile must neither
    // be lost nor overtake them (they reached bob before the failed ones, 5 s later, or never).
    const heard = [];
    const listener = (text) => heard.push(text);
    b.on("room-message", listener);
    const send = async (from, to) => {
      for (let i = from; i < to; i++) {
        a.emit("to-room", "duo", `m${i}`);
        await sleep(60);
      }
    };
    await fetch(`${worker.url}/socket.io/__fail?object=7&times=1000`);
    await send(0, 5);
    await sleep(1000); // the first relay has failed its 3 attempts by now
    await fetch(`${worker.url}/socket.io/__fail?object=7&times=0`);
    await send(5, 10);
    const deadline = Date.now() + 15_000; // the alarm relays again 5 s after a failure
    while (heard.length < 10 && Date.now() < deadline) await sleep(100);
    await sleep(300); // nothing more (no duplicate) comes
    b.off("room-message", listener);
    assert.deepEqual(heard, [...Array(10).keys()].map((i) => `m${i}`));
  });

  it("disconnectSockets disconnects a room's sockets on every object", async () => {
    const gone = [a, b].map((s) => new Promise((resolve) => s.once("disconnect", resolve)));
    assert.equal(await ask(c, "disconnect-all", { room: "duo" }), "disconnecting");
    assert.deepEqual(await Promise.all(gone), ["io server disconnect", "io server disconnect"]);
    assert.equal(c.connected, true, "a socket outside the room stays");
    assert.deepEqual(names(await ask(c, "fetch")), ["cyd"]);
  });
});

describe("a broadcast with acknowledgements to objects a real idle eviction took from memory", () => {
  let worker;
  const sockets = [];

  after(async () => {
    sockets.forEach((s) => s.close());
    await worker?.stop();
  });

  it("collects every object's answers, at once, as before the eviction, and after a restart of workerd on its persisted state; a namespace joined after the eviction gets the handshake's credentials", async () => {
    // Hibernatable WebSockets, so that the objects are evicted while their clients stay
    // connected; socket.io's heartbeat, so that no ping wakes them in the silence.
    const vars = { SHARDS: String(SHARDS), PING_INTERVAL: "25000", PING_TIMEOUT: "20000", HEARTBEAT: "hibernate" };
    worker = await startWorker("conformance", { vars });
    const paths = [["polling", "websocket"], ["websocket"], ["polling", "websocket"], ["websocket"]];
    const members = [];
    for (const [n, transports] of [2, 6, 10, 14].map((n, i) => [n, paths[i]])) {
      // handshake.headers past the 2 KB WebSocket attachment: each session's snapshot in storage.
      // A cookie or a bearer token, which /credentials's connect middleware asks for.
      const credentials = n % 8 === 2 ? { cookie: "theme=dark; session=abc" } : { authorization: "Bearer t0ken" };
      const extraHeaders = { "x-member": String(n), "x-large": "l".repeat(2500), ...credentials };
      const socket = io(`${worker.url}/cluster`, { forceNew: true, transports, query: { partition: partitionOf(n) }, extraHeaders });
      sockets.push(socket);
      await new Promise((resolve, reject) => (socket.once("connect", resolve), socket.once("connect_error", reject)));
      const name = `member of ${n}`;
      assert.equal(await socket.timeout(8000).emitWithAck("join", "everyone"), "everyone");
      await new Promise((resolve) => (socket.io.engine.transport.name === "websocket" ? resolve() : socket.io.engine.once("upgrade", resolve)));
      socket.on("question", (_asker, callback) => callback(name));
      members.push(socket);
    }
    const poll = async () => {
      const answer = await members[0].timeout(8000).emitWithAck("poll", { room: "everyone", timeout: 3000 });
      return { ...answer, responses: answer.responses.sort() };
    };
    const everyone = { responses: ["member of 10", "member of 14", "member of 2", "member of 6"], timedOut: false };
    assert.deepEqual(await poll(), everyone, "awake");
    const instances = async () => Promise.all([2, 6, 10, 14].map(async (n) => (await (await fetch(`${worker.url}/socket.io/__stats?object=${n}`)).json()).instances));
    const before = await instances();
    await sleep(20_000); // workerd evicts an object about 10 s after its last event (a loaded machine later)
    const answer = await poll();
    const after = await instances();
    assert.deepEqual(after.map((count, i) => count > before[i]), [true, true, true, true], `every object was evicted: instances ${before} -> ${after}`);
    assert.deepEqual(answer, everyone, "after the eviction: every answer, before the timeout");
    const fetched = await members[0].timeout(8000).emitWithAck("fetch", {});
    assert.deepEqual(
      fetched.map((s) => [s.headers["x-member"], s.headers["x-large"]?.length]).sort(),
      [["10", 2500], ["14", 2500], ["2", 2500], ["6", 2500]],
      "after the eviction: each socket's handshake.headers, read back from storage",
    );
    // A namespace joined now, on each member's connection: its middleware reads the cookie or
    // the token of the handshake, from before the eviction (socket.io keeps them as long).
    const joined = await Promise.all(
      members.map((member) => {
        const later = member.io.socket("/credentials").connect();
        sockets.push(later);
        return new Promise((resolve) => later.once("connect", () => resolve("connected")).once("connect_error", (e) => resolve(e.message)));
      }),
    );
    assert.deepEqual(joined, ["connected", "connected", "connected", "connected"], "after the eviction: the credentials of each connection");

    // A restart loses every session: the clients reconnect and join again, and the room
    // directory and each object's held rooms are read back from storage. A polling-only member
    // joins on a fifth object.
    const reconnected = members.map((socket) => new Promise((resolve) => socket.io.once("reconnect", resolve)));
    await worker.stop();
    worker = await startWorker("conformance", { vars, port: worker.port, persist: worker.persist });
    await Promise.all(reconnected);
    const polling = io(`${worker.url}/cluster`, { forceNew: true, transports: ["polling"], query: { partition: partitionOf(9) } });
    sockets.push(polling);
    polling.on("question", (_asker, callback) => callback("member of 9"));
    for (const socket of [...members, polling]) assert.equal(await socket.timeout(8000).emitWithAck("join", "everyone"), "everyone");
    assert.equal(polling.io.engine.transport.name, "polling");
    assert.deepEqual(await poll(), { ...everyone, responses: [...everyone.responses, "member of 9"].sort() }, "after the restart");
  });
});

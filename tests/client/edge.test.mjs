// Our client against our server: the ESM package in Chromium (page served by the static
// server, so every request is cross-origin) against the edge worker under `wrangler dev`
// with the `conformance` environment (reference handlers, CORS "*"), its heartbeat set back to
// socket.io's defaults (25 s / 20 s): nothing here tests heartbeats, and the deployment's
// 300/200 ms made a busy machine's half-second stall a `ping timeout`, after which a plain ack
// callback is never called (as with socket.io) and the test hung.
// Set WASMIO_PREBUILT=1 after `make build-worker` to skip the build.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launch, openPage, startStatic } from "./harness.mjs";
import { startWorker } from "../edge/harness.mjs";

let browser, web, worker;
const HEARTBEAT = { PING_INTERVAL: "25000", PING_TIMEOUT: "20000" };

before(async () => {
  [web, browser, worker] = await Promise.all([startStatic(), launch(), startWorker("conformance", { vars: HEARTBEAT })]);
});

after(async () => {
  await browser?.close();
  await web?.close();
  worker?.stop();
});

const page = () => openPage(browser, `${web.url}/pages/esm.html`);

/** Connects with `opts`, waits for `auth` and `connect`, and echoes text + binary once. */
async function roundTrip(pg, url, opts) {
  return pg.evaluate(
    async ([url, opts]) => {
      const socket = io(url, { ...opts, auth: { who: "edge" } });
      const auth = new Promise((res) => socket.on("auth", res));
      await new Promise((res, rej) => {
        socket.on("connect", res);
        socket.on("connect_error", rej);
      });
      const back = new Promise((res) => socket.once("message-back", (...args) => res(args)));
      socket.emit("message", "héllo ✓", new Uint8Array([1, 2, 3]));
      const [text, bin] = await back;
      const upgraded = new Promise((res) => {
        if (socket.io.engine.transport.name === "websocket") return res();
        socket.io.engine.on("upgrade", res);
      });
      if (opts.upgrade !== false && (opts.transports || []).length !== 1) await upgraded;
      const out = {
        auth: await auth,
        text,
        bin: bin instanceof ArrayBuffer && [...new Uint8Array(bin)],
        transport: socket.io.engine.transport.name,
        id: typeof socket.id === "string" && socket.id.length > 0,
      };
      socket.disconnect();
      return out;
    },
    [url, opts],
  );
}

describe("wasmio client against the edge worker (conformance)", () => {
  for (const [name, opts, transport] of [
    ["polling only", { transports: ["polling"] }, "polling"],
    ["WebSocket only", { transports: ["websocket"] }, "websocket"],
    ["polling upgraded to WebSocket", {}, "websocket"],
  ]) {
    test(`connects cross-origin: ${name}`, async () => {
      const { page: pg, errors, close } = await page();
      const r = await roundTrip(pg, worker.url, opts);
      assert.deepEqual(r, { auth: { who: "edge" }, text: "héllo ✓", bin: [1, 2, 3], transport, id: true });
      assert.deepEqual(errors, []);
      await close();
    });
  }

  test("/ and /custom on one manager, each with its auth echoed", async () => {
    const { page: pg, errors, close } = await page();
    const r = await pg.evaluate(async (url) => {
      const main = io(url, { auth: { token: "main" } });
      const custom = io(url + "/custom", { auth: { token: "custom", n: [1, 2] } });
      const auths = await Promise.all([main, custom].map((s) => new Promise((res) => s.on("auth", res))));
      const out = { shared: main.io === custom.io, nsps: [main.nsp, custom.nsp], auths, ids: [main.id, custom.id] };
      main.disconnect();
      custom.disconnect();
      return out;
    }, worker.url);
    assert.equal(r.shared, true);
    assert.deepEqual(r.nsps, ["/", "/custom"]);
    assert.deepEqual(r.auths, [{ token: "main" }, { token: "custom", n: [1, 2] }]);
    assert.notEqual(r.ids[0], r.ids[1]);
    assert.deepEqual(errors, []);
    await close();
  });

  test("message -> message-back with text and binary arguments, nested", async () => {
    const { page: pg, errors, close } = await page();
    const r = await pg.evaluate(async (url) => {
      const socket = io(url);
      await new Promise((res) => socket.on("connect", res));
      const back = () => new Promise((res) => socket.once("message-back", (...args) => res(args)));
      const show = (v) =>
        v instanceof ArrayBuffer
          ? { ab: [...new Uint8Array(v)] }
          : ArrayBuffer.isView(v)
            ? { view: v.constructor.name }
            : Array.isArray(v)
              ? v.map(show)
              : v && typeof v === "object"
                ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, show(x)]))
                : v;
      const text = back();
      socket.emit("message", "a", 1, true, null, { b: ["c", { d: 2.5 }] }, "ünïcødé ✓");
      const out = { text: show(await text) };
      const bin = back();
      const buf = new ArrayBuffer(3);
      new Uint8Array(buf).set([9, 8, 7]);
      socket.emit(
        "message",
        buf,
        new Uint16Array([1, 256]),
        new Uint8Array([0, 1, 2, 3, 4]).subarray(1, 3),
        { nested: { deep: [new Int8Array([-1]), "x", new ArrayBuffer(0)] }, n: 1 },
        "tail",
      );
      out.bin = show(await bin);
      socket.disconnect();
      return out;
    }, worker.url);
    assert.deepEqual(r.text, ["a", 1, true, null, { b: ["c", { d: 2.5 }] }, "ünïcødé ✓"]);
    assert.deepEqual(r.bin, [
      { ab: [9, 8, 7] },
      { ab: [1, 0, 0, 1] }, // little-endian Uint16Array bytes
      { ab: [1, 2] },
      { nested: { deep: [{ ab: [255] }, "x", { ab: [] }] }, n: 1 },
      "tail",
    ]);
    assert.deepEqual(errors, []);
    await close();
  });

  test("acknowledgements: message-with-ack, binary in acks, timeouts", async () => {
    const { page: pg, errors, close } = await page();
    const r = await pg.evaluate(async (url) => {
      const socket = io(url);
      await new Promise((res) => socket.on("connect", res));
      const out = {};
      out.cb = await new Promise((res) => socket.emit("message-with-ack", 1, "2", { three: [3] }, (...args) => res(args)));
      const bin = await socket.emitWithAck("message-with-ack", new Uint8Array([5, 6]), { x: new Uint8Array([7]) });
      out.bin = [bin instanceof ArrayBuffer && [...new Uint8Array(bin)]];
      out.withTimeout = await socket.timeout(2000).emitWithAck("message-with-ack", "in time");
      // The edge answers an event nobody handles with an error in the ack (where the
      // official server stays silent).
      // An event nobody handles is dropped silently, as socket.io does: the ack times out.
      out.unknown = await socket.timeout(500).emitWithAck("nobody-handles", "x").catch((e) => ({ timedOut: e.message }));
      // `ping` on /server-disconnect is handled (-> `pong`) but never acknowledged: the
      // timeout fires with an error.
      const other = io(url + "/server-disconnect");
      await new Promise((res) => other.on("connect", res));
      const pong = new Promise((res) => other.once("pong", res));
      const t0 = performance.now();
      out.timeout = await new Promise((res) =>
        other.timeout(200).emit("ping", "x", (err, ...rest) => res({ err: err && err.message, rest })),
      );
      out.elapsed = performance.now() - t0;
      out.pong = await pong;
      try {
        await other.timeout(100).emitWithAck("ping");
        out.rejected = false;
      } catch (e) {
        out.rejected = e.message;
      }
      other.disconnect();
      // Acks still work after the timeouts (ids are not mixed up).
      out.after = await socket.emitWithAck("message-with-ack", "after");
      socket.disconnect();
      return out;
    }, worker.url);
    assert.deepEqual(r.cb, [1, "2", { three: [3] }]);
    assert.deepEqual(r.bin, [[5, 6]]);
    assert.equal(r.withTimeout, "in time");
    assert.deepEqual(r.unknown, { timedOut: "operation has timed out" });
    assert.deepEqual(r.timeout, { err: "operation has timed out", rest: [] });
    assert.equal(r.pong, "x");
    assert.ok(r.elapsed >= 190 && r.elapsed < 2000, `timeout after ${r.elapsed} ms`);
    assert.equal(r.rejected, "operation has timed out");
    assert.equal(r.after, "after");
    assert.deepEqual(errors, []);
    await close();
  });

  test("connect_error for an unknown namespace", async () => {
    const { page: pg, errors, close } = await page();
    const r = await pg.evaluate(async (url) => {
      const main = io(url);
      const bad = io(url + "/nope");
      const err = await new Promise((res) => bad.on("connect_error", res));
      await new Promise((res) => (main.connected ? res() : main.on("connect", res)));
      const echo = await main.emitWithAck("message-with-ack", "still here");
      const out = {
        message: err.message,
        isError: err instanceof Error,
        connected: bad.connected,
        active: bad.active,
        mainConnected: main.connected,
        echo,
      };
      main.disconnect();
      bad.disconnect();
      return out;
    }, worker.url);
    assert.deepEqual(r, {
      message: "Invalid namespace",
      isError: true,
      connected: false,
      active: false,
      mainConnected: true,
      echo: "still here",
    });
    assert.deepEqual(errors, []);
    await close();
  });
});

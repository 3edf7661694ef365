// What socket.io-client code reaches into beyond emit and on, in Chromium against the official
// socket.io@4.8.4 server, asserted of wasmio and of the official socket.io-client 4.8.4 alike
// (the same page script runs on each): the engine object (created on the first connection,
// `close()` as a dropped connection), `socket.auth` and `io.opts.query` changed before an
// automatic reconnection, acknowledgement callbacks dropped on disconnect, transport errors'
// fields, and the browser going offline.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "../edge/harness.mjs";
import { launch, openPage, startIo, startStatic } from "./harness.mjs";

let browser, web, server;

before(async () => {
  web = await startStatic();
  browser = await launch();
  server = await startIo((io) =>
    io.on("connection", (socket) => {
      socket.on("whoami", (cb) => cb([socket.handshake.auth.token, socket.handshake.query.v]));
      socket.on("silent", () => {});
    }),
  );
});

after(async () => {
  await browser?.close();
  await server?.close();
  await web?.close();
});

const CLIENTS = { wasmio: "/pages/esm.html", "socket.io-client": "/pages/official.html" };

for (const [client, pagePath] of Object.entries(CLIENTS)) {
  describe(`${client} against socket.io 4.8.4`, () => {
    /**
     * Runs `script(arg)` in a fresh page of this client (or `onPage(page)`); fails on page
     * errors but those matching `expected` (Chromium logs every failed request).
     */
    async function run(script, { onPage, arg = server.url, expected } = {}) {
      const { page, errors, close } = await openPage(browser, `${web.url}${pagePath}`);
      try {
        const result = onPage ? await onPage(page) : await page.evaluate(script, arg);
        assert.deepEqual(errors.filter((e) => !expected?.test(e.message)), []);
        return result;
      } finally {
        await close();
      }
    }

    test("autoConnect: false has no engine until connect(); then its id, transport and state", async () => {
      const r = await run(async (url) => {
        const socket = io(url, { forceNew: true, autoConnect: false });
        const before = socket.io.engine;
        socket.connect();
        await new Promise((res) => socket.on("connect", res));
        const engine = socket.io.engine;
        const out = { before, id: typeof engine.id, transport: typeof engine.transport.name, state: engine.readyState };
        socket.disconnect();
        return out;
      });
      assert.deepEqual(r, { before: undefined, id: "string", transport: "string", state: "open" });
    });

    test("engine.close() ends the connection as if lost; the socket reconnects", async () => {
      const r = await run(async (url) => {
        const socket = io(url, { forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
        await new Promise((res) => socket.on("connect", res));
        const events = [];
        const first = socket.id;
        socket.io.engine.on("close", (reason) => events.push("engine close: " + reason));
        socket.on("disconnect", (reason) => events.push("disconnect: " + reason));
        const back = new Promise((res) => socket.io.on("reconnect", res));
        socket.io.engine.close();
        await back;
        if (!socket.connected) await new Promise((res) => socket.once("connect", res));
        const out = { events: [...events], connected: socket.connected, newId: socket.id !== first };
        socket.disconnect();
        return out;
      });
      assert.deepEqual(r, {
        events: ["disconnect: forced close", "engine close: forced close"],
        connected: true,
        newId: true,
      });
    });

    test("socket.auth and io.opts.query changed before an automatic reconnection are sent with it", async () => {
      const r = await run(async (url) => {
        const socket = io(url, { forceNew: true, auth: { token: "one" }, query: { v: "1" }, reconnectionDelay: 50 });
        await new Promise((res) => socket.on("connect", res));
        const before = await socket.emitWithAck("whoami");
        socket.auth = { token: "two" }; // a refreshed token
        socket.io.on("reconnect_attempt", () => (socket.io.opts.query.v = "2"));
        const back = new Promise((res) => socket.io.on("reconnect", res));
        socket.io.engine.close();
        await back;
        if (!socket.connected) await new Promise((res) => socket.once("connect", res));
        const after = await socket.emitWithAck("whoami");
        socket.disconnect();
        return { before, after };
      });
      assert.deepEqual(r, { before: ["one", "1"], after: ["two", "2"] });
    });

    test("acknowledgements awaited at a disconnect: a plain callback is dropped, one taking an error is told", async () => {
      const r = await run(async (url) => {
        const socket = io(url, { forceNew: true });
        await new Promise((res) => socket.on("connect", res));
        let plainCalled = false;
        socket.emit("silent", () => (plainCalled = true));
        const withError = socket.timeout(5000).emitWithAck("silent").then(() => "resolved", (e) => e.message);
        await new Promise((res) => setTimeout(res, 100));
        const pending = Object.keys(socket.acks).length;
        socket.disconnect();
        const told = await withError;
        await new Promise((res) => setTimeout(res, 100));
        return { pending, left: Object.keys(socket.acks).length, plainCalled, told };
      });
      assert.deepEqual(r, { pending: 2, left: 0, plainCalled: false, told: "socket has been disconnected" });
    });

    test("a transport error is a TransportError with type, description and context", async () => {
      const closed = `http://127.0.0.1:${await freePort()}`; // nothing listens there
      const r = await run(
        async (url) => {
          const socket = io(url, { forceNew: true, reconnection: false, transports: ["polling"] });
          const err = await new Promise((res) => socket.on("connect_error", res));
          socket.disconnect();
          return { message: err.message, type: err.type, description: "description" in err, context: "context" in err };
        },
        { arg: closed, expected: /ERR_CONNECTION_REFUSED/ },
      );
      assert.deepEqual(r, { message: "xhr poll error", type: "TransportError", description: true, context: true });
    });

    test("the browser going offline ends the connection at once; back online, the socket reconnects", async () => {
      const r = await run(null, { onPage: async (page) => {
        await page.evaluate(async (url) => {
          window.events = [];
          const socket = (window.socket = io(url, { forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 200 }));
          socket.on("disconnect", (reason, details) => events.push(["disconnect", reason, details && details.description]));
          socket.on("connect", () => events.push(["connect"]));
          await new Promise((res) => socket.once("connect", res));
        }, server.url);
        await page.context().setOffline(true);
        await page.waitForFunction(() => events.some(([e]) => e === "disconnect"), null, { timeout: 5000 });
        await page.context().setOffline(false);
        await page.waitForFunction(() => events.filter(([e]) => e === "connect").length === 2, null, { timeout: 10000 });
        return page.evaluate(() => {
          const seen = [...events];
          socket.disconnect();
          return seen;
        });
      } });
      assert.deepEqual(r, [["connect"], ["disconnect", "transport close", "network connection lost"], ["connect"]]);
    });
  });
}

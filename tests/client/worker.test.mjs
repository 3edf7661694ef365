// The ESM package inside a dedicated module worker (`new Worker(url, { type: "module" })`,
// no window or document) against the official socket.io@4.8.4 server: connect, emit with
// acks (text, binary, callback), disconnect, reported to the page through postMessage.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launch, openPage, startIo, startStatic } from "./harness.mjs";

let browser, web, server;
const seen = [];

before(async () => {
  web = await startStatic();
  browser = await launch();
  server = await startIo((io) =>
    io.on("connection", (socket) => {
      seen.push(["connection", socket.conn.transport.name, socket.handshake.auth]);
      socket.emit("welcome", socket.id, Buffer.from([9]));
      socket.on("echo", (...args) => args.pop()(...args));
      socket.on("disconnect", (reason) => seen.push(["disconnect", reason]));
    }),
  );
});

after(async () => {
  await browser?.close();
  await server?.close();
  await web?.close();
});

describe("ESM package in a module worker", () => {
  for (const [name, opts, transport] of [
    ["polling upgraded to WebSocket", { auth: { in: "worker" } }, "websocket"],
    ["polling only", { transports: ["polling"] }, "polling"],
    ["WebSocket only", { transports: ["websocket"] }, "websocket"],
  ]) {
    test(`emit/ack round trip: ${name}`, async () => {
      const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/worker.html`);
      const r = await pg.evaluate(([url, opts]) => run({ url, opts }), [server.url, opts]);
      assert.equal(r.error, undefined);
      assert.equal(r.hasWindow, false);
      assert.equal(r.hasDocument, false);
      assert.equal(r.connected, true);
      assert.deepEqual(r.welcome, ["string", [9]]);
      assert.deepEqual(r.ack, "from a worker ✓");
      assert.deepEqual(r.bin, [3, 2, 1]);
      assert.equal(r.cb, 42);
      assert.equal(r.transport, transport);
      assert.equal(r.reason, "io client disconnect");
      assert.deepEqual(errors, []);
      await close();
    });
  }

  test("the server saw the worker's handshake", () => {
    assert.ok(seen.some(([k, , auth]) => k === "connection" && auth.in === "worker"));
  });
});

// The classic build, as `<script src="/socket.io/socket.io.js">` loads it (the script fetches
// socket.io.wasm from beside itself), exposes window.io like socket.io-client's bundle and
// talks to socket.io@4.8.4.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launch, openPage, startIo, startStatic } from "./harness.mjs";

let browser, web, server;

before(async () => {
  web = await startStatic();
  browser = await launch();
  server = await startIo((io) => io.on("connection", (socket) => socket.on("echo", (...a) => a.pop()(...a))));
});

after(async () => {
  await browser?.close();
  await server?.close();
  await web?.close();
});

test("<script src> defines window.io and connects", async () => {
  const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/classic.html`);
  const r = await pg.evaluate(async (url) => {
    const api = [typeof io.Manager, typeof io.Socket, typeof io.connect, io.io === io, io.protocol];
    const socket = io(url);
    await new Promise((res) => socket.on("connect", res));
    const echo = await socket.emitWithAck("echo", { hi: [1, new Uint8Array([5])] });
    socket.disconnect();
    const fetched = performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname);
    return { api, hi: echo.hi[0], bin: [...new Uint8Array(echo.hi[1])], wasm: fetched.filter((p) => p.endsWith(".wasm")) };
  }, server.url);
  assert.deepEqual(r, {
    api: ["function", "function", "function", true, 5],
    hi: 1,
    bin: [5],
    wasm: ["/socket.io/socket.io.wasm"],
  });
  assert.deepEqual(errors, []);
  await close();
});

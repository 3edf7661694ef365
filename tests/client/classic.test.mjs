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

/** The classic builds compared: wasmio's, and socket.io-client's. */
const CLASSIC = { wasmio: "/socket.io/socket.io.js", "socket.io-client": "/official/socket.io.min.js" };

for (const [client, script] of Object.entries(CLASSIC)) {
  test(`${client}: a classic worker loads the classic build with importScripts() and connects`, async () => {
    const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/classic.html`);
    const r = await pg.evaluate(
      ([url, script]) =>
        new Promise((res) => {
          const worker = new Worker(`/pages/classic-worker.js?client=${encodeURIComponent(script)}`);
          worker.onmessage = ({ data }) => res(data);
          worker.onerror = (e) => res({ error: e.message });
          worker.postMessage({ url });
        }),
      [server.url, script],
    );
    assert.deepEqual(r, { echo: "from a classic worker" });
    assert.deepEqual(errors, []);
    await close();
  });

  test(`${client}: under an AMD loader, the classic build defines a module instead of window.io`, async () => {
    const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/amd.html`);
    const r = await pg.evaluate(async ([url, script]) => {
      await new Promise((res, rej) => {
        const element = document.createElement("script");
        element.src = script;
        element.onload = res;
        element.onerror = rej;
        document.head.append(element);
      });
      const io = defined.length === 1 && defined[0]();
      const socket = io(url, { forceNew: true });
      await new Promise((res) => socket.on("connect", res));
      const echo = await socket.emitWithAck("echo", "from a module");
      socket.disconnect();
      return { global: typeof window.io, defined: defined.length, api: typeof io.Manager, echo };
    }, [server.url, script]);
    assert.deepEqual(r, { global: "undefined", defined: 1, api: "function", echo: "from a module" });
    assert.deepEqual(errors, []);
    await close();
  });
}

// Blob and File arguments (read asynchronously, sent as binary attachments) in Chromium
// against the official socket.io@4.8.4 server: placement, order of emits, acks both ways,
// emitWithAck, timeout and volatile, over each transport.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launch, openPage, startIo, startStatic, until } from "./harness.mjs";

let browser, web, server;
const seen = {}; // socket id -> what the server received, in order

const show = (v) =>
  Buffer.isBuffer(v) ? { buffer: [...v] } : Array.isArray(v) ? v.map(show) : v && typeof v === "object"
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, show(x)])) : v;

before(async () => {
  web = await startStatic();
  browser = await launch();
  server = await startIo((io) => {
    io.on("connection", (socket) => {
      const log = (seen[socket.id] = []);
      socket.onAny((ev, ...args) => {
        const cb = typeof args[args.length - 1] === "function" ? args.pop() : undefined;
        log.push([ev, ...show(args)]);
        if (ev === "echo") cb(...args);
        if (ev === "size") cb(args[0].length, Buffer.isBuffer(args[0]));
      });
      socket.on("ask", async () => {
        const answer = await socket.emitWithAck("question");
        log.push(["answer", show(answer)]);
      });
      socket.on("disconnect", (reason) => log.push(["disconnect", reason]));
    });
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await web?.close();
});

for (const transport of ["websocket", "polling"]) {
  describe(`Blob arguments over ${transport}`, () => {
    test("a nested Blob arrives as a Buffer in its place; the emits after it keep their order", async () => {
      const { page, errors, close } = await openPage(browser, `${web.url}/pages/esm.html`);
      const id = await page.evaluate(async ([url, transport]) => {
        const socket = io(url, { transports: [transport], forceNew: true });
        // before the connection and the wasm module: queued, in order
        socket.emit("early", new Blob([Uint8Array.of(9)]));
        socket.emit("early-text", "after early");
        await new Promise((res) => socket.on("connect", res));
        socket.emit("upload", { name: "a", data: new Blob([Uint8Array.of(1, 2, 3)]), list: [1, new Blob(["hi"])] });
        socket.emit("text", "right after");
        socket.emit("mixed", new Uint8Array([4, 5]), new File([Uint8Array.of(6)], "f.bin"), "end");
        const big = new Blob([new Uint8Array(200000).fill(7)]);
        socket.emit("big", big);
        socket.emit("text", "after big");
        await socket.emitWithAck("echo", "sync"); // everything before has been received
        return socket.id;
      }, [server.url, transport]);
      const log = seen[id].filter(([ev]) => ev !== "big");
      assert.deepEqual(log.slice(0, 6), [
        ["early", { buffer: [9] }],
        ["early-text", "after early"],
        ["upload", { name: "a", data: { buffer: [1, 2, 3] }, list: [1, { buffer: [104, 105] }] }],
        ["text", "right after"],
        ["mixed", { buffer: [4, 5] }, { buffer: [6] }, "end"],
        ["text", "after big"],
      ]);
      const events = seen[id].map(([ev]) => ev);
      assert.ok(events.indexOf("big") === 5 && events.indexOf("echo") === 7, events.join());
      const big = seen[id][5][1].buffer;
      assert.ok(big.length === 200000 && big.every((b) => b === 7));
      assert.deepEqual(errors, []);
      await close();
    });

    test("acks with Blobs: emitWithAck, callbacks, timeout, volatile, answers to the server", async () => {
      const { page, errors, close } = await openPage(browser, `${web.url}/pages/esm.html`);
      const r = await page.evaluate(async ([url, transport]) => {
        const socket = io(url, { transports: [transport], forceNew: true });
        await new Promise((res) => socket.on("connect", res));
        const bytes = (b) => [...new Uint8Array(b)];
        const out = {};
        const echoed = await socket.emitWithAck("echo", { a: new Blob([Uint8Array.of(1, 2, 3)]), b: [new Blob(["x"])] });
        out.withAck = [echoed.a instanceof ArrayBuffer, bytes(echoed.a), bytes(echoed.b[0])];
        out.callback = await new Promise((res) => socket.emit("size", new Blob([new Uint8Array(5)]), (...a) => res(a)));
        out.timeoutOk = await socket.timeout(5000).emitWithAck("size", new Blob(["abcd"]));
        out.timeoutErr = await new Promise((res) =>
          socket.timeout(50).emit("silent", new Blob(["z"]), (err) => res(err && err.message)),
        );
        // A volatile emit is dropped while the transport writes (a POST in flight): it goes out
        // once the writes above are done.
        await new Promise((res) => setTimeout(res, 500));
        socket.volatile.emit("volatile", new Blob(["v"]));
        socket.on("question", (cb) => cb({ blob: new Blob([Uint8Array.of(42)]) }));
        socket.emit("ask");
        out.id = socket.id;
        return out;
      }, [server.url, transport]);
      assert.deepEqual(r.withAck, [true, [1, 2, 3], [120]]);
      assert.deepEqual(r.callback, [5, true]);
      assert.equal(r.timeoutOk, 4);
      assert.equal(r.timeoutErr, "operation has timed out");
      await until(() => seen[r.id].some(([ev]) => ev === "answer"));
      assert.deepEqual(seen[r.id].find(([ev]) => ev === "answer"), ["answer", { blob: { buffer: [42] } }]);
      assert.ok(seen[r.id].some(([ev, b]) => ev === "volatile" && b.buffer[0] === 118));
      assert.deepEqual(errors, []);
      await close();
    });

    test("a disconnect right after a Blob emit comes after it", async () => {
      const { page, errors, close } = await openPage(browser, `${web.url}/pages/esm.html`);
      const id = await page.evaluate(async ([url, transport]) => {
        const socket = io(url, { transports: [transport], forceNew: true });
        await new Promise((res) => socket.on("connect", res));
        const id = socket.id;
        socket.emit("last", new Blob(["bye"]));
        socket.disconnect();
        return id;
      }, [server.url, transport]);
      await until(() => seen[id].some(([ev]) => ev === "disconnect"));
      assert.deepEqual(seen[id], [["last", { buffer: [98, 121, 101] }], ["disconnect", "client namespace disconnect"]]);
      assert.deepEqual(errors, []);
      await close();
    });
  });
}

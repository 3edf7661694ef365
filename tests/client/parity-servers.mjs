// What the browser parity tests share (parity.test.mjs, parity-options.test.mjs): the official
// socket.io@4.8.4 servers they run against, with their handlers, Chromium, and a page of each
// client (wasmio and the official socket.io-client 4.8.4) for every test script.
import { after, before, describe, test as nodeTest } from "node:test";
import assert from "node:assert/strict";
import { launch, openPage, startIo, startStatic } from "./harness.mjs";

// Live bindings: set by `withServers`'s `before`, read by the tests when they run.
export let browser, web, server, custom, slow, wildcard, forbidding, pollingOnly, quick;

/** The handlers of every test server. */
function handlers(io) {
  // Why each engine connection closed, by its id (ends with the connection's close event).
  const engineCloses = new Map();
  io.engine.on("connection", (conn) => conn.on("close", (reason) => engineCloses.set(conn.id, reason)));
  io.on("connection", (socket) => {
    socket.on("engine-closed", (id, cb) => cb(engineCloses.get(id) ?? null));
    socket.on("whoami", (cb) => cb([socket.handshake.auth.token, socket.handshake.query.v]));
    socket.on("handshake", (cb) => {
      const { headers, query } = socket.handshake;
      cb({ token: headers["x-token"], poll: headers["x-poll"], protocol: headers["sec-websocket-protocol"], t: query.t });
    });
    socket.on("silent", () => {});
    socket.on("drop", () => socket.conn.close());
    socket.on("echo", (...args) => args.pop()(...args));
    socket.on("ping-me", () => socket.emit("first", 1) && socket.emit("second", 2));
    // An event whose JSON breaks off after its name.
    socket.on("send-bad-json", () => socket.conn.write('2["tick",1,}'));
    // An event of the caller's choosing, as raw Socket.IO text on the main namespace.
    socket.on("send-raw", (text) => socket.conn.write(text));
    // A binary event of the caller's choosing: its raw text, then one attachment.
    socket.on("send-raw-binary", (text, bytes) => {
      socket.conn.write(text);
      socket.conn.write(Buffer.from(bytes));
    });
    const notes = [];
    socket.on("note", (...args) => notes.push(args.map((a) => (Buffer.isBuffer(a) ? [...a] : a))));
    socket.on("notes", (cb) => cb(notes));
    socket.on("query", (cb) => cb(socket.handshake.query));
  });
  // A namespace whose middleware refuses everyone, with no data.
  io.of("/refused").use((socket, next) => next(new Error("refused")));
}

/** Starts the browser, the page server and the socket.io servers before a file's tests, and
 * stops them after. */
export function withServers() {
  before(startAll);
  after(stopAll);
}

async function startAll() {
  web = await startStatic();
  browser = await launch();
  server = await startIo(handlers);
  custom = await startIo(handlers, { path: "/custom" });
  // Answers every HTTP request of the handshake after 1 s.
  slow = await startIo(handlers, { allowRequest: (req, callback) => setTimeout(() => callback(null, true), 1000) });
  // CORS for any origin without credentials: a request made with credentials is refused.
  wildcard = await startIo(handlers, { cors: { origin: "*" } });
  // Refuses every handshake (403 Forbidden).
  forbidding = await startIo(handlers, { allowRequest: (req, callback) => callback(null, false) });
  // Long-polling only: a WebSocket is refused.
  pollingOnly = await startIo(handlers, { transports: ["polling"] });
  // A heartbeat of 500 ms: a client that stopped hearing from it learns within a second.
  quick = await startIo(handlers, { pingInterval: 300, pingTimeout: 200 });
}

async function stopAll() {
  await browser?.close();
  await Promise.all([server?.close(), custom?.close(), slow?.close(), wildcard?.close(), forbidding?.close(), pollingOnly?.close(), quick?.close()]);
  await web?.close();
}

/** Every test fails after 20 s rather than hanging the file. */
export const test = (name, fn) => nodeTest(name, { timeout: 20_000 }, fn);

const CLIENTS = { wasmio: "/pages/esm.html", "socket.io-client": "/pages/official.html" };


/**
 * Declares `tests(run)` once per client, each in a describe of its own. `run(script, options)`
 * runs `script(arg)` in a fresh page of that client (or `onPage(page)`); it fails on page
 * errors but those matching `expected` (Chromium logs every failed request).
 */
export function forEachClient(tests) {
  for (const [client, pagePath] of Object.entries(CLIENTS)) {
    describe(`${client} against socket.io 4.8.4`, () => {
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
      tests(run);
    });
  }
}

// The main job end to end: the seed article's chat page (www/index.html, which loads
// /socket.io/socket.io.js and calls io() unchanged) in two real Chromium pages, served by
// the default edge worker under real workerd. Needs the browser client built (make build).
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { startWorker } from "../edge/harness.mjs";

const CHROMIUM_ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];
let worker;
let browser;

before(async () => {
  worker = await startWorker();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
  worker?.stop();
});

async function openChat() {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${worker.url}/`);
  await page.waitForFunction(() => window.io && document.readyState === "complete");
  // Connected before it chats: what is sent before a tab connects does not reach it.
  await page.waitForFunction(() => typeof socket !== "undefined" && socket.connected);
  return { page, errors };
}

const messages = (page) => page.$$eval("#messages li", (items) => items.map((li) => li.lastChild.textContent));

it("serves the client bundle the page loads, and its wasm", async () => {
  const res = await fetch(`${worker.url}/socket.io/socket.io.js`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /javascript/);
  const wasm = await fetch(`${worker.url}/socket.io/socket.io.wasm`);
  assert.equal(wasm.status, 200);
  assert.match(wasm.headers.get("content-type"), /application\/wasm/);
  assert.deepEqual([...new Uint8Array(await wasm.arrayBuffer()).slice(0, 4)], [0, 97, 115, 109], "a wasm module");
  // The name the official server also serves its minified bundle under: the same script.
  const min = await fetch(`${worker.url}/socket.io/socket.io.min.js`);
  assert.equal(min.status, 200);
  assert.match(min.headers.get("content-type"), /javascript/);
  assert.equal(await min.text(), await res.text());
  // A page revalidating its cached copy gets 304 without the file, for the script and its wasm.
  for (const [file, first] of [["socket.io.js", res], ["socket.io.wasm", wasm]]) {
    const etag = first.headers.get("etag");
    assert.ok(etag, `${file} has an ETag`);
    const again = await fetch(`${worker.url}/socket.io/${file}`, { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304, `${file} revalidated`);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
  }
});

it("two browser tabs chat through the edge", async () => {
  const a = await openChat();
  const b = await openChat();
  await a.page.fill("#input", "hello from a");
  await a.page.click("button");
  await b.page.waitForFunction(() => document.querySelectorAll("#messages li").length >= 1);
  await b.page.fill("#input", "b answers");
  await b.page.click("button");
  for (const { page } of [a, b]) {
    await page.waitForFunction(() => document.querySelectorAll("#messages li").length >= 2);
    assert.deepEqual(await messages(page), ["hello from a", "b answers"]);
  }
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.page.close();
  await b.page.close();
});

it("every chat message is broadcast to all as { id, text, ts }, official client included", async () => {
  const official = io(worker.url, { transports: ["websocket"], forceNew: true });
  await new Promise((resolve) => official.on("connect", resolve));
  const received = new Promise((resolve) => official.on("chat message", resolve));
  const { page } = await openChat();
  await page.fill("#input", "from the browser");
  await page.click("button");
  const data = await received;
  assert.deepEqual(Object.keys(data).sort(), ["id", "text", "ts"]);
  assert.equal(data.text, "from the browser");
  assert.equal(typeof data.id, "string");
  assert.ok(Math.abs(Date.now() - data.ts) < 60_000);
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  // Not text: shown as its JSON (the page threw on it before, and showed nothing).
  official.emit("chat message", { toString: 0, valueOf: 0 });
  official.emit("chat message", "from node");
  await page.waitForFunction(() => [...document.querySelectorAll("#messages li")].some((li) => li.textContent.includes("from node")));
  assert.deepEqual(pageErrors, []);
  const shown = await page.$$eval("#messages li", (items) => items.map((li) => li.textContent));
  assert.equal(shown.length, 3, `every message shown: ${shown}`);
  assert.ok(shown[1].endsWith('{"toString":0,"valueOf":0}'), `the value as JSON: ${shown[1]}`);
  official.close();
  await page.close();
});

/** The shard a `partition` query parameter sends a session to (FNV-1a, as the worker). */
function shardOf(key, shards) {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h % shards;
}

it("a broadcast reaches the sockets of every Durable Object", async () => {
  // one partition key per shard of the default deployment (SHARDS = 4)
  const keys = [];
  for (let i = 0; keys.length < 4; i++) {
    const key = `p${i}`;
    if (!keys.some((k) => shardOf(k, 4) === shardOf(key, 4))) keys.push(key);
  }
  const clients = await Promise.all(
    keys.map((partition) => {
      const socket = io(worker.url, { transports: ["websocket"], forceNew: true, query: { partition } });
      return new Promise((resolve) => socket.on("connect", () => resolve(socket)));
    }),
  );
  // the sid names the object: four different objects
  const objects = new Set(clients.map((c) => c.io.engine.id.split("-")[0]));
  assert.equal(objects.size, 4);
  const got = clients.map((c) => new Promise((resolve) => c.on("chat message", (m) => resolve(m.text))));
  clients[2].emit("chat message", "to everyone");
  assert.deepEqual(await Promise.all(got), ["to everyone", "to everyone", "to everyone", "to everyone"]);
  for (const c of clients) c.close();
});

it("refuses WebSockets from another origin (CORS does not protect them)", async () => {
  const url = `${worker.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`;
  const attempt = (origin) =>
    new Promise((resolve) => {
      const ws = new WebSocket(url, { origin });
      ws.on("open", () => {
        ws.close();
        resolve(101);
      });
      ws.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve([res.statusCode, JSON.parse(body)]));
      });
      ws.on("error", () => {});
    });
  assert.deepEqual(await attempt("https://evil.example"), [403, { code: 4, message: "Forbidden" }]);
  assert.equal(await attempt(worker.url), 101);
});

it("a page importing the ESM build the official server serves (/socket.io/socket.io.esm.min.js) chats with a page on the classic build", async () => {
  const a = await openChat();
  const b = await openChat();
  const sent = await b.page.evaluate(async () => {
    const { io: esmIo } = await import("/socket.io/socket.io.esm.min.js");
    const esm = esmIo({ forceNew: true });
    await new Promise((resolve, reject) => {
      esm.once("connect", resolve);
      esm.once("connect_error", reject);
    });
    esm.emit("chat message", "from the ESM build");
    return { separate: esmIo !== window.io };
  });
  assert.deepEqual(sent, { separate: true });
  await a.page.waitForFunction(() => document.querySelectorAll("#messages li").length >= 1);
  assert.deepEqual(await messages(a.page), ["from the ESM build"]);
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.page.close();
  await b.page.close();
});

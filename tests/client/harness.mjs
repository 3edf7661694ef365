// Test harness of the browser client: a static server for the test pages and pkg/, the
// official socket.io@4.8.4 server on 127.0.0.1, and headless Chromium through playwright-core.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { Server } from "socket.io";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };
const MOUNTS = {
  "/pkg/": join(ROOT, "pkg"),
  "/pages/": join(ROOT, "tests/client/pages"),
  "/socket.io/": join(ROOT, "www/socket.io"),
  "/official/": join(ROOT, "node_modules/socket.io-client/dist"),
};

/**
 * Serves `mounts` (URL prefix -> folder; `index.html` for a path ending in `/`) on a free
 * loopback port. By default /pkg/, /pages/, /socket.io/ (the classic build) and /official/
 * (the official socket.io-client 4.8.4 builds) from the repository.
 */
export async function startStatic(mounts = MOUNTS) {
  const server = createServer(async (req, res) => {
    let path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (path.endsWith("/")) path += "index.html";
    const mount = Object.keys(mounts).find((m) => path.startsWith(m));
    const file = mount && normalize(join(mounts[mount], path.slice(mount.length)));
    if (!file || !file.startsWith(mounts[mount])) return res.writeHead(404).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise((r) => server.close(r)) };
}

/**
 * Starts the official Socket.IO server (CORS open to the test pages) on `port` (0: any);
 * `setup(io)` installs the handlers.
 */
export async function startIo(setup, options = {}, port = 0) {
  const http = createServer();
  const io = new Server(http, { cors: { origin: true, credentials: true }, ...options });
  setup(io);
  await new Promise((r) => http.listen(port, "127.0.0.1", r));
  port = http.address().port;
  return {
    io,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        io.disconnectSockets(true);
        io.close(() => r());
        http.closeAllConnections?.();
      }),
  };
}

/** Launches headless Chromium (the system one: playwright's download is not available). */
export function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    ],
  });
}

/** Opens a test page in a fresh context; page errors fail the test through `errors`. */
export async function openPage(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  page.on("console", (m) => m.type() === "error" && errors.push(new Error(m.text())));
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true);
  return { page, errors, close: () => context.close() };
}

/** Stops a server like a crash: engine connections dropped without Socket.IO DISCONNECTs. */
export function crash(server) {
  return new Promise((r) => {
    for (const client of Object.values(server.io.engine.clients)) client.close();
    server.io.httpServer.close(() => r());
    server.io.httpServer.closeAllConnections?.();
  });
}

/** Resolves when `predicate()` is true (polling every 20 ms), or rejects after `ms`. */
export async function until(predicate, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for " + predicate);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The package in a real bundler build: tests/client/vite-app (`import { io } from "wasmio"`)
// is copied to a temporary directory whose node_modules/wasmio links to pkg/, built with
// Vite's `build()` API (the `exports` ESM entry, the wasm found through
// `new URL(..., import.meta.url)`), served statically and loaded in Chromium, where it
// connects to the official socket.io@4.8.4 server and gets an ack.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";
import { launch, openPage, startIo } from "./harness.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

let browser, server, web, tmp;
const seen = [];

/** Serves `dir` on a free loopback port. */
async function serve(dir) {
  const http = createServer(async (req, res) => {
    let path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (path.endsWith("/")) path += "index.html";
    const file = normalize(join(dir, path));
    if (!file.startsWith(dir)) return res.writeHead(404).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${http.address().port}`, close: () => new Promise((r) => http.close(r)) };
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "wasmio-vite-"));
  browser = await launch();
  server = await startIo((io) =>
    io.on("connection", (socket) => {
      seen.push(socket.handshake.auth);
      socket.on("echo", (...args) => args.pop()(...args));
    }),
  );
});

after(async () => {
  await browser?.close();
  await server?.close();
  await web?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("Vite build of an app importing wasmio", () => {
  let files;

  test("vite build resolves the package and emits the wasm as an asset", async () => {
    const app = join(tmp, "app");
    await cp(join(ROOT, "tests/client/vite-app"), app, { recursive: true });
    await mkdir(join(app, "node_modules"));
    await symlink(join(ROOT, "pkg"), join(app, "node_modules/wasmio"), "dir");
    const outDir = join(tmp, "dist");
    await build({
      root: app,
      configFile: false,
      logLevel: "warn",
      base: "./",
      build: { outDir, emptyOutDir: true, minify: true },
    });
    files = await readdir(join(outDir, "assets"));
    assert.ok(files.some((f) => f.endsWith(".wasm")), `wasm emitted: ${files}`);
    assert.ok(files.some((f) => f.endsWith(".js")), `js emitted: ${files}`);
    web = await serve(outDir);
  });

  test("the built app connects to socket.io 4.8.4 and gets an ack", async () => {
    assert.ok(web, "the build succeeded");
    const { page: pg, errors, close } = await openPage(browser, `${web.url}/?server=${encodeURIComponent(server.url)}`);
    const r = await pg.evaluate(() => window.result);
    assert.equal(typeof r.id, "string");
    assert.equal(r.ack, "bundled ✓");
    assert.deepEqual(r.bin, [1, 2]);
    assert.ok(["polling", "websocket"].includes(r.transport));
    assert.ok(seen.some((auth) => auth.from === "vite"));
    assert.deepEqual(errors, []);
    await close();
  });
});

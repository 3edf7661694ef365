// The package as users get it: `npm pack` in pkg/ makes the tarball, which is `npm install`ed
// into fresh copies of tests/client/apps/vite and tests/client/apps/webpack (offline: its one
// dependency, `ws`, for Node.js, installed from the repository's node_modules). Each app is
// built with its bundler's Node API (Vite 8, webpack 5, from the repository's node_modules),
// served statically and opened in Chromium, where it connects to the official socket.io@4.8.4
// server with its auth and gets an ack. In Node.js, the installed package connects the same way.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build as esbuild } from "esbuild";
import { build } from "vite";
import webpack from "webpack";
import { launch, openPage, startIo, startStatic } from "./harness.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const run = promisify(execFile);

let browser, server, tmp, tarball;
const seen = [];
const webs = [];

/** `vite build` of the app in `app` (no config file); returns the output directory. */
async function viteBuild(app) {
  await build({ root: app, logLevel: "warn" });
  return join(app, "dist");
}

/** `webpack` run in `app` with its webpack.config.js (the CLI's context is its cwd). */
async function webpackBuild(app) {
  const config = (await import(pathToFileURL(join(app, "webpack.config.js")))).default;
  const compiler = webpack({ context: app, ...config });
  const stats = await new Promise((resolve, reject) => compiler.run((e, s) => (e ? reject(e) : resolve(s))));
  await new Promise((r) => compiler.close(r));
  const { errors, warnings } = stats.toJson({ all: false, errors: true, warnings: true });
  assert.deepEqual(errors.map((e) => e.message), [], "webpack errors");
  assert.deepEqual(warnings.map((w) => w.message), [], "webpack warnings");
  return config.output.path;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "wasmio-packaging-"));
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
  for (const web of webs) await web.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test("npm pack in pkg/ makes a tarball with the entry, its types, the wasm and the classic build", async () => {
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", tmp], { cwd: join(ROOT, "pkg") });
  const [{ filename, files, size }] = JSON.parse(stdout);
  const paths = files.map((f) => f.path);
  for (const file of ["package.json", "index.js", "node.js", "dist/node.cjs", "index.d.ts", "dist/index.d.cts", "wasm/wasmio.js", "wasm/wasmio_bg.wasm", "wasm/wasmio_bg.wasm.base64.js", "dist/socket.io.js", "dist/socket.io.wasm", "README.md"]) {
    assert.ok(paths.includes(file), `${file} packed: ${paths}`);
  }
  assert.ok(size > 0);
  tarball = join(tmp, filename);
});

/** Where each app's entry module goes (the shared tests/client/apps/app.js). */
const ENTRIES = { vite: "main.js", webpack: "src/index.js" };

for (const [key, name, bundle] of [["vite", "Vite", viteBuild], ["webpack", "webpack 5", webpackBuild]]) {
  describe(`a fresh ${name} app with the packed wasmio installed`, () => {
    let web;

    test(`npm install of the tarball and the ${name} build, the wasm emitted as an asset`, async () => {
      assert.ok(tarball, "npm pack succeeded");
      const app = join(tmp, key);
      await cp(join(ROOT, "tests/client/apps", key), app, { recursive: true });
      await mkdir(dirname(join(app, ENTRIES[key])), { recursive: true });
      await cp(join(ROOT, "tests/client/apps/app.js"), join(app, ENTRIES[key]));
      const ws = join(ROOT, "node_modules/ws");
      await run("npm", ["install", tarball, ws, "--install-links", "--offline", "--no-audit", "--no-fund", "--no-package-lock"], { cwd: app });
      const installed = join(app, "node_modules/wasmio");
      assert.equal((await lstat(installed)).isSymbolicLink(), false, "a real install, not a link");
      assert.equal(JSON.parse(await readFile(join(installed, "package.json"), "utf8")).name, "wasmio");

      const out = await bundle(app);
      const wasm = await readFile(join(ROOT, "pkg/wasm/wasmio_bg.wasm"));
      const emitted = (await readdir(out, { recursive: true })).filter((f) => f.endsWith(".wasm"));
      assert.equal(emitted.length, 1, `one wasm asset: ${emitted}`);
      assert.ok(wasm.equals(await readFile(join(out, emitted[0]))), "the emitted wasm is the package's");
      web = await startStatic({ "/": out });
      webs.push(web);
    });

    test(`the ${name} build connects to socket.io 4.8.4 with its auth and gets an ack`, async () => {
      assert.ok(web, "the build succeeded");
      const { page, errors, close } = await openPage(browser, `${web.url}/?server=${encodeURIComponent(server.url)}&from=${key}`);
      const r = await page.evaluate(() => window.result);
      await close();
      assert.equal(typeof r.id, "string");
      assert.equal(r.ack, "bundled ✓");
      assert.deepEqual(r.bin, [1, 2]);
      assert.ok(["polling", "websocket"].includes(r.transport));
      assert.ok(seen.some((auth) => auth.from === key), `auth { from: "${key}" } seen: ${JSON.stringify(seen)}`);
      assert.deepEqual(errors, []);
    });
  });
}

test("a Vite build with its assets inlined (single-file setups) holds the wasm once, and connects", async () => {
  const app = join(tmp, "vite");
  assert.ok((await lstat(join(app, "node_modules/wasmio"))).isDirectory(), "installed by the Vite app's test");
  const out = join(tmp, "vite-inline");
  await build({ root: app, logLevel: "warn", build: { assetsInlineLimit: 1e9, outDir: out } });
  const files = await readdir(out, { recursive: true });
  assert.deepEqual(files.filter((f) => f.endsWith(".wasm")), [], "no wasm file: inlined");
  const scripts = await Promise.all(files.filter((f) => f.endsWith(".js")).map((f) => readFile(join(out, f), "utf8")));
  const copies = scripts.join("").split("data:application/wasm;base64,").length - 1;
  assert.equal(copies, 1, "the wasm inlined once");
  const web = await startStatic({ "/": out });
  webs.push(web);
  const { page, errors, close } = await openPage(browser, `${web.url}/?server=${encodeURIComponent(server.url)}&from=vite-inline`);
  const r = await page.evaluate(() => window.result);
  await close();
  assert.equal(r.ack, "bundled ✓");
  assert.deepEqual(errors, []);
});

test("in Node.js, the installed package (its \"node\" export) connects with its auth and gets an ack", async () => {
  const app = join(tmp, "vite");
  assert.ok((await lstat(join(app, "node_modules/wasmio"))).isDirectory(), "installed by the Vite app's test");
  const script = `
    const { io } = await import("wasmio");
    const socket = io(${JSON.stringify(server.url)}, { auth: { from: "node" } });
    socket.emit("echo", "node ✓", Buffer.from([1, 2]), (text, bin) => {
      console.log(JSON.stringify({ entry: import.meta.resolve("wasmio"), text, buffer: Buffer.isBuffer(bin), bin: [...bin] }));
      socket.disconnect();
    });`;
  // The process must end by itself once the socket is disconnected.
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: app, timeout: 20_000 });
  const r = JSON.parse(stdout);
  assert.equal(r.entry, pathToFileURL(join(app, "node_modules/wasmio/node.js")).href);
  assert.deepEqual(r, { entry: r.entry, text: "node ✓", buffer: true, bin: [1, 2] });
  assert.ok(seen.some((auth) => auth.from === "node"), `auth { from: "node" } seen: ${JSON.stringify(seen)}`);
});

test("in Node.js, CommonJS code written for socket.io-client (`const io = require(...)`) runs unchanged, where `require` takes no ES module too (Node before 20.19, Jest)", async () => {
  const app = join(tmp, "vite");
  assert.ok((await lstat(join(app, "node_modules/wasmio"))).isDirectory(), "installed by the Vite app's test");
  const script = `
    const io = require("wasmio");
    const { io: named, connect, Manager, Socket } = require("wasmio");
    const socket = io(${JSON.stringify(server.url)}, { auth: { from: "cjs" } });
    socket.emit("echo", "cjs ✓", Buffer.from([3]), (text, bin) => {
      const exports = [named === io, connect === io, socket instanceof Socket, socket.io instanceof Manager];
      console.log(JSON.stringify({ entry: require.resolve("wasmio"), exports, text, bin: [...bin] }));
      socket.disconnect();
    });`;
  for (const flags of [[], ["--no-experimental-require-module"]]) {
    const { stdout } = await run(process.execPath, [...flags, "-e", script], { cwd: app, timeout: 20_000 });
    assert.deepEqual(JSON.parse(stdout), {
      entry: join(app, "node_modules/wasmio/dist/node.cjs"),
      exports: [true, true, true, true],
      text: "cjs ✓",
      bin: [3],
    }, `node ${flags}`);
  }
  assert.ok(seen.some((auth) => auth.from === "cjs"), `auth { from: "cjs" } seen: ${JSON.stringify(seen)}`);
});

test("TypeScript with node16 resolution type-checks the installed package's import, in a CommonJS project and in an ES module one", async () => {
  const app = join(tmp, "vite");
  assert.ok((await lstat(join(app, "node_modules/wasmio"))).isDirectory(), "installed by the Vite app's test");
  const code = `import { io, type ManagerOptions, type Socket } from "wasmio";
    const options: Partial<ManagerOptions> = { reconnectionDelay: 500 };
    const socket: Socket<{ hi: (n: number) => void }> = io("http://127.0.0.1", options);
    socket.on("hi", (n) => n.toFixed());
    // @ts-expect-error the listener's argument is a number
    socket.on("hi", (n: string) => n);\n`;
  const tsconfig = { compilerOptions: { strict: true, noEmit: true, module: "node16", moduleResolution: "node16", types: [] }, files: ["app.ts"] };
  for (const [kind, manifest] of [["cjs", {}], ["esm", { type: "module" }]]) {
    const dir = join(app, `ts-${kind}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "package.json"), JSON.stringify(manifest));
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
    await writeFile(join(dir, "app.ts"), code);
    const tsc = await run(join(ROOT, "node_modules/.bin/tsc"), ["-p", dir]).catch((error) => error);
    assert.equal(tsc.code ?? 0, 0, `${kind}: ${tsc.stdout}${tsc.stderr}`);
  }
});

test("a server bundle (esbuild --platform=node --format=cjs) carries the wasm: a socket made at its top connects, run away from node_modules", async () => {
  const app = join(tmp, "vite");
  assert.ok((await lstat(join(app, "node_modules/wasmio"))).isDirectory(), "installed by the Vite app's test");
  // As a server-rendered module made by Next.js, Vite SSR or esbuild: `io()` at the top.
  await writeFile(join(app, "ssr.js"), `
    import { io } from "wasmio";
    const socket = io(${JSON.stringify(server.url)}, { auth: { from: "ssr" } });
    socket.on("connect_error", (err) => (console.log(JSON.stringify({ error: err.message })), socket.close()));
    socket.emit("echo", "ssr ✓", (text) => (console.log(JSON.stringify({ text })), socket.disconnect()));`);
  const out = join(tmp, "ssr-out");
  await esbuild({ entryPoints: [join(app, "ssr.js")], bundle: true, platform: "node", format: "cjs", outfile: join(out, "server.cjs"), logLevel: "silent" });
  assert.deepEqual(await readdir(out), ["server.cjs"], "one file: no wasm beside it");
  const { stdout } = await run(process.execPath, ["server.cjs"], { cwd: out, timeout: 20_000 });
  assert.deepEqual(JSON.parse(stdout), { text: "ssr ✓" });
  assert.ok(seen.some((auth) => auth.from === "ssr"), `auth { from: "ssr" } seen: ${JSON.stringify(seen)}`);
});

test("esbuild's default browser bundle (iife, no import.meta.url) finds its wasm in wasm/ beside the script and connects", async () => {
  const app = join(tmp, "vite");
  assert.ok((await lstat(join(app, "node_modules/wasmio"))).isDirectory(), "installed by the Vite app's test");
  await cp(join(ROOT, "tests/client/apps/app.js"), join(app, "esbuild-entry.js"));
  const out = join(tmp, "esbuild-out");
  // `esbuild app.js --bundle --outfile=...`, as pkg/README.md says, the wasm copied beside it.
  await esbuild({ entryPoints: [join(app, "esbuild-entry.js")], bundle: true, outfile: join(out, "js/bundle.js"), logLevel: "silent" });
  await cp(join(app, "node_modules/wasmio/wasm/wasmio_bg.wasm"), join(out, "js/wasm/wasmio_bg.wasm"));
  await writeFile(join(out, "index.html"), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script src="js/bundle.js"></script>');
  const web = await startStatic({ "/": out });
  webs.push(web);
  const { page, errors, close } = await openPage(browser, `${web.url}/?server=${encodeURIComponent(server.url)}&from=esbuild`);
  const r = await page.evaluate(() => window.result);
  await close();
  assert.equal(r.ack, "bundled ✓");
  assert.deepEqual(r.bin, [1, 2]);
  assert.deepEqual(errors, []);
});

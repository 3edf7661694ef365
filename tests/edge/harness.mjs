// Starts the edge worker under `wrangler dev` (real workerd, local DO storage) on a free
// loopback port, in its own process group, and stops it by that group's id.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** A free loopback port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The deployment folder and wrangler environment of each environment name the tests use: the
 * conformance deployment, the chat deployment (the default, and its `edgecost` environment).
 */
const DEPLOYMENTS = {
  conformance: ["deployments/conformance", undefined],
  edgecost: ["deployments/chat", "edgecost"],
  chat: ["deployments/chat", undefined],
};

/**
 * Starts `wrangler dev --env <env>`; resolves once it answers HTTP. `vars` override the
 * environment's `[vars]`; `persist` is the Durable Object storage folder (a new one by
 * default: pass the one of a stopped worker to restart on its state); `port` the port to listen
 * on (a free one by default: pass a stopped worker's so that its clients reconnect); `dir` the
 * worker's folder (by default the deployment of `env`, see DEPLOYMENTS; another version's for
 * an upgrade, whose `env` is then passed to wrangler as it is);
 * `testScheduled` lets `GET /__scheduled` run the worker's cron handler.
 */
export async function startWorker(env, options = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startWranglerOnce(env, options);
    } catch (error) {
      // wrangler 4.86 restarts its custom build once at start-up ("The file src changed"); on
      // a loaded machine the restarted workerd can find the port still held by the first one,
      // and wrangler exits. That start is tried again (the same port, when one was asked for).
      if (attempt >= 3 || !/Address already in use/.test(error.message)) throw error;
    }
  }
}

/** One start of `wrangler dev` (see [`startWorker`]). */
async function startWranglerOnce(
  env,
  { vars = {}, persist = mkdtempSync(join(tmpdir(), "wasmio-edge-")), port, dir, testScheduled = false } = {},
) {
  if (!dir) {
    const [folder, wranglerEnv] = DEPLOYMENTS[env ?? "chat"];
    [dir, env] = [join(ROOT, folder), wranglerEnv];
  }
  port ??= await freePort();
  const inspectorPort = await freePort();
  const args = [
    "dev", "--local", "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-ip", "127.0.0.1", "--inspector-port", String(inspectorPort),
    "--show-interactive-dev-session=false", "--persist-to", persist,
  ];
  if (env) args.push("--env", env);
  if (testScheduled) args.push("--test-scheduled"); // GET /__scheduled runs the cron handler
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  const child = spawn(join(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  /** Kills the whole process group (workerd included); resolves once wrangler has exited. */
  const stop = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
    return exited;
  };
  // Never leave workerd behind, even when the test process is killed (by a timeout).
  process.once("exit", stop);
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(1));
  const deadline = Date.now() + 240_000; // the first run compiles the worker
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      await stop(); // what is left of its process group (a workerd)
      throw new Error(`wrangler dev exited:\n${log}`);
    }
    try {
      await fetch(`${url}/`);
      return { url, port, stop, persist, log: () => log };
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  stop();
  throw new Error(`wrangler dev did not start in time:\n${log}`);
}

/**
 * Starts the built worker on workerd through Miniflare's API, without `wrangler dev`'s proxy,
 * which holds every answer until the request's body has fully arrived: tests of answers given
 * before a body ends need workerd's own behaviour. The conformance deployment's build, no static
 * assets; `vars` are the worker's variables; `sqlite: false` declares the Durable Object classes
 * KV-backed instead of SQLite-backed. Resolves to `{ url, stop, log }`, `log()` what workerd
 * printed so far.
 */
export async function startWorkerd(vars, { sqlite = true } = {}) {
  let printed = "";
  const { Miniflare } = await import("miniflare");
  const build = join(ROOT, "deployments/conformance/build");
  const mf = new Miniflare(await workerdOptions(build, { vars, sqlite, onOutput: (d) => (printed += d) }));
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, stop: () => mf.dispose(), log: () => printed };
}

/**
 * Miniflare's options for a deployment's built worker in `build` (wrangler.toml's `main` is
 * build/worker/shim.mjs) on a free loopback port: its variables `vars`, its Durable Object
 * classes SQLite-backed unless `sqlite: false`, their storage on disk in `persist` if given
 * (in memory otherwise), workerd's output to `onOutput`.
 */
export async function workerdOptions(build, { vars = {}, sqlite = true, persist, compatibilityDate = "2026-04-01", onOutput = () => {} } = {}) {
  return {
    host: "127.0.0.1",
    port: await freePort(),
    modules: true,
    scriptPath: join(build, "worker/shim.mjs"),
    modulesRoot: build,
    modulesRules: [
      { type: "CompiledWasm", include: ["**/*.wasm"] },
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
    ],
    compatibilityDate,
    durableObjects: {
      SOCKETIO: { className: "SocketIoObject", useSQLite: sqlite },
      ECHO: { className: "EchoObject", useSQLite: sqlite },
    },
    ...(persist ? { durableObjectsPersist: persist } : {}),
    bindings: vars,
    handleRuntimeStdio: (stdout, stderr) => [stdout, stderr].forEach((stream) => stream.on("data", onOutput)),
  };
}

/**
 * Calls `onClose(code, reason)` when the server's close frame reaches `ws` (a `ws` client), read off its
 * TCP stream: workerd may keep the connection open after the frame, so `ws`'s own `close`
 * can come much later. Every frame of each chunk is walked (a close frame often shares a
 * chunk with the frame before it).
 */
export function watchCloseFrame(ws, onClose) {
  ws.on("upgrade", () =>
    setImmediate(() => {
      let pending = Buffer.alloc(0);
      ws._socket.on("data", (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        for (;;) {
          if (pending.length < 2) return;
          let length = pending[1] & 0x7f;
          let header = 2;
          if (length === 126) [length, header] = [pending.length >= 4 ? pending.readUInt16BE(2) : Infinity, 4];
          else if (length === 127) [length, header] = [pending.length >= 10 ? Number(pending.readBigUInt64BE(2)) : Infinity, 10];
          if (pending.length < header + length) return;
          if ((pending[0] & 0x0f) === 8) {
            const payload = pending.subarray(header, header + length);
            return onClose(payload.length >= 2 ? payload.readUInt16BE(0) : undefined, payload.subarray(2).toString());
          }
          pending = pending.subarray(header + length);
        }
      });
    }),
  );
}

/** `promise`, or a rejection naming `what` after `ms` (with the caller's stack). */
export function withTimeout(promise, ms, what) {
  const error = new Error(`timed out after ${ms} ms: ${what}`); // the caller's stack
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(error), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

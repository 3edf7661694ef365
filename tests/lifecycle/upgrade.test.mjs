// A new version on the previous version's state: the chat deployment of an earlier commit
// (PREVIOUS, built once by scripts/build-previous-worker.sh) serves official clients on every
// transport path, then stops, and this checkout's build starts on the same persisted state and
// port, as a `wrangler deploy` of new code does. The clients reconnect by themselves and must
// recover their sessions (written by the old code: recovery log, live records), then chat
// exactly once in both directions.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker } from "../edge/harness.mjs";
import { chatRound, closeAll, connectClients, until } from "./chat.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
// The previous version (tests/lifecycle/PREVIOUS_VERSION): the last commit before the state
// gained the position a socket connected at (`since`); its snapshots, live records and log are
// what this version must read. Move it forward when the persisted format changes again.
const PREVIOUS = readFileSync(join(ROOT, "tests/lifecycle/PREVIOUS_VERSION"), "utf8").trim();
// Every client connects from one loopback address: no handshake budget per address.
const VARS = { TEST_HOOKS: "1", MAX_HANDSHAKES_PER_MINUTE: "0" };

const workers = [];
after(() => Promise.all(workers.map((w) => w.stop())));

describe("an upgrade of the chat deployment", () => {
  it("goes on from the previous version's persisted state: sessions recovered, nothing lost or doubled", async (t) => {
    // Built by `make test-lifecycle` beforehand (this finds it built). Empty when this clone
    // does not have that commit (a shallow one; CI's clone has it, and fails instead).
    const previous = execFileSync("bash", ["scripts/build-previous-worker.sh", PREVIOUS], { cwd: ROOT, encoding: "utf8" }).trim();
    if (!previous) return t.skip(`the previous version ${PREVIOUS} is not in this clone`);
    let worker = await startWorker(undefined, { vars: VARS, dir: previous });
    workers.push(worker);
    const { port, persist } = worker;
    const clients = await connectClients(worker.url, 2);
    try {
      await chatRound(clients, "old-version");
      await worker.stop();
      worker = await startWorker(undefined, { vars: VARS, port, persist });
      workers.push(worker);
      await until(() => clients.every((c) => c.socket.connected && c.disconnects.length > 0), 30_000, "the reconnections");
      // (A reconnection attempt made while no worker listens fails and is retried: connect
      // errors are expected here, as in any redeploy.)
      for (const c of clients) {
        assert.equal(c.socket.recovered, true, `${c.path}: recovered on the new version\n${worker.log()}`);
      }
      await chatRound(clients, "new-version");
    } finally {
      closeAll(clients);
    }
  });
});

// The package's TypeScript types against the typed usage socket.io-client documents
// (tests/client/types/example.ts: ServerToClientEvents / ClientToServerEvents, acks,
// emitWithAck with a timeout, the options, manager.engine), checked by `tsc --noEmit`. The
// example's `@ts-expect-error` markers make the check fail if the types accept misuse.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

test("index.d.ts type-checks the typed example with tsc --noEmit", () => {
  const tsc = spawnSync(join(ROOT, "node_modules/.bin/tsc"), ["-p", join(ROOT, "tests/client/types/tsconfig.json")], {
    encoding: "utf8",
  });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
});

// wasmio: not in the upstream test folder (its package.json's test:node passes
// `--require test/support/hooks.ts`, a file kept outside the published tree): starts the
// test server of ./server.ts (127.0.0.1:3210) for the whole run and closes it at the end.
import { createServer } from "./server";

let server;

export const mochaHooks = {
  beforeAll() {
    server = createServer();
  },
  afterAll() {
    server.close();
  },
};

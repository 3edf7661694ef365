// The demo app's build: served by the chat deployment at /app/ (its assets are www/), so the
// output goes to www/app/ (gitignored, rebuilt by `make build`). Vite itself comes from the
// repository's node_modules; `wasmio` from this app's own (a link to ../pkg, by `npm ci`).
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

export default {
  base: "/app/",
  logLevel: "warn",
  build: {
    outDir: here("../www/app"),
    emptyOutDir: true,
    rollupOptions: { input: { main: here("index.html"), ops: here("ops/index.html") } },
  },
};

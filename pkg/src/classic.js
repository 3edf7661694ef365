// The classic build (`<script src="/socket.io/socket.io.js">`), defining `window.io` like
// socket.io-client's UMD bundle. Its wasm, `socket.io.wasm`, is fetched from beside the script
// rather than inlined: base64 inside a script gzips far worse than the wasm itself.
import init, { Driver } from "../wasm/wasmio.js";
import { client } from "./client.js";

// Read while the script runs: `document.currentScript` is null afterwards.
const script = typeof document !== "undefined" && document.currentScript;
const wasm = new URL("socket.io.wasm", (script && script.src) || globalThis.location.href);

globalThis.io = client(() => init({ module_or_path: wasm }).then(() => Driver)).io;

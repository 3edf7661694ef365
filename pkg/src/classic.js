// The classic build (`<script src="/socket.io/socket.io.js">`), defining `window.io` like
// socket.io-client's UMD bundle (or, with an AMD loader on the page, defining the module
// instead). Its wasm, `socket.io.wasm`, is fetched from beside the script rather than
// inlined: base64 inside a script gzips far worse than the wasm itself.
import init, { Driver } from "../wasm/wasmio.js";
import { client } from "./client.js";

// Where the script was loaded from, read while it runs: `document.currentScript` (null
// afterwards), or in a worker's importScripts() the script of a stack trace's first frame.
const script = typeof document !== "undefined" && document.currentScript;
const from = (script && script.src) || (/(\w+:\/\/[^\s()]+?):\d+:\d+/.exec(new Error().stack) || [])[1];
const wasm = new URL("socket.io.wasm", from || globalThis.location.href);

const { io } = client(() => init({ module_or_path: wasm }).then(() => Driver));
if (typeof define === "function" && define.amd) define(() => io);
else globalThis.io = io;

// The classic build (`<script src="/socket.io/socket.io.js">`): one file, the wasm inlined,
// defining `window.io` like socket.io-client's UMD bundle.
import init, { Driver } from "../wasm/wasmio.js";
import wasm from "../wasm/wasmio_bg.wasm";
import { client } from "./client.js";

globalThis.io = client(() => init({ module_or_path: wasm }).then(() => Driver)).io;

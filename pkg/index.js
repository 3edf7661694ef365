// wasmio: a drop-in socket.io-client 4.8 whose protocol runs in WebAssembly.
// The wasm is located relative to this module, so the same file works from a static server
// and in bundlers that understand `new URL(..., import.meta.url)` (Vite, webpack 5, esbuild).
// Node.js gets ./node.js instead (the package's "node" export condition).
import init, { Driver } from "./wasm/wasmio.js";
import { client } from "./src/client.js";

// A bundle without `import.meta.url` (esbuild's default iife format) looks for ./wasm/ beside
// the script it is, read while it runs; a failure to find it is a `connect_error`, never a throw.
const script = typeof document < "u" && document.currentScript;

const { io, Manager, Socket } = client(async () => {
  let wasm;
  try {
    wasm = new URL("./wasm/wasmio_bg.wasm", import.meta.url);
  } catch {
    wasm = new URL("wasm/wasmio_bg.wasm", script.src);
  }
  await init({ module_or_path: wasm });
  return Driver;
});

export { io, io as connect, Manager, Socket };
export { protocol, WebTransport, Polling as Fetch, Polling as XHR, Polling as NodeXHR } from "./src/client.js";
export { WebSocketTransport as WebSocket, WebSocketTransport as NodeWebSocket } from "./src/client.js";
export default io;

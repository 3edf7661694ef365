// wasmio: a drop-in socket.io-client 4.8 whose protocol runs in WebAssembly.
// The wasm is located relative to this module, so the same file works from a static server
// and in bundlers that understand `new URL(..., import.meta.url)` (Vite, webpack 5, esbuild).
// Node.js gets ./node.js instead (the package's "node" export condition).
import init, { Driver } from "./wasm/wasmio.js";
import { client } from "./src/client.js";

const { io, Manager, Socket } = client(() =>
  init({ module_or_path: new URL("./wasm/wasmio_bg.wasm", import.meta.url) }).then(() => Driver),
);

export { io, io as connect, Manager, Socket };
export { protocol, WebTransport, Polling as Fetch, Polling as XHR, Polling as NodeXHR } from "./src/client.js";
export { WebSocketTransport as WebSocket, WebSocketTransport as NodeWebSocket } from "./src/client.js";
export default io;

// wasmio: a drop-in socket.io-client 4.8 whose protocol runs in WebAssembly.
// The wasm is located relative to this module, so the same file works from a static server
// and in bundlers that understand `new URL(..., import.meta.url)` (Vite, webpack 5, esbuild).
import init, { Driver } from "./wasm/wasmio.js";
import { client, protocol } from "./src/client.js";

const { io, Manager, Socket } = client(() =>
  init({ module_or_path: new URL("./wasm/wasmio_bg.wasm", import.meta.url) }).then(() => Driver),
);

// socket.io-client 4.8's transport exports, for `io({ transports: [WebSocket, Fetch] })`: each
// stands for its transport by `prototype.name`, as engine.io-client's classes do.
const Polling = { prototype: { name: "polling" } };
const WebSocketTransport = { prototype: { name: "websocket" } };
const WebTransport = { prototype: { name: "webtransport" } };

export { io, io as connect, Manager, Socket, protocol, WebTransport };
export { Polling as Fetch, Polling as XHR, Polling as NodeXHR };
export { WebSocketTransport as WebSocket, WebSocketTransport as NodeWebSocket };
export default io;

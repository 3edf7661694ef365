// wasmio in Node.js (the package's "node" export condition): the client of ./index.js, its
// wasm read from the package's folder (Node's fetch takes no file: URL), its WebSockets the
// `ws` package's, as socket.io-client's are in Node (with `extraHeaders`, the TLS options and
// `autoUnref`), and received binary data a Buffer.
import { readFile } from "node:fs/promises";
import { WebSocket as WS } from "ws";
import init, { Driver } from "./wasm/wasmio.js";
import { client } from "./src/client.js";

// The options engine.io-client hands to `ws` in Node.
const WS_OPTIONS = ["agent", "perMessageDeflate", "pfx", "key", "passphrase", "cert", "ca", "ciphers",
  "rejectUnauthorized", "localAddress", "protocolVersion", "origin", "maxPayload", "family", "checkServerIdentity"];

/** A `ws` WebSocket made from the manager's options, as engine.io-client's Node transport makes it. */
class NodeWebSocket extends WS {
  constructor(url, protocols, opts) {
    const options = {};
    for (const key of WS_OPTIONS) if (opts[key] !== undefined) options[key] = opts[key];
    if (opts.extraHeaders) options.headers = opts.extraHeaders;
    super(url, protocols, options);
    // `ws` emits "error" when a socket is closed before it opened (a connect timeout, an
    // upgrade given up): with the driver's handlers removed by then, an unheard "error" would
    // end the process. engine.io-client's Node transport guards the same way.
    this.on("error", () => {});
    // `autoUnref`: an open connection does not keep the process alive (engine.io-client's way).
    if (opts.autoUnref) this.once("open", () => this._socket.unref());
  }

  /** The driver hands a view of its memory, which it reuses: `ws` may write later (compression), so a copy. */
  send(data) {
    super.send(ArrayBuffer.isView(data) ? Buffer.from(data) : data);
  }
}

const { io, Manager, Socket } = client(
  () => readFile(new URL("./wasm/wasmio_bg.wasm", import.meta.url)).then((bytes) => init({ module_or_path: bytes })).then(() => Driver),
  {
    webSocket: (url, protocols, opts) => new NodeWebSocket(url, protocols, opts),
    // `autoUnref`: nor do the manager's timers (heartbeat, reconnection delays, timeouts).
    setTimer: (opts) => opts.autoUnref && ((fn, ms) => setTimeout(fn, ms).unref()),
    // A Buffer, as engine.io-client's default `binaryType` in Node; an ArrayBuffer once the
    // application sets `socket.io.engine.binaryType = "arraybuffer"`.
    binary: (buffer, engine) => (engine?.binaryType === "arraybuffer" ? buffer : Buffer.from(buffer)),
  },
);

export { io, io as connect, Manager, Socket };
export { protocol, WebTransport, Polling as Fetch, Polling as XHR, Polling as NodeXHR } from "./src/client.js";
export { WebSocketTransport as WebSocket, WebSocketTransport as NodeWebSocket } from "./src/client.js";
export default io;

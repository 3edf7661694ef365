// wasmio in Node.js (the package's "node" export condition): the client of ./index.js, its
// wasm taken from a module holding it (base64: a server bundle carries it as code), its WebSockets the
// `ws` package's and its long-polling requests node:http's, as socket.io-client's are in Node
// (with `extraHeaders`, the TLS options, `autoUnref` and, with `withCredentials`, a cookie
// jar), and received binary data a Buffer.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { WebSocket as WS } from "ws";
import init, { Driver } from "./wasm/wasmio.js";
import wasm from "./wasm/wasmio_bg.wasm.base64.js";
import { client } from "./src/client.js";

// The options engine.io-client hands to `ws` in Node.
const WS_OPTIONS = ["agent", "perMessageDeflate", "pfx", "key", "passphrase", "cert", "ca", "ciphers",
  "rejectUnauthorized", "localAddress", "protocolVersion", "origin", "maxPayload", "family", "checkServerIdentity"];
// The options of a long-polling request (engine.io-client's Node XHR takes these).
const REQUEST_OPTIONS = ["agent", "pfx", "key", "passphrase", "cert", "ca", "ciphers", "rejectUnauthorized",
  "localAddress", "family", "checkServerIdentity"];

/**
 * Copies the options named in `keys` from the manager's `opts` into `options`, those of its
 * `transportOptions` for the transport (`overrides`) taking precedence, as engine.io-client
 * merges them.
 */
function copyOptions(options, keys, opts, overrides = {}) {
  for (const key of keys) {
    const value = overrides[key] ?? opts[key];
    if (value !== undefined) options[key] = value;
  }
}

/**
 * The cookies of a manager made with `withCredentials: true`: what the server set (on a
 * long-polling answer) goes back with its next requests and WebSocket handshakes, as
 * socket.io-client 4.8's cookie jar does in Node (a load balancer's sticky-session cookie).
 * By name; `Expires` and `Max-Age` are kept to, other attributes are not read.
 */
class CookieJar {
  constructor() {
    this.cookies = new Map();
  }

  /** Keeps the cookies of a response's `Set-Cookie` headers. */
  keep(setCookies = []) {
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i).trim();
      if (i < 1 || !name) continue;
      let value = pair.slice(i + 1).trim();
      if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      let expires;
      for (const attribute of attributes) {
        const [key, v = ""] = attribute.split("=").map((part) => part.trim());
        const at = key.toLowerCase() === "max-age" ? Date.now() + 1000 * (parseInt(v, 10) || 0)
          : key.toLowerCase() === "expires" ? new Date(v).getTime() || 0 : undefined;
        if (at !== undefined) expires = at;
      }
      this.cookies.set(name, { value, expires });
    }
  }

  /** The `Cookie` header's value: the cookies not expired (undefined if none). */
  header() {
    const now = Date.now();
    const pairs = [];
    for (const [name, { value, expires }] of this.cookies) {
      if (expires !== undefined && expires <= now) this.cookies.delete(name);
      else pairs.push(`${name}=${value}`);
    }
    return pairs.length ? pairs.join("; ") : undefined;
  }
}

/**
 * The cookie jar of a manager's requests to `url`'s server: by the manager's options (what
 * the platform hooks are handed), then by host and port, so that options an application
 * reuses for several servers never carry one server's cookies to another.
 */
const jars = new WeakMap();
const jarOf = (opts, url) => {
  if (!opts.withCredentials) return undefined;
  if (!jars.has(opts)) jars.set(opts, new Map());
  const byServer = jars.get(opts);
  const server = new URL(url).host;
  if (!byServer.has(server)) byServer.set(server, new CookieJar());
  return byServer.get(server);
};

/** `headers` with the jar's cookies added to any the application gave. */
function withCookies(headers, jar) {
  const cookies = jar?.header();
  if (!cookies) return headers;
  const given = headers && Object.keys(headers).find((name) => name.toLowerCase() === "cookie");
  return { ...headers, [given || "cookie"]: given ? `${headers[given]}; ${cookies}` : cookies };
}

/**
 * What the client reads of a polling request's answer, as of a `fetch` `Response`: `ok`,
 * `status`, `text()`. Not a `Response`: reading one's body goes through a web stream whose
 * pulls are `queueMicrotask` calls, which fake timers (@sinonjs/fake-timers, as
 * socket.io-client's test suite installs them) hold and replay without end.
 */
const answer = (status, text) => ({ ok: status >= 200 && status < 300, status, text: () => Promise.resolve(text) });

/**
 * A long-polling request over node:http(s), answered as `fetch` would be (see `answer`):
 * made with the manager's TLS options and agent, its socket unref'd with `autoUnref`, its
 * cookies kept with `withCredentials`; aborted by `init.signal`.
 */
function nodeFetch(url, init, opts) {
  const { signal } = init;
  const jar = jarOf(opts, url);
  return new Promise((resolve, reject) => {
    // engine.io-client's Node requests (xmlhttprequest-ssl) announce themselves so: servers
    // and proxies that log or require these headers see the same; the application's win.
    const headers = { "user-agent": "node-XMLHttpRequest", accept: "*/*", ...withCookies(init.headers, jar) };
    const options = { method: init.method, headers };
    copyOptions(options, REQUEST_OPTIONS, opts, opts.transportOptions?.polling);
    if (init.body != null) options.headers = { "content-type": "text/plain;charset=UTF-8", ...options.headers };
    const req = (url.startsWith("https:") ? httpsRequest : httpRequest)(url, options, (res) => {
      jar?.keep(res.headers["set-cookie"]);
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve(answer(res.statusCode, text)));
      res.on("error", reject);
      // Cut before its end (aborted, or the connection lost): settled already if it ended.
      res.on("close", () => reject(signal?.reason ?? new Error("the response was cut short")));
    });
    if (opts.autoUnref) req.on("socket", (socket) => socket.unref());
    req.on("error", reject);
    if (signal) {
      const abort = () => req.destroy(signal.reason);
      if (signal.aborted) abort();
      else signal.addEventListener("abort", abort, { once: true });
      req.on("close", () => signal.removeEventListener("abort", abort));
    }
    req.end(init.body ?? undefined);
  });
}

/** A `ws` WebSocket made from the manager's options, as engine.io-client's Node transport makes it. */
class NodeWebSocket extends WS {
  constructor(url, protocols, opts) {
    const options = {};
    copyOptions(options, WS_OPTIONS, opts, opts.transportOptions?.websocket);
    const headers = withCookies(opts.transportOptions?.websocket?.extraHeaders ?? opts.extraHeaders, jarOf(opts, url));
    if (headers) options.headers = headers;
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
  () => init({ module_or_path: Buffer.from(wasm, "base64") }).then(() => Driver),
  {
    webSocket: (url, protocols, opts) => new NodeWebSocket(url, protocols, opts),
    fetch: nodeFetch,
    // `autoUnref`: nor do the manager's timers (heartbeat, reconnection delays, timeouts).
    setTimer: (opts) => opts.autoUnref && ((fn, ms) => setTimeout(fn, ms).unref()),
    // A Buffer, as engine.io-client's default `binaryType` in Node; an ArrayBuffer once the
    // application sets `socket.io.engine.binaryType = "arraybuffer"`.
    binary: (buffer, engine) => (engine?.binaryType === "arraybuffer" ? buffer : Buffer.from(buffer)),
  },
);

/**
 * `autoUnref`: an acknowledgement awaited with a timeout (`timeout(ms)`, the `ackTimeout`
 * option) keeps the process alive until it is answered or times out, as socket.io-client's
 * acknowledgement timer does (the one timer it does not unref): a script that awaits an
 * answer gets it. The manager's own timers and connections still let the process end.
 */
const emit = Socket.prototype.emit;
Socket.prototype.emit = function (ev, ...args) {
  const callback = args.at(-1);
  const ms = this.flags.timeout ?? this._opts.ackTimeout;
  if (typeof callback === "function" && ms >= 0 && this.io.opts.autoUnref) {
    const alive = setTimeout(() => {}, ms);
    const answered = function (...answer) {
      clearTimeout(alive);
      return callback.apply(this, answer);
    };
    answered.withError = callback.withError;
    args[args.length - 1] = answered;
  }
  return emit.call(this, ev, ...args);
};

export { io, io as connect, Manager, Socket };
export { protocol, WebTransport, Polling as Fetch, Polling as XHR, Polling as NodeXHR } from "./src/client.js";
export { WebSocketTransport as WebSocket, WebSocketTransport as NodeWebSocket } from "./src/client.js";
export default io;

// The socket.io-client 4.8 API on top of the wasm driver (client-wasm). Protocol decisions
// (engine sessions, reconnection, acks, buffers, recovery) happen in Rust; this file keeps the
// manager and its engine, hands the driver's events to them and to the sockets (socket.js),
// and queues the calls made before the wasm module is ready. Listeners are emitter.js's, JS
// values become JSON text + binary attachments and back in payload.js, errors in errors.js.

import { Emitter, guard, rethrow } from "./emitter.js";
import { description, failure } from "./errors.js";
import { decode, encode, ILLEGAL_ATTACHMENTS } from "./payload.js";
import { Socket } from "./socket.js";

/** The Socket.IO protocol revision. */
export const protocol = 5;

// socket.io-client 4.8's transport exports, for `io({ transports: [WebSocket, Fetch] })`: each
// stands for its transport by `prototype.name`, as engine.io-client's classes do.
export const Polling = { prototype: { name: "polling" } };
export const WebSocketTransport = { prototype: { name: "websocket" } };
export const WebTransport = { prototype: { name: "webtransport" } };

// The timer functions as the module found them (engine.io-client's `useNativeTimers`).
const NATIVE_SET_TIMEOUT = globalThis.setTimeout.bind(globalThis);
const NATIVE_CLEAR_TIMEOUT = globalThis.clearTimeout.bind(globalThis);
const TRANSPORTS = ["polling", "websocket"];

/**
 * The driver's host: `host`'s methods called through a weak reference. The driver keeps its
 * host in wasm-bindgen's table of JavaScript values, a garbage-collection root; `host` itself
 * (its closures hold the manager, which holds the driver) would keep a manager nobody uses
 * alive for good. What must keep one alive does so as in socket.io-client: an open
 * WebSocket's listeners, a pending request or timer, the application's references. Made out
 * here so that its closures hold nothing of the manager's.
 */
function weakly(host) {
  const ref = new WeakRef(host);
  const weak = {};
  for (const name in host) weak[name] = (a, b, c, d, e, f) => ref.deref()?.[name](a, b, c, d, e, f);
  return weak;
}

/** A window event that runs `manager`'s driver control `op`, holding the manager weakly. */
function controlOn(event, manager, op) {
  const ref = new WeakRef(manager);
  addEventListener(event, () => ref.deref()?._d.control(op, 0), false);
}

/** What socket.io-client's `url()` gives: protocol, host, port, path, query, id, href. */
export function url(uri, path = "", loc) {
  loc = loc || (typeof location !== "undefined" && location);
  if (uri == null) uri = loc.protocol + "//" + loc.host;
  if (typeof uri === "string") {
    if (uri.charAt(0) === "/") uri = uri.charAt(1) === "/" ? loc.protocol + uri : loc.host + uri;
    if (!/^(https?|wss?):\/\//.test(uri)) uri = (loc ? loc.protocol + "//" : "https://") + uri;
    // Path and query as written (URL percent-encodes them): "/café" is the namespace "/café".
    const [, protocol, authority, path = "", query = ""] = /^([^:]+):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?/.exec(uri);
    let u;
    try {
      u = new URL(uri);
    } catch {
      // As socket.io-client: a host that does not parse is kept as written (its connection
      // fails: connect_error); none at all ("", "http://") is the page's.
      u = { hostname: authority, port: "" };
    }
    uri = {
      source: uri,
      protocol,
      host: u.hostname.replace(/^\[(.*)\]$/, "$1") || (loc ? loc.hostname : "localhost"),
      port: u.port || (!u.hostname && loc && loc.port) || "",
      path,
      query,
    };
  }
  const obj = uri;
  if (!obj.port) obj.port = /^(http|ws)$/.test(obj.protocol) ? "80" : /^(http|ws)s$/.test(obj.protocol) ? "443" : "";
  obj.path = obj.path || "/";
  const host = obj.host.indexOf(":") !== -1 ? "[" + obj.host + "]" : obj.host;
  obj.id = obj.protocol + "://" + host + ":" + obj.port + path;
  obj.href = obj.protocol + "://" + host + (loc && loc.port === obj.port ? "" : ":" + obj.port);
  return obj;
}

/**
 * A `query` option as engine.io-client 6.6 sends it: a string is first decoded as its parseqs
 * does (a key alone has the value "", a value keeps the "=" in it).
 */
const encodeQuery = (q) => {
  if (typeof q === "string") {
    q = Object.fromEntries(q.split("&").map((pair) => {
      const [k, ...v] = pair.split("=");
      return [decodeURIComponent(k), decodeURIComponent(v.join("="))];
    }));
  }
  return Object.keys(q)
    .map((k) => encodeURIComponent(k) + "=" + encodeURIComponent(q[k]))
    .join("&");
};

/**
 * Builds the public API on a wasm loader: `load()` resolves to the driver class
 * (`Driver` of the wasm-bindgen glue), once, the first time a Manager is created.
 * `platform` is for a runtime other than a browser (node.js): `webSocket(url, protocols,
 * opts)`, its WebSocket made with the manager's options (a browser's takes none),
 * `setTimer(opts)`, the manager's `setTimeout` if not the usual one, `binary(buffer,
 * engine)`, what a received attachment (an ArrayBuffer) is handed to the application as, and
 * `fetch(url, init, opts)`, a long-polling request made with the manager's options.
 */
export function client(load, platform = {}) {
  // The driver class once the wasm is ready: a manager created after starts at once.
  let ready, loaded;

  /**
   * The engine of a manager (`manager.engine`, from its first connection on): its id,
   * transport and state, `close()` (the connection ends as if lost, the manager reconnects),
   * `write(data)` / `send(data)` (a raw Engine.IO message),
   * and the events `open`, `ping`, `pong`, `upgrade`, `upgrading`, `heartbeat`, `close`,
   * `packet`, `packetCreate` and `drain` (the last three reported by the driver once a
   * listener asks for them).
   */
  class Engine extends Emitter {
    constructor(manager) {
      super();
      this._m = manager;
    }
    on(ev, fn) {
      // Reported per packet by the driver only once someone listens (each report has a cost).
      if (ev === "packet" || ev === "packetCreate" || ev === "drain" || ev === "heartbeat") this._m._reportPackets();
      return super.on(ev, fn);
    }
    close() {
      if (!this._closed) this._m._call((d) => d.control(2, 0)); // engine.close()
      return this;
    }
    /** A message written as it is (a string or binary data), not as a Socket.IO packet;
     * `callback` runs once the write buffer is written out. */
    write(data, options, callback) {
      callback = typeof options === "function" ? options : callback;
      if (!this._closed) {
        if (callback) this.once("drain", callback);
        this._data(-2, data);
      }
      return this;
    }
    send(data, options, callback) {
      return this.write(data, options, callback);
    }
    emit(ev, ...args) {
      // socket.io-client's manager listens to its engine's `data`: what is emitted there (its
      // test suite plays a decoding error so) reaches the manager as a received message.
      if (ev === "data" && this === this._m.engine && !this._closed) this._data(-1, args[0]);
      return super.emit(ev, ...args);
    }
    /** A message handed to the driver: -1 received, -2 to write (`Driver::inject`). */
    _data(slot, data) {
      this._m._call((d) => (typeof data === "string" ? d.inject(slot, data) : d.inject(slot, undefined, encode([data])[1])));
    }
    get id() {
      return (this._m._d && this._m._d.name(1, 0)) || undefined;
    }
    get transport() {
      // As its events told (the open, then an upgrade): the driver may have upgraded already
      // while the events of the packets that came before are still being handed out.
      // Opened before the wasm was ready: the first transport it will open, as engine.io-client's.
      const m = this._m, first = (m.opts.transports || TRANSPORTS)[0];
      return { name: this._tn || (m._d ? m._d.name(0, 0) : m._early && typeof first === "string" ? first : 0) || undefined };
    }
    get readyState() {
      // One engine per connection, as engine.io-client's: a closed one stays closed.
      return this._closed ? "closed" : this._m._readyState;
    }
  }

  class Manager extends Emitter {
    constructor(uri, opts) {
      super();
      if (uri && typeof uri === "object") {
        opts = uri;
        uri = undefined;
      }
      opts = opts || {};
      opts.path = opts.path || "/socket.io";
      this.opts = opts;
      this.uri = uri;
      this.nsps = {};
      this.engine = undefined; // until the first connection, as socket.io-client
      this._q = [];
      this._byId = [];
      this._reconnection = opts.reconnection !== false;
      this._reconnectionAttempts = opts.reconnectionAttempts || Infinity;
      this._reconnectionDelay = opts.reconnectionDelay || 1000;
      this._reconnectionDelayMax = opts.reconnectionDelayMax || 5000;
      this._randomizationFactor = opts.randomizationFactor ?? 0.5;
      this._timeout = opts.timeout == null ? 20000 : opts.timeout;
      this._autoConnect = opts.autoConnect !== false;
      if (loaded) this._start(loaded);
      else this._load(0);
      if (this._autoConnect) this.open();
    }

    /**
     * Loads the wasm module (once for every manager), then starts. A load that fails is a
     * failed connection, as socket.io-client's: the error is told (`error`, then each
     * socket's `connect_error`) and the load is tried afresh after the reconnection delay, so
     * that a network that comes back finds a client that connects, and what was asked
     * meanwhile runs then.
     */
    _load(attempt) {
      (ready || (ready = load().then((Driver) => (loaded = Driver)))).then(
        (Driver) => this._start(Driver),
        (err) => {
          ready = this._early = 0;
          this.emitReserved("error", err);
          for (const nsp in this.nsps) this.nsps[nsp].emitReserved("connect_error", err);
          if (this._reconnection && attempt < this._reconnectionAttempts)
            setTimeout(() => this._load(attempt + 1), Math.min(this._reconnectionDelay * 2 ** attempt, this._reconnectionDelayMax));
        },
      );
    }

    _start(Driver) {
      const opts = this.opts;
      const u = url(this.uri);
      const secure = opts.secure ?? (u.protocol === "https" || u.protocol === "wss");
      const origin = (u.host.indexOf(":") !== -1 ? "[" + u.host + "]" : u.host) +
        ((secure && u.port !== "443") || (!secure && u.port !== "80") ? ":" + u.port : "");
      const path = opts.path.replace(/\/$/, "") + (opts.addTrailingSlash !== false ? "/" : "");
      // As bits under a leading 1 for the driver: 0 polling, 1 websocket (other names are
      // skipped). Read again before each connection, as socket.io-client's next engine reads
      // its options anew (the documented fallback: `socket.io.opts.transports = ["polling",
      // "websocket"]` in `connect_error`).
      const bits = () => (this.opts.transports || TRANSPORTS).reduce((n, t) => {
        const i = TRANSPORTS.indexOf(typeof t === "string" ? t : (t.prototype && t.prototype.name) || t.name);
        return i < 0 ? n : n * 2 + i;
      }, 1);
      let transports = bits();
      this._syncTransports = () => transports !== (transports = bits()) && d.control(17, transports);
      const ts = opts.timestampRequests;
      const protocols = opts.transportOptions?.websocket?.protocols ?? opts.protocols;
      const flags = (opts.upgrade !== false) | (opts.rememberUpgrade ? 2 : 0) | (opts.tryAllTransports ? 4 : 0) |
        (this._reconnection ? 8 : 0) | (ts !== false ? 32 : 0) | (ts ? 64 : 0);
      // The browser's details of a transport error, for the TransportError reported next.
      const failed = (description, context) => (this._te = { description, context });
      const setTimer = platform.setTimer?.(opts) || (opts.useNativeTimers ? NATIVE_SET_TIMEOUT : globalThis.setTimeout.bind(globalThis));
      // What the driver asked for comes back to it with the tag it gave (`Driver.callback`).
      const call = (tag, value) => d.callback(tag, value);
      // The WebSocket text frame being handled (`frameEvent` slices it).
      let frame;
      // The manager's shortcut for received events (`route`): the WebSocket transport it holds
      // for, and the socket of each head (an event's frame up to its JSON, `42`, `42/chat,`).
      let shortcut = -1, heads = new Map();
      // Held by the manager; the driver gets it through a weak reference (`weakly`).
      const host = (this._host = {
        event: (...a) => guard(() => this._ev(...a)),
        // The hot path: an event or ack answer whose JSON is the end of the WebSocket text
        // frame being handled, from UTF-16 offset `start`.
        frameEvent: (kind, s, start, n) => {
          try {
            this._byId[s]._ev(kind, frame.slice(start), null, undefined, n);
          } catch (e) {
            rethrow(e);
          }
        },
        route: (transport, sockets) => {
          shortcut = transport;
          heads = new Map();
          // (bit i of `sockets` for socket i: none past the 32nd)
          this._byId.forEach((socket, i) => sockets / 2 ** i & 1 && heads.set(socket.nsp === "/" ? "42" : "42" + socket.nsp + ",", socket));
        },
        // A WebSocket with the application's subprotocols; its events go to the driver's
        // callback (tag + 0 open, 1 binary, 2 error, 3 close). The hot path: a text frame's
        // start up to the first "[" (an event's JSON begins there) is looked up in the
        // manager's shortcut, whose event goes straight to its socket; else it goes to
        // `head_text` (the core reads that header alone); whole to `text`, with the time, when
        // the core needs more.
        webSocket: (url, id, tag) => {
          let ws;
          try {
            ws = platform.webSocket ? platform.webSocket(url, protocols, this.opts) : new WebSocket(url, protocols);
          } catch (e) {
            failed(e);
            throw e;
          }
          ws.binaryType = "arraybuffer";
          ws.onopen = (e) => call(tag, e);
          ws.onerror = (e) => {
            failed(e);
            call(tag + 2, e);
          };
          ws.onclose = (e) => call(tag + 3, (this._wc = e));
          ws.onmessage = (e) => {
            const data = (frame = e.data);
            if (typeof data !== "string") return call(tag + 1, data);
            const i = data.indexOf("["), head = data.slice(0, i);
            const socket = i > 0 && id === shortcut && heads.get(head);
            if (socket) socket._ev(17, data.slice(i), null, undefined, -1);
            else if (!(i > 0 && d.head_text(id, head))) d.text(id, data, Date.now());
          };
          return ws;
        },
        closeWebSocket: (ws) => {
          ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
          ws.close();
        },
        // A polling request (a GET without body) as engine.io-client's fetch transport sends
        // it, with the options as they are now (a token refreshed in `extraHeaders`).
        // Answered 2xx, the callback gets `tag` (and a GET's text); else `tag + 1`, the
        // failure's details kept for the TransportError reported next.
        request: (url, body, tag) => {
          const opts = this.opts;
          // transportOptions.polling overrides the options of polling requests, as in engine.io-client.
          const polling = opts.transportOptions?.polling || {};
          const headers = polling.extraHeaders ?? opts.extraHeaders;
          const requestTimeout = polling.requestTimeout ?? opts.requestTimeout;
          const controller = body == null ? new AbortController() : undefined;
          const signal = typeof requestTimeout == "number" && requestTimeout >= 0 && requestTimeout < 1 / 0
            ? AbortSignal.timeout(requestTimeout) : undefined;
          (platform.fetch || fetch)(url, {
            method: body == null ? "GET" : "POST",
            body,
            headers,
            credentials: opts.withCredentials ? "include" : undefined,
            signal: controller && signal ? AbortSignal.any([controller.signal, signal]) : controller?.signal || signal,
          }, opts)
            .then((res) => (res.ok ? body == null && res.text() : Promise.reject(res)))
            .then(
              (text) => call(tag, text),
              (e) => {
                failed(e?.status ?? 0, e);
                call(tag + 1, e);
              },
            );
          return controller;
        },
        // engine.io-client's timers: the module's natives, or the globals of now.
        // The manager's one timer, which may reconnect: the transports as they are now first.
        setTimeout: (tag, ms) => setTimer(() => (this._syncTransports(), call(tag)), ms),
        clearTimeout: opts.useNativeTimers ? NATIVE_CLEAR_TIMEOUT : globalThis.clearTimeout.bind(globalThis),
        // The tick after WebSocket writes (one per task that wrote).
        microtask: (tag) => queueMicrotask(() => call(tag)),
        // Read at each handshake (a `reconnect_attempt` listener may refresh a token in it);
        // as engine.io-client, a query in the URL replaces the option (written back to it).
        query: () => {
          if (u.query) this.opts.query = u.query;
          const query = encodeQuery(this.opts.query || {});
          return query && query + "&";
        },
      });
      const d = new Driver(
        weakly(host),
        (secure ? "https://" : "http://") + origin + path,
        (secure ? "wss://" : "ws://") + origin + path,
        transports,
        flags,
        this._reconnectionAttempts,
        this._reconnectionDelay,
        this._reconnectionDelayMax,
        this._randomizationFactor,
        this._timeout === false ? -1 : this._timeout,
        opts.timestampParam || "t",
      );
      this._d = d;
      // closeOnBeforeunload: when the page goes, the server learns at once (a close packet, a
      // WebSocket closed); nothing is emitted, and a page that stays reconnects after its
      // missed heartbeat, as with engine.io-client.
      if (opts.closeOnBeforeunload && typeof addEventListener === "function") controlOn("beforeunload", this, 18);
      // As engine.io-client: the network going away ends the connection at once (not at the
      // next missed heartbeat), and the manager reconnects.
      if (u.host !== "localhost" && typeof addEventListener === "function") controlOn("offline", this, 3);
      for (const call of this._q.splice(0)) call(d);
    }

    on(ev, fn) {
      if (ev === "packet") this._reportPackets();
      return super.on(ev, fn);
    }

    /** Has the driver report packets (an event per packet: only once someone listens). */
    _reportPackets() {
      if (!this._reporting) {
        this._reporting = true;
        this._call((d) => d.control(4, 0));
      }
    }

    /**
     * Received JSON -> values, of the shape `valid` (if given) accepts; JSON that does not
     * parse (the core checks only its start) or has another shape, or an invalid placeholder,
     * closes the connection with "parse error", as socket.io-client's decoder error does (the
     * driver's op 5: 1 for "illegal attachments").
     */
    _decode(text, bins, valid) {
      try {
        const values = decode(text, bins);
        if (!valid || valid(values)) return values;
      } catch (e) {
        if (e.message === ILLEGAL_ATTACHMENTS) return this._d.control(5, 1);
      }
      this._d.control(5, 0);
    }

    /** Runs `call(driver)` now, or once the wasm module is ready. */
    _call(call) {
      if (this._d) call(this._d);
      else this._q.push(call);
    }

    _ev(kind, s, a, b, bins, n) {
      if (bins && platform.binary) bins = bins.map((bin) => platform.binary(bin, this.engine));
      if (kind >= 10 && kind < 30) return this._byId[s]._ev(kind, a, b, bins, n);
      switch (kind) {
        case 9:
          return this._engineEvent(a, b, bins, n);
        case 30: {
          const packet = { type: s, nsp: a };
          if (b != null && (packet.data = this._decode(b, bins)) === undefined) return;
          if (n >= 0) packet.id = n;
          return this.emitReserved("packet", packet);
        }
        case 0:
          if (this.engine) this.engine._tn = this._d.name(0, 0);
          // the Manager's first, as its listener of its engine's open came first
          this.emitReserved("open");
          return this.engine?.emit("open");
        case 1:
          return this.emitReserved("error", failure(a, this));
        case 2:
          // Packets reported: the ping's own packet report gave its heartbeat.
          if (!this._reporting) this.engine?.emit("heartbeat");
          this.emitReserved("ping");
          // engine.io-client's own, after the manager's (its listener came first)
          this.engine?.emit("ping");
          return this.engine?.emit("pong");
        case 3: {
          // As socket.io-client's: the manager's `close` (the one its engine's `close` leads
          // to) comes before the application's listeners of the engine's, which an engine
          // emits once.
          const engine = this.engine, open = engine && !engine._closed, details = description(a, b, this);
          if (open) engine._closed = true;
          this.emitReserved("close", a, details);
          if (open) engine.emit("close", a, details);
          return;
        }
        case 4:
          return this.emitReserved("reconnect", n);
        case 5:
          // Each attempt opens a new engine, as socket.io-client's: the last one's listeners stay behind.
          this.engine = new Engine(this);
          return this.emitReserved("reconnect_attempt", n);
        case 6:
          return this.emitReserved("reconnect_error", failure(a, this));
        case 7:
          return this.emitReserved("reconnect_failed");
        default:
          if (this.engine) this.engine._tn = a;
          return this.engine?.emit("upgrade", { name: a });
      }
    }

    /** The engine's `packet`, `packetCreate`, `drain` and `upgrading` events (kind 9). */
    _engineEvent(type, text, bins, n) {
      const engine = this.engine;
      if (!engine) return;
      if (n === 2) return engine.emit("drain");
      if (n === 3) return engine.emit("upgrading", { name: type });
      const packet = { type };
      if (text != null || bins) packet.data = text != null ? text : bins[0];
      if (n) packet.options = { compress: this._compress !== false };
      engine.emit(n ? "packetCreate" : "packet", packet);
      // As engine.io-client: every packet received is a sign of life.
      if (!n) engine.emit("heartbeat");
    }

    /**
     * The engine of the connection being opened: a new one once the last one closed. Opened
     * before the wasm is ready, it is opening already (`_readyState`, `transport`).
     */
    _engine() {
      this._early = !this._d;
      if (!this.engine || this.engine._closed) this.engine = new Engine(this);
    }

    get _readyState() {
      return this._d ? ["closed", "opening", "open"][this._d.state(0) & 3] : this._early ? "opening" : "closed";
    }

    get _reconnecting() {
      return !!this._d && (this._d.state(0) & 4) !== 0;
    }

    /** Reads or sets an option; the driver's is set with its `control` op. */
    _set(field, value, op, driverValue = value) {
      if (value === undefined) return this[field];
      this[field] = value;
      this._call((d) => d.control(op, +driverValue));
      return this;
    }
    reconnection(v) {
      return this._set("_reconnection", v === undefined ? v : !!v, 9);
    }
    reconnectionAttempts(v) {
      return this._set("_reconnectionAttempts", v, 10);
    }
    reconnectionDelay(v) {
      return this._set("_reconnectionDelay", v, 11);
    }
    reconnectionDelayMax(v) {
      return this._set("_reconnectionDelayMax", v, 12);
    }
    randomizationFactor(v) {
      return this._set("_randomizationFactor", v, 13);
    }
    timeout(v) {
      return this._set("_timeout", v, 14, v === false ? -1 : v);
    }

    /** Opens the connection; `fn(err?)` is called once it opened or failed. */
    open(fn) {
      this._engine();
      if (fn) {
        const onOpen = () => {
          this.off("error", onError);
          fn();
        };
        const onError = (err) => {
          this.off("open", onOpen);
          fn(err);
        };
        this.once("open", onOpen).once("error", onError);
      }
      this._call((d) => (this._syncTransports(), d.control(0, 0)));
      return this;
    }

    /** The socket of namespace `nsp` (created once per manager). */
    socket(nsp, opts) {
      let socket = this.nsps[nsp];
      if (!socket) {
        socket = new Socket(this, nsp, opts);
        this.nsps[nsp] = socket;
      } else if (this._autoConnect && !socket.active) {
        socket.connect();
      }
      return socket;
    }

    _close() {
      this._call((d) => d.control(1, 0));
    }
  }
  Manager.prototype.connect = Manager.prototype.open;
  Manager.prototype.disconnect = Manager.prototype._close;


  const cache = {};

  /** `io(uri?, opts?)`: a socket of the namespace in the URI's path, on a cached manager. */
  function io(uri, opts) {
    if (typeof uri === "object") {
      opts = uri;
      uri = undefined;
    }
    opts = opts || {};
    const parsed = url(uri, opts.path || "/socket.io");
    const id = parsed.id;
    const sameNamespace = cache[id] && parsed.path in cache[id].nsps;
    const fresh = opts.forceNew || opts["force new connection"] || opts.multiplex === false || sameNamespace;
    let manager;
    if (fresh) {
      manager = new Manager(parsed.source, opts);
    } else {
      if (!cache[id]) cache[id] = new Manager(parsed.source, opts);
      manager = cache[id];
    }
    if (parsed.query && !opts.query) opts.query = parsed.query;
    return manager.socket(parsed.path, opts);
  }
  Object.assign(io, { Manager, Socket, io, connect: io, protocol });

  return { io, Manager, Socket };
}

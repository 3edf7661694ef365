// The socket.io-client 4.8 API on top of the wasm driver (client-wasm). Protocol decisions
// (engine sessions, reconnection, acks, buffers, recovery) happen in Rust; this file keeps
// the listeners (emitter.js), turns JS values into JSON text + binary attachments and back
// (payload.js), and queues the calls made before the wasm module is ready.

import { Emitter } from "./emitter.js";
import { decode, decodeOrUndefined, encode, ILLEGAL_ATTACHMENTS, isBlob, isEvent, RESERVED } from "./payload.js";

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

/** Removes the first `fn` of `list` in place, as socket.io-client's `offAny`: a list read from
 * `listenersAny()` stays the socket's own. */
const removeFirst = (list, fn) => {
  const i = list.indexOf(fn);
  if (i >= 0) list.splice(i, 1);
};

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

/** Reports what a listener threw without breaking the driver. */
function rethrow(e) {
  setTimeout(() => {
    throw e;
  });
}

/** Calls a listener; what it throws is reported without breaking the driver. */
function guard(fn) {
  try {
    fn();
  } catch (e) {
    rethrow(e);
  }
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
   * and the events `upgrade`, `upgrading`, `heartbeat`, `close`, `packet`, `packetCreate`
   * and `drain` (the last three reported by the driver once a listener asks for them).
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
    emit(ev, ...args) {
      // socket.io-client's manager listens to its engine's `data`: what is emitted there (its
      // test suite plays a decoding error so) reaches the manager as a received message.
      const [data] = args;
      if (ev === "data" && this === this._m.engine && !this._closed) {
        this._m._call((d) => (typeof data === "string" ? d.inject(-1, data) : d.inject(-1, undefined, encode([data])[1])));
      }
      return super.emit(ev, ...args);
    }
    get id() {
      return (this._m._d && this._m._d.name(1, 0)) || undefined;
    }
    get transport() {
      // As its events told (the open, then an upgrade): the driver may have upgraded already
      // while the events of the packets that came before are still being handed out.
      return { name: this._tn || (this._m._d && this._m._d.name(0, 0)) || undefined };
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
          ready = 0;
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
        // A WebSocket with the application's subprotocols; its events go to the driver's
        // callback (tag + 0 open, 1 binary, 2 error, 3 close). The hot path: a text frame goes
        // to `head_text` as its start up to the first "[" (an event's JSON begins there: the
        // core reads that header alone); whole to `text`, with the time, when the core needs
        // more.
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
            const i = data.indexOf("[");
            if (!(i > 0 && d.head_text(id, data.slice(0, i)))) d.text(id, data, Date.now());
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
          return this.emitReserved("open");
        case 1:
          return this.emitReserved("error", failure(a, this));
        case 2:
          // Packets reported: the ping's own packet report gave its heartbeat.
          if (!this._reporting) this.engine?.emit("heartbeat");
          return this.emitReserved("ping");
        case 3:
          if (this.engine) this.engine._closed = true;
          this.engine?.emit("close", a, description(a, b, this));
          return this.emitReserved("close", a, description(a, b, this));
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

    /** The engine of the connection being opened: a new one once the last one closed. */
    _engine() {
      if (!this.engine || this.engine._closed) this.engine = new Engine(this);
    }

    get _readyState() {
      return this._d ? ["closed", "opening", "open"][this._d.state(0) & 3] : "closed";
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

  /**
   * An error of the transport as engine.io-client's `TransportError`: its `description` and
   * `context` are the browser's details the driver gave manager `m` (the HTTP status and the
   * response or failure of a polling request; a WebSocket's error event).
   */
  class TransportError extends Error {}
  const transportError = (text, m) => Object.assign(new TransportError(text), { type: "TransportError" }, m._te);
  /** A connection failure: a TransportError for the transports' errors, else an Error. */
  const failure = (text, m) =>
    /^(xhr poll|xhr post|websocket) error$/.test(text) ? transportError(text, m) : new Error(text);
  /**
   * The details of a `disconnect` or `close`: the error for a transport or parse error; for a
   * WebSocket that closed, its CloseEvent as `context` (its `code`, `reason`, `wasClean`).
   */
  const description = (reason, text, m) =>
    text == null
      ? undefined
      : reason === "transport error"
        ? transportError(text, m)
        : reason === "parse error"
          ? new Error(text)
          : { description: text, ...(text === "websocket connection closed" && { context: m._wc }) };

  class Socket extends Emitter {
    constructor(io, nsp, opts) {
      super();
      opts = opts || {};
      this.io = io;
      this.nsp = nsp;
      this.flags = {};
      this.acks = {};
      this.auth = opts.auth;
      this._opts = opts;
      this._any = [];
      this._anyOut = [];
      this._buffer = []; // sendBuffer: the emits waiting for the connection, as socket.io-client's packets
      this._connected = false; // as the last connect / disconnect event told, read by emit() without a call into wasm
      this._active = false;
      io._call((d) => {
        // `auth` is asked for at each CONNECT (kind 18): a value replaced since, or a function,
        // gives what a reconnection sends.
        this._s = d.socket(nsp, opts.retries ?? -1, opts.ackTimeout ?? -1);
        io._byId[this._s] = this;
      });
      if (io._autoConnect) this.open();
    }

    get id() {
      return (this._s !== undefined && this.io._d.name(2, this._s)) || undefined;
    }
    _state(bit) {
      return this._s !== undefined && (this.io._d.state(this._s) & bit) !== 0;
    }
    get connected() {
      return this._state(8);
    }
    get disconnected() {
      return !this.connected;
    }
    get active() {
      return this._s === undefined ? this._active : this._state(16);
    }
    get recovered() {
      return this._state(32);
    }

    /** The emits waiting for the connection (`{ type, nsp, data, options }`). */
    get sendBuffer() {
      return this._buffer;
    }
    /** `socket.sendBuffer = []` drops them; a subset assigned is sent again in its order. */
    set sendBuffer(kept) {
      this._buffer = [];
      this._send((d) => d.control(8, this._s));
      for (const p of kept || []) this.emit(...p.data, ...(p._cb ? [p._cb] : []));
    }
    /** The events received before the socket connected (`[name, ...args]` each). */
    get receiveBuffer() {
      // What does not parse is left out: it is refused with "parse error" when delivered.
      return this._held(15).map(([text, bins]) => decodeOrUndefined(text, bins)).filter((values) => values !== undefined);
    }
    /**
     * socket.io-client's private retry queue (option `retries`), which its test suite reads:
     * each emit waiting for its acknowledgement, in order, as `{ tryCount, pending, args }`.
     */
    get _queue() {
      return this._held(16).map(([text, bins, n]) => ({ tryCount: n >> 1, pending: (n & 1) === 1, args: decodeOrUndefined(text, bins) }));
    }
    /** What the driver's `control(op)` hands back as events 20 or 21, `[text, bins, n]` each. */
    _held(op) {
      if (this._s === undefined || !this.io._d) return [];
      const held = (this._received = []);
      this.io._d.control(op, this._s);
      this._received = undefined;
      return held;
    }

    /**
     * socket.io-client's private `onpacket(packet)`, with which its test suite plays a
     * server's packet: `{ type, nsp, id?, data? }` reaches this socket as if received.
     */
    onpacket(packet) {
      const [text, bins] = packet.data === undefined ? [""] : encode(packet.data);
      const binary = bins && (packet.type === 2 || packet.type === 3);
      const head = binary ? `${packet.type + 3}${bins.length}-` : packet.type;
      const wire = head + (packet.nsp !== "/" ? packet.nsp + "," : "") + (packet.id ?? "") + text;
      this._send((d, bins) => d.inject(this._s, wire, bins) || rethrow(new TypeError("not a Socket.IO packet: " + wire)), bins);
    }

    connect() {
      this._active = true;
      if (!this.io._reconnecting) this.io._engine();
      this._send((d) => (this.io._syncTransports(), d.control(6, this._s)));
      return this;
    }

    disconnect() {
      this._active = false;
      this._send((d) => d.control(7, this._s));
      return this;
    }

    /**
     * Runs `call(driver, bins)` on the driver. Attachments holding a Blob are read first
     * (asynchronously); meanwhile the socket's later calls wait behind them, in order.
     */
    _send(call, bins) {
      if (!this._p && !bins?.some(isBlob)) return this.io._call((d) => call(d, bins));
      const read = (bins || []).map((b) => (isBlob(b) ? b.arrayBuffer().then((a) => new Uint8Array(a)) : b));
      const p = (this._p = Promise.all([this._p, ...read])
        .then(([, ...bytes]) => this.io._call((d) => call(d, bins && bytes)))
        .catch((e) => guard(() => { throw e; }))
        .then(() => p === this._p && (this._p = undefined)));
    }

    send(...args) {
      return this.emit("message", ...args);
    }

    emit(ev, ...args) {
      // The name as socket.io-client looks it up (a property key: `new String("connect")` too).
      if (RESERVED.includes(String(ev))) throw new Error('"' + ev.toString() + '" is a reserved event name');
      const flags = this.flags;
      this.flags = {};
      let f = (flags.volatile ? 1 : 0) | (flags.compress === false ? 8 : 0);
      const last = args[args.length - 1];
      const cb = typeof last === "function" ? args.pop() : undefined;
      if (cb) f |= cb.withError ? 6 : 2;
      const data = [ev, ...args];
      // As socket.io-client: outgoing listeners hear an emit, with the caller's own arguments,
      // when it goes out: now, or from sendBuffer once connected; a volatile one never buffers.
      // Arguments that do not encode (circular, BigInt) throw here, before anything is kept.
      let buffered, connected = this._connected;
      if (connected) this._notifyOutgoing(data);
      const [text, bins] = encode(data);
      if (!connected && !flags.volatile) {
        buffered = { type: 2, nsp: this.nsp, data, options: { compress: flags.compress !== false }, _cb: cb };
        this._buffer.push(buffered);
      }
      this._send((d, bins) => {
        // the packets this emit creates now are reported with its `compress` flag
        this.io._compress = !(f & 8);
        const handle = d.emit(this._s, text, bins, f, flags.timeout ?? -1);
        this.io._compress = true;
        if (cb && handle >= 0) {
          this.acks[handle] = cb;
          // An emit whose acknowledgement timed out before it left is dropped: out of sendBuffer too.
          if (buffered) buffered._ack = handle;
        }
      }, bins);
      return this;
    }

    emitWithAck(ev, ...args) {
      return new Promise((resolve, reject) => {
        const fn = (err, res) => (err ? reject(err) : resolve(res));
        fn.withError = true;
        args.push(fn);
        this.emit(ev, ...args);
      });
    }

    get volatile() {
      this.flags.volatile = true;
      return this;
    }
    timeout(ms) {
      this.flags.timeout = ms;
      return this;
    }
    compress(compress) {
      this.flags.compress = compress;
      return this;
    }

    onAny(fn) {
      this._any.push(fn);
      return this;
    }
    prependAny(fn) {
      this._any.unshift(fn);
      return this;
    }
    offAny(fn) {
      if (!fn) this._any = [];
      else removeFirst(this._any, fn);
      return this;
    }
    listenersAny() {
      return this._any;
    }
    onAnyOutgoing(fn) {
      this._anyOut.push(fn);
      return this;
    }
    prependAnyOutgoing(fn) {
      this._anyOut.unshift(fn);
      return this;
    }
    offAnyOutgoing(fn) {
      if (!fn) this._anyOut = [];
      else removeFirst(this._anyOut, fn);
      return this;
    }
    listenersAnyOutgoing() {
      return this._anyOut;
    }
    _notifyOutgoing(data) {
      for (const fn of this._anyOut.slice()) fn.apply(this, data);
    }

    _ev(kind, a, b, bins, n) {
      switch (kind) {
        case 10:
          this._connected = true;
          // The core sends the buffered emits as it connects: their listeners hear them first.
          for (const p of this._buffer.splice(0)) this._notifyOutgoing(p.data);
          return this.emitReserved("connect");
        case 11: {
          // n: `a` is the server's `message` as JSON, which `new Error` prints as String() does
          const err = n ? new Error(JSON.parse(a)) : failure(a, this.io);
          // The server's CONNECT_ERROR (a message, or none): `data` is always set, as socket.io-client does.
          if (n || !a) err.data = b != null ? JSON.parse(b) : undefined;
          return this.emitReserved("connect_error", err);
        }
        case 12:
          this._connected = false;
          return this.emitReserved("disconnect", a, description(a, b, this.io));
        case 13: {
          const args = this.io._decode(a, bins, isEvent);
          if (!args) return;
          if (n >= 0) args.push(this._ack(n));
          if (this._any.length) for (const fn of this._any.slice()) fn.apply(this, args);
          return Emitter.prototype.emit.apply(this, args);
        }
        case 14:
        case 15:
        case 16: {
          const cb = this.acks[n];
          delete this.acks[n];
          this._buffer = this._buffer.filter((p) => p._ack !== n);
          if (!cb) return;
          if (kind === 16) return cb.call(this, new Error(a));
          const args = this.io._decode(a, bins, Array.isArray);
          // Unparsable: the connection closed, as for any callback pending at a disconnect.
          if (!args) return kind === 15 && cb.call(this, new Error("socket has been disconnected"));
          return kind === 15 ? cb.call(this, null, ...args) : cb.apply(this, args);
        }
        case 19:
          delete this.acks[n];
          return;
        case 20:
        case 21:
          return this._received.push([a, bins, n]);
        default: {
          const provide = (data) => this.io._call((d) => d.provide_auth(this._s, data == null ? undefined : JSON.stringify(data)));
          return typeof this.auth === "function" ? this.auth(provide) : provide(this.auth);
        }
      }
    }

    /** The callback answering the server's event `id` (once). */
    _ack(id) {
      let sent = false;
      return (...args) => {
        if (sent) return;
        sent = true;
        const [text, bins] = encode(args);
        this._send((d, bins) => d.send_ack(this._s, id, text, bins), bins);
      };
    }
  }
  Socket.prototype.open = Socket.prototype.connect;
  Socket.prototype.close = Socket.prototype.disconnect;

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

// The socket.io-client 4.8 Socket on top of its manager's wasm driver (client.js): it turns
// the application's calls into the driver's, and the driver's events back into listeners.

import { Emitter, guard, removeFirst, rethrow } from "./emitter.js";
import { description, failure } from "./errors.js";
import { decodeOrUndefined, encode, isBlob, isEvent, RESERVED } from "./payload.js";

/**
 * A socket of one namespace on a manager (socket.io-client's `Socket`): emits, acks, the
 * `any` listeners, its send and receive buffers. The protocol runs in the manager's driver;
 * `this._s` is the socket's id there.
 */
export class Socket extends Emitter {
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
  /** socket.io-client's `pid && this._pid === pid`: `undefined` after connecting to a server without recovery. */
  get recovered() {
    return this._state(64) ? undefined : this._state(32);
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
    // when it goes out: now, or from sendBuffer once connected; a volatile one never buffers,
    // and is dropped, unheard, while the transport is not writable (128: `Driver::state`).
    // Arguments that do not encode (circular, BigInt) throw here, before anything is kept.
    let buffered, connected = this._connected;
    if (connected && !(flags.volatile && !this._state(128))) this._notifyOutgoing(data);
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
        // The recovery offset for the next CONNECT, of the last event the shortcut handed
        // over, which the core did not read.
        if (this._off !== undefined) this.io._d.offset(this._s, this._off);
        this._off = undefined;
        return this.emitReserved("disconnect", a, description(a, b, this.io));
      case 13:
      case 17: {
        // 17: an event the shortcut handed over (the core is told of its offset later); 13:
        // one the core handed over, whose offset it read (with every packet received before)
        const args = this.io._decode(a, bins, isEvent);
        if (!args) return;
        // socket.io-client's `_lastOffset`: an event's last argument, when a string
        const last = args[args.length - 1];
        if (n < 0 && typeof last === "string") this._off = kind === 17 ? last : undefined;
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

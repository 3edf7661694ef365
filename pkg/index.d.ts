// Types of the `wasmio` package: the socket.io-client 4.8 API (typed events included).

/** Any map of event names to listener signatures. */
export interface EventsMap {
  [event: string]: any;
}
/** The untyped default: any event, any arguments. */
export interface DefaultEventsMap {
  [event: string]: (...args: any[]) => void;
}
/** The event names of a map. */
export type EventNames<Map extends EventsMap> = keyof Map & (string | symbol);
/** The arguments of one event of a map. */
export type EventParams<Map extends EventsMap, Ev extends EventNames<Map>> = Parameters<Map[Ev]>;
type UntypedListener<T> = [T] extends [never] ? (...args: any[]) => void | Promise<void> : T;
type ListenerOf<Reserved extends EventsMap, User extends EventsMap, Ev> = UntypedListener<
  Ev extends EventNames<Reserved> ? Reserved[Ev] : Ev extends EventNames<User> ? User[Ev] : never
>;
type AnyName<Reserved extends EventsMap, User extends EventsMap> = EventNames<Reserved> | EventNames<User>;
type Last<T extends any[]> = T extends [...infer _, infer L] ? L : any;
type AllButLast<T extends any[]> = T extends [...infer H, infer _] ? H : any[];
/** The value an acknowledgement resolves with: its first argument that is not the error. */
/** An acknowledgement callback's one argument; `any` for a callback of several, as socket.io-client types it. */
type FirstArg<T> = T extends (arg: infer Param) => infer Result ? Param : any;
type PrependTimeoutError<T extends any[]> = {
  [K in keyof T]: T[K] extends (...args: infer P) => infer R ? (err: Error, ...args: P) => R : T[K];
};
type DecorateAcknowledgements<E> = {
  [K in keyof E]: E[K] extends (...args: infer P) => infer R ? (...args: PrependTimeoutError<P>) => R : E[K];
};

/** The listener and emitter methods (@socket.io/component-emitter). */
export class Emitter<ListenEvents extends EventsMap, EmitEvents extends EventsMap, ReservedEvents extends EventsMap = {}> {
  on<Ev extends AnyName<ReservedEvents, ListenEvents>>(ev: Ev, listener: ListenerOf<ReservedEvents, ListenEvents, Ev>): this;
  once<Ev extends AnyName<ReservedEvents, ListenEvents>>(ev: Ev, listener: ListenerOf<ReservedEvents, ListenEvents, Ev>): this;
  off<Ev extends AnyName<ReservedEvents, ListenEvents>>(ev?: Ev, listener?: ListenerOf<ReservedEvents, ListenEvents, Ev>): this;
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): this;
  protected emitReserved<Ev extends EventNames<ReservedEvents>>(ev: Ev, ...args: EventParams<ReservedEvents, Ev>): this;
  listeners<Ev extends AnyName<ReservedEvents, ListenEvents>>(event: Ev): ListenerOf<ReservedEvents, ListenEvents, Ev>[];
  hasListeners<Ev extends AnyName<ReservedEvents, ListenEvents>>(event: Ev): boolean;
  addEventListener<Ev extends AnyName<ReservedEvents, ListenEvents>>(ev: Ev, listener: ListenerOf<ReservedEvents, ListenEvents, Ev>): this;
  removeListener<Ev extends AnyName<ReservedEvents, ListenEvents>>(ev?: Ev, listener?: ListenerOf<ReservedEvents, ListenEvents, Ev>): this;
  removeEventListener<Ev extends AnyName<ReservedEvents, ListenEvents>>(ev?: Ev, listener?: ListenerOf<ReservedEvents, ListenEvents, Ev>): this;
  removeAllListeners<Ev extends AnyName<ReservedEvents, ListenEvents>>(ev?: Ev): this;
}

/** Engine.IO options the client honours. */
export interface EngineOptions {
  /** Use https/wss (default: from the URI). */
  secure: boolean;
  /** Extra query parameters of every request. */
  query: { [key: string]: any } | string;
  /** `true` adds the timestamp to WebSocket URLs too; `false` removes it from polling. */
  timestampRequests: boolean;
  /** The timestamp parameter name (default "t"). */
  timestampParam: string;
  /** Transports in order of preference (default ["polling", "websocket"]): names, or the
   * transport exports (`[WebSocket, Fetch]`, as socket.io-client 4.8 takes them). */
  transports: ("polling" | "websocket" | string | TransportType)[];
  /** Try the next transport when the first one fails to open (default false). */
  tryAllTransports: boolean;
  /** Probe for WebSocket after opening over polling (default true). */
  upgrade: boolean;
  /** Open over WebSocket directly when it worked before (default false). */
  rememberUpgrade: boolean;
  /** Send cookies cross-origin with polling requests. */
  withCredentials: boolean;
  /** Headers of polling requests. */
  extraHeaders: { [header: string]: string };
  /** WebSocket subprotocols offered with the WebSocket transport. */
  protocols: string | string[];
  /** Ms after which a polling request fails ("xhr poll error"). */
  requestTimeout: number;
  /** Options of one transport over the ones above: `extraHeaders` and `requestTimeout` for
   *  `polling`, `protocols` for `websocket`. */
  transportOptions: {
    polling?: { extraHeaders?: { [header: string]: string }; requestTimeout?: number };
    websocket?: { protocols?: string | string[] };
  };
  /** Close the connection cleanly when the page unloads (default false). */
  closeOnBeforeunload: boolean;
  /** Use the timer functions as the package found them when it loaded, not the global ones
   *  when the manager is created (fake timers in tests; default false). */
  useNativeTimers: boolean;
  /** Node.js: an open WebSocket connection and the manager's timers do not keep the process
   *  alive (default false). A pending long-polling request still does (Node's `fetch`). */
  autoUnref: boolean;
  /** Node.js: TLS and connection options handed to the `ws` package for the WebSockets. */
  agent: string | boolean;
  pfx: string;
  key: string;
  passphrase: string;
  cert: string;
  ca: string | string[];
  ciphers: string;
  rejectUnauthorized: boolean;
  /** Keep the trailing slash of `path` (default true). */
  addTrailingSlash: boolean;
  /** The server path (default "/socket.io"). */
  path: string;
}

/** Options of a Manager (socket.io-client's `ManagerOptions`). */
export interface ManagerOptions extends EngineOptions {
  /** A new Manager even when one exists for the URL. */
  forceNew: boolean;
  /** Share the Manager of the URL between namespaces (default true). */
  multiplex: boolean;
  /** Reconnect automatically (default true). */
  reconnection: boolean;
  /** Attempts before giving up (default Infinity). */
  reconnectionAttempts: number;
  /** First delay between attempts, ms (default 1000). */
  reconnectionDelay: number;
  /** Largest delay between attempts, ms (default 5000). */
  reconnectionDelayMax: number;
  /** Jitter of the delay (default 0.5). */
  randomizationFactor: number;
  /** Ms for a connection to open, or false (default 20000). */
  timeout: number | false;
  /** Connect at once (default true). */
  autoConnect: boolean;
}

/** Options of one namespace socket. */
export interface SocketOptions {
  /** Sent in the CONNECT packet; a function is called at each connection. */
  auth?: { [key: string]: any } | ((cb: (data: object) => void) => void);
  /** Retries of each emit until acknowledged. */
  retries?: number;
  /** Default acknowledgement timeout, ms. */
  ackTimeout?: number;
}

/** Details of a disconnection. */
export type DisconnectDescription = Error | { description: string; context?: unknown };

/** A connection error; `data` is what the server's middleware attached. */
export interface ExtendedError extends Error {
  data?: any;
}

/** Events of a Socket itself. */
export interface SocketReservedEvents {
  connect: () => void;
  connect_error: (err: ExtendedError) => void;
  disconnect: (reason: Socket.DisconnectReason, description?: DisconnectDescription) => void;
}

/** Events of a Manager. */
export interface ManagerReservedEvents {
  open: () => void;
  error: (err: Error) => void;
  ping: () => void;
  /** A Socket.IO packet received and decoded. */
  packet: (packet: { type: number; nsp: string; data?: any; id?: number }) => void;
  close: (reason: string, description?: DisconnectDescription) => void;
  reconnect_failed: () => void;
  reconnect_attempt: (attempt: number) => void;
  reconnect_error: (err: Error) => void;
  reconnect: (attempt: number) => void;
}

/** The events of a Manager's engine. */
export interface EngineEvents {
  /** The handshake is done (after the Manager's `open`). */
  open: () => void;
  /** A ping from the server, answered (after the Manager's `ping`). */
  ping: () => void;
  /** Right after `ping`, as engine.io-client emits it. */
  pong: () => void;
  upgrade: (transport: { name: string }) => void;
  upgrading: (transport: { name: string }) => void;
  heartbeat: () => void;
  close: (reason: string, description?: DisconnectDescription) => void;
  /** An Engine.IO packet received. */
  packet: (packet: EnginePacket) => void;
  /** An Engine.IO packet created to be sent. */
  packetCreate: (packet: EnginePacket) => void;
  /** The write buffer was written out. */
  drain: () => void;
}

/** An Engine.IO packet, as engine.io-client's events carry it. */
export interface EnginePacket {
  type: "open" | "close" | "ping" | "pong" | "message" | "upgrade" | "noop";
  data?: string | ArrayBuffer;
}

/**
 * The Engine.IO connection of a Manager (`manager.engine`, from its first connection; a new
 * one for each reconnection attempt).
 */
export interface Engine extends Emitter<EngineEvents, {}> {
  /** The session id, once open (typed as socket.io-client types it). */
  readonly id: string;
  /** The transport's name, once opening (typed as socket.io-client types it). */
  readonly transport: { name: string };
  /** In Node, `"arraybuffer"` hands received binary data over as ArrayBuffers, not Buffers. */
  binaryType?: "arraybuffer" | "nodebuffer";
  readonly readyState: "opening" | "open" | "closed";
  /** Ends the connection as if it was lost (`forced close`): the manager reconnects. */
  close(): this;
  /** Writes an Engine.IO message as it is (not a Socket.IO packet); `callback` runs once the
   * write buffer is written out. */
  write(data: string | ArrayBuffer | ArrayBufferView, options?: { compress?: boolean }, callback?: () => void): this;
  write(data: string | ArrayBuffer | ArrayBufferView, callback?: () => void): this;
  /** The same as `write`. */
  send(data: string | ArrayBuffer | ArrayBufferView, options?: { compress?: boolean }, callback?: () => void): this;
  send(data: string | ArrayBuffer | ArrayBufferView, callback?: () => void): this;
}

/** One connection to a server, multiplexing namespace sockets, with reconnection. */
export class Manager<ListenEvents extends EventsMap = DefaultEventsMap, EmitEvents extends EventsMap = ListenEvents> extends Emitter<{}, {}, ManagerReservedEvents> {
  /** Made at the first connection (with `autoConnect: false`, undefined until `connect()`);
   * typed as socket.io-client types it. */
  engine: Engine;
  opts: Partial<ManagerOptions>;
  nsps: Record<string, Socket>;
  _readyState: "opening" | "open" | "closed";
  constructor(opts?: Partial<ManagerOptions>);
  constructor(uri?: string, opts?: Partial<ManagerOptions>);
  constructor(uri?: string | Partial<ManagerOptions>, opts?: Partial<ManagerOptions>);
  reconnection(v: boolean): this;
  reconnection(): boolean;
  reconnectionAttempts(v: number): this;
  reconnectionAttempts(): number;
  reconnectionDelay(v: number): this;
  reconnectionDelay(): number;
  randomizationFactor(v: number): this;
  randomizationFactor(): number;
  reconnectionDelayMax(v: number): this;
  reconnectionDelayMax(): number;
  timeout(v: number | boolean): this;
  timeout(): number | boolean;
  open(fn?: (err?: any) => void): this;
  connect(fn?: (err?: any) => void): this;
  socket(nsp: string, opts?: Partial<SocketOptions>): Socket;
  /** Closes the connection for good (no reconnection), as socket.io-client's `_close()`. */
  _close(): void;
  disconnect(): void;
}

/** A namespace socket: emits and receives events, with acknowledgements. */
export class Socket<ListenEvents extends EventsMap = DefaultEventsMap, EmitEvents extends EventsMap = ListenEvents> extends Emitter<ListenEvents, EmitEvents, SocketReservedEvents> {
  readonly io: Manager<ListenEvents, EmitEvents>;
  /** The session id while connected. */
  readonly id: string | undefined;
  readonly connected: boolean;
  readonly disconnected: boolean;
  /** Connected or trying to. */
  readonly active: boolean;
  /**
   * The last connection restored the previous session (connection state recovery). Typed as
   * socket.io-client types it; like socket.io-client, `undefined` once connected to a server
   * without connection state recovery.
   */
  readonly recovered: boolean;
  auth: { [key: string]: any } | ((cb: (data: object) => void) => void);
  /** The emits waiting for the connection; assigning `[]` drops them. */
  sendBuffer: Array<{ type: number; nsp: string; data: any[]; options?: { compress?: boolean } }>;
  /** The events received before the socket connected. */
  readonly receiveBuffer: any[][];
  constructor(io: Manager, nsp: string, opts?: Partial<SocketOptions>);
  connect(): this;
  open(): this;
  send(...args: any[]): this;
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): this;
  emitWithAck<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstArg<Last<EventParams<EmitEvents, Ev>>>>;
  disconnect(): this;
  close(): this;
  compress(compress: boolean): this;
  get volatile(): this;
  timeout(timeout: number): Socket<ListenEvents, DecorateAcknowledgements<EmitEvents>>;
  onAny(listener: (...args: any[]) => void): this;
  prependAny(listener: (...args: any[]) => void): this;
  offAny(listener?: (...args: any[]) => void): this;
  listenersAny(): ((...args: any[]) => void)[];
  onAnyOutgoing(listener: (...args: any[]) => void): this;
  prependAnyOutgoing(listener: (...args: any[]) => void): this;
  offAnyOutgoing(listener?: (...args: any[]) => void): this;
  listenersAnyOutgoing(): ((...args: any[]) => void)[];
}

export declare namespace Socket {
  /** Why a socket disconnected. */
  type DisconnectReason =
    | "io server disconnect"
    | "io client disconnect"
    | "ping timeout"
    | "transport close"
    | "transport error"
    | "parse error";
}

/** `io(uri?, opts?)`: a socket of the URI's namespace, on a (cached) Manager. */
declare function lookup(opts?: Partial<ManagerOptions & SocketOptions>): Socket;
declare function lookup(uri?: string, opts?: Partial<ManagerOptions & SocketOptions>): Socket;

/** The Socket.IO protocol revision (5). */
export declare const protocol: number;

/** A transport as socket.io-client 4.8 exports it, for the `transports` option: it stands
 * for its transport by `prototype.name`. */
export interface TransportType {
  readonly prototype: { readonly name: string };
}
/** Long-polling (socket.io-client's fetch transport). */
export declare const Fetch: TransportType;
/** Long-polling (socket.io-client's XMLHttpRequest transport; wasmio polls with fetch). */
export declare const XHR: TransportType;
/** Long-polling (socket.io-client's Node.js transport; wasmio polls with fetch). */
export declare const NodeXHR: TransportType;
/** The WebSocket transport. */
export declare const WebSocket: TransportType;
/** The WebSocket transport (socket.io-client's Node.js one; wasmio uses the platform's). */
export declare const NodeWebSocket: TransportType;
/** WebTransport: not supported by wasmio (skipped; alone, the connection fails with "No transports available"). */
export declare const WebTransport: TransportType;

export { lookup as io, lookup as connect, lookup as default };

// The typed usage socket.io-client documents, compiled against the wasmio package's types
// (tests/client/types.test.mjs runs `tsc --noEmit` on it). Each `@ts-expect-error` marks a
// misuse the types must refuse: if they stopped refusing it, tsc fails on the unused marker.
import { io, Manager, Socket, Fetch, WebSocket } from "wasmio";

interface ServerToClientEvents {
  noArg: () => void;
  basicEmit: (a: number, b: string, c: ArrayBuffer) => void;
  withAck: (d: string, callback: (e: number) => void) => void;
}

interface ClientToServerEvents {
  hello: () => void;
  join: (room: string, callback: (members: number) => void) => void;
}

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("https://example.com", {
  auth: { token: "abc" },
  transports: ["websocket"],
  protocols: ["chat.v1"],
  transportOptions: { polling: { extraHeaders: { "x-token": "abc" } } },
  closeOnBeforeunload: true,
  autoConnect: false,
});

socket.on("basicEmit", (a, b, c) => {
  const sum: number = a + 1;
  const text: string = b.toUpperCase();
  const bytes: number = c.byteLength;
  console.log(sum, text, bytes);
});
socket.on("withAck", (d, callback) => callback(d.length));
socket.emit("hello");
socket.emit("join", "lobby", (members) => console.log(members.toFixed()));
socket.on("disconnect", (reason, details) => console.log(reason === "transport close", details));
socket.on("connect_error", (err) => console.log(err.message, err.data));

async function members(): Promise<number> {
  return socket.timeout(1000).emitWithAck("join", "lobby");
}

const engine = socket.io.engine;
engine?.on("upgrade", (transport) => console.log(transport.name));
engine?.close();
socket.io.on("reconnect_attempt", (attempt) => {
  socket.io.opts.query = { attempt: String(attempt) };
});
const manager = new Manager("https://example.com", { reconnectionDelayMax: 10_000 });
manager.socket("/admin").connect();

// @ts-expect-error: an event the server never sends
socket.on("nope", () => {});
// @ts-expect-error: a wrong argument type
socket.emit("join", 42, () => {});
// @ts-expect-error: a reason socket.io-client's union does not have
socket.on("disconnect", (reason) => reason === "gone");
// Code written against socket.io-client's types compiles unchanged: `engine` as it types it,
// an acknowledgement of several arguments awaited as `any`.
socket.io.engine.on("close", (reason) => console.log(reason));
const transportName: string = socket.io.engine.transport.name;
const engineId: string = socket.io.engine.id;
socket.io.engine.binaryType = "arraybuffer";
console.log(transportName, engineId);
async function created(): Promise<number> {
  const typed = socket as unknown as Socket<ServerToClientEvents, { create: (name: string, cb: (err: Error | null, id: number) => void) => void }>;
  const id: number = await typed.emitWithAck("create", "x");
  return id;
}

export { members, created };

// socket.io-client 4.8's transport exports in `transports`, beside names.
const chosen = io({ transports: [WebSocket, Fetch, "polling"] });
chosen.connect();

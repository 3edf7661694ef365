// The official socket.io 4.8.4 server running the chat of the edge worker's default env (run
// by run.mjs in its own process, pinned to a core): every `chat message` is broadcast to
// everyone as `{ id, text, ts }`. `--recovery` turns on connection state recovery (sessions
// and the packets they missed kept for 120 s). Binds 127.0.0.1 on a free port and prints
// `PORT <port>` on stdout.
import { createServer } from "node:http";
import { Server } from "socket.io";

const recovery = process.argv.includes("--recovery");
const http = createServer();
const io = new Server(http, {
  transports: ["polling", "websocket"],
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 120000 } } : {}),
});
io.on("connection", (socket) => {
  socket.on("chat message", (text) => io.emit("chat message", { id: socket.id, text, ts: Date.now() }));
});
http.listen(0, "127.0.0.1", () => console.log(`PORT ${http.address().port}`));

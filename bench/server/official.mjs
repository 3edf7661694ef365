// The official socket.io 4.8.4 server with the handlers the driver needs (run by run.mjs in
// its own process, pinned to a core): "/" `message` -> `message-back`, `message-with-ack`
// acked with its arguments; "/rooms" `join` (acked with the room) and `to-room` (room, msg)
// -> `room-message` to the room but the sender. Prints the port on stdout.
import { createServer } from "node:http";
import { Server } from "socket.io";

const http = createServer();
const io = new Server(http, {
  transports: ["polling", "websocket"],
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  cors: { origin: "*" },
});
io.on("connection", (socket) => {
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});
io.of("/rooms").on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(room);
  });
  socket.on("to-room", (room, msg) => socket.to(room).emit("room-message", msg));
});
http.listen(0, "127.0.0.1", () => console.log(`PORT ${http.address().port}`));

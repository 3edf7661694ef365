// An app as a user writes it: the package imported by name, bundled by Vite.
import { io } from "wasmio";

const server = new URLSearchParams(location.search).get("server");
const socket = io(server, { auth: { from: "vite" } });

window.result = new Promise((resolve, reject) => {
  socket.on("connect_error", reject);
  socket.on("connect", async () => {
    try {
      const ack = await new Promise((res) => socket.emit("echo", "bundled ✓", new Uint8Array([1, 2]), (...a) => res(a)));
      resolve({ id: socket.id, ack: ack[0], bin: [...new Uint8Array(ack[1])], transport: socket.io.engine.transport.name });
    } catch (e) {
      reject(e);
    }
  });
});
window.ready = true;

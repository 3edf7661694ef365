// The app as a user writes it, the same for each bundler (tests/client/packaging.test.mjs
// copies it to each app's entry: vite/main.js, webpack/src/index.js): the package imported
// by name; the page's query names the server and the bundler (sent as auth).
import { io } from "wasmio";

const query = new URLSearchParams(location.search);
const socket = io(query.get("server"), { auth: { from: query.get("from") } });

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

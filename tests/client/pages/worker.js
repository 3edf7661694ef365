// A dedicated module worker using the package: no window, no document.
import { io } from "/pkg/index.js";

self.onmessage = async ({ data: { id, url, opts } }) => {
  const out = { id, hasWindow: typeof window !== "undefined", hasDocument: typeof document !== "undefined" };
  try {
    const socket = io(url, opts);
    const welcome = new Promise((res) => socket.once("welcome", (...args) => res(args)));
    await new Promise((res, rej) => {
      socket.on("connect", res);
      socket.on("connect_error", rej);
    });
    out.connected = socket.connected;
    const [sid, buf] = await welcome;
    out.welcome = [typeof sid, buf instanceof ArrayBuffer && [...new Uint8Array(buf)]];
    out.ack = await socket.emitWithAck("echo", "from a worker ✓", { n: [1, 2] });
    const bin = await socket.timeout(5000).emitWithAck("echo", new Uint8Array([3, 2, 1]));
    out.bin = bin instanceof ArrayBuffer && [...new Uint8Array(bin)];
    out.cb = await new Promise((res) => socket.emit("echo", 42, (n) => res(n)));
    if (!opts.transports && socket.io.engine.transport.name !== "websocket")
      await new Promise((res) => socket.io.engine.once("upgrade", res));
    out.transport = socket.io.engine.transport.name;
    const reason = new Promise((res) => socket.on("disconnect", res));
    socket.disconnect();
    out.reason = await reason;
  } catch (e) {
    out.error = String(e && e.stack || e);
  }
  self.postMessage(out);
};

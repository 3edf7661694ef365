// The browser's ceiling for bench/client: the least a Socket.IO client can do in a page, one
// WebSocket straight to /socket.io/ (no polling, no upgrade, no reconnection, no binary, no
// namespaces), each frame parsed once with JSON.parse and handed to one listener. What it
// reaches on events/s is what the browser and the server allow any client; a goal above it
// cannot be met by client code.

/** `io(url)`: a connected-at-once socket with on/off/emit/emitWithAck for the bench page. */
export function io(url) {
  const listeners = new Map();
  const acks = new Map();
  let nextAck = 0;
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
  const socket = {
    io: { engine: { transport: { name: "websocket" }, on() {} } },
    on(event, fn) {
      listeners.set(event, fn);
      return socket;
    },
    off(event) {
      listeners.delete(event);
      return socket;
    },
    emit(event, ...args) {
      ws.send(`42${JSON.stringify([event, ...args])}`);
      return socket;
    },
    emitWithAck(event, ...args) {
      const id = nextAck++;
      ws.send(`42${id}${JSON.stringify([event, ...args])}`);
      return new Promise((resolve) => acks.set(id, resolve));
    },
  };
  ws.onmessage = ({ data }) => {
    if (data === "2") return ws.send("3");
    if (data[0] === "0") return ws.send("40");
    if (data.startsWith("40")) return listeners.get("connect")?.();
    if (data.startsWith("42")) {
      const [event, ...args] = JSON.parse(data.slice(2));
      return listeners.get(event)?.(...args);
    }
    if (data.startsWith("43")) {
      const bracket = data.indexOf("[");
      const id = Number(data.slice(2, bracket));
      const [value] = JSON.parse(data.slice(bracket));
      acks.get(id)(value);
      acks.delete(id);
    }
  };
  return socket;
}

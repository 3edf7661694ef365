// Platform floor: a minimal hibernatable Durable Object (acceptWebSocket + webSocketMessage)
// that answers the frames of bench/server/driver.mjs with string operations only:
//   `0{...}` Engine.IO open on accept; `2` is never sent (no pings: pingInterval 25 s);
//   `40` / `40/rooms,` CONNECT -> `40{"sid":"x"}` / `40/rooms,{"sid":"x"}`;
//   `42N["message-with-ack",...]` -> `43N[...]`; `42["message",...]` -> `42["message-back",...]`;
//   `42/rooms,N["join",room]` -> `43/rooms,N[room]` (the socket joins the one room);
//   `42/rooms,["to-room",room,msg]` -> `42/rooms,["room-message",msg]` to every other joined socket.
// Every socket lands on one object (idFromName("floor")), like SHARDS=1 for ours. A plain GET
// of /socket.io/ is answered 400 "Session ID unknown" by the object (the driver's measure of
// one HTTP request through a Durable Object).
import { DurableObject } from "cloudflare:workers";

const OPEN = '0{"sid":"floor","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}';
const ACK_EVENT = '["message-with-ack",';
const MSG_EVENT = '["message",';
const ROOMS = "/rooms,";
const UNKNOWN_SID = '{"code":1,"message":"Session ID unknown"}';

export class FloorObject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.joined = new Set();
    // After hibernation the in-memory set is gone; the attachments survive.
    for (const ws of ctx.getWebSockets()) if (ws.deserializeAttachment()?.joined) this.joined.add(ws);
  }

  async fetch(request) {
    // Any other request is a polling request of a session this floor never has.
    if (request.headers.get("Upgrade") !== "websocket") return new Response(UNKNOWN_SID, { status: 400 });
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].send(OPEN);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  webSocketMessage(ws, msg) {
    if (typeof msg !== "string") return;
    if (msg === "3") return;
    if (msg.startsWith("40")) return ws.send(msg.length > 2 ? `40${ROOMS}{"sid":"x"}` : '40{"sid":"x"}');
    if (!msg.startsWith("42")) return;
    let i = 2;
    const rooms = msg.startsWith(ROOMS, 2);
    if (rooms) i += ROOMS.length;
    let j = i;
    while (j < msg.length && msg.charCodeAt(j) >= 48 && msg.charCodeAt(j) <= 57) j++;
    const id = msg.slice(i, j);
    const body = msg.slice(j);
    if (!rooms) {
      if (id && body.startsWith(ACK_EVENT)) ws.send(`43${id}[${body.slice(ACK_EVENT.length)}`);
      else if (body.startsWith(MSG_EVENT)) ws.send(`42["message-back",${body.slice(MSG_EVENT.length)}`);
      return;
    }
    const args = JSON.parse(body);
    if (args[0] === "join") {
      ws.serializeAttachment({ joined: true });
      this.joined.add(ws);
      if (id) ws.send(`43${ROOMS}${id}${JSON.stringify([args[1]])}`);
    } else if (args[0] === "to-room") {
      const out = `42${ROOMS}${JSON.stringify(["room-message", args[2]])}`;
      for (const other of this.joined) if (other !== ws) other.send(out);
    }
  }

  webSocketClose(ws) {
    this.joined.delete(ws);
  }

  webSocketError(ws) {
    this.joined.delete(ws);
  }
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (request.headers.get("Upgrade") !== "websocket" && path !== "/socket.io/") return new Response("floor\n");
    return env.FLOOR.get(env.FLOOR.idFromName("floor")).fetch(request);
  },
};

// Platform floor: a minimal Durable Object that answers the frames of bench/server/driver.mjs
// with string operations only, over hibernatable WebSockets (acceptWebSocket + webSocketMessage)
// and over Engine.IO long-polling (sessions in memory, one GET held per session, POSTs of
// `\x1e`-separated packets):
//   `0{...}` Engine.IO open (on accept, or the answer to a handshake GET); `2` is never sent
//   (no pings: pingInterval 25 s); `1` (polling) ends the session;
//   `40` / `40/rooms,` CONNECT -> `40{"sid":"x"}` / `40/rooms,{"sid":"x"}`;
//   `42N["message-with-ack",...]` -> `43N[...]`; `42["message",...]` -> `42["message-back",...]`;
//   `42/rooms,N["join",room]` -> `43/rooms,N[room]` (the socket joins the one room);
//   `42/rooms,["to-room",room,msg]` -> `42/rooms,["room-message",msg]` to every other joined socket.
// `GET /instance` answers when the object's current instance started (the cold-wake scenario
// tells an evicted object by it, as it does ours by `/api/objects`).
// Every socket lands on one object (idFromName("floor")), like SHARDS=1 for ours. A polling
// request with a sid the object does not know is answered 400 "Session ID unknown" (the
// driver's measure of one HTTP request through a Durable Object).
import { DurableObject } from "cloudflare:workers";

const HANDSHAKE = (sid, upgrades) =>
  `0{"sid":"${sid}","upgrades":${upgrades},"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`;
const ACK_EVENT = '["message-with-ack",';
const MSG_EVENT = '["message",';
const ROOMS = "/rooms,";
const UNKNOWN_SID = '{"code":1,"message":"Session ID unknown"}';

/** A long-polling session: packets wait in `queue` until the held GET (`waiting`) takes them. */
class PollingSession {
  constructor() {
    this.queue = [];
    this.waiting = null;
  }
  send(packet) {
    this.queue.push(packet);
    if (this.waiting) {
      const answer = this.waiting;
      this.waiting = null;
      answer(this.take());
    }
  }
  take() {
    const body = this.queue.join("\x1e");
    this.queue = [];
    return new Response(body);
  }
}

export class FloorObject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.joined = new Set();
    this.sessions = new Map();
    this.nextSid = 0;
    this.started = Date.now();
    // After hibernation the in-memory set is gone; the attachments survive.
    for (const ws of ctx.getWebSockets()) if (ws.deserializeAttachment()?.joined) this.joined.add(ws);
  }

  async fetch(request) {
    if (new URL(request.url).pathname === "/instance") return Response.json({ instanceStartedMs: this.started });
    if (request.headers.get("Upgrade") === "websocket") {
      const pair = new WebSocketPair();
      this.ctx.acceptWebSocket(pair[1]);
      pair[1].send(HANDSHAKE("floor", "[]"));
      return new Response(null, { status: 101, webSocket: pair[0] });
    }
    const sid = new URL(request.url).searchParams.get("sid");
    if (sid === null) {
      const id = `p${++this.nextSid}`;
      this.sessions.set(id, new PollingSession());
      return new Response(HANDSHAKE(id, "[]"));
    }
    const session = this.sessions.get(sid);
    if (!session) return new Response(UNKNOWN_SID, { status: 400 });
    if (request.method === "POST") {
      for (const packet of (await request.text()).split("\x1e")) this.message(session, packet);
      return new Response("ok");
    }
    if (session.queue.length) return session.take();
    return new Promise((answer) => (session.waiting = answer));
  }

  webSocketMessage(ws, msg) {
    if (typeof msg === "string") this.message(ws, msg);
  }

  /** One packet from `peer` (a WebSocket or a polling session: both have `send`). */
  message(peer, msg) {
    if (msg === "3") return;
    if (msg === "1") return this.leave(peer);
    if (msg.startsWith("40")) return peer.send(msg.length > 2 ? `40${ROOMS}{"sid":"x"}` : '40{"sid":"x"}');
    if (!msg.startsWith("42")) return;
    let i = 2;
    const rooms = msg.startsWith(ROOMS, 2);
    if (rooms) i += ROOMS.length;
    let j = i;
    while (j < msg.length && msg.charCodeAt(j) >= 48 && msg.charCodeAt(j) <= 57) j++;
    const id = msg.slice(i, j);
    const body = msg.slice(j);
    if (!rooms) {
      if (id && body.startsWith(ACK_EVENT)) peer.send(`43${id}[${body.slice(ACK_EVENT.length)}`);
      else if (body.startsWith(MSG_EVENT)) peer.send(`42["message-back",${body.slice(MSG_EVENT.length)}`);
      return;
    }
    const args = JSON.parse(body);
    if (args[0] === "join") {
      if (peer instanceof PollingSession) peer.joined = true;
      else peer.serializeAttachment({ joined: true });
      this.joined.add(peer);
      if (id) peer.send(`43${ROOMS}${id}${JSON.stringify([args[1]])}`);
    } else if (args[0] === "to-room") {
      const out = `42${ROOMS}${JSON.stringify(["room-message", args[2]])}`;
      for (const other of this.joined) if (other !== peer) other.send(out);
    }
  }

  /** A peer is gone: out of the room; a polling session ends (its held GET answered `6`). */
  leave(peer) {
    this.joined.delete(peer);
    for (const [sid, session] of this.sessions) {
      if (session !== peer) continue;
      this.sessions.delete(sid);
      session.send("6");
    }
  }

  webSocketClose(ws) {
    this.leave(ws);
  }

  webSocketError(ws) {
    this.leave(ws);
  }
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    const served = path === "/socket.io/" || path === "/instance";
    if (request.headers.get("Upgrade") !== "websocket" && !served) return new Response("floor\n");
    return env.FLOOR.get(env.FLOOR.idFromName("floor")).fetch(request);
  },
};

// The JS floor of the edge cost benchmark (bench/edge-cost/run.mjs): a hibernatable Durable
// Object with a naive Engine.IO heartbeat, i.e. what one writes first on Cloudflare:
//   - `ctx.acceptWebSocket` (hibernation), Engine.IO open `0{...}` on accept, `40` -> `40{"sid":..}`;
//   - an alarm every ping interval sends the ping `2` to every socket and closes the sockets
//     whose last pong is older than pingInterval + pingTimeout;
//   - every pong `3` is delivered to webSocketMessage (no setWebSocketAutoResponse), which
//     records it in the socket's attachment.
// Every socket lands on one object (idFromName("floor")).
//
// Wake-ups (events workerd delivers to the object: fetches, WebSocket messages, alarms) are
// counted in the object's SQLite storage, synchronously, during the event being counted:
// workerd evicts an object 10 s after its last event and its memory with it. `instances`
// counts the object instances (one more after each eviction) that counted something.
// GET /__stats reads the counts (that read itself is not counted).
import { DurableObject } from "cloudflare:workers";

const PING_INTERVAL = 25_000;
const PING_TIMEOUT = 20_000;
const OPEN = (sid) =>
  `0${JSON.stringify({ sid, upgrades: [], pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, maxPayload: 1_000_000 })}`;
const STATS = "/__stats";

const randomId = () => {
  const bytes = crypto.getRandomValues(new Uint8Array(15));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
};

export class FloorObject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS wakeups (kind TEXT PRIMARY KEY, n INTEGER NOT NULL)");
    this.counted = false;
  }

  count(kind) {
    const bump = (k) => this.sql.exec("INSERT INTO wakeups VALUES (?, 1) ON CONFLICT(kind) DO UPDATE SET n = n + 1", k);
    if (!this.counted) {
      this.counted = true;
      bump("instances");
    }
    bump(kind);
  }

  stats() {
    const counts = { fetches: 0, websocketMessages: 0, alarms: 0, instances: 0 };
    for (const { kind, n } of this.sql.exec("SELECT kind, n FROM wakeups")) counts[kind] = n;
    return counts;
  }

  async fetch(request) {
    if (new URL(request.url).pathname === STATS) return Response.json(this.stats());
    this.count("fetches");
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].serializeAttachment({ pong: Date.now() });
    pair[1].send(OPEN(randomId()));
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + PING_INTERVAL);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  async alarm() {
    this.count("alarms");
    const now = Date.now();
    for (const ws of this.ctx.getWebSockets()) {
      const pong = ws.deserializeAttachment()?.pong ?? 0;
      try {
        if (now - pong > PING_INTERVAL + PING_TIMEOUT) ws.close(1000, "ping timeout");
        else ws.send("2");
      } catch {}
    }
    if (this.ctx.getWebSockets().length) await this.ctx.storage.setAlarm(now + PING_INTERVAL);
  }

  webSocketMessage(ws, msg) {
    this.count("websocketMessages");
    if (msg === "3") return ws.serializeAttachment({ pong: Date.now() });
    if (typeof msg === "string" && msg.startsWith("40")) ws.send(`40${JSON.stringify({ sid: randomId() })}`);
  }

  webSocketClose(ws, code) {
    try {
      ws.close(code === 1005 ? 1000 : code, "closed");
    } catch {}
  }
}

export default {
  async fetch(request, env) {
    const stub = env.FLOOR.get(env.FLOOR.idFromName("floor"));
    if (new URL(request.url).pathname === STATS || request.headers.get("Upgrade") === "websocket") return stub.fetch(request);
    return new Response("edge cost floor\n");
  },
};

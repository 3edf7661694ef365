// Load driver for the server benchmark (issue 5): raw Engine.IO v4 / Socket.IO v5 frames, over
// `ws` (`/socket.io/?EIO=4&transport=websocket`) or over HTTP long-polling with node:http
// (`transport=polling`, no upgrade), so every server sees exactly the same client. Pings `2`
// are answered with `3`; CONNECT is `40` (`40/nsp,`), events `42[...]`, acks `42N[...]` ->
// `43N[...]`.
//
// Scenarios (each returns plain numbers; `transport` is "websocket" or "polling"):
// Counts are SIZES[transport] (WebSocket / polling):
//   echo(url, t):       1,000 / 200 sequential `message` -> `message-back` round trips (after
//                       100 / 20 warm-up), p50/p99 (ms);
//   seq(url, t):        the same with `message-with-ack` emits and their acks;
//   pipe(url, t):       10,000 / 2,000 acked emits with 64 in flight on one socket, acks/s;
//   fanout(url, n, t):  n sockets of `/rooms` join room "r"; one more socket emits
//                       `to-room` ("r", {..}) 5 / 3 times (after one warm-up), waiting for all
//                       n deliveries each time: deliveries/s (n / first-send-to-last-delivery,
//                       median over the broadcasts) and delivery latency p50/p99;
//   connectLatency(url, t): 200 / 50 sequential connects (transport open to the CONNECT ack),
//                       p50/p99 (ms), each closed once connected;
//   handshakes(url, t): 1,000 / 200 connects with 32 in flight, each closed once connected:
//                       handshakes/s;
//   httpRoundTrip(url): 200 sequential GETs answered 400 (unknown sid): the platform's cost
//                       of one HTTP request;
//   openIdle(url, n, t): n connected idle sockets (for the memory measurement);
//   coldWake(url, idleMs, started): one WebSocket socket echoes 20 times, stays silent idleMs
//                       while workerd evicts its object, then times one `message` ->
//                       `message-back`; `started()` reads when the object's instance
//                       started, before the silence and after the echo: the sample is of an
//                       evicted object only if it changed.
// Latency is measured in this (single-threaded) process, so fan-out latency includes the
// driver's own time to read n frames.
import http from "node:http";
import WebSocket from "ws";

/**
 * How many of each, per transport: long-polling is run smaller, since every packet there is
 * an HTTP request, which keeps a whole run of `make bench` within its time budget.
 */
export const SIZES = {
  websocket: { seq: 1_000, seqWarmup: 100, pipe: 10_000, broadcasts: 5, connects: 200, connectsWarmup: 20, handshakes: 1_000, http: 0 },
  polling: { seq: 200, seqWarmup: 20, pipe: 2_000, broadcasts: 3, connects: 50, connectsWarmup: 5, handshakes: 200, http: 200 },
};
const PIPE_WINDOW = 64;

export function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/**
 * The frame handling shared by both transports: `feed(packet)` takes one Engine.IO packet
 * (text), answers pings, sends CONNECT after the open packet and routes events and acks.
 * `send(packet)` is the transport's way out. Resolves `ready` on CONNECT, rejects it on
 * CONNECT_ERROR.
 */
function socketio(nsp, send) {
  const prefix = nsp === "/" ? "" : `${nsp},`;
  let resolve, reject;
  const ready = new Promise((res, rej) => ((resolve = res), (reject = rej)));
  const client = {
    ready,
    nextId: 0,
    acks: new Map(),
    onEvent: null,
    emit(json) {
      send(`42${prefix}${json}`);
    },
    emitWithAck(json, cb) {
      const id = this.nextId++;
      this.acks.set(id, cb);
      send(`42${prefix}${id}${json}`);
    },
    /** Pings received so far, and the server's ping interval (ms) from its open packet. */
    pings: 0,
    pingInterval: 0,
    /** The first failure after CONNECT (a scenario that waits in vain reports it). */
    error: null,
    fail(e) {
      client.error ??= e;
      reject(e);
    },
    feed(s) {
      const type = s.charCodeAt(0);
      if (type === 0x34 /* 4: message */) {
        let i = 2;
        if (prefix && s.startsWith(prefix, 2)) i += prefix.length;
        const kind = s[1];
        if (kind === "2" || kind === "3") {
          let id = -1;
          let j = i;
          while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
          if (j > i) id = Number(s.slice(i, j));
          if (kind === "3") {
            const cb = client.acks.get(id);
            if (cb) {
              client.acks.delete(id);
              cb(s, j);
            }
          } else if (client.onEvent) client.onEvent(s, j);
        } else if (kind === "0") resolve(client);
        else if (kind === "4") reject(new Error(`connect_error ${s}`));
      } else if (type === 0x32 /* 2: ping */) {
        client.pings++;
        send("3");
      } else if (type === 0x30 /* 0: open */) {
        client.pingInterval = JSON.parse(s.slice(1)).pingInterval ?? 0;
        send(`40${prefix}`);
      }
    },
  };
  return client;
}

/** Rejects `promise` after 30 s. */
function deadline(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), 30_000)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One Socket.IO client over WebSocket only; resolves once CONNECTed. */
function connectWebSocket(base, nsp) {
  const url = `${base.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const client = socketio(nsp, (packet) => ws.send(packet));
  client.close = () => ws.terminate();
  ws.on("error", client.fail);
  ws.on("message", (data) => client.feed(data.toString()));
  return deadline(client.ready, url).catch((e) => {
    ws.terminate();
    throw e;
  });
}

// Long-polling clients share one keep-alive pool, as a browser shares its connections.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

/**
 * One HTTP request of a long-polling client: resolves with the status and the body text. A
 * request that fails on a kept-alive connection the server had just closed is sent again on a
 * new one, as browsers do (Node's documented `reusedSocket` pattern).
 */
function request(url, method, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body === undefined ? {} : { "content-type": "text/plain;charset=UTF-8" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, text }));
      res.on("error", reject);
    });
    req.on("error", (e) => (req.reusedSocket && e.code === "ECONNRESET" ? request(url, method, body).then(resolve, reject) : reject(e)));
    req.end(body);
  });
}

/**
 * One Socket.IO client over HTTP long-polling only, as engine.io-client does it: one GET
 * always held, sends buffered while a POST is in flight and then POSTed together (`\x1e`).
 */
async function connectPolling(base, nsp) {
  const url = `${base}/socket.io/?EIO=4&transport=polling`;
  const open = await request(url, "GET");
  if (open.status !== 200 || open.text[0] !== "0") throw new Error(`polling handshake: ${open.status} ${open.text}`);
  const sid = JSON.parse(open.text.split("\x1e")[0].slice(1)).sid;
  const opened = performance.now();
  const session = `${url}&sid=${encodeURIComponent(sid)}`;
  let closed = false;
  let posting = false;
  let queue = [];
  const flush = () => {
    if (posting || !queue.length) return;
    posting = true;
    const body = queue.join("\x1e");
    queue = [];
    request(session, "POST", body).then(
      (r) => {
        posting = false;
        if (r.status !== 200 && !closed) client.fail(new Error(`POST ${r.status} ${r.text}`));
        flush();
      },
      (e) => client.fail(e),
    );
  };
  const client = socketio(nsp, (packet) => {
    queue.push(packet);
    flush();
  });
  const poll = () => {
    if (closed) return;
    request(session, "GET").then(
      (r) => {
        if (closed) return;
        if (r.status !== 200) return client.fail(new Error(`GET ${r.status} ${r.text}`));
        for (const packet of r.text.split("\x1e")) {
          if (packet === "1") {
            closed = true;
            client.fail(new Error(`closed by the server ${((performance.now() - opened) / 1000).toFixed(1)} s after the handshake`));
          } else client.feed(packet);
        }
        poll();
      },
      (e) => closed || client.fail(e),
    );
  };
  client.close = () => {
    if (closed) return;
    queue.push("1");
    flush();
    closed = true;
  };
  for (const packet of open.text.split("\x1e")) client.feed(packet);
  poll();
  return deadline(client.ready, session).catch((e) => {
    client.close();
    throw e;
  });
}

/** One Socket.IO client on one namespace over `transport` ("websocket" | "polling"). */
export function connect(base, { nsp = "/", transport = "websocket" } = {}) {
  return transport === "polling" ? connectPolling(base, nsp) : connectWebSocket(base, nsp);
}

const ackOnce = (c, json) => new Promise((r) => c.emitWithAck(json, r));

export async function seq(base, transport) {
  const { seq: SEQ, seqWarmup } = SIZES[transport];
  const c = await connect(base, { transport });
  const payload = JSON.stringify(["message-with-ack", "hello", { n: 1 }]);
  for (let i = 0; i < seqWarmup; i++) await ackOnce(c, payload);
  const rtt = new Float64Array(SEQ);
  const start = performance.now();
  for (let i = 0; i < SEQ; i++) {
    const t = performance.now();
    await ackOnce(c, payload);
    rtt[i] = performance.now() - t;
  }
  const total = performance.now() - start;
  c.close();
  rtt.sort();
  return { p50_ms: quantile(rtt, 0.5), p99_ms: quantile(rtt, 0.99), per_s: (SEQ / total) * 1000 };
}

export async function echo(base, transport) {
  const { seq: SEQ, seqWarmup } = SIZES[transport];
  const c = await connect(base, { transport });
  const payload = JSON.stringify(["message", "hello", { n: 1 }]);
  let wake = null;
  c.onEvent = () => wake();
  const once = () =>
    new Promise((r) => {
      wake = r;
      c.emit(payload);
    });
  for (let i = 0; i < seqWarmup; i++) await once();
  const rtt = new Float64Array(SEQ);
  for (let i = 0; i < SEQ; i++) {
    const t = performance.now();
    await once();
    rtt[i] = performance.now() - t;
  }
  c.close();
  rtt.sort();
  return { p50_ms: quantile(rtt, 0.5), p99_ms: quantile(rtt, 0.99) };
}

export async function pipe(base, transport) {
  const PIPE = SIZES[transport].pipe;
  const c = await connect(base, { transport });
  await pipelinedAcks(c, PIPE / 10); // warm-up
  const start = performance.now();
  await pipelinedAcks(c, PIPE);
  const ms = performance.now() - start;
  c.close();
  return { acks_per_s: (PIPE / ms) * 1000 };
}

/** `count` acked `message-with-ack` emits on connection `c`, PIPE_WINDOW in flight. */
export function pipelinedAcks(c, count) {
  const payload = JSON.stringify(["message-with-ack", "hello", { n: 1 }]);
  return new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    const onAck = () => {
      done++;
      if (sent < count) {
        sent++;
        c.emitWithAck(payload, onAck);
      } else if (done === count) resolve();
    };
    for (; sent < Math.min(PIPE_WINDOW, count); ) {
      sent++;
      c.emitWithAck(payload, onAck);
    }
  });
}

export async function fanout(base, n, transport) {
  // Connect in batches so the server's accept path is not the thing measured here.
  const clients = await openIdle(base, n, transport, "/rooms");
  await Promise.all(clients.map((c) => ackOnce(c, '["join","r"]')));
  const sender = await connect(base, { nsp: "/rooms", transport });
  const latencies = [];
  const rates = [];
  for (let b = -1; b < SIZES[transport].broadcasts; b++) {
    let got = 0;
    let last = 0;
    let t0 = 0;
    const lat = [];
    const all = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const failed = clients.filter((c) => c.error);
        const why = failed.length ? `; ${failed.length} clients failed, first: ${failed[0].error.message}` : "";
        reject(new Error(`fan-out: ${got}/${n} deliveries${why}`));
      }, 60_000);
      for (const c of clients)
        c.onEvent = () => {
          last = performance.now();
          lat.push(last - t0);
          if (++got === n) {
            clearTimeout(timer);
            resolve();
          }
        };
    });
    t0 = performance.now();
    sender.emit(JSON.stringify(["to-room", "r", { b, text: "hello everyone" }]));
    await all;
    if (b >= 0) {
      // b = -1 is a warm-up broadcast
      latencies.push(...lat);
      rates.push((n / (last - t0)) * 1000);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const c of clients) c.close();
  sender.close();
  latencies.sort((a, b) => a - b);
  rates.sort((a, b) => a - b);
  return {
    deliveries_per_s: quantile(rates, 0.5),
    p50_ms: quantile(latencies, 0.5),
    p99_ms: quantile(latencies, 0.99),
  };
}

const HANDSHAKE_WINDOW = 32;

export async function connectLatency(base, transport) {
  const once = async () => {
    const t = performance.now();
    const c = await connect(base, { transport });
    const ms = performance.now() - t;
    c.close();
    return ms;
  };
  const { connects, connectsWarmup } = SIZES[transport];
  for (let i = 0; i < connectsWarmup; i++) await once();
  const ms = new Float64Array(connects);
  for (let i = 0; i < connects; i++) ms[i] = await once();
  ms.sort();
  return { p50_ms: quantile(ms, 0.5), p99_ms: quantile(ms, 0.99) };
}

export async function handshakes(base, transport) {
  const HANDSHAKES = SIZES[transport].handshakes;
  let started = 0;
  const worker = async () => {
    while (started < HANDSHAKES) {
      started++;
      (await connect(base, { transport })).close();
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: HANDSHAKE_WINDOW }, worker));
  return { per_s: (HANDSHAKES / (performance.now() - t)) * 1000 };
}

/** `n` connected sockets on `nsp`, opened 50 at a time; the caller closes them. */
export async function openIdle(base, n, transport, nsp = "/") {
  const clients = [];
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 50); j++) batch.push(connect(base, { nsp, transport }));
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

/**
 * The platform's cost of one HTTP request: `SIZES.polling.http` sequential GETs of a polling
 * request with an unknown sid (ours and official answer 400 "Session ID unknown"; ours from
 * its Durable Object, as the floor does), p50/p99 (ms).
 */
export async function httpRoundTrip(base) {
  const url = `${base}/socket.io/?EIO=4&transport=polling&sid=unknown-0`;
  const n = SIZES.polling.http;
  for (let i = 0; i < n / 10; i++) await request(url, "GET");
  const ms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await request(url, "GET");
    if (r.status !== 400) throw new Error(`unknown sid: ${r.status} ${r.text}`);
    ms[i] = performance.now() - t;
  }
  ms.sort();
  return { p50_ms: quantile(ms, 0.5), p99_ms: quantile(ms, 0.99) };
}

/**
 * Two cold-wake samples on one WebSocket to a server started afresh, each an echo timed after
 * `idleMs` of silence and counted as cold only if the instance that answered started for it
 * (`started()` tells when the answering instance started):
 * - `first`: the object's first wake in its isolate, where the code that restores sessions
 *   from what the object kept runs for the first time (a fresh server's first connection has
 *   nothing to restore);
 * - `again`: the next wake of the same object, evicted once more in the same isolate. Its
 *   silence starts after the server's next ping (a server that pings wakes by alarm for it;
 *   one that never pings is waited for a ping interval).
 */
export async function coldWake(base, idleMs, started) {
  const c = await connect(base, { transport: "websocket" });
  const payload = JSON.stringify(["message", "hello", { n: 1 }]);
  const once = () =>
    new Promise((r) => {
      c.onEvent = r;
      c.emit(payload);
    });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const wake = async () => {
    const before = await started();
    await sleep(idleMs);
    const sentAt = Date.now();
    const t = performance.now();
    await once();
    const ms = performance.now() - t;
    const after = await started();
    // Cold only if the instance that answered started for this echo: one woken meanwhile (by
    // its alarm) and still in memory answers warm. Both clocks are this machine's (whole ms).
    return { ms, evicted: after !== before && after >= sentAt - 1 };
  };
  for (let i = 0; i < 20; i++) await once();
  const first = await wake();
  const pings = c.pings;
  for (const until = performance.now() + c.pingInterval + 2_000; c.pings === pings && performance.now() < until; ) await sleep(20);
  const again = await wake();
  c.close();
  return { first, again };
}

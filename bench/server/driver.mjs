// Load driver for the server benchmark (issue 5): raw Engine.IO v4 / Socket.IO v5 frames over
// `ws`, WebSocket transport only (`/socket.io/?EIO=4&transport=websocket`), so every server
// sees exactly the same client. Pings `2` are answered with `3`; CONNECT is `40` (`40/nsp,`),
// events `42[...]`, acks `42N[...]` -> `43N[...]`.
//
// Scenarios (each returns plain numbers):
//   echo(url):     1,000 sequential `message` -> `message-back` round trips, p50/p99 (ms);
//   seq(url):      1,000 sequential `message-with-ack` emits, round-trip p50/p99 (ms);
//   pipe(url):     10,000 acked emits with 64 in flight on one socket, acks/s;
//   fanout(url,n): n sockets of `/rooms` join room "r"; one more socket emits
//                  `to-room` ("r", {..}) BROADCASTS times, waiting for all n deliveries each
//                  time: deliveries/s (n / first-send-to-last-delivery, median over the
//                  broadcasts) and delivery latency p50/p99 over all deliveries.
// Latency is measured in this (single-threaded) process, so fan-out latency includes the
// driver's own time to read n frames.
import WebSocket from "ws";

const SEQ = 1_000;
const SEQ_WARMUP = 100;
const PIPE = 10_000;
const PIPE_WINDOW = 64;
const BROADCASTS = 5;

export function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** One Socket.IO client on one namespace; resolves once CONNECTed. */
export function connect(base, { nsp = "/", query = "" } = {}) {
  const url = `${base.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket${query ? "&" + query : ""}`;
  const prefix = nsp === "/" ? "" : `${nsp},`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client = {
      ws,
      nextId: 0,
      acks: new Map(),
      onEvent: null,
      emit(json) {
        ws.send(`42${prefix}${json}`);
      },
      emitWithAck(json, cb) {
        const id = this.nextId++;
        this.acks.set(id, cb);
        ws.send(`42${prefix}${id}${json}`);
      },
      close() {
        ws.terminate();
      },
    };
    const timer = setTimeout(() => reject(new Error(`connect timeout ${url}`)), 30_000);
    ws.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.on("message", (data) => {
      const s = data.toString();
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
        } else if (kind === "0") {
          clearTimeout(timer);
          resolve(client);
        } else if (kind === "4") {
          clearTimeout(timer);
          reject(new Error(`connect_error ${s}`));
        }
      } else if (type === 0x32 /* 2: ping */) ws.send("3");
      else if (type === 0x30 /* 0: open */) ws.send(`40${prefix}`);
    });
  });
}

const ackOnce = (c, json) => new Promise((r) => c.emitWithAck(json, r));

export async function seq(base, query) {
  const c = await connect(base, { query });
  const payload = JSON.stringify(["message-with-ack", "hello", { n: 1 }]);
  for (let i = 0; i < SEQ_WARMUP; i++) await ackOnce(c, payload);
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

export async function echo(base, query) {
  const c = await connect(base, { query });
  const payload = JSON.stringify(["message", "hello", { n: 1 }]);
  let wake = null;
  c.onEvent = () => wake();
  const once = () =>
    new Promise((r) => {
      wake = r;
      c.emit(payload);
    });
  for (let i = 0; i < SEQ_WARMUP; i++) await once();
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

export async function pipe(base, query) {
  const c = await connect(base, { query });
  const payload = JSON.stringify(["message-with-ack", "hello", { n: 1 }]);
  const run = (count) =>
    new Promise((resolve) => {
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
  await run(1_000); // warm-up
  const start = performance.now();
  await run(PIPE);
  const ms = performance.now() - start;
  c.close();
  return { acks_per_s: (PIPE / ms) * 1000 };
}

export async function fanout(base, n, query) {
  const clients = [];
  // Connect in batches so the server's accept path is not the thing measured here.
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 50); j++) batch.push(connect(base, { nsp: "/rooms", query }));
    clients.push(...(await Promise.all(batch)));
  }
  await Promise.all(clients.map((c) => ackOnce(c, '["join","r"]')));
  const sender = await connect(base, { nsp: "/rooms", query });
  const latencies = [];
  const rates = [];
  for (let b = -1; b < BROADCASTS; b++) {
    let got = 0;
    let last = 0;
    let t0 = 0;
    const lat = [];
    const all = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fan-out: ${got}/${n} deliveries`)), 60_000);
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

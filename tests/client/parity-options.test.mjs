// The options and URLs of socket.io-client code, in Chromium against the official
// socket.io@4.8.4 server, asserted of wasmio and of the official socket.io-client 4.8.4 alike
// (the same page script runs on each): `path`, `withCredentials`, `extraHeaders`,
// `transportOptions`, `protocols`, `requestTimeout`, `timestampRequests`, `multiplex`,
// `upgrade`, `useNativeTimers`, `rememberUpgrade`, the transport exports of 4.8, the URL's
// query and origin, and `socket.auth` / `io.opts` changed before a reconnection.
import assert from "node:assert/strict";
import { forEachClient, server, custom, slow, wildcard, pollingOnly, test, withServers } from "./parity-servers.mjs";

withServers();

forEachClient((run) => {
  test("the transport exports of 4.8 choose the transports: [WebSocket] opens a WebSocket at once, [Fetch] and [XHR] poll", async () => {
    // A 400 is tolerated: a polling socket's last GET, sent before its disconnect and reaching
    // the server after the close it posted, is refused (unknown sid), a race of either client.
    const r = await run(async (url) => {
      const { Fetch, XHR, NodeXHR, WebSocket: WS, NodeWebSocket, WebTransport } = window.transportExports;
      const out = [];
      for (const [name, transports] of [["WebSocket", [WS]], ["Fetch", [Fetch]], ["XHR", [XHR]], ["Fetch, WebSocket", [Fetch, WS]]]) {
        const socket = io(url, { forceNew: true, transports, reconnection: false });
        const opened = new Promise((res) => socket.io.on("open", () => res(socket.io.engine.transport.name)));
        await new Promise((res) => socket.on("connect", res));
        if (transports.length > 1 && socket.io.engine.transport.name !== "websocket") {
          await new Promise((res) => socket.io.engine.once("upgrade", res));
        }
        // The transport that opened the connection, the one it runs on, and an answer.
        out.push([name, await opened, socket.io.engine.transport.name, await socket.emitWithAck("echo", name)]);
        socket.disconnect();
      }
      // The Node.js and WebTransport exports exist (a browser page never opens them).
      out.push([NodeXHR, NodeWebSocket, WebTransport].map((t) => typeof t.prototype.name));
      return out;
    }, { expected: /status of 400/ });
    assert.deepEqual(r, [
      ["WebSocket", "websocket", "websocket", "WebSocket"],
      ["Fetch", "polling", "polling", "Fetch"],
      ["XHR", "polling", "polling", "XHR"],
      ["Fetch, WebSocket", "polling", "websocket", "Fetch, WebSocket"],
      ["string", "string", "string"],
    ]);
  });

  test("useNativeTimers: the manager's timers are the module's own, not a setTimeout installed later", async () => {
    const r = await run(async (url) => {
      const real = window.setTimeout;
      let calls = 0;
      window.setTimeout = function (...args) {
        calls++;
        return real.apply(this, args);
      };
      const out = {};
      try {
        for (const useNativeTimers of [true, false]) {
          calls = 0;
          const socket = io(url, { forceNew: true, useNativeTimers, reconnectionDelay: 50, reconnectionDelayMax: 100 });
          await new Promise((res) => socket.on("connect", res));
          const back = new Promise((res) => socket.io.on("reconnect", res));
          socket.io.engine.close(); // a reconnection: its delay is a timer
          await back;
          socket.disconnect();
          out[useNativeTimers] = calls > 0;
        }
      } finally {
        window.setTimeout = real;
      }
      return out;
    }, { expected: /status of 400/ });
    assert.deepEqual(r, { true: false, false: true });
  });

  test("socket.auth and io.opts.query changed before an automatic reconnection are sent with it", async () => {
    const r = await run(async (url) => {
      const socket = io(url, { forceNew: true, auth: { token: "one" }, query: { v: "1" }, reconnectionDelay: 50 });
      await new Promise((res) => socket.on("connect", res));
      const before = await socket.emitWithAck("whoami");
      socket.auth = { token: "two" }; // a refreshed token
      socket.io.on("reconnect_attempt", () => (socket.io.opts.query.v = "2"));
      const back = new Promise((res) => socket.io.on("reconnect", res));
      socket.io.engine.close();
      await back;
      if (!socket.connected) await new Promise((res) => socket.once("connect", res));
      const after = await socket.emitWithAck("whoami");
      socket.disconnect();
      return { before, after };
      // A request of the closed engine still in flight (its upgrade, its poll) may be
      // answered 400 by the server that forgot its sid, which Chromium logs, as in the
      // other tests that close the engine.
    }, { expected: /status of 400/ });
    assert.deepEqual(r, { before: ["one", "1"], after: ["two", "2"] });
  });

  test("io.opts.transports and extraHeaders changed after a failed connection are used by the next attempt (the documented fallback to polling)", async () => {
    const r = await run(async (url) => {
      const socket = io(url, { forceNew: true, transports: ["websocket"], reconnectionDelay: 50, extraHeaders: { "x-token": "one" } });
      const errors = [];
      socket.on("connect_error", (e) => {
        errors.push(e.message);
        socket.io.opts.transports = ["polling", "websocket"];
        socket.io.opts.extraHeaders = { "x-token": "two" };
      });
      await new Promise((res) => socket.on("connect", res));
      const first = [socket.io.engine.transport.name, (await socket.emitWithAck("handshake")).token];
      socket.disconnect();
      return { errors: errors.slice(0, 1), first };
    }, { arg: pollingOnly.url, expected: /WebSocket|status of 400/ });
    assert.deepEqual(r, { errors: ["websocket error"], first: ["polling", "two"] });
  });

  test('io("") and io("http://") connect to the page\'s own origin, and a failure there is a connect_error', async () => {
    const r = await run(
      async () => {
        const errors = [];
        for (const uri of ["", "http://"]) {
          const socket = io(uri, { forceNew: true, transports: ["polling"], reconnection: false });
          errors.push((await new Promise((res) => socket.on("connect_error", res))).message);
          socket.disconnect();
        }
        const polled = performance.getEntriesByType("resource").filter((e) => e.name.includes("/socket.io/?EIO=4"));
        return { errors, origins: [...new Set(polled.map((e) => new URL(e.name).origin))], page: location.origin };
      },
      { expected: /404/ }, // the page's server is no Socket.IO server
    );
    assert.deepEqual(r, { errors: ["xhr poll error", "xhr poll error"], origins: [r.page], page: r.page });
  });

  test("path, withCredentials, extraHeaders, transportOptions and timestampRequests reach the server", async () => {
    const r = await run(
      async ({ url, customUrl, wildcardUrl }) => {
        const ask = async (uri, opts) => {
          const socket = io(uri, { forceNew: true, transports: ["polling"], ...opts });
          await new Promise((res, rej) => socket.on("connect", res).on("connect_error", rej));
          const seen = await socket.emitWithAck("handshake");
          socket.disconnect();
          return seen;
        };
        return {
          path: await ask(customUrl, { path: "/custom" }),
          // The wildcard server's CORS answer is refused to a request with credentials.
          plain: await ask(wildcardUrl, {}).then(() => "connected"),
          credentials: await ask(wildcardUrl, { withCredentials: true, reconnection: false }).then(
            () => "connected",
            (err) => err.message,
          ),
          headers: await ask(url, { extraHeaders: { "x-token": "abc" } }),
          transportOptions: await ask(url, { transportOptions: { polling: { extraHeaders: { "x-poll": "yes" } } } }),
          noTimestamps: await ask(url, { timestampRequests: false }),
        };
      },
      // (a poll sent just before a disconnect's close packet can reach the server after it: 400,
      // as the other polling tests here allow)
      { arg: { url: server.url, customUrl: custom.url, wildcardUrl: wildcard.url }, expected: /CORS|ERR_FAILED|status of 400/ },
    );
    assert.equal(typeof r.path.t, "string", "a polling handshake carries `t`");
    assert.equal(r.plain, "connected");
    assert.equal(r.credentials, "xhr poll error", "sent with credentials");
    assert.equal(r.headers.token, "abc");
    assert.equal(r.transportOptions.poll, "yes");
    assert.equal(r.noTimestamps.t, undefined);
  });

  test("protocols are offered on the WebSocket; requestTimeout fails a slow polling handshake", async () => {
    const r = await run(
      async ({ url, slowUrl }) => {
        const socket = io(url, { forceNew: true, transports: ["websocket"], protocols: ["chat.v1"] });
        await new Promise((res) => socket.on("connect", res));
        const protocol = (await socket.emitWithAck("handshake")).protocol;
        socket.disconnect();
        const slowSocket = io(slowUrl, { forceNew: true, transports: ["polling"], reconnection: false, requestTimeout: 200 });
        const err = await new Promise((res) => slowSocket.on("connect_error", res));
        slowSocket.disconnect();
        const patient = io(slowUrl, { forceNew: true, transports: ["polling"], reconnection: false, requestTimeout: 5000 });
        await new Promise((res, rej) => patient.on("connect", res).on("connect_error", rej));
        patient.disconnect();
        return { protocol, timedOut: err.message };
      },
      { arg: { url: server.url, slowUrl: slow.url }, expected: /ERR_|Failed to load/ },
    );
    assert.deepEqual(r, { protocol: "chat.v1", timedOut: "xhr poll error" });
  });

  test("multiplex: false makes a manager per call; upgrade: false stays on polling", async () => {
    const r = await run(async (url) => {
      const a = io(url, { multiplex: false, upgrade: false });
      const b = io(url, { multiplex: false, upgrade: false });
      await Promise.all([a, b].map((s) => new Promise((res) => s.on("connect", res))));
      await new Promise((res) => setTimeout(res, 500)); // an upgrade would have happened by now
      const out = { separate: a.io !== b.io, transports: [a.io.engine.transport.name, b.io.engine.transport.name] };
      a.disconnect();
      b.disconnect();
      return out;
    });
    assert.deepEqual(r, { separate: true, transports: ["polling", "polling"] });
  });

  test("a query in the URL replaces the query option; a string query is decoded as engine.io-client does", async () => {
    const r = await run(async (url) => {
      const ask = async (uri, opts) => {
        const socket = io(uri, { forceNew: true, ...opts });
        const query = await new Promise((res) => socket.emit("query", res));
        socket.disconnect();
        return [query.x, query.y, query["?x"]];
      };
      return [
        await ask(url + "/?x=1", { query: { y: "2" } }),
        await ask(url, { query: "?x=s&y=t" }),
        await ask(url, { query: "x=a%20b&y=" }),
      ];
    });
    assert.deepEqual(r, [
      ["1", undefined, undefined],
      [undefined, "t", "s"],
      ["a b", "", undefined],
    ]);
  });

  test("rememberUpgrade: once a WebSocket worked, a new manager of the page starts on one", async () => {
    const r = await run(async (url) => {
      const first = io(url, { forceNew: true, rememberUpgrade: true });
      await new Promise((res) => first.io.on("open", () => first.io.engine.on("upgrade", res)));
      first.disconnect();
      const second = io(url, { forceNew: true, rememberUpgrade: true });
      await new Promise((res) => second.on("connect", res));
      const transport = second.io.engine.transport.name;
      second.disconnect();
      return transport;
    });
    assert.equal(r, "websocket");
  });
});

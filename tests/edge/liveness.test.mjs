// Dead peers are closed, in both heartbeat modes (conformance timings: pingInterval 300 ms,
// pingTimeout 200 ms, connectTimeout 1 s):
// - a peer that stops answering pings, over WebSocket and over polling, is closed after
//   pingInterval + pingTimeout (noticed by the alarm set for that deadline);
// - a session that never sends CONNECT is closed after connectTimeout (over WebSocket by a close
//   frame alone, no `close` packet, as engine.io's ws transport);
// - a peer's close frame is answered; a peer lost without one is forgotten at once, with nothing
//   written to it.
// What is observed is the object's own count of open sessions (`__stats`), and for
// WebSockets the close frame the peer receives.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startWorker, watchCloseFrame } from "./harness.mjs";

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const CONNECT_TIMEOUT = 1000;
// The alarm fires at the deadline; allow for a loaded 2-core machine.
const SLACK = 700;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const heartbeat of ["strict", "hibernate"]) {
  describe(`liveness with HEARTBEAT=${heartbeat}`, () => {
    let worker;
    before(async () => {
      worker = await startWorker("conformance", { vars: { HEARTBEAT: heartbeat } });
    });
    after(() => worker?.stop());

    const openSessions = async () =>
      JSON.parse(await (await fetch(`${worker.url}/socket.io/__stats`)).text()).openSessions;

    /** A raw WebSocket peer that never answers a ping; resolves once the server opened it. */
    async function silentWebSocket() {
      const ws = new WebSocket(`${worker.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
      const frames = [];
      let closeFrame;
      ws.on("message", (data) => frames.push(String(data)));
      // The close frame itself: workerd may keep the TCP connection open after the handshake.
      watchCloseFrame(ws, () => (closeFrame ??= Date.now()));
      await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
      await new Promise((resolve) => ws.once("message", resolve)); // the open packet
      return { ws, frames, closed: () => closeFrame };
    }

    it("closes a WebSocket peer that stops answering pings", async () => {
      const peer = await silentWebSocket();
      peer.ws.send("40");
      const opened = Date.now();
      await sleep(PING_INTERVAL / 2);
      assert.equal(await openSessions(), 1);
      await sleep(PING_INTERVAL + PING_TIMEOUT + SLACK);
      assert.equal(await openSessions(), 0, "the silent session is closed");
      assert.ok(peer.frames.includes("2"), "it was pinged");
      assert.ok(peer.closed(), "the peer got a close frame");
      assert.ok(peer.closed() - opened >= PING_INTERVAL + PING_TIMEOUT - 50, "not before its pong deadline");
      peer.ws.terminate();
    });

    it("keeps a WebSocket peer that answers its pings", async () => {
      const peer = await silentWebSocket();
      peer.ws.on("message", (data) => String(data) === "2" && peer.ws.send("3"));
      peer.ws.send("40");
      await sleep(4 * (PING_INTERVAL + PING_TIMEOUT));
      assert.equal(await openSessions(), 1);
      assert.equal(peer.closed(), undefined);
      peer.ws.close();
      await sleep(200);
      assert.equal(await openSessions(), 0);
    });

    it("closes a WebSocket session that never sends CONNECT", async () => {
      const peer = await silentWebSocket();
      // Answer pings, so that only the missing CONNECT can close it.
      peer.ws.on("message", (data) => String(data) === "2" && peer.ws.send("3"));
      await sleep(CONNECT_TIMEOUT / 2);
      assert.equal(await openSessions(), 1);
      await sleep(CONNECT_TIMEOUT / 2 + SLACK);
      assert.equal(await openSessions(), 0, "closed after connectTimeout");
      assert.ok(peer.closed(), "the peer got a close frame");
      // As engine.io's ws transport: the close frame alone, no `close` packet before it
      // (python-engineio, handed one, waited out a ping interval before it let go).
      assert.deepEqual(peer.frames.filter((frame) => !/^(0\{|2$|6$)/.test(frame)), [], "only open, pings, auto-pong noops");
      peer.ws.terminate();
    });

    it("answers a peer's close frame, and lets a peer lost without one go with no error", async () => {
      const uncaught = () => worker.log().split("\n").filter((line) => line.includes("Uncaught")).length;
      const errorsBefore = uncaught();
      const clean = await silentWebSocket();
      clean.ws.send("40");
      const code = new Promise((resolve) => clean.ws.once("close", resolve));
      clean.ws.close(1000);
      // ws waits for the server's close frame; without one it gives up after 30 s with 1006.
      assert.equal(await Promise.race([code, sleep(2000).then(() => "no answer")]), 1000);
      for (let i = 0; i < 3; i++) {
        const lost = await silentWebSocket();
        lost.ws.send("40");
        await sleep(50);
        lost.ws.terminate(); // no close frame: the TCP connection just ends
      }
      // Well before a ping deadline: the object learns it from the connection itself.
      await sleep(PING_INTERVAL / 2);
      assert.equal(await openSessions(), 0);
      // Answering a close that never came (writing to a lost connection) is reported by workerd
      // as an uncaught "Network connection lost" error, once per connection.
      assert.equal(uncaught(), errorsBefore, worker.log().split("\n").filter((line) => line.includes("Uncaught")).join("\n"));
    });

    it("closes a polling session whose client stops polling", async () => {
      const open = await (await fetch(`${worker.url}/socket.io/?EIO=4&transport=polling`)).text();
      const { sid } = JSON.parse(open.slice(1));
      await fetch(`${worker.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body: "40" });
      assert.equal(await openSessions(), 1);
      await sleep(PING_INTERVAL + PING_TIMEOUT + SLACK);
      assert.equal(await openSessions(), 0, "closed after its pong deadline");
      const gone = await fetch(`${worker.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
      assert.equal(gone.status, 400);
    });
  });
}

// A binary event uploaded slowly (a phone on a poor uplink sending a photo with its thumbnail)
// across a real idle eviction of its object (chat deployment, raw Engine.IO WebSocket): the
// header and the first attachment (3 KB, past the 2 KB a WebSocket's attachment keeps) come
// before the eviction, the second attachment after it. The event must arrive whole. Until
// 2026-12-05 the new instance had lost the first part (its snapshot was refused as too large):
// the event was never delivered, with no error, and the next attachment closed the connection.
// Now a binary packet still waiting for its attachments after 2 s is kept, in storage
// (protocol/src/server/mod.rs, PARTIAL_KEPT_AFTER_MS).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { instances, partitionFor, sleep, until, workerStarter } from "./chat.mjs";

const SHARDS = 4;
const VARS = { TEST_HOOKS: "1", MAX_HANDSHAKES_PER_MINUTE: "0" };
const SILENT_MS = 22_000;

const start = workerStarter(undefined, VARS);

describe("a binary event uploaded slowly across a real eviction", () => {
  it("arrives whole, its first attachment kept by the evicted instance", { timeout: 120_000 }, async () => {
    const worker = await start();
    const url = `${worker.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&partition=${partitionFor(1, SHARDS)}`;
    const ws = new WebSocket(url);
    const frames = [];
    let closed;
    ws.on("message", (data, binary) => {
      const text = binary ? `<${data.length} bytes>` : String(data);
      frames.push(text);
      if (text === "2") ws.send("3");
    });
    ws.on("close", (code) => (closed = code));
    try {
      await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
      ws.send("40");
      await until(() => frames.some((f) => f.startsWith("40{")), 10_000, "the namespace CONNECT");
      ws.send('452-["chat message",{"photo":{"_placeholder":true,"num":0},"thumb":{"_placeholder":true,"num":1}}]');
      ws.send(Buffer.alloc(3_000, 7));
      // Silent (pongs are workerd's) for longer than workerd keeps an idle object (about 10 s
      // after its last event, here the alarm 2 s in), within the 30 s the attachments have.
      await sleep(SILENT_MS);
      ws.send(Buffer.alloc(10, 8));
      // The chat relays a message to everyone, its sender included (binary as arrays of bytes).
      const relayed = () => frames.find((f) => f.startsWith('42["chat message"'));
      await until(() => relayed() || closed !== undefined, 10_000, "the relayed message");
      assert.equal(closed, undefined, `the connection stays open: ${frames.slice(-3)}`);
      // The attachment was the first event of a new instance (reading the counts counts none).
      const [after] = (await instances(worker.url, SHARDS)).slice(1);
      assert.equal(after, 2, "object 1 was evicted before the last attachment");
      const { photo, thumb } = JSON.parse(relayed().slice(2))[1].text;
      assert.deepEqual([photo.length, thumb.length], [3_000, 10]);
      assert.ok(photo.every((b) => b === 7) && thumb.every((b) => b === 8), "the bytes as sent");
    } finally {
      ws.terminate();
    }
  });
});

// Rooms that span objects, with connection state recovery, under real workerd (conformance
// deployment, APP = "rooms-recovery", 8 objects): official clients on every transport path join
// room `r` without a partition, so each reconnection lands on a random object, which takes the
// session from the object that held it (a handover). One client emits to the room every 10 ms
// while the others are cut at random (churn.mjs). A broadcast relayed to the old holder only,
// because its sender looked the room up before the new holder joined it, used to reach
// neither: 8 of 4,000 deliveries were missed, every reconnection told it recovered. Now the old
// holder names where the session went, and the sender relays the broadcast there too.
//
// Asserted: a client told it recovered missed nothing and got nothing twice. A refused recovery
// is allowed (the client rejoins the room), and then only what came after the last message it
// received before its disconnection, until it rejoined, may be missing.
import { after, describe, it } from "node:test";
import { churnRoom } from "./churn.mjs";
import { startWorker } from "./harness.mjs";

const workers = [];
after(() => Promise.all(workers.map((w) => w.stop())));

describe("a room spanning objects while its members' sessions move between them", () => {
  it("delivers every broadcast once to each member told it recovered, on every transport path", async () => {
    // socket.io's default heartbeat: the cuts are the test's.
    const vars = { APP: "rooms-recovery", SHARDS: "8", HEARTBEAT: "hibernate", PING_INTERVAL: "25000", PING_TIMEOUT: "20000" };
    const worker = await startWorker("conformance", { vars });
    workers.push(worker);
    const room = await churnRoom(worker.url);
    try {
      await room.run(1200);
      console.log(await room.check(worker));
    } finally {
      room.close();
    }
  });
});

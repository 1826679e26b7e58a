// Legacy clients in a cluster: socket.io-client 2.x sockets on one gateway
// node and socket.io-client 4 sockets on another (both -allow-eio3, one
// Redis) reach each other through the Redis adapter, rooms and binary
// included.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Cluster, redisServerPath } from "../lib/cluster.mjs";
import { LegacyClients, Recorder, ack } from "../lib/client.mjs";

const skip = redisServerPath() ? false : "redis-server not installed";

describe("socket.io-client 2 and 4 across two gateways", { skip, timeout: 60_000 }, () => {
  const cluster = new Cluster();
  const legacy = new LegacyClients();
  let go0, go1;

  before(async () => {
    await cluster.startRedis();
    const opts = { key: `sg-legacy-${process.pid}`, args: ["-allow-eio3"] };
    [go0, go1] = await Promise.all([cluster.go(opts), cluster.go(opts)]);
  });
  after(async () => {
    legacy.closeAll();
    await cluster.close();
  });

  it("room messages and broadcasts flow both ways, binary included", async () => {
    const [oldWS, oldPolling] = await Promise.all([
      legacy.connect(go0.url, { transports: ["websocket"] }),
      legacy.connect(go0.url, { transports: ["polling"] }),
    ]);
    const [cur, outsider] = await Promise.all([
      cluster.clients.connect(go1.url, { transports: ["websocket"] }),
      cluster.clients.connect(go1.url, { transports: ["websocket"] }),
    ]);
    const rec = {
      oldWS: new Recorder(oldWS, "message"),
      oldPolling: new Recorder(oldPolling, "message"),
      cur: new Recorder(cur, "message"),
      outsider: new Recorder(outsider, "message"),
    };
    for (const s of [oldWS, oldPolling, cur]) assert.deepEqual(await ack(s, "join", "across"), [true]);

    // The subscription to a room's channel may take a moment on the other
    // node: retry the first message until it crosses.
    const deadline = Date.now() + 10_000;
    let n = 0;
    while (!rec.cur.items.some((m) => m[0] === "warm-up")) {
      assert.ok(Date.now() < deadline, `no room message crossed the cluster:\n${cluster.logs()}`);
      assert.deepEqual(await ack(oldWS, "message", "warm-up", n++), [true]);
      await new Promise((r) => setTimeout(r, 100));
    }

    assert.deepEqual(await ack(oldWS, "message", "v2 to room", Buffer.from([1, 2, 3]), { deep: [Buffer.from([9])] }), [true]);
    for (const [name, r] of Object.entries({ oldPolling: rec.oldPolling, cur: rec.cur })) {
      const m = await r.waitFor((m) => m[0] === "v2 to room", 5000, `${name} to get the v2 message`);
      assert.deepEqual(Buffer.from(m[1]), Buffer.from([1, 2, 3]));
      assert.deepEqual(Buffer.from(m[2].deep[0]), Buffer.from([9]));
    }
    assert.deepEqual(await ack(cur, "message", "v4 to room", Buffer.from([4, 5, 6])), [true]);
    for (const [name, r] of Object.entries({ oldWS: rec.oldWS, oldPolling: rec.oldPolling })) {
      const m = await r.waitFor((m) => m[0] === "v4 to room", 5000, `${name} to get the v4 message`);
      assert.deepEqual(Buffer.from(m[1]), Buffer.from([4, 5, 6]));
    }

    // A socket in no room broadcasts to every socket of the cluster.
    assert.deepEqual(await ack(outsider, "message", "to everyone"), [true]);
    for (const [name, r] of Object.entries(rec)) await r.waitFor((m) => m[0] === "to everyone", 5000, `${name} to get the broadcast`);
    // ... and got none of the room messages.
    assert.deepEqual(
      rec.outsider.items.map((m) => m[0]),
      ["to everyone"],
    );
  });
});

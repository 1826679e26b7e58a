// Three gateway nodes in one Redis (classic adapter), official
// socket.io-client clients spread over them, driven through the built-in
// events: a global `message` reaches every client on every node exactly
// once, a room `message` reaches exactly the room's members on every node,
// binary arguments cross nodes byte-exact. `except` has no built-in event,
// so it is driven by @socket.io/redis-emitter publishing into the cluster.
//
//   node --test test/cluster/

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Redis as IORedis } from "ioredis";
import { Emitter } from "@socket.io/redis-emitter";
import { sleep } from "../lib/harness.mjs";
import { Cluster, connectPeers, warmUp, tally, only, redisServerPath } from "../lib/cluster.mjs";

const skip = redisServerPath() ? false : "redis-server not installed";

describe("3 gateway nodes, classic Redis adapter", { skip, timeout: 60_000 }, () => {
  const cluster = new Cluster();
  let nodes, peers, byName, emitterClient, emitter;
  let sentinels = 0;

  before(async () => {
    await cluster.startRedis();
    nodes = await Promise.all([cluster.go(), cluster.go(), cluster.go()]);
    // Per node: a lobby (no room), a red member; blue members on nodes 0
    // and 2 only, so node 1 has no member of blue; node 1's lobby polls.
    const groups = await Promise.all([
      connectPeers(cluster.clients, nodes[0], ["lobby0", "red0", "blue0", "redblue0"]),
      connectPeers(cluster.clients, nodes[1], ["red1"]),
      connectPeers(cluster.clients, nodes[1], ["lobby1"], { transports: ["polling"] }),
      connectPeers(cluster.clients, nodes[2], ["lobby2", "red2", "blue2"]),
    ]);
    peers = groups.flat();
    byName = Object.fromEntries(peers.map((p) => [p.name, p]));
    await warmUp(peers, [byName.lobby0, byName.lobby1, byName.lobby2]);
    await Promise.all([
      byName.red0.join("red"),
      byName.red1.join("red"),
      byName.red2.join("red"),
      byName.blue0.join("blue"),
      byName.blue2.join("blue"),
      byName.redblue0.join("red").then(() => byName.redblue0.join("blue")),
    ]);
    emitterClient = new IORedis(cluster.redis.url, { maxRetriesPerRequest: 1 });
    emitter = new Emitter(emitterClient);
  });

  after(async () => {
    emitterClient?.disconnect();
    await cluster.close();
  });

  // sentinel sends a global message from lobby2 (node 2) and returns it.
  const sentinel = async () => {
    const tag = `sentinel ${++sentinels}`;
    await byName.lobby2.send(tag);
    return tag;
  };

  it("a global message reaches every client on every node exactly once", async () => {
    for (const from of ["lobby0", "lobby1"]) {
      const tag = `global from ${from}`;
      await byName[from].send(tag);
      const all = peers.map((p) => p.name);
      assert.deepEqual(await tally(peers, tag, all, sentinel), only(peers, all), cluster.logs());
    }
  });

  it("a room message reaches exactly the room's members on every node", async () => {
    const red = ["red0", "red1", "red2", "redblue0"];
    await byName.red1.send("to red from node 1");
    assert.deepEqual(await tally(peers, "to red from node 1", red, sentinel), only(peers, red));

    const blue = ["blue0", "blue2", "redblue0"];
    await byName.blue2.send("to blue from node 2");
    assert.deepEqual(await tally(peers, "to blue from node 2", blue, sentinel), only(peers, blue));
  });

  it("a client in two rooms reaches the union, each member once", async () => {
    const both = ["red0", "red1", "red2", "blue0", "blue2", "redblue0"];
    await byName.redblue0.send("to red+blue");
    assert.deepEqual(await tally(peers, "to red+blue", both, sentinel), only(peers, both));
  });

  it("except: rooms are excluded on every node (emitter to(red).except(blue), except(sid))", async () => {
    emitter.to("red").except("blue").emit("message", "red except blue");
    const redOnly = ["red0", "red1", "red2"];
    assert.deepEqual(await tally(peers, "red except blue", redOnly, sentinel), only(peers, redOnly));

    // socket.broadcast style: everyone but one socket (on node 1).
    emitter.except(byName.red1.id).emit("message", "all but red1");
    const others = peers.map((p) => p.name).filter((n) => n !== "red1");
    assert.deepEqual(await tally(peers, "all but red1", others, sentinel), only(peers, others));
  });

  it.skip("except through the built-in events: not reachable (no built-in event broadcasts with except)");

  it("binary arguments cross nodes byte-exact", async () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const big = randomBytes(200_000);
    await byName.red2.send("binary", every, { nested: big, text: "été" }, 9007199254740991);
    const red = ["red0", "red1", "red2", "redblue0"];
    await tally(peers, "binary", red, sentinel);
    for (const name of red) {
      const [, a, b, n] = byName[name].got("binary");
      assert.ok(Buffer.isBuffer(a), `${name}: first argument is not binary: ${typeof a}`);
      assert.ok(Buffer.from(a).equals(every), `${name}: 256 bytes differ`);
      assert.ok(Buffer.from(b.nested).equals(big), `${name}: 200 kB differ`);
      assert.equal(b.text, "été");
      assert.equal(n, 9007199254740991);
    }
  });

  it("-redis-key separates clusters in one Redis", async () => {
    const other = await cluster.go({ key: "other-cluster" });
    const [stranger] = await connectPeers(cluster.clients, other, ["stranger"]);
    // One request-channel subscriber per node (wire notes §1): 3 + 1.
    const numsub = await emitterClient.pubsub("NUMSUB", "socket.io-request#/#", "other-cluster-request#/#");
    assert.deepEqual(numsub.map(String), ["socket.io-request#/#", "3", "other-cluster-request#/#", "1"]);

    await stranger.send("stranger says");
    await stranger.waitFor("stranger says");
    await byName.lobby0.send("cluster says");
    const all = peers.map((p) => p.name);
    assert.deepEqual(await tally(peers, "stranger says", [], sentinel), only(peers, []));
    assert.deepEqual(await tally(peers, "cluster says", all, sentinel), only(peers, all));
    await sleep(200); // nothing can arrive on a key the node does not subscribe to; a short look anyway
    assert.equal(stranger.count("cluster says"), 0);
    assert.equal(stranger.count("stranger says"), 1);
  });

  it("after leave, a client no longer gets the room's messages", async () => {
    await byName.red1.leave("red");
    const red = ["red0", "red2", "redblue0"];
    await byName.red0.send("red after red1 left");
    assert.deepEqual(await tally(peers, "red after red1 left", red, sentinel), only(peers, red));
  });
});

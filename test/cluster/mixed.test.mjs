// A mixed cluster: two gateway nodes and one Node.js socket.io 4 server
// with the official @socket.io/redis-adapter (test/cluster/node-peer.mjs) in
// one Redis under one key, in classic mode (createAdapter) and in sharded
// mode (createShardedAdapter + gateway -redis-sharded):
//
//   - broadcasts and room broadcasts flow both ways, binary included;
//   - Node's io.to().except() broadcasts are honoured by the gateways;
//   - Node's fetchSockets() sees the gateways' sockets (ids and rooms), its
//     serverCount() counts them, socketsJoin/disconnectSockets act on them;
//   - Node's serverSideEmit reaches the gateways (seen in their /metrics:
//     the gateway binary registers no server-side event handler);
//   - @socket.io/redis-emitter emits reach gateway clients (classic only: the
//     emitter PUBLISHes, which sharded subscribers never see).
//
//   node --test test/cluster/

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Redis as IORedis } from "ioredis";
import { Emitter } from "@socket.io/redis-emitter";
import { Cluster, connectPeers, warmUp, tally, only, redisServerPath, REFERENCE } from "../lib/cluster.mjs";
import { once, waitUntil } from "../lib/harness.mjs";

const skip = redisServerPath() ? false : "redis-server not installed";

for (const mode of ["classic", "sharded"]) {
  const sharded = mode === "sharded";
  const key = `sg-mixed-${mode}`;

  describe(`mixed cluster (${mode}): 2 gateways + Node socket.io with @socket.io/redis-adapter`, { skip, timeout: 90_000 }, () => {
    const cluster = new Cluster();
    let go0, go1, node, peers, by, emitterClient, emitter;
    let sentinels = 0;

    before(async () => {
      await cluster.startRedis();
      [go0, go1, node] = await Promise.all([cluster.go({ key, sharded }), cluster.go({ key, sharded }), cluster.node({ key, sharded })]);
      peers = (
        await Promise.all([
          connectPeers(cluster.clients, go0, ["lobbyG0", "redG0"]),
          connectPeers(cluster.clients, go1, ["lobbyG1", "redG1", "spareG1"]),
          connectPeers(cluster.clients, node, ["lobbyN", "redN"]),
        ])
      ).flat();
      by = Object.fromEntries(peers.map((p) => [p.name, p]));
      await warmUp(peers, [by.lobbyG0, by.lobbyG1, by.lobbyN]);
      await Promise.all([by.redG0.join("red"), by.redG1.join("red"), by.redN.join("red")]);
      if (!sharded) {
        emitterClient = new IORedis(cluster.redis.url, { maxRetriesPerRequest: 1 });
        emitter = new Emitter(emitterClient, { key });
      }
    });

    after(async () => {
      emitterClient?.disconnect();
      await cluster.close();
    });

    // The peers that take part in the message tallies (spareG1 is moved
    // around by the cluster operations).
    const counted = () => peers.filter((p) => p.name !== "spareG1");
    const names = (...list) => list;
    const RED = names("redG0", "redG1", "redN");
    const ALL = names("lobbyG0", "redG0", "lobbyG1", "redG1", "lobbyN", "redN");

    // A sentinel is a global message sent by the same origin as the message
    // under test (so it arrives after it on every node).
    const fromLobby = (lobby) => async () => {
      const tag = `sentinel ${++sentinels}`;
      await by[lobby].send(tag);
      return tag;
    };
    const fromNodeServer = async () => {
      const tag = `sentinel ${++sentinels}`;
      await node.control({ cmd: "emit", args: ["message", tag] });
      return tag;
    };
    const fromEmitter = async () => {
      const tag = `sentinel ${++sentinels}`;
      emitter.emit("message", tag);
      return tag;
    };

    it("Node's serverCount() counts every node once", async () => {
      assert.deepEqual(await node.control({ cmd: "serverCount" }), { count: 3 });
    });

    it("a gateway client's global message reaches Node and gateway clients once", async () => {
      await by.lobbyG0.send("global from gateway");
      assert.deepEqual(await tally(counted(), "global from gateway", ALL, fromLobby("lobbyG0")), only(counted(), ALL), cluster.logs());
    });

    it("a Node client's global message reaches gateway and Node clients once", async () => {
      await by.lobbyN.send("global from node");
      assert.deepEqual(await tally(counted(), "global from node", ALL, fromLobby("lobbyN")), only(counted(), ALL));
    });

    it("a gateway client's room message reaches the room's members on Node and gateways", async () => {
      await by.redG1.send("red from gateway");
      assert.deepEqual(await tally(counted(), "red from gateway", RED, fromLobby("lobbyG1")), only(counted(), RED));
    });

    it("a Node client's room message reaches the room's members on the gateways", async () => {
      await by.redN.send("red from node");
      assert.deepEqual(await tally(counted(), "red from node", RED, fromLobby("lobbyN")), only(counted(), RED));
    });

    it("Node's io.to(room).except(sid) is honoured by the gateways", async () => {
      await node.control({ cmd: "emit", rooms: ["red"], except: [by.redG0.id], args: ["message", "red but redG0"] });
      const expect = names("redG1", "redN");
      assert.deepEqual(await tally(counted(), "red but redG0", expect, fromNodeServer), only(counted(), expect));
    });

    it("binary crosses between Node and gateways byte-exact, both ways", async () => {
      const fromGo = randomBytes(70_000);
      const fromNode = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
      await by.redG0.send("bin from gateway", fromGo, { b: Buffer.from("x") });
      await tally(counted(), "bin from gateway", RED, fromLobby("lobbyG0"));
      await by.redN.send("bin from node", { deep: [fromNode] });
      await tally(counted(), "bin from node", RED, fromLobby("lobbyN"));
      for (const name of RED) {
        const [, a, o] = by[name].got("bin from gateway");
        assert.ok(Buffer.isBuffer(a) && a.equals(fromGo), `${name}: gateway binary differs`);
        assert.ok(Buffer.from(o.b).equals(Buffer.from("x")), `${name}: nested gateway binary differs`);
        const [, d] = by[name].got("bin from node");
        assert.ok(Buffer.isBuffer(d.deep[0]) && d.deep[0].equals(fromNode), `${name}: Node binary differs`);
      }
    });

    it("Node's fetchSockets() sees the gateways' sockets with their rooms", async () => {
      const all = await node.control({ cmd: "fetchSockets" });
      const got = Object.fromEntries(all.map((s) => [s.id, s.rooms]));
      for (const p of peers) {
        const rooms = [p.id, ...(RED.includes(p.name) ? ["red"] : [])].sort();
        assert.deepEqual(got[p.id], rooms, `${p.name} (${p.node.kind}) in fetchSockets: ${JSON.stringify(all)}`);
      }
      assert.equal(all.length, peers.length, JSON.stringify(all));
      const inRed = await node.control({ cmd: "fetchSockets", rooms: ["red"] });
      assert.deepEqual(inRed.map((s) => s.id).sort(), RED.map((n) => by[n].id).sort());
      const handshake = all.find((s) => s.id === by.lobbyG1.id).handshake;
      assert.equal(typeof handshake.address, "string", JSON.stringify(handshake));
      assert.equal(handshake.query?.EIO, "4", JSON.stringify(handshake));
    });

    it("Node's socketsJoin / socketsLeave move a gateway socket in and out of a room", async () => {
      const spare = by.spareG1;
      await node.control({ cmd: "socketsJoin", rooms: [spare.id], room: "green" });
      await waitUntil(async () => {
        const [s] = await node.control({ cmd: "fetchSockets", rooms: [spare.id] });
        return s?.rooms.includes("green");
      }, 5000, "spareG1 in green");
      await node.control({ cmd: "emit", rooms: ["green"], args: ["message", "to green"] });
      await spare.waitFor("to green");
      // The gateway's own `message` now goes to green only.
      await spare.send("spare in green");
      await spare.waitFor("spare in green");
      await node.control({ cmd: "socketsLeave", rooms: [spare.id], room: "green" });
      await waitUntil(async () => {
        const [s] = await node.control({ cmd: "fetchSockets", rooms: [spare.id] });
        return s && !s.rooms.includes("green");
      }, 5000, "spareG1 out of green");
    });

    it("Node's serverSideEmit reaches the gateways", async () => {
      const gws = [go0, go1];
      if (gws.some((n) => n.kind === "node")) {
        await node.control({ cmd: "serverSideEmit", args: ["cluster-test", { hello: "gateways" }] });
        for (const n of gws) {
          await waitUntil(async () => (await n.control({ cmd: "serverSideReceived" })).length > 0, 5000, "server-side event");
        }
        return;
      }
      // The request is counted as served; nothing in it is malformed.
      const metric = "sockgate_redis_requests_served_total";
      const malformed = "sockgate_redis_malformed_total";
      const before = await Promise.all(gws.map((n) => n.metric(metric)));
      const badBefore = await Promise.all(gws.map((n) => n.metric(malformed)));
      await node.control({ cmd: "serverSideEmit", args: ["cluster-test", { hello: "gateways" }] });
      for (const [i, n] of gws.entries()) {
        await waitUntil(async () => (await n.metric(metric)) > before[i], 5000, `${metric} to grow on gateway ${i}`);
        assert.equal(await n.metric(malformed), badBefore[i], `${malformed} grew on gateway ${i}`);
      }
    });

    it("Node's disconnectSockets(true) closes a gateway client", async () => {
      const spare = by.spareG1;
      const disconnected = once(spare.socket, "disconnect", 5000);
      await node.control({ cmd: "disconnectSockets", rooms: [spare.id], close: true });
      const [reason] = await disconnected;
      // close=true closes the connection, which the client sees as a
      // transport close; close=false would be "io server disconnect".
      assert.ok(["transport close", "io server disconnect"].includes(reason), reason);
    });

    if (sharded) {
      it.skip("@socket.io/redis-emitter: classic only (it PUBLISHes; sharded nodes SSUBSCRIBE)");
    } else {
      it("@socket.io/redis-emitter: global, room, except and binary emits reach gateway clients", async () => {
        emitter.emit("message", "emitter global");
        assert.deepEqual(await tally(counted(), "emitter global", ALL, fromEmitter), only(counted(), ALL));

        emitter.to("red").emit("message", "emitter red");
        assert.deepEqual(await tally(counted(), "emitter red", RED, fromEmitter), only(counted(), RED));

        emitter.to("red").except(by.redG1.id).emit("message", "emitter red but redG1");
        const expect = names("redG0", "redN");
        assert.deepEqual(await tally(counted(), "emitter red but redG1", expect, fromEmitter), only(counted(), expect));

        const bin = randomBytes(1000);
        emitter.to("red").emit("message", "emitter bin", bin);
        await tally(counted(), "emitter bin", RED, fromEmitter);
        for (const name of RED) {
          const [, b] = by[name].got("emitter bin");
          assert.ok(Buffer.isBuffer(b) && b.equals(bin), `${name}: emitter binary differs`);
        }
      });
    }

    it.skip("gateway → Node serverSideEmit and fetchSockets: the gateway binary has no hook to trigger them");
  });
}

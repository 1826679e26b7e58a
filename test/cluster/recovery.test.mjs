// Connection state recovery across a mixed cluster on the streams adapter:
// gateways with -redis-adapter streams -recovery, and a Node.js socket.io
// 4.8 server with @socket.io/redis-streams-adapter (test/cluster/node-peer.mjs)
// in one Redis:
//
//   - broadcasts and fetchSockets span the three kinds of node;
//   - a client whose transport is cut recovers on another node (Go→Go,
//     Go→Node, Node→Go): same id, rooms, and the missed room messages in
//     order;
//   - an offset trimmed from the stream gives a new socket;
//   - SIGTERM of a gateway hands its clients over: each recovers elsewhere
//     and none misses a message sent during the drain;
//   - SIGKILL of a gateway with -recovery-persist eager: its clients recover
//     elsewhere with their rooms and missed messages.
//
//   node --test test/cluster/recovery.test.mjs

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Redis as IORedis } from "ioredis";
import { decode } from "@msgpack/msgpack";
import { Cluster, connectPeers, warmUp, redisServerPath, REFERENCE } from "../lib/cluster.mjs";
import { once, waitUntil } from "../lib/harness.mjs";
import { Recorder, ack, cutTransport } from "../lib/client.mjs";

const skip = !redisServerPath() ? "redis-server not installed" : REFERENCE ? "gateway-only flags" : false;
const streams = { streams: true, recovery: "30s" };
// A recovering client: reconnects by itself, soon.
const recOpts = { transports: ["websocket"], reconnection: true, reconnectionDelay: 300, randomizationFactor: 0 };

describe("recovery across a mixed cluster (streams adapter)", { skip, timeout: 120_000 }, () => {
  const cluster = new Cluster();
  let go0, go1, node, redis;

  before(async () => {
    await cluster.startRedis();
    [go0, go1, node] = await Promise.all([cluster.go(streams), cluster.go(streams), cluster.node(streams)]);
    redis = new IORedis(cluster.redis.url, { maxRetriesPerRequest: 1 });
  });

  after(async () => {
    redis?.disconnect();
    await cluster.close();
  });

  const tags = (rec, prefix) => rec.items.map((m) => m[0]).filter((t) => typeof t === "string" && t.startsWith(prefix));

  // session reads the stored recovery session of a client (null if none).
  async function session(socket) {
    const raw = await redis.get(`sio:session:${socket._pid}`);
    return raw ? decode(Buffer.from(raw, "base64")) : null;
  }

  async function send(socket, tag) {
    assert.deepEqual(await ack(socket, "message", tag), [true]);
  }

  it("broadcasts and fetchSockets span gateways and Node", async () => {
    const peers = (
      await Promise.all([
        connectPeers(cluster.clients, go0, ["lobbyG0"]),
        connectPeers(cluster.clients, go1, ["lobbyG1"]),
        connectPeers(cluster.clients, node, ["lobbyN"]),
      ])
    ).flat();
    await warmUp(peers, peers); // a global message from each kind reaches all
    const ids = (await node.control({ cmd: "fetchSockets" })).map((s) => s.id);
    for (const p of peers) assert.ok(ids.includes(p.id), `${p.name} in Node's fetchSockets`);
    for (const p of peers) {
      const m = p.got(`warm-up 0 lobbyG0`);
      assert.equal(typeof m.at(-1), "string", "a stored broadcast carries its offset");
      assert.match(m.at(-1), /^\d+-\d+$/, "the offset is a stream entry ID");
    }
    for (const p of peers) p.socket.disconnect();
  });

  // move cuts a's transport, lets the room talk, and brings a back on `to`.
  async function move(a, to, sender, tagsWhileAway) {
    a.io.reconnection(false);
    const gone = once(a, "disconnect");
    cutTransport(a, to.url);
    await gone;
    await waitUntil(async () => (await session(a)) !== null, 5000, "the session to be stored");
    for (const t of tagsWhileAway) await send(sender, t);
    a.io.reconnection(true);
    const back = once(a, "connect", 10_000);
    a.connect();
    await back;
  }

  for (const [fromName, toName, senderName] of [
    ["go0", "go1", "node"],
    ["go0", "node", "go1"],
    ["node", "go1", "go0"],
  ]) {
    it(`recovers ${fromName} → ${toName}: id, rooms, missed messages in order`, async () => {
      try {
        await recoverPair(fromName, toName, senderName);
      } catch (err) {
        err.message += `\nnode logs:\n${cluster.logs(1500)}`;
        throw err;
      }
    });
  }

  async function recoverPair(fromName, toName, senderName) {
    {
      const nodes = { go0, go1, node };
      const room = `room-${fromName}-${toName}`;
      const a = await cluster.clients.connect(nodes[fromName].url, recOpts);
      const sender = await cluster.clients.connect(nodes[senderName].url, { transports: ["websocket"] });
      const rec = new Recorder(a, "message");
      assert.deepEqual(await ack(a, "join", room), [true]);
      assert.deepEqual(await ack(sender, "join", room), [true]);
      await send(sender, "m1");
      await rec.waitFor((m) => m[0] === "m1");
      const id = a.id;
      await move(a, nodes[toName], sender, ["m2", "m3"]);
      assert.equal(a.recovered, true, "socket.recovered");
      assert.equal(a.id, id);
      await waitUntil(() => tags(rec, "m").length >= 3, 5000, "the missed messages");
      await send(sender, "m4"); // reaches a through its restored room
      await waitUntil(() => tags(rec, "m").length >= 4, 5000, "m4");
      assert.deepEqual(tags(rec, "m"), ["m1", "m2", "m3", "m4"]);
      a.disconnect();
      sender.disconnect();
    }
  }

  it("an offset trimmed from the stream gives a new socket", async () => {
    const a = await cluster.clients.connect(go0.url, recOpts);
    const rec = new Recorder(a, "message");
    await send(a, "t1");
    await rec.waitFor((m) => m[0] === "t1");
    const id = a.id;
    a.io.reconnection(false);
    const gone = once(a, "disconnect");
    cutTransport(a, go1.url);
    await gone;
    await waitUntil(async () => (await session(a)) !== null, 5000, "the session to be stored");
    await redis.xtrim("socket.io", "MAXLEN", 0);
    a.io.reconnection(true);
    const back = once(a, "connect", 10_000);
    a.connect();
    await back;
    assert.equal(a.recovered, false);
    assert.notEqual(a.id, id);
    assert.match(await go1.metrics(), /sockgate_recovery_outcomes_total\{reason="offset_trimmed"\} [1-9]/);
    a.disconnect();
  });

  // runSender sends numbered messages from sender until stop() resolves it.
  function runSender(sender, prefix) {
    let n = 0;
    let stopped = false;
    const done = (async () => {
      while (!stopped) {
        await send(sender, `${prefix}${++n}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return n;
    })();
    return {
      get sent() {
        return n;
      },
      stop: () => ((stopped = true), done),
    };
  }

  async function expectAll(clients, prefix, count) {
    const want = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
    for (const { rec, name } of clients) {
      await waitUntil(() => tags(rec, prefix).length >= count, 10_000, `${name} to get ${count} messages`);
      assert.deepEqual(tags(rec, prefix), want, `${name}: every message once, in order`);
    }
  }

  it("SIGTERM hands a gateway's clients over: they recover elsewhere, nothing missed", async () => {
    const drained = await cluster.go({ ...streams, args: ["-shutdown-timeout", "5s"] });
    const room = "drain";
    const clients = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const s = await cluster.clients.connect(drained.url, recOpts);
        assert.deepEqual(await ack(s, "join", room), [true]);
        return { socket: s, rec: new Recorder(s, "message"), id: s.id, name: `drained client ${i}` };
      }),
    );
    const sender = await cluster.clients.connect(node.url, { transports: ["websocket"] });
    assert.deepEqual(await ack(sender, "join", room), [true]);
    const run = runSender(sender, "d");
    await waitUntil(() => clients.every((c) => tags(c.rec, "d").length > 0), 5000, "the first messages");
    for (const c of clients) c.socket.io.uri = go1.url; // where the reconnection goes
    const reconnected = clients.map((c) => once(c.socket, "connect", 15_000));
    drained.server.proc.kill("SIGTERM");
    await Promise.all(reconnected);
    const sentAtReconnect = run.sent;
    await waitUntil(() => run.sent > sentAtReconnect + 3, 5000, "messages after the reconnections");
    const total = await run.stop();
    for (const c of clients) {
      assert.equal(c.socket.recovered, true, `${c.name} recovered`);
      assert.equal(c.socket.id, c.id);
    }
    await expectAll(clients, "d", total);
    await drained.server.exited;
    for (const c of clients) c.socket.disconnect();
    sender.disconnect();
  });

  it("SIGKILL of a gateway with -recovery-persist eager: its clients recover elsewhere", async () => {
    const killed = await cluster.go({ ...streams, args: ["-recovery-persist", "eager"] });
    const room = "kill";
    const clients = await Promise.all(
      Array.from({ length: 3 }, async (_, i) => {
        const s = await cluster.clients.connect(killed.url, recOpts);
        assert.deepEqual(await ack(s, "join", room), [true]);
        return { socket: s, rec: new Recorder(s, "message"), id: s.id, name: `killed client ${i}` };
      }),
    );
    const sender = await cluster.clients.connect(go1.url, { transports: ["websocket"] });
    assert.deepEqual(await ack(sender, "join", room), [true]);
    await send(sender, "k1");
    for (const c of clients) await c.rec.waitFor((m) => m[0] === "k1");
    // The eager store has written each session with its room.
    for (const c of clients) {
      await waitUntil(async () => (await session(c.socket))?.rooms?.includes(room), 5000, `${c.name}'s session with its room`);
    }
    for (const c of clients) c.socket.io.uri = node.url;
    const reconnected = clients.map((c) => once(c.socket, "connect", 15_000));
    killed.server.proc.kill("SIGKILL");
    await send(sender, "k2");
    await send(sender, "k3");
    await Promise.all(reconnected);
    await send(sender, "k4");
    for (const c of clients) {
      assert.equal(c.socket.recovered, true, `${c.name} recovered`);
      assert.equal(c.socket.id, c.id);
    }
    await expectAll(clients, "k", 4);
    for (const c of clients) c.socket.disconnect();
    sender.disconnect();
  });
});

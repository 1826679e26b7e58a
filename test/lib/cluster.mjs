// Helpers for the cluster suites (test/cluster/): a private redis-server per
// test file, gateway nodes joined to it, Node.js socket.io peers
// (test/cluster/node-peer.mjs) in the same Redis, and delivery bookkeeping.
//
// Gateway nodes come from test/lib/harness.mjs (startGateway: the binary is
// built once per `node --test` run). With SOCKGATE_TEST_SERVER=node every
// "gateway" node is a node-peer.mjs instead, which checks the tests
// themselves against Node's own adapter.
//
// Environment: REDIS_SERVER (default redis-server on PATH, then
// /usr/bin/redis-server).

import { accessSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { ROOT, REFERENCE, Server, freePort, startGateway, waitUntil, withTimeout } from "./harness.mjs";
import { Clients, Recorder, ack } from "./client.mjs";

export { REFERENCE };

const NODE_PEER = join(ROOT, "test", "cluster", "node-peer.mjs");

// redisServerPath finds redis-server, or returns "" when there is none.
export function redisServerPath() {
  const candidates = [process.env.REDIS_SERVER, ...(process.env.PATH ?? "").split(delimiter).map((d) => join(d, "redis-server")), "/usr/bin/redis-server"];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {}
  }
  return "";
}

// Redis is a private redis-server on a fixed loopback port that survives
// kill() + start() (the fault test restarts it on the same port).
export class Redis {
  constructor(bin, port) {
    this.bin = bin;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.server = null;
  }

  static async start() {
    const bin = redisServerPath();
    if (!bin) throw new Error("redis-server not found (apt-get install -y redis-server, or set REDIS_SERVER)");
    const r = new Redis(bin, await freePort());
    await r.start();
    return r;
  }

  async start() {
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", tmpdir()];
    this.server = await new Server(this.bin, args, this.port, null).start(10_000);
    return this;
  }

  // kill SIGKILLs redis-server and waits until it is gone.
  async kill() {
    const s = this.server;
    if (!s?.proc) return;
    if (s.alive()) s.proc.kill("SIGKILL");
    await withTimeout(s.exited, 5000, "redis-server exit after SIGKILL");
    s.proc = null;
  }

  async stop() {
    await this.kill();
  }
}

// Node is one cluster node: a gateway process or a node-peer.mjs.
// kind is "go" or "node".
export class Node {
  constructor(kind, server) {
    this.kind = kind;
    this.server = server;
    this.url = server.url;
  }

  get log() {
    return this.server.log;
  }

  async stop() {
    await this.server.stop();
  }

  // status returns the HTTP status of a GET on path (0 if unreachable).
  async status(path) {
    try {
      const res = await fetch(this.url + path, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  // metrics returns the Prometheus text of /metrics.
  async metrics() {
    const res = await fetch(this.url + "/metrics", { signal: AbortSignal.timeout(2000) });
    return res.text();
  }

  // metric sums the samples of one metric family (0 when absent).
  async metric(name) {
    let sum = 0;
    for (const line of (await this.metrics()).split("\n")) {
      if (line.startsWith("#")) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (m && m[1] === name) sum += Number(m[3]);
    }
    return sum;
  }

  // control sends a command to a node-peer.mjs (see its header).
  async control(cmd) {
    if (this.kind !== "node") throw new Error("control: only node peers take commands");
    const res = await fetch(this.url + "/control", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(cmd, jsonBinary),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`control ${cmd.cmd}: HTTP ${res.status}: ${text}`);
    return JSON.parse(text);
  }
}

// jsonBinary writes Buffers as {"$bin": base64} for node-peer.mjs.
function jsonBinary(key, value) {
  if (value && value.type === "Buffer" && Array.isArray(value.data)) return { $bin: Buffer.from(value.data).toString("base64") };
  return value;
}

// clusterArgs are the gateway flags (and node-peer.mjs flags) of a node.
// Gateways take every flag; node-peer.mjs takes the Redis ones and
// -recovery. args are gateway-only flags.
function clusterArgs({ redis, key, sharded, streams, recovery }) {
  const args = ["-redis-url", redis.url];
  if (key) args.push("-redis-key", key);
  if (sharded) args.push("-redis-sharded");
  if (streams) args.push("-redis-adapter", "streams");
  if (recovery) args.push("-recovery", recovery);
  return args;
}

// startNodePeer starts test/cluster/node-peer.mjs: socket.io 4 with
// @socket.io/redis-adapter (classic, or sharded with sharded: true).
export async function startNodePeer(opts) {
  const port = await freePort();
  const server = new Server(process.execPath, [NODE_PEER, "-addr", `127.0.0.1:${port}`, ...clusterArgs(opts)], port, "/readyz");
  return new Node("node", await server.start());
}

// startGoNode starts a gateway joined to opts.redis (a node peer with
// SOCKGATE_TEST_SERVER=node), with opts.args as extra flags. It waits until
// /readyz is 200 and /readyz?verbose reports the cluster connection ok.
export async function startGoNode(opts) {
  if (REFERENCE) return startNodePeer(opts);
  const server = await startGateway({ args: [...clusterArgs(opts), ...(opts.args ?? [])] });
  const node = new Node("go", server);
  // Ready, and joined to Redis (which readiness does not require).
  const joined = async () => {
    if ((await node.status("/readyz")) !== 200) return false;
    try {
      const res = await fetch(node.url + "/readyz?verbose", { signal: AbortSignal.timeout(2000) });
      return (await res.json()).cluster === "ok";
    } catch {
      return false;
    }
  };
  await waitUntil(joined, 10_000, "gateway /readyz and its Redis connection").catch(async (err) => {
    await node.stop();
    throw err;
  });
  return node;
}

// Peer is a socket.io-client socket on a node, recording every `message`.
export class Peer {
  constructor(name, node, socket) {
    this.name = name;
    this.node = node;
    this.socket = socket;
    this.rec = new Recorder(socket, "message");
  }

  get id() {
    return this.socket.id;
  }

  // count is how many recorded messages have tag as first argument.
  count(tag) {
    return this.rec.items.filter((m) => m[0] === tag).length;
  }

  got(tag) {
    return this.rec.items.find((m) => m[0] === tag);
  }

  waitFor(tag, ms = 5000) {
    return this.rec.waitFor((m) => m[0] === tag, ms, `${this.name} (on ${this.node.kind} ${this.node.url}) to get ${JSON.stringify(tag)}`);
  }

  async join(room) {
    const res = await ack(this.socket, "join", room);
    if (res[0] !== true) throw new Error(`${this.name}: join ${room}: ${JSON.stringify(res)}`);
  }

  async leave(room) {
    const res = await ack(this.socket, "leave", room);
    if (res[0] !== true) throw new Error(`${this.name}: leave ${room}: ${JSON.stringify(res)}`);
  }

  // send emits `message` and waits for its ack (true).
  async send(...args) {
    const res = await ack(this.socket, "message", ...args);
    if (res[0] !== true) throw new Error(`${this.name}: message: ${JSON.stringify(res)}`);
  }
}

// connectPeers connects one client per name to node (websocket unless
// transports say otherwise).
export async function connectPeers(clients, node, names, opts = {}) {
  return Promise.all(
    names.map(async (name) => new Peer(name, node, await clients.connect(node.url, { transports: ["websocket"], ...opts }))),
  );
}

// warmUp proves every node's subscriptions are live: a global message from
// a client of each node is repeated until every peer has it. Peers must
// not be in rooms yet (a socket in a room talks to its rooms only).
export async function warmUp(peers, senders, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (const [i, sender] of senders.entries()) {
    const tag = `warm-up ${i} ${sender.name}`;
    for (;;) {
      await sender.send(tag);
      try {
        await waitUntil(() => peers.every((p) => p.count(tag) > 0), 400, tag);
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          const missing = peers.filter((p) => p.count(tag) === 0).map((p) => `${p.name}@${p.node.url}`);
          throw new Error(`cluster not connected after ${ms} ms: ${tag} missing at ${missing.join(", ")}`);
        }
      }
    }
  }
}

// tally waits until every peer in expect has tag and a later sentinel seen
// by all peers has arrived, then returns {name: count of tag} for all peers.
// sentinel() must send a message every peer receives (a global message from
// a peer in no room) after tag was sent.
export async function tally(peers, tag, expect, sentinel, ms = 5000) {
  for (const p of peers) if (expect.includes(p.name)) await p.waitFor(tag, ms);
  const s = await sentinel();
  for (const p of peers) await p.waitFor(s, ms);
  return Object.fromEntries(peers.map((p) => [p.name, p.count(tag)]));
}

// only builds the expected tally: 1 for the names, 0 for everyone else.
export function only(peers, names, n = 1) {
  return Object.fromEntries(peers.map((p) => [p.name, names.includes(p.name) ? n : 0]));
}

// Cluster owns everything a test file starts, for one after() hook.
export class Cluster {
  constructor() {
    this.redis = null;
    this.nodes = [];
    this.clients = new Clients();
  }

  async startRedis() {
    this.redis = await Redis.start();
    return this.redis;
  }

  async go(opts = {}) {
    const n = await startGoNode({ redis: this.redis, ...opts });
    this.nodes.push(n);
    return n;
  }

  async node(opts = {}) {
    const n = await startNodePeer({ redis: this.redis, ...opts });
    this.nodes.push(n);
    return n;
  }

  // logs returns the tail of every node's log, for failure messages.
  logs(chars = 3000) {
    return this.nodes.map((n) => `--- ${n.kind} ${n.url}\n${n.log.slice(-chars)}`).join("\n");
  }

  async close() {
    this.clients.closeAll();
    await Promise.allSettled(this.nodes.splice(0).map((n) => n.stop()));
    await this.redis?.stop();
  }
}

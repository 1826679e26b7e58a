// The docker-compose stack's load balancer, for real: HAProxy with
// deploy/haproxy/haproxy.cfg (addresses and ports rewritten for loopback)
// in front of gateway processes on one redis-server, driven by the official
// socket.io-client.
//
//   - stickiness: polling-only clients (every request a separate HTTP
//     request) and upgrading clients on three nodes work through the one
//     public port, are spread over the nodes, and no node ever sees an
//     unknown session ID;
//   - without stickiness (SOCKGATE_STICKY=false for HAProxy, -sticky=false
//     for the gateways): clients without cookies work, their requests are
//     forwarded between the nodes, HAProxy sets no cookie;
//   - drain: SIGTERM to one of two nodes; its /readyz turns 503 at once,
//     handshakes sent to it get 503 with a JSON body while its own clients
//     keep working for the drain delay, then every client ends up on the
//     other node by itself, and the drained process exits 0.
//
//   node --test test/deploy/

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Redis, redisServerPath, REFERENCE } from "../lib/cluster.mjs";
import { HAProxy, haproxyPath } from "../lib/haproxy.mjs";
import { startGateway, waitUntil, withTimeout } from "../lib/harness.mjs";
import { Clients, ack } from "../lib/client.mjs";

const skip = REFERENCE
  ? "the gateway's drain and metrics are not the reference server's"
  : !redisServerPath()
    ? "redis-server not installed"
    : !haproxyPath()
      ? "haproxy not installed"
      : false;

// The settings of docker-compose.yml's gateways, with a drain delay that
// leaves time to check the load balancer once it marked the node down
// (about 2 s).
const DRAIN_DELAY = "4s";

async function startNodes(redis, n) {
  return Promise.all(
    Array.from({ length: n }, () =>
      startGateway({ args: ["-redis-url", redis.url, "-drain-delay", DRAIN_DELAY, "-shutdown-timeout", "10s"] }),
    ),
  );
}

// metric returns the sum of the samples of name whose labels contain
// labels (a string like 'kind="unknown_sid"'), or 0.
async function metric(node, name, labels = "") {
  const res = await fetch(node.url + "/metrics", { signal: AbortSignal.timeout(2000) });
  let sum = 0;
  for (const line of (await res.text()).split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name && (m[2] ?? "").includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

async function allUp(lb, n) {
  await waitUntil(async () => {
    const st = await lb.serverStatus().catch(() => ({}));
    return Object.values(st).filter((s) => s === "UP").length === n;
  }, 10_000, `HAProxy to see ${n} servers UP`);
}

// Client options through the load balancer: Node's client keeps cookies
// (HAProxy's stickiness cookie) only with withCredentials.
const polling = { transports: ["polling"], withCredentials: true };
const upgrading = { withCredentials: true };

describe("HAProxy with the compose configuration in front of 3 gateways", { skip, timeout: 60_000 }, () => {
  let redis, nodes, lb;
  const clients = new Clients();

  before(async () => {
    redis = await Redis.start();
    nodes = await startNodes(redis, 3);
    lb = await HAProxy.start(nodes);
    await allUp(lb, 3);
  });

  after(async () => {
    clients.closeAll();
    await lb?.stop();
    await Promise.all((nodes ?? []).map((n) => n.stop()));
    await redis?.stop();
  });

  it("sticks polling-only and upgrading clients to their node, spread over the nodes", async () => {
    const sockets = [];
    for (let i = 0; i < 9; i++) {
      // One at a time, so that leastconn spreads them.
      sockets.push(await clients.connect(lb.url, i % 3 === 2 ? upgrading : polling));
    }
    for (const s of sockets) assert.deepEqual(await ack(s, "join", "lb"), [true]);

    // Many polling round trips per client: each one must reach the node
    // that holds the session.
    const got = sockets.map(() => []);
    sockets.forEach((s, i) => s.on("message", (...args) => got[i].push(args)));
    for (let round = 0; round < 5; round++) {
      await Promise.all(sockets.map((s, i) => ack(s, "echo", i, round).then((r) => assert.deepEqual(r, [i, round]))));
    }
    sockets[0].emit("message", "across", 1);
    sockets[4].emit("message", "across", 2);
    await waitUntil(() => got.every((g) => g.length === 2), 5000, "every client to get both room messages");

    const perNode = await Promise.all(nodes.map((n) => metric(n, "sockgate_sockets")));
    assert.equal(perNode.reduce((a, b) => a + b), 9, `sockets per node ${perNode}`);
    assert.ok(perNode.filter((n) => n > 0).length >= 2, `clients on one node only: ${perNode}`);
    await waitUntil(async () => (await Promise.all(nodes.map((n) => metric(n, "sockgate_engineio_upgrades_total")))).reduce((a, b) => a + b) >= 3, 5000, "the upgrades through the load balancer");
    for (const n of nodes) {
      assert.equal(await metric(n, "sockgate_engineio_errors_total", 'kind="unknown_sid"'), 0, `a request reached the wrong node (${n.url})`);
      assert.equal(await metric(n, "sockgate_engineio_errors_total", 'kind="bad_request"'), 0, `a bad request on ${n.url}`);
    }
    for (const s of sockets) assert.ok(s.connected);
  });
});

describe("HAProxy without stickiness (SOCKGATE_STICKY=false) in front of 3 forwarding gateways", { skip, timeout: 60_000 }, () => {
  let redis, nodes, lb;
  const clients = new Clients();
  const secret = "loadbalancer-test-cluster-secret";

  before(async () => {
    redis = await Redis.start();
    nodes = [];
    for (let i = 0; i < 3; i++) nodes.push(await startGateway({ args: ["-redis-url", redis.url, "-sticky=false", "-cluster-secret", secret] }));
    lb = await HAProxy.start(nodes, { env: { SOCKGATE_STICKY: "false" } });
    await allUp(lb, 3);
  });

  after(async () => {
    clients.closeAll();
    await lb?.stop();
    await Promise.all((nodes ?? []).map((n) => n.stop()));
    await redis?.stop();
  });

  it("serves polling-only and upgrading clients that carry no cookie, forwarding across nodes", async () => {
    // No withCredentials: the Node client keeps no cookie, and HAProxy sets
    // none; each request is balanced on its own.
    const sockets = [];
    for (let i = 0; i < 6; i++) sockets.push(await clients.connect(lb.url, i % 3 === 2 ? {} : { transports: ["polling"] }));
    for (const s of sockets) assert.deepEqual(await ack(s, "join", "lb"), [true]);
    for (let round = 0; round < 5; round++) {
      await Promise.all(sockets.map((s, i) => ack(s, "echo", i, round).then((r) => assert.deepEqual(r, [i, round]))));
    }
    const got = sockets.map(() => []);
    sockets.forEach((s, i) => s.on("message", (...args) => got[i].push(args)));
    sockets[1].emit("message", "across");
    await waitUntil(() => got.every((g) => g.length === 1), 5000, "every client to get the room message");
    // HAProxy inserts no stickiness cookie (it does in the sticky configuration).
    const hs = await fetch(lb.url + "/socket.io/?EIO=4&transport=polling", { signal: AbortSignal.timeout(5000) });
    await hs.text();
    assert.equal(hs.status, 200);
    assert.equal(hs.headers.get("set-cookie"), null);
    let forwarded = 0;
    for (const n of nodes) {
      forwarded += await metric(n, "sockgate_forwarded_requests_total", 'result="ok"');
      assert.equal(await metric(n, "sockgate_engineio_errors_total", 'kind="unknown_sid"'), 0, `an unknown session on ${n.url}`);
      assert.equal(await metric(n, "sockgate_forwarded_requests_total", 'result="unreachable"'), 0);
    }
    assert.ok(forwarded > 0, "HAProxy sent every request to its session's node: nothing was forwarded");
    for (const s of sockets) assert.ok(s.connected);
  });
});

describe("SIGTERM drain of one of two gateways behind HAProxy", { skip, timeout: 60_000 }, () => {
  let redis, nodes, lb;
  const clients = new Clients();

  before(async () => {
    redis = await Redis.start();
    nodes = await startNodes(redis, 2);
    lb = await HAProxy.start(nodes);
    await allUp(lb, 2);
  });

  after(async () => {
    clients.closeAll();
    await lb?.stop();
    await Promise.all((nodes ?? []).map((n) => n.stop()));
    await redis?.stop();
  });

  it("moves every client to the other node, refuses handshakes with 503, exits 0", async () => {
    const reconnect = { reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 1000 };
    const sockets = [];
    for (let i = 0; i < 8; i++) sockets.push(await clients.connect(lb.url, { ...(i % 2 ? upgrading : polling), ...reconnect }));
    const reasons = [];
    for (const s of sockets) s.on("disconnect", (reason) => reasons.push(reason));
    await waitUntil(async () => (await Promise.all(nodes.map((n) => metric(n, "sockgate_sockets")))).every((k) => k > 0), 5000, "clients on both nodes");
    const [drained, other] = nodes;
    const onDrained = await metric(drained, "sockgate_sockets");

    const exited = drained.exited;
    drained.proc.kill("SIGTERM");

    // At once: not ready, handshakes refused with 503 JSON, the node's own
    // clients still served (the drain delay).
    await waitUntil(async () => (await fetch(drained.url + "/readyz")).status === 503, 2000, "/readyz of the draining node to turn 503");
    const res = await fetch(drained.url + "/socket.io/?EIO=4&transport=polling");
    assert.equal(res.status, 503);
    assert.match(res.headers.get("content-type"), /application\/json/);
    assert.deepEqual(await res.json(), { code: 4, message: "gateway: draining" });
    await Promise.all(sockets.map((s, i) => ack(s, "echo", "during", i).then((r) => assert.deepEqual(r, ["during", i]))));
    // Once HAProxy has marked it down, a new client that still carries the
    // draining node's cookie (a reconnection) is balanced to the ready one.
    await waitUntil(async () => (await lb.serverStatus())["gateway1"] === "DOWN", 5000, "HAProxy to mark the draining node down");
    const late = await clients.connect(lb.url, { ...polling, extraHeaders: { cookie: "sockgate-node=gateway1" } });
    assert.deepEqual(await ack(late, "echo", "late"), ["late"]);
    late.disconnect();

    // Every client reconnects by itself, through HAProxy, to the other node.
    const { code, signal } = await withTimeout(exited, 20_000, "the drained gateway to exit");
    assert.equal(code, 0, `exit code (signal ${signal}):\n${drained.log.slice(-2000)}`);
    drained.proc = null;
    await waitUntil(() => sockets.every((s) => s.connected) && reasons.length >= onDrained, 15_000, "every client connected again");
    assert.equal(reasons.length, onDrained, `disconnects ${reasons}`);
    assert.ok(reasons.every((r) => r === "transport close"), `disconnect reasons ${reasons}`);
    await waitUntil(async () => (await metric(other, "sockgate_sockets")) === sockets.length, 5000, "every socket on the remaining node");
    await Promise.all(sockets.map((s, i) => ack(s, "echo", "after", i).then((r) => assert.deepEqual(r, ["after", i]))));
    assert.match(drained.log, /drain: closing connections/);
    // HAProxy never relayed a 503 of the draining node: the reconnections
    // went to the ready one (its httplog lines name the server and status).
    assert.match(lb.log, /gateways\/gateway2 \S+ 200 /, "no HAProxy log lines");
    assert.doesNotMatch(lb.log, /gateways\/gateway1 \S+ 503 /, "a handshake reached the draining node");
  });
});

// Without sticky sessions (-sticky=false): three gateway nodes in one Redis
// behind a round-robin proxy (test/lib/roundrobin.mjs) that sends every
// request to the next node, so that nearly every request of a client lands
// on a node that does not own its session and is forwarded to the owner.
// Official socket.io-client clients, polling only or upgrading to
// websocket, must not notice: they connect, join rooms, exchange events
// with acks and binary, and stay connected through 30 s of heartbeats
// (-ping-interval 1s). A node killed mid-session makes its own clients
// reconnect, and no client whose connection did not pass through it.
// Requests claiming to be forwarded without the cluster's secret are
// refused.
//
//   node --test test/cluster/forwarding.test.mjs
//   FORWARDING_HEARTBEATS_MS=3000 node --test ...   (a shorter heartbeat check, while editing)

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { Redis as IORedis } from "ioredis";
import { REFERENCE, sleep, waitUntil } from "../lib/harness.mjs";
import { Cluster, Peer, warmUp, tally, only, redisServerPath } from "../lib/cluster.mjs";
import { RoundRobin } from "../lib/roundrobin.mjs";

const skip = !redisServerPath() ? "redis-server not installed" : REFERENCE ? "forwarding is a gateway feature" : false;

const SECRET = "forwarding-test-secret-" + randomBytes(8).toString("hex");
const HEARTBEATS_FOR = Number(process.env.FORWARDING_HEARTBEATS_MS ?? 30_000); // ms of heartbeats every client must survive

describe("no sticky sessions: 3 forwarding nodes behind a round-robin proxy", { skip, timeout: 120_000 }, () => {
  const cluster = new Cluster();
  let nodes, proxy, lb, rdb;
  let polling, upgraded, all, byName;
  let connectedAt;
  const disconnects = new Map(); // name -> reasons
  let sentinels = 0;

  before(async () => {
    await cluster.startRedis();
    const extra = ["-sticky=false", "-cluster-secret", SECRET, "-ping-interval", "1s", "-ping-timeout", "5s"];
    // One at a time: a node that fails to start then leaves no other one
    // starting behind the after hook's back.
    nodes = [];
    for (let i = 0; i < 3; i++) nodes.push(await cluster.go({ args: extra }));
    proxy = await new RoundRobin(nodes.map((n) => new URL(n.url).port)).start();
    lb = { kind: "round-robin proxy", url: proxy.url };
    rdb = new IORedis(cluster.redis.url, { maxRetriesPerRequest: 1 });

    const connect = async (name, opts) => {
      const socket = await cluster.clients.connect(proxy.url, { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500, ...opts }, 10_000);
      disconnects.set(name, []);
      socket.on("disconnect", (reason) => disconnects.get(name).push(reason));
      return new Peer(name, lb, socket);
    };
    polling = await Promise.all(Array.from({ length: 12 }, (_, i) => connect(`poll${i}`, { transports: ["polling"] })));
    upgraded = await Promise.all(Array.from({ length: 4 }, (_, i) => connect(`ws${i}`, { transports: ["polling", "websocket"] })));
    all = [...polling, ...upgraded];
    byName = Object.fromEntries(all.map((p) => [p.name, p]));
    connectedAt = Date.now();
  });

  after(async () => {
    rdb?.disconnect();
    cluster.clients.closeAll();
    await proxy?.close();
    await cluster.close();
  });

  const sentinel = async () => {
    const tag = `sentinel ${++sentinels}`;
    await byName.poll0.send(tag);
    return tag;
  };

  // owners maps each registered node's advertised port to its node id.
  const registry = async () => {
    const out = {};
    for (const key of await rdb.keys("socket.io#sockgate#node#*")) out[new URL("http://" + (await rdb.get(key))).port] = key.split("#").pop();
    return out;
  };
  const ownerOf = (peer) => peer.socket.io.engine.id.split(".")[0];

  it("sessions are spread over the nodes and their requests are forwarded", async () => {
    const ids = await registry();
    assert.equal(Object.keys(ids).length, 3, `registry: ${JSON.stringify(ids)}`);
    const owners = new Set(all.map(ownerOf));
    assert.deepEqual([...owners].sort(), Object.values(ids).sort(), "every node owns sessions, and only registered nodes");
    await warmUp(all, [byName.poll0]);
    let forwarded = 0;
    for (const n of nodes) forwarded += await n.metric("sockgate_forwarded_requests_total");
    assert.ok(forwarded > 0, "no request was forwarded");
    assert.ok(proxy.sent.every((n) => n > 0), `proxy sent ${proxy.sent}`);
  });

  it("polling-only clients join rooms and exchange events with acks and binary", async () => {
    const red = ["poll1", "poll2", "poll3", "ws0"];
    for (const name of red) await byName[name].join("red");
    await byName.poll1.send("to red");
    assert.deepEqual(await tally(all, "to red", red, sentinel), only(all, red));

    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const big = randomBytes(100_000);
    await byName.poll2.send("binary", bytes, { nested: big, text: "été" });
    await tally(all, "binary", red, sentinel);
    for (const name of red) {
      const [, a, b] = byName[name].got("binary");
      assert.ok(Buffer.from(a).equals(bytes), `${name}: 256 bytes differ`);
      assert.ok(Buffer.from(b.nested).equals(big), `${name}: 100 kB differ`);
      assert.equal(b.text, "été");
    }
    // echo acks with the same arguments, binary included.
    const res = await new Promise((resolve) => byName.poll4.socket.emit("echo", "x", bytes, (...args) => resolve(args)));
    assert.equal(res[0], "x");
    assert.ok(Buffer.from(res[1]).equals(bytes));
  });

  it("clients that upgrade to websocket through the proxy work", async () => {
    await waitUntil(() => upgraded.every((p) => p.socket.io.engine.transport.name === "websocket"), 10_000, "upgrades");
    assert.ok(polling.every((p) => p.socket.io.engine.transport.name === "polling"));
    await byName.ws1.send("from a websocket");
    const everyone = all.map((p) => p.name);
    assert.deepEqual(await tally(all, "from a websocket", everyone, sentinel), only(all, everyone));
    let relayed = 0;
    for (const n of nodes) relayed += await metricWith(n, "sockgate_forwarded_requests_total", 'kind="websocket",result="ok"');
    assert.ok(relayed > 0, "no websocket upgrade was forwarded");
  });

  it("a forwarded request without the cluster's secret is refused", async () => {
    const victim = byName.poll5;
    const sid = victim.socket.io.engine.id;
    const owner = nodes[(await registryIndex(ownerOf(victim)))];
    const path = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
    const host = new URL(owner.url).host;
    const post = (body, headers) =>
      fetch(owner.url + path, { method: "POST", body, headers: { "content-type": "text/plain;charset=UTF-8", ...headers }, signal: AbortSignal.timeout(5000) });
    const signed = (secret, body, at = Date.now()) => {
      const ts = String(at);
      const client = "198.51.100.7:4242";
      const mac = createHmac("sha256", secret).update(`sockgate-forward-1\nPOST\n${path}\n${host}\n${ts}\n${client}\n`).update(body).digest("base64url");
      return { "sockgate-forward-time": ts, "sockgate-forward-client": client, "sockgate-forward-signature": mac };
    };
    const forged = (tag) => `42${JSON.stringify(["message", tag])}`;
    const cases = [
      ["no signature", forged("forged: none"), { "sockgate-forward-client": "198.51.100.7:4242" }],
      ["wrong secret", forged("forged: wrong secret"), signed("not-the-cluster-secret", forged("forged: wrong secret"))],
      ["stale", forged("forged: stale"), signed(SECRET, forged("forged: stale"), Date.now() - 120_000)],
    ];
    const refused = async () => {
      const text = await owner.metrics(); // one scrape: accepted ones keep coming
      return ["missing", "bad_signature", "expired", "bad_body"].reduce((n, r) => n + sample(text, "sockgate_forwarded_received_total", `result="${r}"`), 0);
    };
    const before = await refused();
    for (const [name, body, headers] of cases) {
      const res = await post(body, headers);
      assert.equal(res.status, 403, `${name}: ${res.status} ${await res.text()}`);
    }
    // The same request signed with the secret is served: the refusals were
    // the signature's doing.
    const genuine = forged("genuine forwarded");
    const res = await post(genuine, signed(SECRET, genuine));
    assert.equal(res.status, 200, await res.text());
    const everyone = all.map((p) => p.name);
    assert.deepEqual(await tally(all, "genuine forwarded", everyone, sentinel), only(all, everyone));
    for (const p of all) assert.equal(p.rec.items.filter((m) => String(m[0]).startsWith("forged")).length, 0, `${p.name} got a forged message`);
    assert.equal((await refused()) - before, cases.length);
  });

  it(`every client stays connected through ${HEARTBEATS_FOR / 1000} s of heartbeats`, async () => {
    const ids = Object.fromEntries(all.map((p) => [p.name, p.socket.io.engine.id]));
    await sleep(Math.max(0, connectedAt + HEARTBEATS_FOR - Date.now()));
    for (const p of all) {
      assert.deepEqual(disconnects.get(p.name), [], `${p.name} disconnected:\n${cluster.logs()}`);
      assert.ok(p.socket.connected, `${p.name} not connected`);
      assert.equal(p.socket.io.engine.id, ids[p.name], `${p.name} has a new session`);
    }
    for (const n of nodes) assert.equal(await metricWith(n, "sockgate_engineio_closes_total", 'reason="ping timeout"'), 0);
    await byName.poll6.send("after the heartbeats");
    const everyone = all.map((p) => p.name);
    assert.deepEqual(await tally(all, "after the heartbeats", everyone, sentinel), only(all, everyone));
  });

  it("a node killed mid-session makes its clients reconnect, and only clients whose connection went through it", async (t) => {
    const ids = await registry();
    const victimIndex = 1;
    const victimPort = new URL(nodes[victimIndex].url).port;
    const victimID = ids[victimPort];
    const before = Object.fromEntries(all.map((p) => [p.name, p.socket.io.engine.id]));
    const owned = all.filter((p) => ownerOf(p) === victimID).map((p) => p.name);
    assert.ok(owned.length > 0, "the victim owns no session");
    for (const s of proxy.failed) s.clear();

    nodes[victimIndex].server.proc.kill("SIGKILL");
    await nodes[victimIndex].server.exited;

    // Its clients reconnect, to the nodes left.
    await waitUntil(() => owned.every((name) => byName[name].socket.connected && byName[name].socket.io.engine.id !== before[name]), 20_000, "the victim's clients to reconnect");
    for (const name of owned) assert.notEqual(ownerOf(byName[name]), victimID);
    // Clients of the other nodes whose request was in flight through the
    // victim lost that request, as behind any load balancer losing a
    // backend; every other client kept its session.
    const broken = new Set([...proxy.failed[victimIndex]]);
    const affected = new Set(all.filter((p) => owned.includes(p.name) || broken.has(before[p.name])).map((p) => p.name));
    const untouched = all.filter((p) => !affected.has(p.name));
    t.diagnostic(`${all.length} clients: ${owned.length} owned by the killed node, ${affected.size - owned.length} more with a request through it, ${untouched.length} untouched`);
    assert.ok(untouched.length > 0, "no client was left untouched: the test proves nothing");
    await sleep(2000); // a few heartbeats of the nodes left
    for (const p of untouched) {
      assert.deepEqual(disconnects.get(p.name), [], `${p.name} (owner ${ownerOf(p)}, victim ${victimID}) disconnected`);
      assert.equal(p.socket.io.engine.id, before[p.name], `${p.name} has a new session`);
    }
    for (const p of all) if (!affected.has(p.name)) assert.ok(p.socket.connected);
    // Everyone, reconnected or not, is reachable again.
    await waitUntil(() => all.every((p) => p.socket.connected), 20_000, "every client connected");
    const everyone = all.map((p) => p.name);
    await byName.poll0.send("after the kill"); // in no room: to everyone
    assert.deepEqual(await tally(all, "after the kill", everyone, sentinel), only(all, everyone));
  });

  // registryIndex returns the index in nodes of the node with this id.
  async function registryIndex(id) {
    const ids = await registry();
    const port = Object.keys(ids).find((p) => ids[p] === id);
    return nodes.findIndex((n) => new URL(n.url).port === port);
  }
});

// metricWith sums the samples of a metric whose labels contain labels.
async function metricWith(node, name, labels) {
  return sample(await node.metrics(), name, labels);
}

// sample sums the samples of a metric in a scrape whose labels contain labels.
function sample(text, name, labels) {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(name + "{") && line.includes(labels)) sum += Number(line.split(" ").pop());
  }
  return sum;
}

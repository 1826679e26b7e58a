// Redis goes away under load: two gateway nodes, a steady stream of global
// messages from a client of each node; redis-server is SIGKILLed, the
// streams go on, then redis-server comes back on the same port.
//
//   - during the outage both nodes stay up (/healthz 200), clients stay
//     connected, local delivery (same-node clients) continues, /readyz stays
//     200 (a shared dependency must not take every node out of its load
//     balancer) and /readyz?verbose reports the node degraded;
//   - once Redis is back, cross-node delivery resumes within 5 s, both ways,
//     no message arrives twice, and /readyz?verbose reports the cluster ok
//     again.
//
// Run for the classic and the sharded adapter.
//
//   node --test test/cluster/

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Cluster, connectPeers, warmUp, redisServerPath, REFERENCE } from "../lib/cluster.mjs";
import { waitUntil, sleep } from "../lib/harness.mjs";

const skip = redisServerPath() ? false : "redis-server not installed";

// cluster_ is the "cluster" field of a node's /readyz?verbose ("ok" or
// "degraded: ...").
async function cluster_(node) {
  try {
    const res = await fetch(node.url + "/readyz?verbose", { signal: AbortSignal.timeout(2000) });
    return (await res.json()).cluster ?? "";
  } catch {
    return "";
  }
}

const INTERVAL = 40; // ms between two messages of one stream
const RESUME = 5000; // cross-node delivery must resume within this after Redis is back

// Stream emits ["message", name, seq] every INTERVAL ms from one client
// (no ack: a client never waits for the cluster) and remembers when each
// seq was sent.
class Stream {
  constructor(peer, name) {
    this.peer = peer;
    this.name = name;
    this.sentAt = [];
    this.timer = setInterval(() => {
      this.sentAt.push(Date.now());
      peer.socket.emit("message", name, this.sentAt.length - 1);
    }, INTERVAL);
  }

  stop() {
    clearInterval(this.timer);
  }

  // firstAfter is the first seq sent at or after t (or -1 when none yet).
  firstAfter(t) {
    return this.sentAt.findIndex((at) => at >= t);
  }

  // receivedAfter counts the messages of this stream that peer got whose
  // seq was sent at or after t.
  receivedAfter(peer, t) {
    const first = this.firstAfter(t);
    if (first < 0) return 0;
    return peer.rec.items.filter((m) => m[0] === this.name && m[1] >= first).length;
  }
}

for (const mode of ["classic", "sharded"]) {
  const sharded = mode === "sharded";

  describe(`Redis outage (${mode}): nodes stay up, local delivery goes on, the cluster heals`, { skip, timeout: 60_000 }, () => {
    const cluster = new Cluster();
    let nodes, a0, b0, a1, s0, s1;

    before(async () => {
      await cluster.startRedis();
      nodes = await Promise.all([cluster.go({ sharded }), cluster.go({ sharded })]);
      [[a0, b0], [a1]] = await Promise.all([
        connectPeers(cluster.clients, nodes[0], ["a0", "b0"]),
        connectPeers(cluster.clients, nodes[1], ["a1"]),
      ]);
      await warmUp([a0, b0, a1], [a0, a1]);
      s0 = new Stream(a0, "s0");
      s1 = new Stream(a1, "s1");
    });

    after(async () => {
      s0?.stop();
      s1?.stop();
      await cluster.close();
    });

    it("streams cross nodes before the outage", async () => {
      const t = Date.now();
      await waitUntil(() => s0.receivedAfter(a1, t) >= 5 && s1.receivedAfter(b0, t) >= 5 && s0.receivedAfter(b0, t) >= 5, 5000, "both streams on both nodes");
    });

    it("during the outage: nodes up and ready, local delivery goes on, /readyz?verbose degraded", async (t) => {
      const killed = Date.now();
      await cluster.redis.kill();

      // Local delivery: b0 is on a0's node. (Node's own sharded adapter
      // holds local delivery until the publish succeeds, so the reference
      // run cannot check it.)
      if (REFERENCE && sharded) {
        t.diagnostic("reference run: Node's sharded adapter delivers locally only after publishing; not checked");
      } else {
        await waitUntil(() => s0.receivedAfter(b0, killed) >= 20, 5000, "local delivery of s0 to b0 during the outage");
        await waitUntil(() => s1.receivedAfter(a1, killed) >= 20, 5000, "local delivery of s1 to its own sender a1");
      }

      for (const n of nodes) assert.equal(await n.status("/healthz"), 200, `/healthz of ${n.url} during the outage`);
      for (const p of [a0, b0, a1]) assert.ok(p.socket.connected, `${p.name} disconnected during the outage`);

      for (const n of nodes) {
        await waitUntil(async () => (await cluster_(n)).startsWith("degraded"), 5000, `/readyz?verbose of ${n.url} to report the outage`);
        assert.equal(await n.status("/readyz"), 200, `/readyz of ${n.url} while Redis is down`);
      }
      // A second look after the streams have run into the outage a while.
      await sleep(300);
      for (const n of nodes) {
        assert.ok(n.server.alive(), `node ${n.url} exited:\n${n.log.slice(-2000)}`);
        assert.equal(await n.status("/healthz"), 200);
      }
    });

    it(`after Redis restarts, cross-node delivery resumes within ${RESUME / 1000} s`, async (t) => {
      await cluster.redis.start();
      const back = Date.now();
      try {
        await waitUntil(() => s0.receivedAfter(a1, back) > 0 && s1.receivedAfter(a0, back) > 0 && s1.receivedAfter(b0, back) > 0, RESUME, "cross-node delivery after the restart");
      } catch (err) {
        err.message += `\n${cluster.logs(1500)}`;
        throw err;
      }
      // When did it resume: the send time of the first message that crossed.
      const firstCross = (stream, peer) => {
        const first = stream.firstAfter(back);
        const m = peer.rec.items.find((x) => x[0] === stream.name && x[1] >= first);
        return stream.sentAt[m[1]] - back;
      };
      t.diagnostic(`cross-node delivery resumed ${firstCross(s0, a1)} ms (node 0 → 1) and ${firstCross(s1, a0)} ms (node 1 → 0) after redis-server accepted connections`);
      for (const n of nodes) {
        await waitUntil(async () => (await cluster_(n)) === "ok", 5000, `/readyz?verbose of ${n.url} to report the cluster ok again`);
        assert.equal(await n.status("/readyz"), 200);
      }
      for (const p of [a0, b0, a1]) assert.ok(p.socket.connected, `${p.name} disconnected`);
      // Nothing arrived twice: no publish was replayed after the outage.
      await sleep(3 * INTERVAL);
      for (const p of [a0, b0, a1]) {
        for (const s of [s0, s1]) {
          const seqs = p.rec.items.filter((m) => m[0] === s.name).map((m) => m[1]);
          assert.equal(new Set(seqs).size, seqs.length, `${p.name} got a message of ${s.name} twice`);
        }
      }
    });
  });
}

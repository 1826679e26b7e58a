// Binary placeholders, differentially against socket.io-parser: random
// binary events whose JSON is full of placeholder look-alikes (keys in any
// order, escaped key names, extra and duplicate members, truthy but not
// true flags, numbers written as 1e0 or 2.0, invalid placeholders hidden in
// valid ones) are sent as raw packets into a cluster of two gateways and one
// Node socket.io server (@socket.io/redis-adapter) on a real redis-server.
//
// The reference is socket.io-parser's own Decoder on the same packet. Every
// recipient, on the sender's node and on the others, must see exactly the
// values it gives (attachments where it finds placeholders, plain objects
// elsewhere), both for a sender on a gateway (Go decoder, Go relay, Go and
// Node remote paths) and for a sender on the Node server (Node decoder,
// Node to Go through Redis). Packets socket.io-parser refuses ("illegal
// attachments") are refused by the gateway too: it closes the connection
// and relays nothing.
//
// SOCKGATE_PLACEHOLDER_SEED=n replays one run; SOCKGATE_PLACEHOLDER_CASES
// sets the number of random events per sender (default 120).
//
//   node --test test/cluster/placeholders.test.mjs

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Decoder } from "socket.io-parser";
import { Cluster, connectPeers, warmUp, redisServerPath } from "../lib/cluster.mjs";
import { openSocketIO } from "../lib/raw.mjs";
import { waitUntil } from "../lib/harness.mjs";

const skip = redisServerPath() ? false : "redis-server not installed";
const SEED = Number(process.env.SOCKGATE_PLACEHOLDER_SEED || Date.now() % 1e9);
const CASES = Number(process.env.SOCKGATE_PLACEHOLDER_CASES || 120);

// mulberry32: a small seeded PRNG, so that a failing run can be replayed.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(seed) {
    this.r = prng(seed);
  }
  int(n) {
    return Math.floor(this.r() * n);
  }
  pick(xs) {
    return xs[this.int(xs.length)];
  }
  shuffle(xs) {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }
  ws() {
    return this.pick(["", "", "", " ", "\n\t "]);
  }

  // Strings with escapes, but no lone surrogate: a lone surrogate is not
  // UTF-8, so no msgpack str (Go's or notepack's) carries it across Redis.
  string() {
    const parts = ["a", "Zz", "é", "😀", "\\n", '\\"', "\\\\", "\\/", "\\u00e9", "\\ud83d\\ude00", "\\u0000", "_placeholder", "num", " ", "\u2028"];
    let s = "";
    for (let n = this.int(4); n > 0; n--) s += this.pick(parts);
    return `"${s}"`;
  }
  number() {
    return this.pick([
      () => String(this.int(2000) - 1000),
      () => (this.r() * 1e4 - 5e3).toFixed(this.int(4)),
      () => `${this.int(9)}e${this.int(5)}`,
      () => "9007199254740993",
      () => "-0",
      () => "2.0",
      () => "1.5e-7",
    ])();
  }
  scalar() {
    return this.pick([() => this.string(), () => this.number(), () => "true", () => "false", () => "null"])();
  }

  // key spells name, sometimes with escapes (JSON.parse decodes them).
  key(name) {
    const spellings = {
      _placeholder: ['"_placeholder"', '"\\u005fplaceholder"', '"_pl\\u0061ceholder"', '"\\u005F\\u0070laceholder"'],
      num: ['"num"', '"n\\u0075m"', '"\\u006eum"'],
    }[name];
    return spellings ? this.pick(spellings) : JSON.stringify(name);
  }

  // index writes attachment index k as one of the JSON numbers equal to it.
  index(k) {
    return this.pick([String(k), `${k}.0`, `${k}e0`, `${k}E+0`, `${k * 10}e-1`, k === 0 ? "-0" : String(k), k === 0 ? "0.0e5" : String(k)]);
  }

  object(members) {
    return `{${this.ws()}${members.map(([k, v]) => `${k}${this.ws()}:${this.ws()}${v}`).join(`,${this.ws()}`)}${this.ws()}}`;
  }

  // placeholderLike is an object socket.io-parser reads as a placeholder or
  // not; n is the number of attachments (a real placeholder indexes one).
  placeholderLike(n, depth) {
    const extras = [];
    for (let e = this.int(3); e > 0; e--) extras.push([this.key(this.pick(["x", "data", "num2", "_placeholders"])), this.value(n, depth + 1)]);
    const flag = (v) => [this.key("_placeholder"), v];
    const num = (v) => [this.key("num"), v];
    const k = this.int(n);
    switch (this.int(8)) {
      case 0: // real, with members shuffled and extras
      case 1:
        return this.object(this.shuffle([flag("true"), num(this.index(k)), ...extras]));
      case 2: // real, hiding an invalid one (reconstructPacket never looks inside)
        return this.object(this.shuffle([flag("true"), num(this.index(k)), ["\"inner\"", this.object([flag("true"), num(String(n + 5))])]]));
      case 3: // truthy but not true: a plain object (its members are looked at)
        return this.object(this.shuffle([flag(this.pick(["1", '"true"', "{}", "[]", "0", "null", "false"])), num(this.index(k)), ...extras]));
      case 4: // duplicate flag, the last one false: a plain object
        return this.object([flag("true"), num(this.index(k)), ...extras, flag("false")]);
      case 5: // duplicate flag, the last one true: a placeholder
        return this.object([flag("false"), num(String(n + 7)), ...extras, flag("true"), num(this.index(k))]);
      case 6: // no flag at all
        return this.object(this.shuffle([num(this.index(k)), ...extras]));
      default: // a look-alike key that is not _placeholder
        return this.object(this.shuffle([[this.pick(['"_Placeholder"', '"placeholder"', '"_placeholder "']), "true"], num(this.index(k))]));
    }
  }

  value(n, depth = 0) {
    if (depth > 4) return this.scalar();
    switch (this.int(6)) {
      case 0:
      case 1:
        return this.placeholderLike(n, depth);
      case 2: {
        const xs = [];
        for (let i = this.int(4); i > 0; i--) xs.push(this.value(n, depth + 1));
        return `[${this.ws()}${xs.join(`,${this.ws()}`)}${this.ws()}]`;
      }
      case 3: {
        const ms = [];
        for (let i = this.int(4); i > 0; i--) ms.push([this.string(), this.value(n, depth + 1)]);
        return this.object(ms);
      }
      default:
        return this.scalar();
    }
  }

  // event returns a binary event's text part (after "5<n>-<id>") and its
  // attachments.
  event(tag) {
    const n = 1 + this.int(3);
    const atts = [];
    for (let i = 0; i < n; i++) atts.push(Buffer.from(Array.from({ length: this.int(5) }, () => this.int(256))));
    const args = [];
    for (let i = 1 + this.int(3); i > 0; i--) args.push(this.value(n));
    return { json: `["message",${JSON.stringify(tag)},${args.join(",")}]`, atts };
  }
}

// reference decodes one binary packet with socket.io-parser: the data array
// with attachments in place, or the error it throws.
function reference(text, atts) {
  const d = new Decoder();
  let out;
  d.on("decoded", (p) => (out = p));
  try {
    d.add(text);
    for (const a of atts) d.add(a);
  } catch (err) {
    return { error: err.message };
  }
  return { data: out.data };
}

// canon writes a received value as text: attachments as their hex bytes,
// everything else as JSON.stringify does.
function canon(v) {
  const walk = (x) => {
    if (Buffer.isBuffer(x) || ArrayBuffer.isView(x) || x instanceof ArrayBuffer) {
      return { "\u0000attachment": Buffer.from(x instanceof ArrayBuffer ? new Uint8Array(x) : x).toString("hex") };
    }
    if (Array.isArray(x)) return x.map(walk);
    if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, e]) => [k, walk(e)]));
    return x;
  };
  return JSON.stringify(walk(v));
}

describe("binary placeholders: socket.io-parser vs 2 gateways + Node socket.io on Redis", { skip, timeout: 120_000 }, () => {
  const cluster = new Cluster();
  const key = "sg-placeholders";
  let goA, goB, nodeC, peers, by;
  const raws = [];

  before(async () => {
    await cluster.startRedis();
    [goA, goB, nodeC] = await Promise.all([cluster.go({ key }), cluster.go({ key }), cluster.node({ key })]);
    peers = (
      await Promise.all([
        connectPeers(cluster.clients, goA, ["onA"]),
        connectPeers(cluster.clients, goB, ["onB"]),
        connectPeers(cluster.clients, nodeC, ["onC"]),
      ])
    ).flat();
    by = Object.fromEntries(peers.map((p) => [p.name, p]));
    await warmUp(peers, [by.onA, by.onB, by.onC]);
  });

  after(async () => {
    for (const r of raws) r.close();
    await cluster.close();
  });

  async function rawSender(node) {
    const { socket } = await openSocketIO(node.url.replace(/^http/, "ws"));
    raws.push(socket);
    return socket;
  }

  // sendAll sends count random events from a raw socket on node and checks
  // every peer against socket.io-parser's reading of each packet.
  async function sendAll(node, prefix, seed) {
    const g = new Gen(seed);
    const raw = await rawSender(node);
    const cases = [];
    while (cases.length < CASES) {
      const tag = `${prefix} ${cases.length}`;
      const { json, atts } = g.event(tag);
      const id = cases.length + 1;
      const text = `5${atts.length}-${id}${json}`;
      const ref = reference(text, atts);
      if (ref.error) continue; // refused packets are checked separately
      cases.push({ tag, text, atts, want: canon(ref.data.slice(1)) });
      raw.send("4" + text); // an Engine.IO message; attachments go as binary frames
      for (const a of atts) raw.send(a);
    }
    // Every event is acked with true: none was refused.
    const acks = new Set();
    await waitUntil(
      () => {
        assert.equal(raw.closeInfo, null, `${prefix}: the server closed the sender's connection\n${cluster.logs(1500)}`);
        for (const f of raw.queue.splice(0)) {
          if (f === "2") raw.send("3");
          else if (typeof f === "string" && f.startsWith("43")) {
            const m = /^43(\d+)\[true\]$/.exec(f); // Engine.IO message, Socket.IO ACK
            assert.ok(m, `unexpected ack ${f}`);
            acks.add(Number(m[1]));
          }
        }
        return acks.size === cases.length;
      },
      30_000,
      `${prefix}: acks of all ${cases.length} events`,
    );
    for (const p of peers) {
      await waitUntil(() => cases.every((c) => p.count(c.tag) > 0), 15_000, `${p.name} to get every ${prefix} event`);
    }
    for (const c of cases) {
      for (const p of peers) {
        const got = p.rec.items.filter((m) => m[0] === c.tag);
        assert.equal(got.length, 1, `${p.name}: ${c.tag} arrived ${got.length} times`);
        assert.equal(canon(got[0]), c.want, `${p.name} (on ${p.node.kind}) got ${c.tag} differently from socket.io-parser\n packet ${c.text}\n attachments ${c.atts.map((a) => a.toString("hex"))}\n seed ${seed}`);
      }
    }
    return cases.length;
  }

  it(`from a gateway: local, remote gateway and Node recipients read what socket.io-parser reads (seed ${SEED})`, async () => {
    assert.equal(await sendAll(goA, "from-go", SEED), CASES);
  });

  it(`from the Node server: gateway recipients read what socket.io-parser reads (seed ${SEED + 1})`, async () => {
    assert.equal(await sendAll(nodeC, "from-node", SEED + 1), CASES);
  });

  it("packets socket.io-parser refuses are refused by the gateway, and nothing is relayed", async () => {
    const bad = [
      `51-["message","bad 0",{"_placeholder":true,"num":1}]`,
      `51-["message","bad 1",{"num":-1,"\\u005fplaceholder":true}]`,
      `51-["message","bad 2",{"_placeholder":true,"num":"0"}]`,
      `51-["message","bad 3",[{"x":{"_placeholder":true}}]]`,
      `51-["message","bad 4",{"_placeholder":false,"num":0,"_placeholder":true,"num":3}]`,
    ];
    for (const text of bad) {
      assert.ok(reference(text, [Buffer.from([1])]).error, `socket.io-parser accepts ${text}`);
      const raw = await rawSender(goA);
      raw.send("4" + text);
      raw.send(Buffer.from([1]));
      await raw.waitClose(5000);
    }
    // A later event from a good client overtakes nothing: no bad one arrived.
    await by.onA.send("after the bad ones");
    for (const p of peers) await p.waitFor("after the bad ones");
    for (const p of peers) {
      assert.deepEqual(p.rec.items.filter((m) => String(m[0]).startsWith("bad ")), [], `${p.name} got a refused event`);
    }
  });
});

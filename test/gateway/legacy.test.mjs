// Legacy clients: socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4)
// against cmd/gateway -allow-eio3, over every transport set, next to
// socket.io-client 4 clients; and refused without the flag.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, withTimeout, REFERENCE } from "../lib/harness.mjs";
import { Clients, LegacyClients, Recorder, ack } from "../lib/client.mjs";
import { poll } from "../lib/raw.mjs";

const transportSets = [
  ["polling only", { transports: ["polling"] }],
  ["websocket only", { transports: ["websocket"] }],
  ["polling, upgraded to websocket", {}],
  ["polling with base64 binary", { transports: ["polling"], forceBase64: true }],
];

describe("socket.io-client 2 with -allow-eio3", () => {
  let server;
  const legacy = new LegacyClients();
  const modern = new Clients();
  before(async () => {
    server = await startGateway({ args: ["-allow-eio3", "-ping-interval", "500ms", "-ping-timeout", "1s"] });
  });
  after(async () => {
    legacy.closeAll();
    modern.closeAll();
    await server?.stop();
  });

  // connectOver connects a legacy socket with opts and waits for its upgrade.
  async function connectOver(opts) {
    const s = await legacy.connect(server.url, opts);
    if (!opts.transports) {
      await withTimeout(
        new Promise((resolve) => (s.io.engine.transport.name === "websocket" ? resolve() : s.io.engine.once("upgrade", resolve))),
        5000,
        "the upgrade",
      );
    }
    assert.equal(s.io.engine.transport.name, opts.transports?.[0] === "polling" ? "polling" : "websocket");
    return s;
  }

  for (const [name, opts] of transportSets) {
    it(`${name}: connects, exchanges events, acks and binary`, async () => {
      const s = await connectOver(opts);
      // echo acks with the same arguments, binary (top level and nested) included.
      const bin = Buffer.from([0, 1, 2, 255]);
      const [a, b, c, d] = await ack(s, "echo", "héllo 😀", { n: 1, nested: [bin] }, bin, null);
      assert.equal(a, "héllo 😀");
      assert.equal(c.length, 4);
      assert.deepEqual(Buffer.from(c), bin);
      assert.deepEqual(Buffer.from(b.nested[0]), bin);
      assert.equal(b.n, 1);
      assert.equal(d, null);
    });
  }

  it("the client's pings keep every transport's session past the ping deadline", async () => {
    const sockets = await Promise.all(transportSets.map(([, opts]) => connectOver(opts)));
    // Without pings the server closes a session after interval + timeout (1.5 s).
    await new Promise((r) => setTimeout(r, 2200));
    for (const [i, s] of sockets.entries()) {
      assert.ok(s.connected, `${transportSets[i][0]}: disconnected by the heartbeat`);
      assert.deepEqual(await ack(s, "echo", "still"), ["still"]);
    }
  });

  it("joins rooms and talks with socket.io-client 4 sockets, binary both ways", async () => {
    const old = await legacy.connect(server.url, { transports: ["websocket"] });
    const oldPolling = await legacy.connect(server.url, { transports: ["polling"] });
    const cur = await modern.connect(server.url, { transports: ["websocket"] });
    const outsider = await modern.connect(server.url, { transports: ["websocket"] });
    const rec = { old: new Recorder(old, "message"), oldPolling: new Recorder(oldPolling, "message"), cur: new Recorder(cur, "message"), outsider: new Recorder(outsider, "message") };
    for (const s of [old, oldPolling, cur]) assert.deepEqual(await ack(s, "join", "mixed"), [true]);

    assert.deepEqual(await ack(old, "message", "from v2", Buffer.from([1, 2, 3])), [true]);
    for (const r of [rec.old, rec.oldPolling, rec.cur]) {
      const m = await r.waitFor((m) => m[0] === "from v2");
      assert.deepEqual(Buffer.from(m[1]), Buffer.from([1, 2, 3]));
    }
    assert.deepEqual(await ack(cur, "message", "from v4", Buffer.from([4, 5])), [true]);
    for (const r of [rec.old, rec.oldPolling, rec.cur]) {
      const m = await r.waitFor((m) => m[0] === "from v4");
      assert.deepEqual(Buffer.from(m[1]), Buffer.from([4, 5]));
    }
    // The outsider is in no room: it got neither room message.
    assert.deepEqual(await ack(outsider, "message", "sentinel"), [true]);
    await rec.old.waitFor((m) => m[0] === "sentinel");
    assert.equal(rec.outsider.items.filter((m) => m[0] !== "sentinel").length, 0);

    // leave: the room message no longer reaches the legacy socket.
    assert.deepEqual(await ack(old, "leave", "mixed"), [true]);
    assert.deepEqual(await ack(cur, "message", "after leave"), [true]);
    await rec.oldPolling.waitFor((m) => m[0] === "after leave");
    assert.deepEqual(await ack(outsider, "message", "sentinel 2"), [true]);
    await rec.old.waitFor((m) => m[0] === "sentinel 2");
    assert.equal(rec.old.items.filter((m) => m[0] === "after leave").length, 0);
  });

  it("counts legacy sessions in /metrics", { skip: REFERENCE && "the Node reference server has no /metrics" }, async () => {
    await legacy.connect(server.url, { transports: ["websocket"] });
    const text = await (await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    const m = /^sockgate_engineio_eio3_handshakes_total (\S+)$/m.exec(text);
    assert.ok(m && Number(m[1]) >= 1, `no legacy handshakes counted:\n${text.slice(0, 2000)}`);
  });
});

describe("socket.io-client 2 without -allow-eio3", () => {
  let server;
  const legacy = new LegacyClients();
  before(async () => {
    server = await startGateway();
  });
  after(async () => {
    legacy.closeAll();
    await server?.stop();
  });

  it("gets Unsupported protocol version, as Node's socket.io answers by default", async () => {
    const res = await fetch(`${server.url}/socket.io/?EIO=3&transport=polling`, { signal: AbortSignal.timeout(3000) });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 5, message: "Unsupported protocol version" });
    const s = legacy.open(server.url, { transports: ["polling"] });
    await withTimeout(new Promise((resolve) => s.once("connect_error", resolve)), 5000, "connect_error");
    assert.equal(s.connected, false);
    // A v4 client is not affected.
    assert.equal((await poll(server.url, "/socket.io/")).status, 200);
  });
});

// Connection state recovery on a single gateway (in-memory adapter): a
// client whose transport is cut comes back with socket.recovered, the same
// id, its rooms and the room messages sent meanwhile, in order; after the
// maximum disconnection duration it is a new socket.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, waitUntil, once } from "../lib/harness.mjs";
import { Clients, Recorder, ack, cutTransport } from "../lib/client.mjs";

const DURATION_MS = 1500;

describe("connection state recovery (single node)", () => {
  let server;
  const clients = new Clients();
  before(async () => {
    server = await startGateway({ args: ["-recovery", `${DURATION_MS}ms`] });
  });
  after(async () => {
    clients.closeAll();
    await server?.stop();
  });

  // tags returns the first arguments of the recorded messages starting with prefix.
  const tags = (rec, prefix) => rec.items.map((m) => m[0]).filter((t) => typeof t === "string" && t.startsWith(prefix));

  it("a cut transport recovers id, rooms and missed room messages in order", async () => {
    const opts = { transports: ["websocket"], reconnection: true, reconnectionDelay: 300, randomizationFactor: 0 };
    const [a, sender] = await Promise.all([clients.connect(server.url, opts), clients.connect(server.url, { transports: ["websocket"] })]);
    const rec = new Recorder(a, "message");
    assert.deepEqual(await ack(a, "join", "r"), [true]);
    assert.deepEqual(await ack(sender, "join", "r"), [true]);
    assert.equal(a.recovered, false);
    await ack(sender, "message", "m1");
    const first = await rec.waitFor((m) => m[0] === "m1");
    assert.equal(typeof first.at(-1), "string", "a stored broadcast carries its offset as last argument");
    const id = a.id;

    a.io.reconnection(false); // stay away while the room talks
    const gone = once(a, "disconnect");
    cutTransport(a);
    await gone;
    for (const t of ["m2", "m3", "m4"]) await ack(sender, "message", t);
    a.io.reconnection(true);
    a.connect();
    await once(a, "connect");
    assert.equal(a.recovered, true);
    assert.equal(a.id, id);
    await waitUntil(() => tags(rec, "m").length === 4, 5000, "the missed messages");
    assert.deepEqual(tags(rec, "m"), ["m1", "m2", "m3", "m4"]);

    // Still in the room.
    await ack(sender, "message", "m5");
    await rec.waitFor((m) => m[0] === "m5");
    assert.deepEqual(tags(rec, "m"), ["m1", "m2", "m3", "m4", "m5"]);
  });

  it("after the maximum disconnection duration, a new socket", async () => {
    const a = await clients.connect(server.url, { transports: ["websocket"], reconnection: true, reconnectionDelay: 300 });
    const rec = new Recorder(a, "message");
    await ack(a, "message", "x1"); // in no room: to everyone, itself included
    await rec.waitFor((m) => m[0] === "x1");
    const id = a.id;
    a.io.reconnection(false);
    const gone = once(a, "disconnect");
    cutTransport(a);
    await gone;
    await new Promise((r) => setTimeout(r, DURATION_MS + 300)); // the expiry is what is tested
    a.io.reconnection(true);
    a.connect();
    await once(a, "connect");
    assert.equal(a.recovered, false);
    assert.notEqual(a.id, id);
  });

  it("counts attempts and outcomes in /metrics", async () => {
    const text = await (await fetch(server.url + "/metrics")).text();
    assert.match(text, /sockgate_recovery_outcomes_total\{reason="recovered"\} [1-9]/);
    assert.match(text, /sockgate_recovery_outcomes_total\{reason="expired"\} [1-9]/);
  });
});

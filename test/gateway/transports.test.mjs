// The official socket.io-client against cmd/gateway over each transport
// setup: emit and ack, binary both ways, and the `message` relay.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, once } from "../lib/harness.mjs";
import { Clients, Recorder, ack, connected } from "../lib/client.mjs";

let server;
const clients = new Clients();
before(async () => {
  server = await startGateway();
});
after(async () => {
  clients.closeAll();
  await server?.stop();
});

const modes = [
  { name: "websocket only", opts: { transports: ["websocket"] }, transport: "websocket" },
  { name: "polling only", opts: { transports: ["polling"] }, transport: "polling" },
  { name: "polling upgraded to websocket", opts: { transports: ["polling", "websocket"] }, transport: "websocket", upgrade: true },
];

for (const mode of modes) {
  describe(`gateway over ${mode.name}`, () => {
    let a, b;
    before(async () => {
      a = clients.open(server.url, mode.opts);
      // Listen for the upgrade before it can happen: right after the open.
      const upgraded = mode.upgrade ? once(a.io, "open", 5000).then(() => once(a.io.engine, "upgrade", 5000)) : null;
      b = clients.open(server.url, mode.opts);
      await Promise.all([connected(a), connected(b), upgraded]);
      if (mode.upgrade && b.io.engine.transport.name !== "websocket") await once(b.io.engine, "upgrade", 5000);
    });

    it(`uses ${mode.transport}`, () => {
      assert.equal(a.io.engine.transport.name, mode.transport);
      assert.equal(b.io.engine.transport.name, mode.transport);
    });

    it("acks echo with the same arguments", async () => {
      const args = [1, "two", { three: [3, null, true] }, [], "ünïcödé 🎉"];
      assert.deepEqual(await ack(a, "echo", ...args), args);
    });

    it("acks echo with no arguments", async () => {
      assert.deepEqual(await ack(a, "echo"), []);
    });

    it("echoes binary byte-exact, top level and nested", async () => {
      const bin1 = Buffer.from([0, 1, 2, 253, 254, 255]);
      const bin2 = Buffer.alloc(70_000, 0xab);
      const [r1, r2, r3] = await ack(a, "echo", bin1, { nested: [bin2, "x"] }, Buffer.alloc(0));
      assert.ok(Buffer.from(r1).equals(bin1));
      assert.ok(Buffer.from(r2.nested[0]).equals(bin2));
      assert.equal(r2.nested[1], "x");
      assert.equal(Buffer.from(r3).length, 0);
    });

    it("relays message to every client, with binary, and acks true", async () => {
      const rec = new Recorder(b, "message");
      const bin = Buffer.from("binary \x00\xff payload", "latin1");
      const tag = `${mode.name} ${Date.now()}`;
      assert.deepEqual(await ack(a, "message", tag, bin, { k: [1, 2] }), [true]);
      const [text, got, obj] = await rec.waitFor((m) => m[0] === tag, 5000, "the relayed message");
      assert.equal(text, tag);
      assert.ok(Buffer.from(got).equals(bin));
      assert.deepEqual(obj, { k: [1, 2] });
    });

    it("relays message sent without an ack", async () => {
      const rec = new Recorder(b, "message");
      const tag = `no-ack ${mode.name} ${Date.now()}`;
      a.emit("message", tag);
      await rec.waitFor((m) => m[0] === tag, 5000, "the relayed message");
    });
  });
}

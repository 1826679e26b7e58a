// Namespaces, middleware rejection and acks in both directions, with the
// official socket.io-client against cmd/conformance (namespaces "/" and
// "/custom"; a CONNECT to /custom whose auth carries `reject` is refused by
// its middleware) and against cmd/gateway.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConformance, startGateway, once, withTimeout } from "../lib/harness.mjs";
import { Clients, ack, connected, connectError } from "../lib/client.mjs";
import { Manager } from "socket.io-client";

let server, gateway;
const clients = new Clients();
const managers = [];
before(async () => {
  [server, gateway] = await Promise.all([startConformance(), startGateway()]);
});
after(async () => {
  clients.closeAll();
  for (const m of managers) m.engine?.close();
  await Promise.all([server?.stop(), gateway?.stop()]);
});

for (const transports of [["websocket"], ["polling"]]) {
  describe(`namespaces over ${transports[0]}`, () => {
    it("connects to / and gets its auth payload back", async () => {
      const s = clients.open(server.url, { transports, auth: { token: "t/1" } });
      const [auth] = await once(s, "auth", 5000);
      assert.deepEqual(auth, { token: "t/1" });
      assert.ok(s.connected);
    });

    it("connects to /custom and gets its auth payload back", async () => {
      const s = clients.open(server.url + "/custom", { transports, auth: { token: "abc", n: [1] } });
      const [auth] = await once(s, "auth", 5000);
      assert.deepEqual(auth, { token: "abc", n: [1] });
    });

    it("refuses an unknown namespace with connect_error Invalid namespace", async () => {
      const s = clients.open(server.url + "/random", { transports });
      const err = await connectError(s);
      assert.equal(err.message, "Invalid namespace");
      assert.ok(!s.connected);
    });

    it("shows a middleware rejection as connect_error with message and data", async () => {
      const s = clients.open(server.url + "/custom", { transports, auth: { reject: "go away" } });
      const err = await connectError(s);
      assert.equal(err.message, "go away");
      assert.deepEqual(err.data, { reason: "rejected by the test middleware" });
    });

    it("multiplexes / and /custom over one Engine.IO session", async () => {
      const m = new Manager(server.url, { transports, reconnection: false });
      managers.push(m);
      const main = m.socket("/");
      const custom = m.socket("/custom", { auth: { x: 1 } });
      const [[mainAuth], [customAuth]] = await Promise.all([once(main, "auth"), once(custom, "auth")]);
      assert.deepEqual(mainAuth, {});
      assert.deepEqual(customAuth, { x: 1 });
      const back = once(main, "message-back");
      custom.disconnect();
      main.emit("message", "still", "here");
      assert.deepEqual(await back, ["still", "here"]);
      main.disconnect();
    });

    it("message comes back as message-back, binary included", async () => {
      const s = await clients.connect(server.url, { transports });
      const bin = Buffer.from([1, 2, 3, 0, 255]);
      const back = once(s, "message-back");
      s.emit("message", 1, "2", { 3: [true] }, bin);
      const [n, str, obj, got] = await back;
      assert.deepEqual([n, str, obj], [1, "2", { 3: [true] }]);
      assert.ok(Buffer.from(got).equals(bin));
    });

    it("client-to-server ack: message-with-ack is acked with its arguments", async () => {
      const s = await clients.connect(server.url, { transports });
      const bins = [Buffer.from([1, 2, 3]), Buffer.from([4, 5, 6])];
      const [a, b, rest] = await ack(s, "message-with-ack", bins[0], bins[1], "test");
      assert.ok(Buffer.from(a).equals(bins[0]));
      assert.ok(Buffer.from(b).equals(bins[1]));
      assert.equal(rest, "test");
    });

    it("server-to-client ack: the server asks, the client answers", async () => {
      const s = await clients.connect(server.url, { transports });
      let asked;
      const relayed = new Promise((resolve) => {
        s.once("emit-with-ack", (...args) => {
          const cb = args.pop();
          asked = args;
          s.once("emit-with-ack", (...relay) => resolve(relay));
          cb("answer", Buffer.from([9, 8, 7]));
        });
      });
      s.emit("emit-with-ack", "question", 42);
      const [text, bin] = await withTimeout(relayed, 5000, "the relayed ack");
      assert.deepEqual(asked, ["question", 42]);
      assert.equal(text, "answer");
      assert.ok(Buffer.from(bin).equals(Buffer.from([9, 8, 7])));
    });
  });
}

describe("gateway namespaces", () => {
  it("refuses an unknown namespace with connect_error Invalid namespace", async () => {
    const s = clients.open(gateway.url + "/no-such-namespace", { transports: ["websocket"] });
    const err = await connectError(s);
    assert.equal(err.message, "Invalid namespace");
  });

  it("accepts / with any auth payload", async () => {
    const s = clients.open(gateway.url, { transports: ["websocket"], auth: { token: "x" } });
    await connected(s);
  });
});

// Disconnect reasons on both sides, and reconnection after a server restart.
// Server-side reasons are read from cmd/conformance's log, which records
// every disconnect with its namespace, socket id and reason.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConformance, startGateway, once, waitUntil, withTimeout } from "../lib/harness.mjs";
import { Clients, ack, connected } from "../lib/client.mjs";
import { openSocketIO } from "../lib/raw.mjs";

const clients = new Clients();
after(() => clients.closeAll());

describe("disconnect reasons (cmd/conformance)", () => {
  let server;
  before(async () => {
    server = await startConformance();
  });
  after(async () => {
    await server?.stop();
  });

  function serverReason(id) {
    const esc = id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const re = new RegExp(`id=${esc} .*?reason="?([a-z ]+)"?|reason="?([a-z ]+)"?.*?id=${esc}(?:\\s|$)`, "m");
    return waitUntil(() => re.test(server.log), 3000, `a disconnect log line for ${id}`).then(() => {
      const m = re.exec(server.log);
      return m[1] ?? m[2];
    });
  }

  it("client disconnect: client sees io client disconnect, server sees client namespace disconnect", async () => {
    const s = await clients.connect(server.url, { transports: ["websocket"] });
    const id = s.id;
    const reason = once(s, "disconnect");
    s.disconnect();
    assert.deepEqual((await reason)[0], "io client disconnect");
    assert.equal(await serverReason(id), "client namespace disconnect");
  });

  it("the client's connection drops: server sees transport close", async () => {
    const { socket, connect } = await openSocketIO(server.wsURL);
    socket.close();
    assert.equal(await serverReason(connect.sid), "transport close");
  });

  it("the client stops answering pings: server sees ping timeout", async () => {
    const { socket, connect } = await openSocketIO(server.wsURL);
    try {
      // Nobody reads the socket, so nobody answers the pings.
      assert.equal(await serverReason(connect.sid), "ping timeout");
      await socket.waitClose(2000);
    } finally {
      socket.close();
    }
  });
});

describe("server shutdown and restart (cmd/gateway)", () => {
  let server;
  after(async () => {
    await server?.stop();
  });

  for (const transports of [["websocket"], ["polling"]]) {
    it(`over ${transports[0]}: client sees transport close, then reconnects to the restarted server`, async () => {
      server = await startGateway();
      const s = clients.open(server.url, {
        transports,
        reconnection: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 300,
        randomizationFactor: 0,
      });
      await connected(s);
      assert.deepEqual(await ack(s, "echo", "before"), ["before"]);

      const reason = once(s, "disconnect", 10_000);
      await server.stop();
      // Over polling the client may find the listener gone while it issues
      // its next GET ("transport error"); either way it must reconnect, which
      // "io server disconnect" would prevent.
      const allowed = transports[0] === "websocket" ? ["transport close"] : ["transport close", "transport error"];
      const [why] = await reason;
      assert.ok(allowed.includes(why), `disconnect reason "${why}", want one of ${allowed}`);

      const reconnected = once(s, "connect", 15_000);
      const port = server.port;
      server = await startGateway({ port });
      await reconnected;
      assert.deepEqual(await withTimeout(ack(s, "echo", "after"), 5000, "echo after restart"), ["after"]);
      s.disconnect();
      await server.stop();
      server = null;
    });
  }
});

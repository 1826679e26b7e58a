// Socket.IO v5 conformance of cmd/conformance (/socket.io/): the checks of
// socketio/socket.io-protocol's test suite, byte for byte, plus the Engine.IO
// checks on the same endpoint, plus two additions of ours (a server-to-client
// ack and a middleware rejection, see cmd/conformance).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConformance } from "../lib/harness.mjs";
import { defineEngineChecks } from "../lib/engine-checks.mjs";
import { openEngine } from "../lib/raw.mjs";

let server;
before(async () => {
  server = await startConformance();
});
after(async () => {
  await server?.stop();
});

defineEngineChecks(() => server, "/socket.io/", { echo: false });

// connectMain opens a websocket session connected to "/" and consumes the
// CONNECT reply and the "auth" event.
async function connectMain() {
  const { socket } = await openEngine(server.wsURL);
  socket.send("40");
  assert.match(await socket.next(), /^40\{/);
  assert.equal(await socket.next(), '42["auth",{}]');
  return socket;
}

async function using(socket, fn) {
  try {
    return await fn(socket);
  } finally {
    socket.close();
  }
}

describe("Socket.IO connect", () => {
  const cases = [
    ["the main namespace", "40", "40", '42["auth",{}]'],
    ["the main namespace with a payload", '40{"token":"123"}', "40", '42["auth",{"token":"123"}]'],
    ["a custom namespace", "40/custom,", "40/custom,", '42/custom,["auth",{}]'],
    ["a custom namespace with a payload", '40/custom,{"token":"abc"}', "40/custom,", '42/custom,["auth",{"token":"abc"}]'],
    ["a custom namespace without a comma", "40/custom", "40/custom,", '42/custom,["auth",{}]'],
  ];
  for (const [name, send, prefix, auth] of cases) {
    it(`allows a connection to ${name}`, async () => {
      const { socket } = await openEngine(server.wsURL);
      await using(socket, async (s) => {
        s.send(send);
        const reply = await s.next();
        assert.ok(reply.startsWith(prefix), reply);
        const handshake = JSON.parse(reply.slice(prefix.length));
        assert.deepEqual(Object.keys(handshake), ["sid"]);
        assert.equal(typeof handshake.sid, "string");
        assert.equal(await s.next(), auth);
      });
    });
  }

  it("refuses an unknown namespace", async () => {
    const { socket } = await openEngine(server.wsURL);
    await using(socket, async (s) => {
      s.send("40/random");
      assert.equal(await s.next(), '44/random,{"message":"Invalid namespace"}');
    });
  });

  it("refuses a connection rejected by a middleware, with message and data", async () => {
    const { socket } = await openEngine(server.wsURL);
    await using(socket, async (s) => {
      s.send('40/custom,{"reject":"not allowed"}');
      const reply = await s.next();
      assert.ok(reply.startsWith("44/custom,"), reply);
      assert.deepEqual(JSON.parse(reply.slice("44/custom,".length)), {
        message: "not allowed",
        data: { reason: "rejected by the test middleware" },
      });
    });
  });

  it("closes the connection upon an invalid handshake", async () => {
    const { socket } = await openEngine(server.wsURL);
    await using(socket, async (s) => {
      s.send("4abc");
      await s.waitClose(3000);
    });
  });

  it("closes the connection if no CONNECT arrives within the connect timeout", async () => {
    const { socket } = await openEngine(server.wsURL);
    await using(socket, async (s) => {
      const start = Date.now();
      // next() answers pings, so only the connect timeout can close it.
      await assert.rejects(s.next(4000), /closed/);
      const took = Date.now() - start;
      assert.ok(took >= 900 && took < 3000, `closed after ${took} ms, connect timeout is 1000 ms`);
    });
  });
});

describe("Socket.IO disconnect", () => {
  it("disconnects from the main namespace and keeps the session", async () => {
    await using(await connectMain(), async (s) => {
      s.send("41");
      assert.equal(await s.next(2000, { skipPings: false }), "2");
    });
  });

  it("connects then disconnects from a custom namespace", async () => {
    await using(await connectMain(), async (s) => {
      s.send("40/custom");
      assert.ok((await s.next()).startsWith("40/custom,"));
      assert.equal(await s.next(), '42/custom,["auth",{}]');
      s.send("41/custom");
      s.send('42["message","message to main namespace"]');
      assert.equal(await s.next(), '42["message-back","message to main namespace"]');
    });
  });
});

describe("Socket.IO messages", () => {
  it("sends a plain-text packet", async () => {
    await using(await connectMain(), async (s) => {
      s.send('42["message",1,"2",{"3":[true]}]');
      assert.equal(await s.next(), '42["message-back",1,"2",{"3":[true]}]');
    });
  });

  it("sends a packet with binary attachments", async () => {
    await using(await connectMain(), async (s) => {
      s.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      s.send(Uint8Array.from([1, 2, 3]));
      s.send(Uint8Array.from([4, 5, 6]));
      assert.equal(await s.next(), '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      assert.deepEqual(await s.next(), Buffer.from([1, 2, 3]));
      assert.deepEqual(await s.next(), Buffer.from([4, 5, 6]));
    });
  });

  it("sends a plain-text packet with an ack", async () => {
    await using(await connectMain(), async (s) => {
      s.send('42456["message-with-ack",1,"2",{"3":[false]}]');
      assert.equal(await s.next(), '43456[1,"2",{"3":[false]}]');
    });
  });

  it("sends a packet with binary attachments and an ack", async () => {
    await using(await connectMain(), async (s) => {
      s.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      s.send(Uint8Array.from([1, 2, 3]));
      s.send(Uint8Array.from([4, 5, 6]));
      assert.equal(await s.next(), '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      assert.deepEqual(await s.next(), Buffer.from([1, 2, 3]));
      assert.deepEqual(await s.next(), Buffer.from([4, 5, 6]));
    });
  });

  it("asks the client for an ack and relays the ack's arguments (our addition)", async () => {
    await using(await connectMain(), async (s) => {
      s.send('42["emit-with-ack",1,"2",{"3":[true]}]');
      const req = await s.next();
      const m = /^42(\d+)\["emit-with-ack",1,"2",\{"3":\[true\]\}\]$/.exec(req);
      assert.ok(m, `expected an event with an ack id, got ${req}`);
      s.send(`43${m[1]}["a",{"b":[null]}]`);
      assert.equal(await s.next(), '42["emit-with-ack","a",{"b":[null]}]');
    });
  });

  const invalid = [
    ["an unknown packet type", "4abc"],
    ["an invalid payload format", "42{}"],
    ["an invalid ack id", '42abc["message-with-ack",1,"2",{"3":[false]}]'],
  ];
  for (const [name, frame] of invalid) {
    it(`closes the connection upon ${name}`, async () => {
      await using(await connectMain(), async (s) => {
        s.send(frame);
        await s.waitClose(3000);
      });
    });
  }
});

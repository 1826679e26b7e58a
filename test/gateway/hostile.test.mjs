// Hostile input closes only the offending connection: the process survives
// and a bystander in a room keeps receiving that room's messages.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../lib/harness.mjs";
import { Clients, Recorder, ack } from "../lib/client.mjs";
import { openSocketIO, openPolling, poll } from "../lib/raw.mjs";

let server, talker, bystander, bystanderRec;
const clients = new Clients();
let round = 0;

before(async () => {
  server = await startGateway();
  talker = await clients.connect(server.url, { transports: ["websocket"] });
  bystander = await clients.connect(server.url, { transports: ["polling"] });
  bystanderRec = new Recorder(bystander, "message");
  assert.deepEqual(await ack(talker, "join", "watch"), [true]);
  assert.deepEqual(await ack(bystander, "join", "watch"), [true]);
});
after(async () => {
  clients.closeAll();
  await server?.stop();
});

// After every attack: the server runs and the room still works.
afterEach(async () => {
  assert.ok(server.alive(), `gateway died:\n${server.log.slice(-4000)}`);
  const tag = `still alive ${++round}`;
  assert.deepEqual(await ack(talker, "message", tag), [true]);
  await bystanderRec.waitFor((m) => m[0] === tag, 5000, "the bystander to get the room message");
  assert.ok(talker.connected && bystander.connected);
});

const placeholder = (n) => `{"_placeholder":true,"num":${n}}`;

const websocketAttacks = [
  ["invalid UTF-8 in a text frame", (s) => s.sendTextBytes(Buffer.from([0x34, 0x32, 0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]))],
  ["a lone surrogate byte sequence in a text frame", (s) => s.sendTextBytes(Buffer.from('42["echo","\xed\xa0\x80"]', "latin1"))],
  ["a 10,000-deep nested array in an event", (s) => s.send(`421["echo",${"[".repeat(10_000)}${"]".repeat(10_000)}]`)],
  ["a 10,000-deep nested object in an event", (s) => s.send(`42["echo",${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}]`)],
  [
    "more binary attachments than announced",
    (s) => {
      s.send(`451-["echo",${placeholder(0)}]`);
      s.send(Buffer.from([1]));
      s.send(Buffer.from([2]));
    },
  ],
  [
    "placeholders that do not match the announced count",
    (s) => {
      s.send(`451-1["echo",${placeholder(0)},${placeholder(1)}]`);
      s.send(Buffer.from([1]));
    },
  ],
  [
    "a text packet while attachments are pending",
    (s) => {
      s.send(`452-["echo",${placeholder(0)},${placeholder(1)}]`);
      s.send(Buffer.from([1]));
      s.send('42["echo"]');
    },
  ],
  ["a binary frame with no binary packet pending", (s) => s.send(Buffer.from([1, 2, 3]))],
  ["an attachment count far over the limit", (s) => s.send(`45999999-["echo"]`)],
];

describe("hostile input over a raw websocket", () => {
  for (const [name, attack] of websocketAttacks) {
    it(`${name} closes that connection only`, async () => {
      const { socket } = await openSocketIO(server.wsURL);
      try {
        attack(socket);
        await socket.waitClose(3000);
      } finally {
        socket.close();
      }
    });
  }
});

describe("hostile input over polling", () => {
  for (const body of ["abc", "b!!!not base64!!!", "4ok\x1e\x1e", ""]) {
    it(`the undecodable body ${JSON.stringify(body)} closes that session only`, async () => {
      const sid = await openPolling(server.url);
      assert.equal((await poll(server.url, "/socket.io/", { sid, method: "POST", body: "40" })).text, "ok");
      assert.match((await poll(server.url, "/socket.io/", { sid })).text, /^40/);
      await poll(server.url, "/socket.io/", { sid, method: "POST", body }).catch(() => {});
      const after = await poll(server.url, "/socket.io/", { sid });
      // A GET may still collect the close packet before the session is gone.
      if (after.status === 200) {
        assert.match(after.text, /(^|\x1e)1$/, `expected a close packet, got ${JSON.stringify(after.text)}`);
        assert.equal((await poll(server.url, "/socket.io/", { sid })).status, 400);
      } else {
        assert.equal(after.status, 400);
      }
    });
  }
});

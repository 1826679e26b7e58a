// Rooms and the `message` isolation of cmd/gateway: a socket in rooms talks
// to those rooms only, a socket in no room talks to everyone; bad room
// arguments get an error ack and never hurt the connection.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../lib/harness.mjs";
import { Clients, Recorder, ack } from "../lib/client.mjs";

let server;
const clients = new Clients();
before(async () => {
  server = await startGateway();
});
after(async () => {
  clients.closeAll();
  await server?.stop();
});

describe("rooms and message isolation", () => {
  let chat1, chat2, study, both, lobby;
  const rec = {};
  before(async () => {
    [chat1, chat2, study, both, lobby] = await Promise.all(
      Array.from({ length: 5 }, () => clients.connect(server.url, { transports: ["websocket"] })),
    );
    Object.assign(rec, {
      chat1: new Recorder(chat1, "message"),
      chat2: new Recorder(chat2, "message"),
      study: new Recorder(study, "message"),
      both: new Recorder(both, "message"),
      lobby: new Recorder(lobby, "message"),
    });
    assert.deepEqual(await ack(chat1, "join", "chat"), [true]);
    assert.deepEqual(await ack(chat2, "join", "chat"), [true]);
    assert.deepEqual(await ack(study, "join", "study"), [true]);
    assert.deepEqual(await ack(both, "join", "chat"), [true]);
    assert.deepEqual(await ack(both, "join", "study"), [true]);
  });

  // deliveries sends tag from `from`, then a global sentinel from lobby, and
  // returns how many times each client got tag once everyone has the sentinel.
  async function deliveries(from, tag) {
    assert.deepEqual(await ack(from, "message", tag), [true]);
    const sentinel = `sentinel after ${tag}`;
    assert.deepEqual(await ack(lobby, "message", sentinel), [true]);
    const counts = {};
    for (const [name, r] of Object.entries(rec)) {
      await r.waitFor((m) => m[0] === sentinel, 5000, `${name} to get ${sentinel}`);
      counts[name] = r.items.filter((m) => m[0] === tag).length;
    }
    return counts;
  }

  it("a room message reaches that room only (sender included)", async () => {
    assert.deepEqual(await deliveries(chat1, "to chat"), { chat1: 1, chat2: 1, study: 0, both: 1, lobby: 0 });
  });

  it("a socket in no room reaches everyone", async () => {
    assert.deepEqual(await deliveries(lobby, "to all"), { chat1: 1, chat2: 1, study: 1, both: 1, lobby: 1 });
  });

  it("a socket in two rooms reaches both, each member once", async () => {
    assert.deepEqual(await deliveries(both, "to chat+study"), { chat1: 1, chat2: 1, study: 1, both: 1, lobby: 0 });
  });

  it("after leave, a socket in no room is global again", async () => {
    assert.deepEqual(await ack(study, "leave", "study"), [true]);
    assert.deepEqual(await deliveries(study, "after leave"), { chat1: 1, chat2: 1, study: 1, both: 1, lobby: 1 });
    assert.deepEqual(await deliveries(both, "study left"), { chat1: 1, chat2: 1, study: 0, both: 1, lobby: 0 });
  });

  it("leaving a room one is not in acks true", async () => {
    assert.deepEqual(await ack(lobby, "leave", "nowhere"), [true]);
  });
});

describe("bad room arguments", () => {
  const bad = [
    ["a number", 42],
    ["null", null],
    ["an object", { room: "chat" }],
    ["an array", ["chat"]],
    ["an empty string", ""],
    ["129 ASCII bytes", "x".repeat(129)],
    ["65 two-byte characters (130 bytes)", "é".repeat(65)],
  ];
  let s;
  before(async () => {
    s = await clients.connect(server.url, { transports: ["websocket"] });
  });

  for (const event of ["join", "leave"]) {
    for (const [name, room] of bad) {
      it(`${event} with ${name} gets an error ack`, async () => {
        const res = await ack(s, event, room);
        assert.equal(res.length, 1, `ack arguments: ${JSON.stringify(res)}`);
        assert.notEqual(res[0], true);
        assert.equal(typeof res[0], "object", `ack argument: ${JSON.stringify(res[0])}`);
        assert.notEqual(res[0], null);
      });
    }
    it(`${event} with no argument gets an error ack`, async () => {
      const res = await ack(s, event);
      assert.equal(typeof res[0], "object");
      assert.notEqual(res[0], null);
    });
  }

  it("128 bytes is a valid room name", async () => {
    assert.deepEqual(await ack(s, "join", "é".repeat(64)), [true]);
    assert.deepEqual(await ack(s, "join", "x".repeat(128)), [true]);
  });

  it("bad arguments without an ack are ignored and the socket keeps working", async () => {
    for (const [, room] of bad) s.emit("join", room);
    s.emit("join");
    s.emit("leave", 7);
    assert.deepEqual(await ack(s, "echo", "still here"), ["still here"]);
    assert.ok(s.connected);
  });
});

// Payloads pass through cmd/gateway untouched: raw frames checked byte for
// byte (number precision, key order, unicode and its escapes).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../lib/harness.mjs";
import { openSocketIO, poll } from "../lib/raw.mjs";

let server;
const sockets = [];
before(async () => {
  server = await startGateway();
});
after(async () => {
  for (const s of sockets) s.close();
  await server?.stop();
});

async function raw() {
  const { socket } = await openSocketIO(server.wsURL);
  sockets.push(socket);
  return socket;
}

// Raw JSON that a decode/re-encode round trip would change: a number past
// 2^53, keys out of order, non-ASCII text, escapes that are not the shortest
// form, and a number spelled with an exponent.
const PAYLOAD =
  '{"z":1,"a":9007199254740993,"m":[1.50,2e3,-0.0],"s":"h\u00e9llo \u4e16\u754c \ud83c\udf89",' +
  '"e":"\\u00e9\\ud83c\\udf89\\/\\n","u":"\u2028"}';

describe("exact payload bytes", () => {
  it("echo ack over websocket keeps the bytes", async () => {
    const s = await raw();
    s.send(`4217["echo",${PAYLOAD},9007199254740993,"x"]`);
    assert.equal(await s.next(), `4317[${PAYLOAD},9007199254740993,"x"]`);
  });

  it("message broadcast keeps the bytes", async () => {
    const sender = await raw();
    const receiver = await raw();
    sender.send(`42["message",${PAYLOAD}]`);
    assert.equal(await receiver.next(), `42["message",${PAYLOAD}]`);
    assert.equal(await sender.next(), `42["message",${PAYLOAD}]`);
  });

  it("room message keeps the bytes", async () => {
    const sender = await raw();
    const receiver = await raw();
    for (const s of [sender, receiver]) {
      s.send('421["join","bytes-room"]');
      assert.equal(await s.next(), "431[true]");
    }
    sender.send(`422["message",${PAYLOAD}]`);
    const frames = [await receiver.next()];
    assert.deepEqual(frames, [`42["message",${PAYLOAD}]`]);
    // The sender is in the room too: it gets the message and the ack, in either order.
    const mine = [await sender.next(), await sender.next()].sort();
    assert.deepEqual(mine, ["432[true]", `42["message",${PAYLOAD}]`].sort());
  });

  it("echo ack over polling keeps the bytes", async () => {
    const first = await poll(server.url, "/socket.io/");
    assert.equal(first.status, 200);
    const sid = JSON.parse(first.text.slice(1)).sid;
    assert.equal((await poll(server.url, "/socket.io/", { sid, method: "POST", body: "40" })).text, "ok");
    assert.match((await poll(server.url, "/socket.io/", { sid })).text, /^40\{"sid":"[^"]+"\}$/);
    const body = `425["echo",${PAYLOAD}]`;
    assert.equal((await poll(server.url, "/socket.io/", { sid, method: "POST", body })).text, "ok");
    assert.equal((await poll(server.url, "/socket.io/", { sid })).text, `435[${PAYLOAD}]`);
    await poll(server.url, "/socket.io/", { sid, method: "POST", body: "1" });
  });
});

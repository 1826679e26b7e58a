// -path moves Socket.IO, the client bundle and the demo's connection, as
// Node's path option does; the default path then serves nothing.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, REFERENCE } from "../lib/harness.mjs";
import { Clients, ack } from "../lib/client.mjs";
import { poll } from "../lib/raw.mjs";

describe("-path /rt", { skip: REFERENCE && "the Node reference server serves only /socket.io/" }, () => {
  let server;
  const clients = new Clients();
  before(async () => {
    server = await startGateway({ args: ["-path", "/rt"] });
  });
  after(async () => {
    clients.closeAll();
    await server?.stop();
  });

  for (const transports of [["polling"], ["websocket"]]) {
    it(`a client with path "/rt/" connects over ${transports[0]}`, async () => {
      const s = await clients.connect(server.url, { path: "/rt/", transports });
      assert.deepEqual(await ack(s, "echo", "hi"), ["hi"]);
    });
  }

  it("Engine.IO and the bundle are below /rt/, not /socket.io/", async () => {
    assert.equal((await poll(server.url, "/rt/")).status, 200);
    assert.equal((await poll(server.url, "/socket.io/")).status, 404);
    const bundle = await fetch(`${server.url}/rt/socket.io.min.js`, { signal: AbortSignal.timeout(3000) });
    await bundle.arrayBuffer();
    assert.ok([200, 503].includes(bundle.status), `bundle status ${bundle.status}`); // 503: built without the bundle
    const old = await fetch(`${server.url}/socket.io/socket.io.min.js`, { signal: AbortSignal.timeout(3000) });
    await old.arrayBuffer();
    assert.equal(old.status, 404);
  });

  it("the demo page loads the bundle from /rt/", async () => {
    const res = await fetch(`${server.url}/`, { signal: AbortSignal.timeout(3000) });
    const html = await res.text();
    assert.match(html, /<script src="\/rt\/socket\.io\.js"><\/script>/);
    assert.doesNotMatch(html, /\/socket\.io\//);
  });
});

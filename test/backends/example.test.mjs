// The example backend of README's "Use it with your backend" section:
// examples/backend.mjs, which README shows verbatim, runs next to a
// gateway, and official clients use it as the README describes.
//
//   node --test test/backends/example.test.mjs

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, REFERENCE, Server, freePort, startGateway } from "../lib/harness.mjs";
import { Clients, Recorder, ack, connectError } from "../lib/client.mjs";

const EXAMPLE = join(ROOT, "examples", "backend.mjs");

describe("the README's example backend", { skip: REFERENCE ? "a gateway feature" : false, timeout: 60_000 }, () => {
  const clients = new Clients();
  let backend, gateway;

  before(async () => {
    const [backendPort, gatewayPort] = await Promise.all([freePort(), freePort()]);
    process.env.PORT = String(backendPort);
    process.env.SOCKGATE_URL = `http://127.0.0.1:${gatewayPort}`;
    process.env.SOCKGATE_API_TOKEN = "example-token";
    try {
      backend = await new Server(process.execPath, [EXAMPLE], backendPort, null).start();
    } finally {
      delete process.env.PORT;
      delete process.env.SOCKGATE_URL;
      delete process.env.SOCKGATE_API_TOKEN;
    }
    const url = `http://127.0.0.1:${backendPort}`;
    gateway = await startGateway({
      port: gatewayPort,
      args: ["-api-token", "example-token", "-connect-url", `${url}/connect`, "-event-url", `${url}/event`],
    });
  });

  after(async () => {
    clients.closeAll();
    await Promise.allSettled([gateway?.stop(), backend?.stop()]);
  });

  it("README shows examples/backend.mjs verbatim", async () => {
    const [readme, example] = await Promise.all([readFile(join(ROOT, "README.md"), "utf8"), readFile(EXAMPLE, "utf8")]);
    assert.ok(readme.includes("```js\n" + example + "```\n"), "README's example backend differs from examples/backend.mjs");
  });

  it("connect auth, an event with ack, and a publish through the server API", async () => {
    const err = await connectError(clients.open(gateway.url, { transports: ["websocket"], auth: { password: "wrong" } }));
    assert.equal(err.message, "who are you?");
    assert.deepEqual(err.data, { login: "/login" });

    const alice = await clients.connect(gateway.url, { auth: { password: "alice-pw" } });
    const bob = await clients.connect(gateway.url, { auth: { password: "bob-pw" } });
    const saidToBob = new Recorder(bob, "said");
    const dms = new Recorder(bob, "dm");

    assert.deepEqual(await ack(bob, "say", "room:tea", "hi"), [1]);
    assert.deepEqual(await ack(alice, "say", "room:tea", "hello bob"), [2]);
    await saidToBob.waitFor((m) => m[1] === "hello bob");
    assert.deepEqual(saidToBob.items.at(-1), ["alice", "hello bob"]);

    alice.emit("dm", "bob", "psst");
    assert.deepEqual(await dms.waitFor(), ["alice", "psst"]);
    assert.deepEqual(await ack(alice, "nope"), [{ error: "nope: unknown event" }]);
  });
});

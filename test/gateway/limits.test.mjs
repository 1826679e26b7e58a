// Every abuse limit over real connections: the limited client gets the
// documented status, close or error, /metrics counts it, a witness on the same
// node keeps receiving a room's broadcasts (none lost, none later than
// 200 ms), and the node's goroutines come back to where they were.

import { describe, it, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { request } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { connect as netConnect } from "node:net";
import { startGateway, waitUntil, withTimeout, sleep, once, ROOT, REFERENCE } from "../lib/harness.mjs";
import { Clients, ack, connectError } from "../lib/client.mjs";
import { RawSocket, openEngine, openPolling, poll } from "../lib/raw.mjs";

const clients = new Clients();
let gw;
afterEach(async () => {
  clients.closeAll();
  await gw?.stop();
  gw = null;
});
after(() => clients.closeAll());

// metric sums the samples of name whose labels contain every given label.
async function metric(server, name, labels = {}) {
  const text = await (await fetch(server.url + "/metrics")).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

const goroutines = (server) => metric(server, "go_goroutines");

async function status(server, path) {
  const res = await fetch(server.url + path);
  return { status: res.status, text: await res.text() };
}

// handshake sends one polling handshake with the given headers.
function handshake(server, headers = {}, query = "") {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}/socket.io/?EIO=4&transport=polling${query}`, { headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.setTimeout(3000, () => req.destroy(new Error("handshake timeout")));
    req.end();
  });
}

// wsRefusal opens a raw websocket that the server must refuse with an HTTP
// status; it resolves with that status.
async function wsRefusal(url, headers) {
  const s = new RawSocket(url, { headers });
  const status = new Promise((resolve) => s.ws.once("unexpected-response", (_req, res) => resolve(res.statusCode)));
  const code = await withTimeout(status, 3000, "the websocket refusal");
  s.close();
  return code;
}

// Witness runs test/lib/witness.mjs against server: a publisher sends a
// numbered message to room "witness" every 50 ms, a receiver in the room
// checks that each arrives, in time.
class Witness {
  static async start(server) {
    const w = new Witness();
    w.proc = spawn(process.execPath, [join(ROOT, "test", "lib", "witness.mjs"), server.url], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    w.lines = createInterface({ input: w.proc.stdout });
    const [line] = await once(w.lines, "line", 10_000);
    assert.equal(line, "ready");
    return w;
  }

  // stop ends the stream and checks it: every message arrived, none more
  // than 200 ms after it was sent and no two more than 200 ms apart.
  async stop() {
    this.proc.stdin.write("stop\n");
    const [line] = await once(this.lines, "line", 10_000);
    const r = JSON.parse(line);
    assert.equal(r.received, r.sent, `the witness got ${r.received} of ${r.sent} messages`);
    assert.ok(r.connected, "the witness was disconnected");
    assert.ok(r.worstLatencyMs < 200, `a broadcast reached the witness ${r.worstLatencyMs} ms after it was sent`);
    assert.ok(r.worstGapMs < 200, `the witness waited ${r.worstGapMs} ms between two broadcasts`);
  }

  kill() {
    this.proc.kill();
  }
}

// scenario starts a gateway with args, the witness and a goroutine baseline,
// runs attack, then checks the witness and that goroutines came back.
async function scenario(args, attack) {
  gw = await startGateway({ args: ["-log-level", "info", ...args] });
  const w = await Witness.start(gw);
  try {
    await run(gw, w, attack);
  } finally {
    w.kill();
  }
}

async function run(gw, w, attack) {
  const base = await goroutines(gw);
  await attack(gw);
  let now;
  await waitUntil(async () => (now = await goroutines(gw)) <= base + 2, 10_000, `goroutines back to ${base}`).catch((err) => {
    throw new Error(`${err.message} (now ${now})`);
  });
  await w.stop();
  assert.ok(gw.alive(), `gateway died:\n${gw.log.slice(-4000)}`);
}

describe("abuse limits", { skip: REFERENCE && "sockgate flags" }, () => {
  it("-max-connections: 503 JSON at the limit, /readyz 503 until below 95 %", async () => {
    await scenario(["-max-connections", "20"], async (server) => {
      const raw = [];
      for (let i = 0; i < 18; i++) raw.push((await openEngine(server.wsURL)).socket); // + the witness's 2
      const res = await handshake(server);
      assert.equal(res.status, 503);
      assert.equal(res.headers["content-type"], "application/json");
      assert.deepEqual(JSON.parse(res.body), { message: "Too many connections" });
      assert.equal(await wsRefusal(`${server.wsURL}/socket.io/?EIO=4&transport=websocket`), 503);
      const err = await connectError(clients.open(server.url, { transports: ["websocket"] }));
      assert.match(String(err.message), /websocket error/);
      assert.equal((await status(server, "/readyz")).status, 503);
      assert.match((await status(server, "/readyz")).text, /at connection limit/);
      assert.equal(await metric(server, "sockgate_engineio_errors_total", { kind: "connection_limit" }), 3);

      raw.pop().close(); // 19 of 20: not yet below 95 %
      await waitUntil(async () => (await metric(server, "sockgate_connections")) === 19, 5000, "19 connections");
      assert.equal((await status(server, "/readyz")).status, 503);
      raw.pop().close(); // 18: ready again, and handshakes pass
      await waitUntil(async () => (await status(server, "/readyz")).status === 200, 5000, "/readyz 200 below 95 %");
      const again = await openEngine(server.wsURL);
      again.socket.close();
      for (const s of raw) s.close();
    });
  });

  it("-handshake-rate: handshakes over the bucket get 503", async () => {
    await scenario(["-handshake-rate", "5"], async (server) => {
      await sleep(1100); // the witness's handshakes used tokens: refill
      const results = await Promise.all(Array.from({ length: 15 }, () => handshake(server)));
      const ok = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status === 503);
      assert.equal(ok.length + refused.length, 15);
      assert.ok(ok.length >= 5 && ok.length <= 7, `${ok.length} handshakes passed a bucket of 5`);
      assert.deepEqual(JSON.parse(refused[0].body), { message: "Too many handshakes" });
      assert.equal(await metric(server, "sockgate_engineio_errors_total", { kind: "handshake_rate" }), refused.length);
      for (const r of ok) {
        const sid = JSON.parse(r.body.slice(1)).sid;
        await poll(server.url, "/socket.io/", { sid, method: "POST", body: "1" });
      }
    });
  });

  it("-event-rate: packets over the rate are dropped, a socket over it for 3 s is disconnected", async () => {
    await scenario(["-event-rate", "40", "-event-burst", "40"], async (server) => {
      const spammer = await clients.connect(server.url, { transports: ["websocket"] });
      const polite = await clients.connect(server.url, { transports: ["websocket"] });
      const started = Date.now();
      const spam = setInterval(() => {
        for (let i = 0; i < 2; i++) spammer.emit("spam", i); // ~400 packets/s
      }, 5);
      try {
        const [reason] = await once(spammer, "disconnect", 10_000);
        const after = Date.now() - started;
        assert.equal(reason, "io server disconnect");
        assert.ok(after >= 2900 && after < 8000, `disconnected after ${after} ms`);
      } finally {
        clearInterval(spam);
      }
      assert.ok((await metric(server, "sockgate_events_dropped_total")) > 0);
      assert.equal(await metric(server, "sockgate_limit_disconnects_total", { reason: "rate limited" }), 1);
      assert.deepEqual(await ack(polite, "echo", "still here"), ["still here"]);
      polite.disconnect();
    });
  });

  it("-max-rooms: the join over the limit gets an error ack", async () => {
    await scenario(["-max-rooms", "3"], async (server) => {
      const s = await clients.connect(server.url, { transports: ["websocket"] });
      for (const r of ["a", "b", "c"]) assert.deepEqual(await ack(s, "join", r), [true]);
      assert.deepEqual(await ack(s, "join", "d"), [{ error: "join: too many rooms (at most 3)" }]);
      assert.deepEqual(await ack(s, "join", "a"), [true]); // a room it is in already
      assert.equal(await metric(server, "sockgate_rooms_refused_total"), 1);
      s.disconnect();
    });
  });

  it("Origin: handshakes and upgrades from an origin not in -cors-origins get 403", async () => {
    await scenario(["-cors-origins", "https://good.example"], async (server) => {
      const evil = { Origin: "https://evil.example" };
      const refused = await handshake(server, evil);
      assert.equal(refused.status, 403);
      assert.deepEqual(JSON.parse(refused.body), { code: 4, message: "Origin not allowed" });
      assert.equal((await handshake(server, { Origin: "https://GOOD.example" })).status, 200);
      assert.equal((await handshake(server)).status, 200); // no Origin: not a browser
      const ws = `${server.wsURL}/socket.io/?EIO=4&transport=websocket`;
      assert.equal(await wsRefusal(ws, evil), 403);
      const sid = await openPolling(server.url);
      assert.equal(await wsRefusal(`${ws}&sid=${sid}`, evil), 403);
      const err = await connectError(clients.open(server.url, { transports: ["websocket"], extraHeaders: evil }));
      assert.match(String(err.message), /websocket error/);
      assert.equal(await metric(server, "sockgate_engineio_errors_total", { kind: "origin" }), 4);
      const good = await clients.connect(server.url, { transports: ["polling", "websocket"], extraHeaders: { Origin: "https://good.example" } });
      await waitUntil(() => good.io.engine.transport.name === "websocket", 5000, "the upgrade from the allowed origin");
      good.disconnect();
    });
  });

  it("-read-header-timeout and -max-header-bytes: slow or huge headers are cut off", async () => {
    await scenario(["-read-header-timeout", "1s", "-max-header-bytes", "4096"], async (server) => {
      // Slowloris: one header byte every 250 ms.
      const slow = netConnect(server.port, "127.0.0.1");
      const started = Date.now();
      const line = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a".repeat(100);
      let i = 0;
      const drip = setInterval(() => {
        if (!slow.destroyed && i < line.length) slow.write(line[i++]);
      }, 250);
      const closed = new Promise((resolve) => slow.once("close", resolve));
      slow.on("error", () => {});
      await withTimeout(closed, 5000, "the server to close the slow connection");
      clearInterval(drip);
      const took = Date.now() - started;
      assert.ok(took >= 900 && took < 3500, `closed after ${took} ms`);

      const big = await new Promise((resolve, reject) => {
        const req = request(`${server.url}/healthz`, { headers: { "X-Big": "b".repeat(30_000) } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(big, 431);
      await waitUntil(async () => (await metric(server, "sockgate_http_unserved_connections_total")) >= 2, 5000, "both counted");
    });
  });

  it("-connect-timeout: a connection without a Socket.IO CONNECT is closed", async () => {
    await scenario(["-connect-timeout", "500ms"], async (server) => {
      const before = await metric(server, "sockgate_engineio_closes_total", { reason: "forced close" });
      const { socket } = await openEngine(server.wsURL);
      const started = Date.now();
      await socket.waitClose(4000);
      const took = Date.now() - started;
      assert.ok(took >= 400 && took < 3000, `closed after ${took} ms`);
      assert.equal(await metric(server, "sockgate_engineio_closes_total", { reason: "forced close" }), before + 1);
    });
  });

  it("bad input is logged sampled, not once per packet", async () => {
    await scenario([], async (server) => {
      const n = 30;
      await Promise.all(
        Array.from({ length: n }, async () => {
          const { socket } = await openEngine(server.wsURL);
          socket.send("4{not a packet");
          await socket.waitClose(3000);
        }),
      );
      await waitUntil(async () => (await metric(server, "sockgate_parse_errors_total")) === n, 5000, `${n} parse errors`);
      const lines = server.log.split("\n").filter((l) => l.includes("parse error"));
      assert.ok(lines.length >= 1 && lines.length <= 2, `${lines.length} log lines for ${n} parse errors:\n${lines.join("\n")}`);
    });
  });
});

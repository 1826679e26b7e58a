// An application backend behind the gateway: a Node `http` server in this
// process plays the backend (connect, event and disconnect proxies), two
// gateway nodes share a real redis-server, official socket.io-client
// clients connect to both. The server API is driven over HTTP across the
// nodes; JWT (HS256, RS256) and the room policy run on nodes of their own.
//
//   node --test test/backends/

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHmac, generateKeyPairSync, sign as cryptoSign } from "node:crypto";
import { mkdtemp, readFile, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, sleep, startGateway, waitUntil, REFERENCE } from "../lib/harness.mjs";
import { Cluster, Node, redisServerPath } from "../lib/cluster.mjs";
import { Clients, Recorder, ack, connectError } from "../lib/client.mjs";

const skip = REFERENCE ? "a gateway feature (no Node reference)" : redisServerPath() ? false : "redis-server not installed";
const TOKEN = "test-api-token";

// Backend is the test's application backend. Each connect auth and event
// name selects a behaviour (see the handlers); it records every request.
class Backend {
  constructor() {
    this.requests = []; // {path, body, port}
    this.inFlight = new Map(); // sid -> events at the backend now
    this.maxInFlightPerSocket = 0;
    this.slowNow = 0;
    this.slowMax = 0;
    this.server = createServer((req, res) => this.#serve(req, res));
  }

  async start() {
    this.port = await freePort();
    await new Promise((resolve) => this.server.listen(this.port, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  close() {
    this.server.closeAllConnections?.();
    return new Promise((resolve) => this.server.close(resolve));
  }

  of(path, pred = () => true) {
    return this.requests.filter((r) => r.path === path && pred(r.body));
  }

  #serve(req, res) {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      this.requests.push({ path: req.url, body, port: req.socket.remotePort, headers: req.headers });
      const reply = (code, answer) => {
        res.writeHead(code, { "content-type": "application/json" });
        res.end(typeof answer === "string" ? answer : JSON.stringify(answer));
      };
      try {
        if (req.url === "/connect") return await this.#connect(body, reply);
        if (req.url === "/event") return await this.#event(body, reply);
        if (req.url === "/disconnect") return reply(200, {});
        reply(404, {});
      } catch (err) {
        reply(500, { error: String(err) });
      }
    });
  }

  async #connect({ namespace, auth }, reply) {
    if (namespace === "/forbidden") return reply(200, { accept: false, message: "no such room", data: { namespace } });
    switch (auth?.mode) {
      case "reject":
        return reply(200, { accept: false, message: "go away", data: { code: 7, why: ["banned"] } });
      case "slow":
        await sleep(3000);
        return reply(200, { accept: true });
      case "status":
        return reply(503, { accept: true });
      case "badjson":
        return reply(200, "{accept: true");
    }
    const user = auth?.user ?? "anonymous";
    return reply(200, { accept: true, user, rooms: [`user:${user}`], data: { plan: "pro", user } });
  }

  async #event({ sid, event, args, attachments, user, data, rooms }, reply) {
    const n = (this.inFlight.get(sid) ?? 0) + 1;
    this.inFlight.set(sid, n);
    this.maxInFlightPerSocket = Math.max(this.maxInFlightPerSocket, n);
    try {
      switch (event) {
        case "seq":
          await sleep(Math.floor(Math.random() * 15)); // later events must still wait their turn
          return reply(200, { ack: [args[0] * 2, "done"] });
        case "whoami":
          return reply(200, { ack: [{ user, data, rooms }] });
        case "enter":
          return reply(200, { join: [args[0]], ack: [true] });
        case "exit":
          return reply(200, { leave: [args[0]], ack: [true] });
        case "shout":
          return reply(200, { emit: [{ rooms: [args[0]], except: args[1] ? [args[1]] : [], event: "shouted", args: [args[0], user] }] });
        case "bin": {
          // args[0] is a placeholder for attachments[0]; answer with the
          // bytes reversed, as ack and as a broadcast to the sender's room.
          const bytes = Buffer.from(attachments[0], "base64").reverse().toString("base64");
          const ph = { _placeholder: true, num: 0 };
          return reply(200, {
            ack: [{ reversed: ph }, args[0]],
            attachments: [bytes],
            emit: [{ rooms: [sid], event: "bin-back", args: [ph], attachments: [bytes] }],
          });
        }
        case "slowc":
          this.slowNow++;
          this.slowMax = Math.max(this.slowMax, this.slowNow);
          await sleep(150);
          this.slowNow--;
          return reply(200, { ack: ["slow done"] });
        case "fail":
          return reply(500, { error: "boom" });
        case "bye":
          return reply(200, { ack: ["bye"], disconnect: true });
        default:
          return reply(200, { ack: [{ error: "unknown" }] });
      }
    } finally {
      this.inFlight.set(sid, this.inFlight.get(sid) - 1);
    }
  }
}

// api calls the server API of a node.
async function api(node, method, path, body, { token = TOKEN, raw } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(node.url + path, {
    method,
    headers,
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

function jwtHS256(claims, secret) {
  const head = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(claims)}`;
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`;
}

function jwtRS256(claims, privateKey) {
  const head = `${b64url({ alg: "RS256", typ: "JWT" })}.${b64url(claims)}`;
  return `${head}.${cryptoSign("sha256", Buffer.from(head), privateKey).toString("base64url")}`;
}

const now = () => Math.floor(Date.now() / 1000);

describe("an application backend behind 2 gateway nodes and Redis", { skip, timeout: 90_000 }, () => {
  const cluster = new Cluster();
  const clients = cluster.clients;
  let backend, nodes;

  // connect opens a websocket client on node i with an auth payload.
  const connect = (i, auth, opts = {}) =>
    clients.connect(nodes[i].url + (opts.nsp ?? ""), { transports: ["websocket"], auth, ...opts });

  before(async () => {
    backend = await new Backend().start();
    await cluster.startRedis();
    const args = [
      "-api-token", TOKEN,
      "-connect-url", `${backend.url}/connect`,
      "-event-url", `${backend.url}/event`,
      "-disconnect-url", `${backend.url}/disconnect`,
      "-proxy-timeout", "1s",
    ];
    nodes = await Promise.all([cluster.go({ args }), cluster.go({ args: [...args, "-proxy-concurrency", "2"] })]);
    // The cluster is live once an API emit from node 0 reaches node 1.
    const probe = await connect(1, { user: "probe" });
    const rec = new Recorder(probe, "probe");
    await waitUntil(async () => {
      await api(nodes[0], "POST", "/api/v1/emit", { rooms: [probe.id], event: "probe", args: [] });
      return rec.items.length > 0;
    }, 10_000, "the cluster to connect");
    probe.disconnect();
  });

  after(async () => {
    await cluster.close();
    await backend?.close();
  });

  describe("connect proxy", () => {
    it("accepts: the backend sees namespace, sid, raw auth, headers, query and address", async () => {
      const s = await connect(0, { user: "42", n: 9007199254740993 }, { query: { room: "lobby" }, extraHeaders: { "x-forwarded-for": "203.0.113.9" } });
      const [req] = backend.of("/connect", (b) => b.sid === s.id);
      assert.ok(req, "no connect request for the socket");
      const b = req.body;
      assert.equal(b.namespace, "/");
      assert.deepEqual(b.auth, { user: "42", n: 9007199254740992 }); // JSON.parse rounds; the bytes were forwarded
      assert.equal(b.query.room, "lobby");
      assert.equal(b.query.EIO, undefined, "Engine.IO's own query parameters are not forwarded");
      assert.equal(b.headers["x-forwarded-for"], "203.0.113.9");
      assert.match(b.address, /127\.0\.0\.1/);
      // The answer's user, rooms and data are the socket's.
      const [me] = await ack(s, "whoami");
      assert.equal(me.user, "42");
      assert.deepEqual(me.data, { plan: "pro", user: "42" });
      assert.ok(me.rooms.includes("user:42") && me.rooms.includes(s.id), JSON.stringify(me.rooms));
    });

    it("refuses with the backend's message and data", async () => {
      const err = await connectError(clients.open(nodes[0].url, { transports: ["websocket"], auth: { mode: "reject" } }));
      assert.equal(err.message, "go away");
      assert.deepEqual(err.data, { code: 7, why: ["banned"] });
    });

    for (const mode of ["slow", "status", "badjson"]) {
      it(`fails closed when the backend ${{ slow: "times out", status: "answers 503", badjson: "answers bad JSON" }[mode]}`, async () => {
        const before = await nodes[1].metric("sockgate_proxy_failures_total");
        const err = await connectError(clients.open(nodes[1].url, { transports: ["websocket"], auth: { mode } }), 8000);
        assert.equal(err.message, "backend unavailable");
        assert.ok((await nodes[1].metric("sockgate_proxy_failures_total")) > before, "failure not counted");
      });
    }

    it("dynamic namespaces: every namespace the backend accepts exists", async () => {
      const s = await connect(0, { user: "7" }, { nsp: "/orders" });
      assert.ok(backend.of("/connect", (b) => b.namespace === "/orders" && b.sid === s.id).length === 1);
      const [me] = await ack(s, "whoami"); // events of any namespace go to the backend
      assert.equal(me.user, "7");
      const [unknown] = await ack(s, "echo", 1); // the built-in events stay on "/"
      assert.deepEqual(unknown, { error: "unknown" });
      const err = await connectError(clients.open(nodes[1].url + "/forbidden", { transports: ["websocket"], auth: { user: "7" } }));
      assert.equal(err.message, "no such room");
      assert.deepEqual(err.data, { namespace: "/forbidden" });
      // A namespace the API names first still asks the backend.
      const listed = await api(nodes[0], "GET", "/api/v1/sockets?namespace=/fresh");
      assert.deepEqual(listed.json, { sockets: [], missing_nodes: 0 });
      const refused = await connectError(clients.open(nodes[0].url + "/fresh", { transports: ["websocket"], auth: { mode: "reject" } }));
      assert.equal(refused.message, "go away");
      // Refused connections leave no namespace behind: node 1 only has "/".
      await waitUntil(async () => (await nodes[1].metric("sockgate_namespaces")) === 1, 5000, "node 1 to drop /forbidden");
    });
  });

  describe("event proxy", () => {
    it("one socket's events reach the backend in order, one at a time, with acks, over reused connections", async () => {
      const s = await connect(0, { user: "seq" });
      const acks = await Promise.all(Array.from({ length: 30 }, (_, i) => ack(s, "seq", i)));
      assert.deepEqual(acks, Array.from({ length: 30 }, (_, i) => [i * 2, "done"]));
      const reqs = backend.of("/event", (b) => b.sid === s.id && b.event === "seq");
      assert.deepEqual(reqs.map((r) => r.body.args[0]), Array.from({ length: 30 }, (_, i) => i));
      assert.equal(backend.maxInFlightPerSocket, 1);
      const ports = new Set(reqs.map((r) => r.port));
      assert.ok(ports.size <= 3, `30 sequential events used ${ports.size} connections`);
      // The request describes the socket.
      assert.equal(reqs[0].body.namespace, "/");
      assert.equal(reqs[0].body.user, "seq");
      assert.deepEqual(reqs[0].body.data, { plan: "pro", user: "seq" });
    });

    it("the backend's answer joins, leaves and emits, across nodes", async () => {
      const a = await connect(0, { user: "a" });
      const b = await connect(1, { user: "b" });
      const c = await connect(1, { user: "c" });
      const ra = new Recorder(a, "shouted");
      const rb = new Recorder(b, "shouted");
      const rc = new Recorder(c, "shouted");
      assert.deepEqual(await ack(a, "enter", "room:x"), [true]);
      assert.deepEqual(await ack(b, "enter", "room:x"), [true]);
      c.emit("shout", "room:x"); // c is not a member: a and b hear it
      await rb.waitFor(() => true, 5000, "b to hear the shout");
      await ra.waitFor(() => true, 5000, "a to hear the shout");
      assert.deepEqual(rb.items[0], ["room:x", "c"]);
      a.emit("shout", "room:x", "user:b"); // except b
      await ra.waitFor((m) => ra.items.length === 2, 5000, "a's own shout");
      assert.deepEqual(await ack(b, "exit", "room:x"), [true]);
      c.emit("shout", "room:x");
      await ra.waitFor(() => ra.items.length === 3, 5000, "a to hear the third shout");
      await ack(b, "whoami"); // b's events are ordered: nothing more can come from before it
      await sleep(100);
      assert.equal(rb.items.length, 1, "b heard a shout that excluded it or came after it left");
      assert.equal(rc.items.length, 0);
    });

    it("binary arguments both ways", async () => {
      const s = await connect(0, { user: "bin" });
      const back = new Recorder(s, "bin-back");
      const bytes = Buffer.from([0, 1, 2, 250, 255]);
      const [res, echoed] = await ack(s, "bin", bytes);
      const [req] = backend.of("/event", (b) => b.sid === s.id && b.event === "bin");
      assert.deepEqual(req.body.args, [{ _placeholder: true, num: 0 }]);
      assert.deepEqual(Buffer.from(req.body.attachments[0], "base64"), bytes);
      assert.ok(Buffer.isBuffer(res.reversed), "ack binary is not binary");
      assert.deepEqual([...res.reversed], [255, 250, 2, 1, 0]);
      assert.ok(Buffer.isBuffer(echoed), "the ack's second argument is the same attachment");
      const [[b]] = [await back.waitFor()];
      assert.deepEqual([...b], [255, 250, 2, 1, 0]);
    });

    it("the built-in events keep working on / next to the proxy", async () => {
      const s = await connect(0, { user: "builtin" });
      assert.deepEqual(await ack(s, "echo", { x: 1 }), [{ x: 1 }]);
      assert.deepEqual(await ack(s, "join", "room:builtin"), [true]);
      assert.equal(backend.of("/event", (b) => b.sid === s.id).length, 0, "built-in events reached the backend");
    });

    it("a backend failure acks {error: backend unavailable} and is counted", async () => {
      const s = await connect(0, { user: "fail" });
      const before = await nodes[0].metric("sockgate_proxy_failures_total");
      assert.deepEqual(await ack(s, "fail"), [{ error: "backend unavailable" }]);
      assert.ok((await nodes[0].metric("sockgate_proxy_failures_total")) > before);
      assert.deepEqual(await ack(s, "seq", 1), [2, "done"], "the socket works on after a failure");
    });

    it("-proxy-concurrency bounds the requests of a node in flight", async () => {
      const socks = await Promise.all([1, 2, 3, 4, 5].map((i) => connect(1, { user: `slow${i}` })));
      backend.slowMax = 0;
      const acks = await Promise.all(socks.map((s) => ack(s, "slowc")));
      assert.deepEqual(acks, socks.map(() => ["slow done"]));
      assert.ok(backend.slowMax <= 2, `node 1 had ${backend.slowMax} slow events at the backend at once`);
    });

    it("disconnect in the answer, and the disconnect notification", async () => {
      const s = await connect(1, { user: "leaver" });
      const sid = s.id;
      const gone = new Promise((resolve) => s.once("disconnect", resolve));
      assert.deepEqual(await ack(s, "bye"), ["bye"]);
      assert.equal(await gone, "io server disconnect");
      await waitUntil(() => backend.of("/disconnect", (b) => b.sid === sid).length > 0, 5000, "the disconnect notification");
      const [req] = backend.of("/disconnect", (b) => b.sid === sid);
      assert.deepEqual(req.body, { namespace: "/", sid, user: "leaver", reason: "server namespace disconnect" });

      const t = await connect(0, { user: "quitter" });
      const tid = t.id;
      t.disconnect();
      await waitUntil(() => backend.of("/disconnect", (b) => b.sid === tid).length > 0, 5000, "the client disconnect notification");
      assert.equal(backend.of("/disconnect", (b) => b.sid === tid)[0].body.reason, "client namespace disconnect");
    });
  });

  describe("server API", () => {
    it("emit to a room on another node, and to a socket id", async () => {
      const s = await connect(1, { user: "api1" });
      const rec = new Recorder(s, "news");
      assert.deepEqual((await api(nodes[0], "POST", "/api/v1/emit", { rooms: ["user:api1"], event: "news", args: [{ a: 1 }, "two", 9007199254740993] })).json, { ok: true });
      await rec.waitFor();
      assert.deepEqual(rec.items[0].slice(0, 2), [{ a: 1 }, "two"]);
      await api(nodes[0], "POST", "/api/v1/emit", { rooms: [s.id], event: "news", args: ["by sid"] });
      await rec.waitFor((m) => m[0] === "by sid");
      // except, and a binary argument
      const other = await connect(0, { user: "api1" }); // same user, other node
      const recOther = new Recorder(other, "news");
      await api(nodes[1], "POST", "/api/v1/emit", {
        rooms: ["user:api1"], except: [s.id], event: "news",
        args: ["bin", { _placeholder: true, num: 0 }], attachments: [Buffer.from("héllo").toString("base64")],
      });
      const [, b] = await recOther.waitFor((m) => m[0] === "bin");
      assert.ok(Buffer.isBuffer(b));
      assert.equal(b.toString(), "héllo");
      await ack(s, "whoami");
      assert.equal(rec.items.filter((m) => m[0] === "bin").length, 0, "except did not exclude");
    });

    it("emit with timeout_ms collects the clients' acks across nodes", async () => {
      const a = await connect(0, { user: "acker" });
      const b = await connect(1, { user: "acker" });
      a.on("question", (q, cb) => cb({ from: "a", q }));
      b.on("question", (q, cb) => cb({ from: "b", q }));
      const res = await api(nodes[0], "POST", "/api/v1/emit", { rooms: ["user:acker"], event: "question", args: ["?"], timeout_ms: 3000 });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.timed_out, false);
      assert.deepEqual(res.json.acks.map((x) => x.from).sort(), ["a", "b"]);

      const silent = await connect(1, { user: "acker" });
      silent.on("question", () => {}); // never acks
      const partial = await api(nodes[1], "POST", "/api/v1/emit", { rooms: ["user:acker"], event: "question", args: ["?"], timeout_ms: 500 });
      assert.equal(partial.json.timed_out, true);
      assert.equal(partial.json.acks.length, 2);
    });

    it("sockets, join, leave, rooms and disconnect act on every node", async () => {
      const a = await connect(0, { user: "ops-a" }, { query: { q: "1" } });
      const b = await connect(1, { user: "ops-b" });
      const sockets = await api(nodes[1], "GET", "/api/v1/sockets?room=user:ops-a");
      assert.equal(sockets.status, 200);
      assert.equal(sockets.json.missing_nodes, 0);
      assert.equal(sockets.json.sockets.length, 1);
      const [info] = sockets.json.sockets;
      assert.equal(info.id, a.id);
      assert.equal(info.user, "ops-a");
      assert.deepEqual(info.data, { plan: "pro", user: "ops-a" });
      assert.deepEqual(info.rooms.sort(), [a.id, "user:ops-a"].sort());
      assert.equal(info.handshake.query.q, "1");
      assert.match(info.handshake.address, /127\.0\.0\.1/);
      assert.ok(info.handshake.time);

      // As socketsJoin, the other nodes apply it when the request reaches them.
      assert.deepEqual((await api(nodes[0], "POST", "/api/v1/join", { rooms: [a.id, b.id], join: ["vip", "staff"] })).json, { ok: true });
      const members = async (node, names) =>
        JSON.stringify((await api(node, "GET", "/api/v1/rooms")).json.rooms.filter((r) => names.includes(r.name)));
      const two = JSON.stringify([{ name: "staff", members: 2 }, { name: "vip", members: 2 }]);
      await waitUntil(async () => (await members(nodes[1], ["vip", "staff"])) === two, 5000, "vip and staff with 2 members");
      const rooms = (await api(nodes[1], "GET", "/api/v1/rooms")).json;
      assert.ok(!rooms.rooms.some((r) => r.name === a.id), "socket id rooms are listed");
      const vip = (await api(nodes[0], "GET", "/api/v1/sockets?room=vip")).json.sockets.map((s) => s.id).sort();
      assert.deepEqual(vip, [a.id, b.id].sort());

      assert.deepEqual((await api(nodes[1], "POST", "/api/v1/leave", { rooms: ["vip"], except: [a.id], leave: ["vip"] })).json, { ok: true });
      const one = JSON.stringify([{ name: "vip", members: 1 }]);
      await waitUntil(async () => (await members(nodes[0], ["vip"])) === one, 5000, "vip with 1 member");
      const left = (await api(nodes[0], "GET", "/api/v1/sockets?room=vip")).json.sockets.map((s) => s.id);
      assert.deepEqual(left, [a.id], "the socket in except left");

      const gone = new Promise((resolve) => b.once("disconnect", resolve));
      assert.deepEqual((await api(nodes[0], "POST", "/api/v1/disconnect", { rooms: [b.id], close: false })).json, { ok: true });
      assert.equal(await gone, "io server disconnect");
      assert.ok(a.connected);
    });

    it("sockets: a node that does not answer makes a partial result with missing_nodes", async () => {
      const here = await connect(0, { user: "partial" });
      await connect(1, { user: "partial" });
      const proc = nodes[1].server.proc;
      proc.kill("SIGSTOP");
      let res;
      try {
        // SIGSTOP takes effect asynchronously: wait for state T (stopped).
        const state = async () => (await readFile(`/proc/${proc.pid}/stat`, "utf8")).split(") ")[1]?.[0];
        await waitUntil(async () => (await state()) === "T", 5000, "the node to stop");
        res = await api(nodes[0], "GET", "/api/v1/sockets?room=user:partial");
      } finally {
        proc.kill("SIGCONT");
      }
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.missing_nodes, 1, JSON.stringify(res.json));
      assert.deepEqual(res.json.sockets.map((x) => x.id), [here.id]);
    });

    it("401, 400, 413, 405 and 404, with JSON errors", async () => {
      const emit = { event: "x", args: [] };
      const cases = [
        ["no token", "POST", "/api/v1/emit", emit, { token: "" }, 401],
        ["wrong token", "POST", "/api/v1/emit", emit, { token: "nope" }, 401],
        ["wrong token, unknown path", "GET", "/api/v1/nothing", undefined, { token: "nope" }, 401],
        ["malformed JSON", "POST", "/api/v1/emit", undefined, { raw: '{"event": ' }, 400],
        ["unknown field", "POST", "/api/v1/emit", { event: "x", args: [], romms: ["a"] }, {}, 400],
        ["two objects", "POST", "/api/v1/emit", undefined, { raw: '{"event":"x"}{"event":"y"}' }, 400],
        ["no event", "POST", "/api/v1/emit", { args: [1] }, {}, 400],
        ["reserved event", "POST", "/api/v1/emit", { event: "disconnect" }, {}, 400],
        ["placeholder without attachment", "POST", "/api/v1/emit", { event: "x", args: [{ _placeholder: true, num: 0 }], attachments: [] }, {}, 400],
        ["placeholder past the attachments", "POST", "/api/v1/emit", { event: "x", args: [{ _placeholder: true, num: 1 }], attachments: ["AA=="] }, {}, 400],
        ["bad timeout", "POST", "/api/v1/emit", { event: "x", timeout_ms: -1 }, {}, 400],
        ["empty room", "POST", "/api/v1/join", { rooms: [""], join: ["a"] }, {}, 400],
        ["join nothing", "POST", "/api/v1/join", { join: [] }, {}, 400],
        ["array body", "POST", "/api/v1/leave", [1], {}, 400],
        ["body over 1 MiB", "POST", "/api/v1/emit", undefined, { raw: JSON.stringify({ event: "x", args: ["a".repeat(1 << 20)] }) }, 413],
        ["GET emit", "GET", "/api/v1/emit", undefined, {}, 405],
        ["POST sockets", "POST", "/api/v1/sockets", {}, {}, 405],
        ["unknown path", "GET", "/api/v1/nothing", undefined, {}, 404],
      ];
      for (const [name, method, path, body, opts, want] of cases) {
        const res = await api(nodes[0], method, path, body, opts);
        assert.equal(res.status, want, `${name}: ${JSON.stringify(res.json)}`);
        assert.match(res.headers.get("content-type") ?? "", /application\/json/, name);
        if (want !== 200) assert.equal(typeof res.json.error, "string", `${name}: ${JSON.stringify(res.json)}`);
        if (want === 405) assert.ok(res.headers.get("allow"), `${name}: no Allow header`);
      }
      assert.ok((await nodes[0].metric("sockgate_api_refused_total")) >= cases.length - 1);
    });
  });
});

describe("JWT and room policy", { skip: REFERENCE ? "a gateway feature" : false, timeout: 60_000 }, () => {
  const clients = new Clients();
  const secret = "jwt-test-secret";
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  let hs, rs, backend, dir, dead;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "sockgate-jwt-"));
    const pem = join(dir, "public.pem");
    await writeFile(pem, publicKey.export({ type: "spki", format: "pem" }));
    backend = await new Backend().start();
    [hs, rs, dead] = await Promise.all([
      startGateway({ args: ["-jwt-secret", secret, "-client-join", "none", "-client-broadcast=false", "-api-token", TOKEN] }),
      startGateway({ args: ["-jwt-public-key", pem, "-client-join", "chat:, team:", "-connect-url", `${backend.url}/connect`] }),
      startGateway({ args: ["-connect-url", `http://127.0.0.1:${await freePort()}/connect`] }),
    ]);
  });

  after(async () => {
    clients.closeAll();
    await Promise.allSettled([hs, rs, dead].map((s) => s?.stop()));
    await backend?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const open = (srv, opts) => clients.open(srv.url, { transports: ["websocket"], ...opts });

  it("HS256: a good token connects; sub is the user, the rooms claim is joined", async () => {
    const token = jwtHS256({ sub: "u1", exp: now() + 60, rooms: ["team:red"] }, secret);
    const s = await clients.connect(hs.url, { transports: ["websocket"], auth: { token } });
    const res = await api(new Node("go", hs), "GET", "/api/v1/sockets?room=team:red");
    assert.deepEqual(res.json.sockets.map((x) => [x.id, x.user]), [[s.id, "u1"]]);
    const rec = new Recorder(s, "message");
    assert.deepEqual(await ack(s, "message", "to my rooms"), [true], "a socket in rooms still sends to them");
    await rec.waitFor((m) => m[0] === "to my rooms");
  });

  it("HS256: the Authorization header carries a token too", async () => {
    const token = jwtHS256({ sub: "u2" }, secret);
    await clients.connect(hs.url, { transports: ["websocket"], extraHeaders: { authorization: `Bearer ${token}` } });
  });

  for (const [name, token] of [
    ["expired", () => jwtHS256({ sub: "u", exp: now() - 60 }, secret)],
    ["not valid yet", () => jwtHS256({ sub: "u", nbf: now() + 600 }, secret)],
    ["bad signature", () => jwtHS256({ sub: "u" }, "other-secret")],
    ["garbage", () => "abc.def.ghi"],
    ["missing", () => undefined],
  ]) {
    it(`HS256: ${name} token → connect_error "invalid token"`, async () => {
      const err = await connectError(open(hs, { auth: { token: token() } }));
      assert.equal(err.message, "invalid token");
    });
  }

  it("-client-join none and -client-broadcast=false", async () => {
    const s = await clients.connect(hs.url, { transports: ["websocket"], auth: { token: jwtHS256({ sub: "u3" }, secret) } });
    assert.deepEqual(await ack(s, "join", "anything"), [{ error: "join: not allowed" }]);
    assert.deepEqual(await ack(s, "leave", "anything"), [{ error: "leave: not allowed" }]);
    assert.deepEqual(await ack(s, "message", "to everyone"), [{ error: "message: not allowed" }]);
    // The API still places sockets in rooms.
    await api(new Node("go", hs), "POST", "/api/v1/join", { rooms: [s.id], join: ["granted"] });
    assert.deepEqual(await ack(s, "message", "to granted"), [true]);
  });

  it("RS256: good, expired and foreign-key tokens; claims reach the connect proxy", async () => {
    const token = jwtRS256({ sub: "r1", exp: now() + 60, role: "admin" }, privateKey);
    const s = await clients.connect(rs.url, { transports: ["websocket"], auth: { token } });
    const [req] = backend.of("/connect", (b) => b.sid === s.id);
    assert.equal(req.body.user, "r1");
    assert.equal(req.body.claims.role, "admin");
    assert.equal((await connectError(open(rs, { auth: { token: jwtRS256({ sub: "r1", exp: now() - 5 }, privateKey) } }))).message, "invalid token");
    assert.equal((await connectError(open(rs, { auth: { token: jwtRS256({ sub: "r1" }, other) } }))).message, "invalid token");
    assert.equal((await connectError(open(rs, { auth: { token: jwtHS256({ sub: "r1" }, secret) } }))).message, "invalid token");
    assert.equal(backend.of("/connect").length, 1, "a refused token reached the backend");
    // A namespace the backend accepts needs the token too.
    assert.equal((await connectError(clients.open(rs.url + "/dyn", { transports: ["websocket"], auth: {} }))).message, "invalid token");
    await clients.connect(rs.url + "/dyn", { transports: ["websocket"], auth: { token } });
  });

  it("-client-join with prefixes", async () => {
    const s = await clients.connect(rs.url, { transports: ["websocket"], auth: { token: jwtRS256({ sub: "r2" }, privateKey) } });
    assert.deepEqual(await ack(s, "join", "chat:general"), [true]);
    assert.deepEqual(await ack(s, "join", "team:blue"), [true]);
    assert.deepEqual(await ack(s, "join", "user:r1"), [{ error: "join: not allowed" }]);
    assert.deepEqual(await ack(s, "leave", "chat:general"), [true]);
  });

  it("a connect backend that is down fails closed", async () => {
    const err = await connectError(open(dead, {}));
    assert.equal(err.message, "backend unavailable");
    const n = new Node("go", dead);
    assert.ok((await n.metric("sockgate_proxy_failures_total")) >= 1);
    const res = await api(n, "GET", "/api/v1/sockets");
    assert.equal(res.status, 404, "the API is off without -api-token");
  });
});

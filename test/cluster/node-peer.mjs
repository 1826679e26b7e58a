// A Node.js socket.io 4 cluster node for the mixed-cluster tests: the
// official @socket.io/redis-adapter (createAdapter, or createShardedAdapter
// with -redis-sharded), or @socket.io/redis-streams-adapter with
// -redis-adapter streams, and the gateway's built-in events (join, leave,
// message, echo), so that it can sit in one cluster with sockgate nodes.
// -recovery <duration> (e.g. 30s) turns on connectionStateRecovery.
//
//   node test/cluster/node-peer.mjs -addr 127.0.0.1:4001 -redis-url redis://127.0.0.1:6379 \
//        [-redis-key socket.io] [-redis-sharded | -redis-adapter streams] [-recovery 30s]
//
// HTTP: /healthz (200), /readyz (200 once Redis was connected once),
// /readyz?verbose ({"cluster": "ok" while both Redis connections are ready,
// else "degraded: redis"}), and POST /control with one JSON command,
// answered with JSON. Buffers travel as {"$bin": base64} both ways.
//
//   {"cmd":"fetchSockets","rooms":[..],"except":[..]}  → [{id, rooms, handshake}]
//   {"cmd":"emit","rooms":[..],"except":[..],"args":[event, ...]} → {"ok":true}
//   {"cmd":"serverSideEmit","args":[event, ...]}       → {"ok":true}
//   {"cmd":"serverSideEmitWithAck","args":[event, ...]} → {"responses":[..]} or {"error", "responses"}
//   {"cmd":"serverSideReceived"}                       → [[event, ...args], ...] received so far
//   {"cmd":"socketsJoin"|"socketsLeave","rooms":[..],"room":r} → {"ok":true}
//   {"cmd":"disconnectSockets","rooms":[..],"close":bool} → {"ok":true}
//   {"cmd":"serverCount"}                              → {"count":n}
//
// Server-side events named "cluster-test" are recorded; when the sender
// wants an ack, this node answers {"from": <adapter uid>}.

import http from "node:http";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { Redis } from "ioredis";

// `node --test test/` runs every .mjs under test/ as a test file: without
// flags this is not a server start, so do nothing.
if (!process.argv.includes("-addr")) process.exit(0);

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const addr = flag("-addr", "127.0.0.1:3000");
const redisURL = flag("-redis-url", "");
const key = flag("-redis-key", "socket.io");
const sharded = process.argv.includes("-redis-sharded");
const streams = flag("-redis-adapter", "classic") === "streams";
const recoveryMs = durationMs(flag("-recovery", "0"));

// durationMs reads a Go-style duration of one unit: 500ms, 30s, 2m.
function durationMs(s) {
  const m = /^(\d+)(ms|s|m)?$/.exec(s);
  if (!m) throw new Error(`bad duration ${s}`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60000 }[m[2] ?? "ms"] ?? 1);
}
const sep = addr.lastIndexOf(":");
const host = addr.slice(0, sep) || "127.0.0.1";
const port = Number(addr.slice(sep + 1));

function badRoom(room) {
  if (typeof room !== "string") return "room must be a string";
  if (room === "") return "room must not be empty";
  if (Buffer.byteLength(room) > 128) return "room must be at most 128 bytes";
  return "";
}

function splitAck(args) {
  return typeof args.at(-1) === "function" ? [args.slice(0, -1), args.at(-1)] : [args, null];
}

// fromJSON turns {"$bin": base64} back into Buffers.
function fromJSON(v) {
  if (Array.isArray(v)) return v.map(fromJSON);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string" && Object.keys(v).length === 1) return Buffer.from(v.$bin, "base64");
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromJSON(x)]));
  }
  return v;
}

function toJSON(v) {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $bin: Buffer.from(v).toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (Array.isArray(v)) return v.map(toJSON);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJSON(x)]));
  return v;
}

let pub = null;
let sub = null;
let startedUp = false;
const received = [];

const httpServer = http.createServer((req, res) => {
  const reply = (code, body) => {
    res.writeHead(code, { "content-type": typeof body === "string" ? "text/plain" : "application/json" });
    res.end(typeof body === "string" ? body : JSON.stringify(toJSON(body)));
  };
  if (req.url === "/healthz") return reply(200, "ok\n");
  if (req.url === "/readyz" || req.url === "/readyz?verbose") {
    // As the gateway: once started, Redis is reported, not a readiness
    // condition (the harness waits for the first connection through it).
    const healthy = !redisURL || (pub?.status === "ready" && sub?.status === "ready");
    startedUp ||= healthy;
    if (req.url === "/readyz") return reply(startedUp ? 200 : 503, startedUp ? "ready\n" : "not ready: starting\n");
    return reply(200, { ready: true, cluster: healthy ? "ok" : "degraded: redis" });
  }
  if (req.url === "/control" && req.method === "POST") {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      let cmd;
      try {
        cmd = fromJSON(JSON.parse(body));
      } catch (err) {
        return reply(400, `bad JSON: ${err.message}\n`);
      }
      control(cmd).then(
        (out) => reply(200, out),
        (err) => reply(500, `${cmd.cmd}: ${err.stack ?? err}\n`),
      );
    });
    return;
  }
  if (!req.url.startsWith("/socket.io/")) reply(404, "not found\n");
});

const io = new Server(httpServer, {
  serveClient: false,
  allowEIO3: process.argv.includes("-allow-eio3"),
  ...(recoveryMs > 0 ? { connectionStateRecovery: { maxDisconnectionDuration: recoveryMs } } : {}),
});

if (redisURL) {
  pub = new Redis(redisURL, { lazyConnect: false });
  sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (err) => console.error("redis:", err.message));
  io.adapter(
    streams
      ? createStreamsAdapter(pub, { channelPrefix: key })
      : sharded
        ? createShardedAdapter(pub, sub, { channelPrefix: key })
        : createAdapter(pub, sub, { key, requestsTimeout: 2000 }),
  );
}

// target applies rooms/except to an operator.
function target(op, { rooms = [], except = [] }) {
  if (rooms.length > 0) op = op.to(rooms);
  if (except.length > 0) op = op.except(except);
  return op;
}

async function control(cmd) {
  switch (cmd.cmd) {
    case "fetchSockets": {
      const sockets = await target(io, cmd).fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), handshake: { address: s.handshake.address, query: s.handshake.query } }));
    }
    case "emit":
      target(io, cmd).emit(...cmd.args);
      return { ok: true };
    case "serverSideEmit":
      io.serverSideEmit(...cmd.args);
      return { ok: true };
    case "serverSideEmitWithAck":
      try {
        return { responses: await io.serverSideEmitWithAck(...cmd.args) };
      } catch (err) {
        return { error: err.message, responses: err.responses ?? [] };
      }
    case "serverSideReceived":
      return received;
    case "socketsJoin":
      target(io, cmd).socketsJoin(cmd.room);
      return { ok: true };
    case "socketsLeave":
      target(io, cmd).socketsLeave(cmd.room);
      return { ok: true };
    case "disconnectSockets":
      target(io, cmd).disconnectSockets(Boolean(cmd.close));
      return { ok: true };
    case "serverCount":
      return { count: await io.of("/").adapter.serverCount() };
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd.cmd)}`);
  }
}

io.of("/").on("cluster-test", (...raw) => {
  const [args, cb] = splitAck(raw);
  received.push(["cluster-test", ...args]);
  if (cb) cb({ from: io.of("/").adapter.uid ?? "node" });
});

io.on("connection", (socket) => {
  for (const verb of ["join", "leave"]) {
    socket.on(verb, (...raw) => {
      const [args, cb] = splitAck(raw);
      const why = badRoom(args[0]);
      if (why) return cb?.({ error: why });
      if (verb === "join") socket.join(args[0]);
      else socket.leave(args[0]);
      cb?.(true);
    });
  }
  socket.on("message", (...raw) => {
    const [args, cb] = splitAck(raw);
    const rooms = [...socket.rooms].filter((r) => r !== socket.id);
    (rooms.length > 0 ? io.to(rooms) : io).emit("message", ...args);
    cb?.(true);
  });
  socket.on("echo", (...raw) => {
    const [args, cb] = splitAck(raw);
    cb?.(...args);
  });
});

httpServer.listen(port, host, () => {
  console.error(`node-peer: listening on ${host}:${port}${redisURL ? ` redis ${redisURL} key ${key}${sharded ? " sharded" : ""}` : ""}`);
});

function shutdown() {
  io.close();
  pub?.disconnect();
  sub?.disconnect();
  setTimeout(() => process.exit(0), 300).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

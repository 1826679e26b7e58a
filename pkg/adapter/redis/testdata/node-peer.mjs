// node-peer.mjs: a Node.js socket.io 4 server on @socket.io/redis-adapter
// (or @socket.io/redis-streams-adapter), driven by the Go interop test
// through JSON lines.
//
// env: REDIS_URL, KEY, MODE (classic | sharded | streams), STREAM (streams)
// stdin:  {"id":N,"cmd":"...",...}  stdout: {"id":N,"result":...} or {"id":N,"error":"..."}
// events: {"event":"client","name":...,"args":[...]} when the test client receives an event,
//         {"event":"serverSideEmit","args":[...]} when the server gets one.
// Buffers are reported as {"buffer":"<hex>"}.
import http from "node:http";
import readline from "node:readline";
import { createRequire } from "node:module";
import path from "node:path";

const root = process.env.NODE_ROOT;
const require = createRequire(path.join(root, "package.json"));
const { Server } = require("socket.io");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { createAdapter: createStreamsAdapter } = require("@socket.io/redis-streams-adapter");
const { Emitter } = require("@socket.io/redis-emitter");
const { Redis } = require("ioredis");
const { io: ioc } = require("socket.io-client");

const key = process.env.KEY;
const sharded = process.env.MODE === "sharded";
const pub = new Redis(process.env.REDIS_URL);
// A subscriber must not run ioredis's ready check (INFO) once it has
// subscribed; connect it before the adapter subscribes.
const sub = new Redis(process.env.REDIS_URL, { enableReadyCheck: false });
const emitterClient = pub.duplicate();
await Promise.all([pub, sub, emitterClient].map((c) => (c.status === "ready" ? null : new Promise((r) => c.once("ready", r)))));

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const show = (v) => {
  if (Buffer.isBuffer(v)) return { buffer: v.toString("hex") };
  if (v instanceof ArrayBuffer) return { buffer: Buffer.from(v).toString("hex") };
  if (Array.isArray(v)) return v.map(show);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, show(x)]));
  return v;
};
const revive = (v) => {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    if (typeof v.buffer === "string") return Buffer.from(v.buffer, "hex");
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  }
  return v;
};

const httpServer = http.createServer();
const adapter =
  process.env.MODE === "streams"
    ? createStreamsAdapter(pub, { channelPrefix: key, streamName: process.env.STREAM })
    : sharded
      ? createShardedAdapter(pub, sub, { channelPrefix: key })
      : createAdapter(pub, sub, { key, requestsTimeout: 3000 });
const io = new Server(httpServer, { adapter });
io.on("serverSideEmit-probe", () => {});
io.on("ping-go", (...args) => {
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
  out({ event: "serverSideEmit", args: show(args) });
  if (ack) ack("pong-from-node");
});
io.on("connection", (socket) => {
  socket.join("room1");
});

await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
const port = httpServer.address().port;
const client = ioc(`http://127.0.0.1:${port}`, { transports: ["websocket"] });
client.onAny((name, ...args) => {
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
  out({ event: "client", name, args: show(args) });
  if (ack) ack("ack-from-node-client");
});
await new Promise((r) => client.on("connect", r));
// Wait until the adapter's subscriptions are active.
await new Promise((r) => setTimeout(r, 300));
out({ ready: true, sid: client.id });

const emitter = new Emitter(emitterClient, { key });

async function run(msg) {
  switch (msg.cmd) {
    case "emit": {
      let op = io;
      if (msg.room) op = op.to(msg.room);
      op.emit(msg.event, ...revive(msg.args));
      return true;
    }
    case "emitWithAck": {
      try {
        const res = await io.timeout(msg.timeout || 2000).emitWithAck(msg.event, ...revive(msg.args));
        return show(res);
      } catch (e) {
        return { error: String(e), responses: show(e.responses || null) };
      }
    }
    case "fetchSockets": {
      const sockets = await io.fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data, handshake: { url: s.handshake.url, issued: s.handshake.issued } }));
    }
    case "serverSideEmit":
      io.serverSideEmit(msg.event, ...revive(msg.args));
      return true;
    case "serverSideEmitWithAck": {
      try {
        return show(await io.serverSideEmitWithAck(msg.event, ...revive(msg.args)));
      } catch (e) {
        return { error: String(e) };
      }
    }
    case "socketsJoin":
      io.in(msg.target).socketsJoin(msg.room);
      return true;
    case "serverCount":
      return await io.of("/").adapter.serverCount();
    case "emitter": {
      let op = emitter;
      if (msg.room) op = op.to(msg.room);
      op.emit(msg.event, ...revive(msg.args));
      return true;
    }
    case "emitterServerSideEmit":
      emitter.serverSideEmit(msg.event, ...revive(msg.args));
      return true;
    case "quit":
      client.close();
      io.close();
      await Promise.all([pub.quit(), sub.quit(), emitterClient.quit()]).catch(() => {});
      setTimeout(() => process.exit(0), 50);
      return true;
  }
  throw new Error("unknown command " + msg.cmd);
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  try {
    out({ id: msg.id, result: await run(msg) });
  } catch (e) {
    out({ id: msg.id, error: String(e) });
  }
});
rl.on("close", () => process.exit(0));

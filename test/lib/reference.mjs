// Node's socket.io playing cmd/gateway or cmd/conformance, so that the test
// suites themselves can be checked against the reference implementation:
//
//   SOCKGATE_TEST_SERVER=node node --test test/
//
// Usage: node test/lib/reference.mjs gateway|conformance PORT
// Node's own limits differ in places (it overflows its stack on deeply
// nested JSON, for one), so a few hostile-input tests fail here by design.

import { createServer } from "node:http";
import { Server } from "socket.io";
import { Server as EngineServer } from "engine.io";

// `node --test test/` runs every .mjs file under test/, this one included.
if (process.env.NODE_TEST_CONTEXT) process.exit(0);

const [mode, port, ...flags] = process.argv.slice(2);
// The gateway flags the reference honours.
const allowEIO3 = flags.includes("-allow-eio3");
const maxPayloadAt = flags.indexOf("-max-payload");
const maxPayload = maxPayloadAt >= 0 ? Number(flags[maxPayloadAt + 1]) : 1_000_000;
const http = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200).end("ok");
    return;
  }
  if (!res.headersSent && !req.url.startsWith("/socket.io/") && !req.url.startsWith("/engine.io/")) {
    res.writeHead(404).end();
  }
});

function validRoom(room) {
  return typeof room === "string" && room.length > 0 && Buffer.byteLength(room) <= 128;
}

const servers = [];
if (mode === "gateway") {
  const io = new Server(http, { cors: { origin: "*" }, allowEIO3, maxHttpBufferSize: maxPayload });
  servers.push(io);
  io.on("connection", (socket) => {
    const roomEvent = (name, fn) =>
      socket.on(name, (room, cb) => {
        if (!validRoom(room)) {
          if (typeof cb === "function") cb({ error: "invalid room" });
          return;
        }
        fn(room);
        if (typeof cb === "function") cb(true);
      });
    roomEvent("join", (room) => socket.join(room));
    roomEvent("leave", (room) => socket.leave(room));
    socket.on("message", (...args) => {
      const cb = typeof args.at(-1) === "function" ? args.pop() : null;
      const rooms = [...socket.rooms].filter((r) => r !== socket.id);
      (rooms.length > 0 ? io.to(rooms) : io).emit("message", ...args);
      if (cb) cb(true);
    });
    socket.on("echo", (...args) => {
      const cb = typeof args.at(-1) === "function" ? args.pop() : null;
      if (cb) cb(...args);
    });
  });
} else if (mode === "conformance") {
  const io = new Server(http, {
    pingInterval: 300,
    pingTimeout: 200,
    maxHttpBufferSize: 1e6,
    connectTimeout: 1000,
    cors: { origin: "*" },
    allowEIO3,
  });
  servers.push(io);
  const onConnection = (socket) => {
    socket.emit("auth", socket.handshake.auth);
    socket.on("disconnect", (reason) => console.log(`disconnect nsp=${socket.nsp.name} id=${socket.id} reason="${reason}"`));
  };
  io.of("/").on("connection", (socket) => {
    onConnection(socket);
    socket.on("message", (...args) => socket.emit("message-back", ...args));
    socket.on("message-with-ack", (...args) => {
      const cb = args.pop();
      cb(...args);
    });
    socket.on("emit-with-ack", (...args) => {
      socket.timeout(2000).emit("emit-with-ack", ...args, (err, ...res) => {
        if (!err) socket.emit("emit-with-ack", ...res);
      });
    });
  });
  const custom = io.of("/custom");
  custom.use((socket, next) => {
    const reject = socket.handshake.auth?.reject;
    if (typeof reject !== "string") return next();
    const err = new Error(reject);
    err.data = { reason: "rejected by the test middleware" };
    next(err);
  });
  custom.on("connection", onConnection);

  const eio = new EngineServer({ pingInterval: 300, pingTimeout: 200, maxHttpBufferSize: 1e6, cors: { origin: "*" }, allowEIO3 });
  eio.attach(http, { path: "/engine.io/" });
  servers.push(eio); // closed on SIGTERM too, like cmd/conformance's
  eio.on("connection", (socket) => socket.on("message", (data) => socket.send(data)));
} else {
  console.error("usage: reference.mjs gateway|conformance PORT");
  process.exit(2);
}

http.listen(Number(port), "127.0.0.1");
// Like the gateway: a graceful close on SIGTERM.
process.on("SIGTERM", () => {
  for (const srv of servers) srv.close();
  setTimeout(() => process.exit(0), 200);
});

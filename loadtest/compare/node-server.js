// The reference cluster node for loadtest/compare: Node.js socket.io 4 with
// @socket.io/redis-adapter, serving the same built-in events as sockgate's
// gateway (join, leave, message, echo: see the README's "Built-in events").
//
//   node loadtest/compare/node-server.js -addr 127.0.0.1:4001 -redis-url redis://127.0.0.1:6390
//
// It also serves /healthz and a small /metrics page (resident memory, CPU
// seconds, connected sockets) so that loadgen reads both kinds of node alike.
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const Redis = require('ioredis');

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const addr = flag('-addr', process.env.SOCKGATE_ADDR || '127.0.0.1:3000');
const redisURL = flag('-redis-url', process.env.SOCKGATE_REDIS_URL || '');
const sep = addr.lastIndexOf(':');
const host = sep > 0 ? addr.slice(0, sep) : '127.0.0.1';
const port = Number(addr.slice(sep + 1));

const maxRoomBytes = 128;

// badRoom returns why room is not a valid room name, or '' when it is.
function badRoom(room) {
  if (typeof room !== 'string') return 'room must be a string';
  if (room === '') return 'room must not be empty';
  if (Buffer.byteLength(room) > maxRoomBytes) return `room must be at most ${maxRoomBytes} bytes`;
  return '';
}

// splitAck separates a trailing ack callback from event arguments.
function splitAck(args) {
  if (args.length > 0 && typeof args[args.length - 1] === 'function') {
    return [args.slice(0, -1), args[args.length - 1]];
  }
  return [args, null];
}

const httpServer = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  if (req.url === '/metrics') {
    const cpu = process.cpuUsage();
    const lines = [
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${process.memoryUsage.rss()}`,
      '# TYPE process_cpu_seconds_total counter',
      `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
      '# TYPE nodejs_socketio_sockets gauge',
      `nodejs_socketio_sockets ${io.of('/').sockets.size}`,
      '',
    ];
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(lines.join('\n'));
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer, { serveClient: false });

if (redisURL) {
  const pub = new Redis(redisURL);
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on('error', (err) => console.error('redis:', err.message));
  io.adapter(createAdapter(pub, sub));
}

io.on('connection', (socket) => {
  for (const verb of ['join', 'leave']) {
    socket.on(verb, (...raw) => {
      const [args, ack] = splitAck(raw);
      const why = badRoom(args[0]);
      if (why) {
        if (ack) ack({ error: why });
        return;
      }
      if (verb === 'join') socket.join(args[0]);
      else socket.leave(args[0]);
      if (ack) ack(true);
    });
  }
  socket.on('message', (...raw) => {
    const [args, ack] = splitAck(raw);
    const rooms = [...socket.rooms].filter((r) => r !== socket.id);
    if (rooms.length > 0) io.to(rooms).emit('message', ...args);
    else io.emit('message', ...args);
    if (ack) ack(true);
  });
  socket.on('echo', (...raw) => {
    const [args, ack] = splitAck(raw);
    if (ack) ack(...args);
  });
});

httpServer.listen(port, host, () => {
  console.error(`node-server: listening on ${host}:${port}${redisURL ? ' with redis ' + redisURL : ''}`);
});

function shutdown() {
  io.close();
  httpServer.close();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

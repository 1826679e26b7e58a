// A witness of a gateway's broadcasts, in a process of its own so that the
// test's own work cannot delay it: a publisher sends a numbered message to
// room "witness" every PERIOD ms, a receiver in the room records how late
// each one arrives and the longest gap between arrivals that the
// publisher's own delay does not explain.
//
//   node test/lib/witness.mjs <gateway url>
//
// It prints "ready" once messages flow; on "stop" (a line on stdin) it stops
// publishing, waits for the messages in flight (at most 5 s) and prints one
// JSON line {sent, received, worstLatencyMs, worstGapMs, connected}.

import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const url = process.argv[2];
if (!url) process.exit(0); // not a test file

const PERIOD = 50;
const opts = { transports: ["websocket"], reconnection: false, forceNew: true };
const rx = io(url, opts);
const tx = io(url, opts);
const ackJoin = (s) => new Promise((resolve) => s.emit("join", "witness", resolve));
await Promise.all([rx, tx].map((s) => new Promise((resolve) => s.once("connect", resolve))));
await Promise.all([ackJoin(rx), ackJoin(tx)]);

// A gap counts what the publisher's own lateness does not explain: when
// this process stalls (a loaded machine), the next message leaves late
// and arrives late, and that is not the server's doing.
let sent = 0, received = 0, worstLatency = 0, worstGap = 0, last = 0, lastSent = 0;
rx.on("message", (tag, seq, sentAt) => {
  if (tag !== "witness") return;
  const now = Date.now();
  received++;
  worstLatency = Math.max(worstLatency, now - sentAt);
  if (last && received > 3) {
    const late = Math.max(0, sentAt - lastSent - PERIOD); // the publisher's delay
    worstGap = Math.max(worstGap, now - last - late);
  }
  last = now;
  lastSent = sentAt;
});
const timer = setInterval(() => tx.emit("message", "witness", sent++, Date.now()), PERIOD);
const ready = setInterval(() => {
  if (received >= 3) {
    clearInterval(ready);
    process.stdout.write("ready\n");
  }
}, 10);

createInterface({ input: process.stdin }).once("line", async () => {
  clearInterval(timer);
  const deadline = Date.now() + 5000;
  while (received < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const connected = rx.connected && tx.connected;
  process.stdout.write(JSON.stringify({ sent, received, worstLatencyMs: worstLatency, worstGapMs: worstGap, connected }) + "\n");
  rx.disconnect();
  tx.disconnect();
  process.exit(0);
});

// Raw Engine.IO / Socket.IO access for protocol-level checks: a WebSocket
// whose frames queue up until a test asks for them, and polling requests.
//
// `ws` is not a direct dependency: it comes with socket.io-client
// (engine.io-client) and socket.io (engine.io), pinned by package-lock.json.

import WebSocket from "ws";
import { withTimeout } from "./harness.mjs";

export { WebSocket };

// RawSocket queues every frame it receives: text frames as strings, binary
// frames as Buffers.
export class RawSocket {
  constructor(url, { protocols, headers } = {}) {
    this.ws = new WebSocket(url, protocols, { headers });
    this.queue = [];
    this.waiters = [];
    this.closeInfo = null;
    this.error = null;
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("error", reject);
    });
    this.opened.catch(() => {});
    this.ws.on("message", (data, isBinary) => {
      this.queue.push(isBinary ? Buffer.from(data) : data.toString("utf8"));
      this.#wake();
    });
    this.ws.on("error", (err) => {
      this.error = err;
    });
    this.closed = new Promise((resolve) => {
      this.ws.once("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        this.#wake();
        resolve(this.closeInfo);
      });
    });
  }

  #wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  // next returns the next frame; with skipPings, Engine.IO pings ("2") are
  // answered with a pong and skipped. It rejects if the socket closes first.
  async next(ms = 3000, { skipPings = true } = {}) {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.queue.length > 0) {
        const frame = this.queue.shift();
        if (skipPings && frame === "2") {
          this.send("3");
          continue;
        }
        return frame;
      }
      if (this.closeInfo) throw new Error(`socket closed (${this.closeInfo.code}) while waiting for a frame`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout after ${ms} ms waiting for a frame`);
      await withTimeout(new Promise((r) => this.waiters.push(r)), left, "a frame").catch(() => {});
    }
  }

  // nextMatching skips frames until one satisfies pred.
  async nextMatching(pred, ms = 3000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const frame = await this.next(Math.max(1, deadline - Date.now()));
      if (pred(frame)) return frame;
    }
  }

  send(data, opts) {
    this.ws.send(data, opts);
  }

  // sendTextBytes sends buf as a text frame, unchecked (e.g. invalid UTF-8).
  sendTextBytes(buf) {
    this.ws.send(buf, { binary: false });
  }

  waitClose(ms = 3000) {
    return withTimeout(this.closed, ms, "the server to close the websocket");
  }

  close() {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      this.ws.terminate();
    }
  }
}

// openEngine opens a websocket Engine.IO session and returns it with the
// parsed open packet.
export async function openEngine(wsBase, path = "/socket.io/") {
  const s = new RawSocket(`${wsBase}${path}?EIO=4&transport=websocket`);
  const first = await s.next(3000, { skipPings: false });
  if (typeof first !== "string" || first[0] !== "0") {
    s.close();
    throw new Error(`expected an open packet, got ${JSON.stringify(first)}`);
  }
  return { socket: s, open: JSON.parse(first.slice(1)) };
}

// openSocketIO opens a websocket session and connects to namespace "/";
// it returns the socket and the CONNECT payload the server sent.
export async function openSocketIO(wsBase, { nsp = "/", auth } = {}) {
  const { socket } = await openEngine(wsBase);
  const prefix = nsp === "/" ? "" : nsp + ",";
  socket.send("40" + prefix + (auth ? JSON.stringify(auth) : ""));
  const reply = await socket.next();
  if (!reply.startsWith("40" + prefix)) {
    socket.close();
    throw new Error(`expected a CONNECT reply, got ${JSON.stringify(reply)}`);
  }
  return { socket, connect: JSON.parse(reply.slice(2 + prefix.length)) };
}

// poll performs one polling request with a deadline.
export async function poll(base, path, { sid, method = "GET", body, ms = 3000, query = "" } = {}) {
  let url = `${base}${path}?EIO=4&transport=polling${query}`;
  if (sid) url += `&sid=${encodeURIComponent(sid)}`;
  const res = await fetch(url, { method, body, signal: AbortSignal.timeout(ms) });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

// openPolling performs a polling handshake and returns the sid.
export async function openPolling(base, path = "/socket.io/") {
  const { status, text } = await poll(base, path);
  if (status !== 200 || text[0] !== "0") throw new Error(`polling handshake failed: ${status} ${text}`);
  return JSON.parse(text.slice(1)).sid;
}

// RoundRobin is a load balancer without stickiness for the forwarding
// tests: every HTTP request, and every websocket upgrade, goes to the next
// node in turn, on a new connection (no keep-alive reuse across requests,
// let alone across nodes). A node that refuses the connection is skipped,
// as a load balancer's health check would; a node that fails once it has
// the request makes the client's request fail (502, or a closed socket),
// as behind any load balancer losing a backend.
//
// It records, per node, the requests it sent there, and the session ids of
// the requests that failed there.

import http from "node:http";
import net from "node:net";

export class RoundRobin {
  // targets: the nodes' ports.
  constructor(ports) {
    this.ports = ports;
    this.turn = 0;
    this.sent = ports.map(() => 0);
    this.failed = ports.map(() => new Set()); // sids whose request broke there
    this.sockets = new Set();
    this.server = http.createServer((req, res) => this.#request(req, res));
    this.server.on("upgrade", (req, socket, head) => this.#upgrade(req, socket, head));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = this.server.address().port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  #next() {
    const i = this.turn++ % this.ports.length;
    return i;
  }

  #request(req, res) {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => this.#send(req, res, Buffer.concat(chunks), 0));
    req.on("error", () => res.destroy());
  }

  #send(req, res, body, attempt) {
    const i = this.#next();
    const headers = { ...req.headers };
    delete headers.connection;
    delete headers["keep-alive"];
    let connected = false;
    const up = http.request(
      { host: "127.0.0.1", port: this.ports[i], method: req.method, path: req.url, headers, agent: false },
      (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
        ur.on("error", () => {
          this.failed[i].add(sidOf(req.url));
          res.destroy();
        });
      },
    );
    up.on("socket", (s) => s.once("connect", () => (connected = true)));
    up.on("error", () => {
      if (!connected && attempt < this.ports.length) return this.#send(req, res, body, attempt + 1);
      this.failed[i].add(sidOf(req.url));
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end("bad gateway");
      else res.destroy();
    });
    res.on("close", () => up.destroy());
    this.sent[i]++;
    up.end(body);
  }

  #upgrade(req, socket, head, attempt = 0) {
    const i = this.#next();
    const up = net.connect(this.ports[i], "127.0.0.1");
    let connected = false;
    up.once("connect", () => {
      connected = true;
      this.sent[i]++;
      let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let k = 0; k < req.rawHeaders.length; k += 2) text += `${req.rawHeaders[k]}: ${req.rawHeaders[k + 1]}\r\n`;
      up.write(text + "\r\n");
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on("error", () => {
      if (!connected && attempt < this.ports.length) return this.#upgrade(req, socket, head, attempt + 1);
      socket.destroy();
    });
    up.on("close", () => {
      if (connected && !socket.destroyed) this.failed[i].add(sidOf(req.url));
      socket.destroy();
    });
    socket.on("error", () => up.destroy());
    socket.on("close", () => up.destroy());
  }
}

function sidOf(url) {
  return new URL(url, "http://x").searchParams.get("sid") ?? "";
}

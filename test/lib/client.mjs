// Helpers around the official socket.io-client: connect with a deadline,
// collect events, and clean up every client a test opened.

import { io } from "socket.io-client";
import ioV2 from "socket.io-client-v2";
import { withTimeout, waitUntil } from "./harness.mjs";

export { io };

// Clients tracks the sockets a test opens so that `after` can close them all.
export class Clients {
  constructor() {
    this.all = [];
  }

  // connect resolves once the socket is connected; it rejects with the
  // connect_error (or a timeout) otherwise. Reconnection is off unless asked.
  async connect(url, opts = {}, ms = 5000) {
    const socket = this.open(url, opts);
    await connected(socket, ms);
    return socket;
  }

  // open creates a socket without waiting.
  open(url, opts = {}) {
    const socket = io(url, { reconnection: false, forceNew: true, timeout: 4000, ...opts });
    this.all.push(socket);
    return socket;
  }

  closeAll() {
    for (const s of this.all.splice(0)) s.disconnect();
  }
}

export function connected(socket, ms = 5000) {
  if (socket.connected) return Promise.resolve();
  let onConnect, onError;
  const p = new Promise((resolve, reject) => {
    onConnect = () => resolve();
    onError = (err) => reject(err);
    socket.once("connect", onConnect);
    socket.once("connect_error", onError);
  });
  return withTimeout(p, ms, "socket.io connect").finally(() => {
    socket.off("connect", onConnect);
    socket.off("connect_error", onError);
  });
}

// connectError resolves with the connect_error of a socket that must be refused.
export function connectError(socket, ms = 5000) {
  let onConnect, onError;
  const p = new Promise((resolve, reject) => {
    onConnect = () => reject(new Error("connected, but a connect_error was expected"));
    onError = (err) => resolve(err);
    socket.once("connect", onConnect);
    socket.once("connect_error", onError);
  });
  return withTimeout(p, ms, "socket.io connect_error").finally(() => {
    socket.off("connect", onConnect);
    socket.off("connect_error", onError);
  });
}

// cutTransport closes a socket's Engine.IO connection without a DISCONNECT
// packet, as a network failure would: the server sees "transport close" and
// the client reconnects (if reconnection is on), to url when given (another
// node of a cluster) with the pid and offset of connection state recovery.
export function cutTransport(socket, url) {
  if (url) socket.io.uri = url;
  socket.io.engine.close();
}

// ack emits an event and resolves with the ack's arguments (as an array).
export function ack(socket, event, ...args) {
  return withTimeout(
    new Promise((resolve) => socket.emit(event, ...args, (...res) => resolve(res))),
    5000,
    `ack of "${event}"`,
  );
}

// Recorder keeps every `event` a socket receives (the arguments array).
export class Recorder {
  constructor(socket, event) {
    this.items = [];
    socket.on(event, (...args) => this.items.push(args));
  }

  // waitFor resolves with the first recorded item matching pred.
  async waitFor(pred = () => true, ms = 5000, what = "an event") {
    let found;
    await waitUntil(() => (found = this.items.find(pred)) !== undefined, ms, what);
    return found;
  }
}

// LegacyClients opens socket.io-client 2.x sockets and closes them all.
export class LegacyClients {
  constructor() {
    this.all = [];
  }

  open(url, opts = {}) {
    const socket = ioV2(url, { reconnection: false, forceNew: true, timeout: 4000, ...opts });
    this.all.push(socket);
    return socket;
  }

  // connect resolves once connected; rejects on connect_error, error or timeout.
  async connect(url, opts = {}, ms = 5000) {
    const socket = this.open(url, opts);
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", reject);
        socket.once("error", reject);
      }),
      ms,
      "socket.io-client 2 connect",
    );
    return socket;
  }

  closeAll() {
    for (const s of this.all.splice(0)) s.close();
  }
}

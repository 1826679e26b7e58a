// A minimal Socket.IO v5 / Engine.IO v4 client over one websocket, for k6.
//
// It depends on nothing but a WHATWG-style WebSocket constructor (k6's
// `k6/websockets` WebSocket, or any other passed in) and the global timers
// (setTimeout/clearTimeout: global in k6, and in Node), so the same file runs
// under k6 and under Node for the protocol check (check-protocol.mjs).
//
// Wire format (Engine.IO v4 over websocket, one packet per text frame):
//   "0{...}" open (server)   "2" ping (server)  -> answer "3" pong
//   "1" close                "4<socket.io packet>" message
// Socket.IO v5 packet: <type>[<attachments>-][<nsp>,][<ack id>][<JSON>]
//   "40" CONNECT "/"          "40{"sid":...}" its answer
//   "42["event",arg]"         "4213["event",arg]" with ack id 13
//   "4313[arg]" ACK of id 13   "44{"message":...}" CONNECT_ERROR

export const EIO = { OPEN: '0', CLOSE: '1', PING: '2', PONG: '3', MESSAGE: '4', UPGRADE: '5', NOOP: '6' };
export const SIO = { CONNECT: 0, DISCONNECT: 1, EVENT: 2, ACK: 3, CONNECT_ERROR: 4, BINARY_EVENT: 5, BINARY_ACK: 6 };

// socketURL turns ws://host:port (or http://) into the Engine.IO websocket URL.
export function socketURL(target, path) {
  let base = String(target).replace(/\/+$/, '');
  base = base.replace(/^http:/, 'ws:').replace(/^https:/, 'wss:');
  if (!/^wss?:\/\//.test(base)) base = 'ws://' + base;
  return base + (path || '/socket.io/') + '?EIO=4&transport=websocket';
}

// encodePacket returns the text frame of a Socket.IO packet inside an
// Engine.IO message. data is a JS value (JSON-encoded here) or undefined.
export function encodePacket(p) {
  let s = EIO.MESSAGE + String(p.type);
  if (p.nsp && p.nsp !== '/') s += p.nsp + ',';
  if (p.id !== undefined && p.id !== null) s += String(p.id);
  if (p.data !== undefined) s += JSON.stringify(p.data);
  return s;
}

// encodeEvent returns the frame of EVENT [name, ...args], with an ack id
// when id is a number.
export function encodeEvent(name, args, id, nsp) {
  return encodePacket({ type: SIO.EVENT, nsp: nsp, id: id, data: [name].concat(args || []) });
}

// decodeFrame decodes one text frame. It returns {eio, data} for Engine.IO
// packets, and {eio: '4', packet: {type, nsp, id, data}} for messages; it
// throws on malformed input.
export function decodeFrame(text) {
  if (typeof text !== 'string' || text.length === 0) throw new Error('empty frame');
  const eio = text.charAt(0);
  if (eio !== EIO.MESSAGE) return { eio: eio, data: text.slice(1) };
  return { eio: eio, packet: decodePacket(text.slice(1)) };
}

function isDigit(c) {
  return c >= '0' && c <= '9';
}

// decodePacket decodes the text of a Socket.IO packet.
export function decodePacket(s) {
  const type = Number(s.charAt(0));
  if (!(type >= 0 && type <= 6) || !isDigit(s.charAt(0))) throw new Error('unknown packet type ' + s.charAt(0));
  let i = 1;
  let attachments = 0;
  if (type === SIO.BINARY_EVENT || type === SIO.BINARY_ACK) {
    const dash = s.indexOf('-', i);
    if (dash < 0) throw new Error('malformed attachment count');
    attachments = Number(s.slice(i, dash));
    i = dash + 1;
  }
  let nsp = '/';
  if (s.charAt(i) === '/') {
    const comma = s.indexOf(',', i);
    const end = comma < 0 ? s.length : comma;
    nsp = s.slice(i, end);
    i = comma < 0 ? end : end + 1;
  }
  let id;
  const idStart = i;
  while (i < s.length && isDigit(s.charAt(i))) i++;
  if (i > idStart) id = Number(s.slice(idStart, i));
  const data = i < s.length ? JSON.parse(s.slice(i)) : undefined;
  return { type: type, nsp: nsp, id: id, data: data, attachments: attachments };
}

// connect opens a Socket.IO connection to namespace "/" (or opts.nsp).
//
// opts: { WebSocket (required), path, nsp, auth, connectTimeoutMs (5000),
//         onConnect(client), onConnectError(err), onEvent(name, args),
//         onClose(), onError(err) }
// Pings are answered automatically. Callbacks run on the event loop.
export function connect(target, opts) {
  return new SocketIOClient(target, opts);
}

export class SocketIOClient {
  constructor(target, opts) {
    this.opts = opts;
    this.nsp = opts.nsp || '/';
    this.connected = false;
    this.closed = false;
    this.nextId = 0;
    this.acks = {}; // id -> {cb, timer}
    this.sid = '';
    this.pings = 0;
    this.startedAt = Date.now();
    const ws = new opts.WebSocket(socketURL(target, opts.path));
    this.ws = ws;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (!this.connected) this.fail(new Error('connect timeout'));
    }, opts.connectTimeoutMs || 5000);
    ws.addEventListener('message', (e) => this.onFrame(e.data));
    ws.addEventListener('error', (e) => this.fail(new Error('websocket error: ' + errorText(e))));
    ws.addEventListener('close', () => this.onClosed());
  }

  onFrame(text) {
    let f;
    try {
      f = decodeFrame(text);
    } catch (err) {
      this.fail(err);
      return;
    }
    switch (f.eio) {
      case EIO.OPEN: {
        const open = JSON.parse(f.data);
        this.sid = open.sid;
        this.pingInterval = open.pingInterval;
        this.ws.send(encodePacket({ type: SIO.CONNECT, nsp: this.nsp, data: this.opts.auth }));
        return;
      }
      case EIO.PING:
        this.pings++;
        this.ws.send(EIO.PONG);
        return;
      case EIO.CLOSE:
        this.close();
        return;
      case EIO.MESSAGE:
        this.onPacket(f.packet);
        return;
      default:
        return; // noop and anything else
    }
  }

  onPacket(p) {
    if (p.nsp !== this.nsp) return;
    switch (p.type) {
      case SIO.CONNECT:
        this.connected = true;
        this.connectMs = Date.now() - this.startedAt;
        this.clearConnectTimer();
        if (this.opts.onConnect) this.opts.onConnect(this);
        return;
      case SIO.CONNECT_ERROR:
        this.clearConnectTimer();
        this.fail(new Error('connect_error: ' + JSON.stringify(p.data)));
        return;
      case SIO.EVENT:
        if (this.opts.onEvent && Array.isArray(p.data)) this.opts.onEvent(p.data[0], p.data.slice(1));
        return;
      case SIO.ACK: {
        const pending = this.acks[p.id];
        if (!pending) return;
        delete this.acks[p.id];
        clearTimeout(pending.timer);
        pending.cb(null, p.data || []);
        return;
      }
      case SIO.DISCONNECT:
        this.close();
        return;
      default:
        return; // binary packets are not used by these scripts
    }
  }

  // emit sends event name with args (no ack).
  emit(name, ...args) {
    if (this.closed) return false;
    this.ws.send(encodeEvent(name, args, undefined, this.nsp));
    return true;
  }

  // emitWithAck sends event name with args and calls cb(err, ackArgs) once:
  // with the ack's arguments, or an error after timeoutMs or on close.
  emitWithAck(name, args, timeoutMs, cb) {
    if (this.closed) {
      cb(new Error('closed'));
      return;
    }
    const id = this.nextId++;
    const timer = setTimeout(() => {
      if (this.acks[id]) {
        delete this.acks[id];
        cb(new Error('ack timeout'));
      }
    }, timeoutMs);
    this.acks[id] = { cb: cb, timer: timer };
    this.ws.send(encodeEvent(name, args, id, this.nsp));
  }

  clearConnectTimer() {
    if (this.connectTimer !== null) {
      clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
  }

  fail(err) {
    if (this.closed) return;
    if (this.opts.onError) this.opts.onError(err);
    this.close();
  }

  // close sends DISCONNECT, closes the websocket and fails pending acks.
  close() {
    if (this.closed) return;
    this.closed = true;
    this.clearConnectTimer();
    try {
      if (this.connected) this.ws.send(encodePacket({ type: SIO.DISCONNECT, nsp: this.nsp }));
    } catch (e) {
      // the socket may already be closing
    }
    this.ws.close();
    this.failAcks();
  }

  failAcks() {
    const pending = this.acks;
    this.acks = {};
    for (const id of Object.keys(pending)) {
      clearTimeout(pending[id].timer);
      pending[id].cb(new Error('closed'));
    }
  }

  onClosed() {
    const wasClosed = this.closed;
    this.closed = true;
    this.clearConnectTimer();
    this.failAcks();
    if (!wasClosed && this.opts.onError) this.opts.onError(new Error('closed by the server'));
    if (this.opts.onClose) this.opts.onClose();
  }
}

function errorText(e) {
  if (!e) return 'unknown';
  if (e.error) return String(e.error);
  if (e.message) return String(e.message);
  return String(e);
}

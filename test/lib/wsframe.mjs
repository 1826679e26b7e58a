// A WebSocket client at the frame level (RFC 6455), for tests that must send
// what no well-behaved client library sends (bad opcodes, unmasked frames,
// reserved bits, non-minimal lengths, broken UTF-8) and see exactly what a
// server answers: every frame it writes is parsed here and checked against
// the rules a server frame must follow.
//
//   const c = await RawWebSocket.open(port, "/engine.io/?EIO=4&transport=websocket");
//   c.write(frame({ opcode: OP.TEXT, payload: "4hello", fin: false }));
//   c.write(frame({ opcode: OP.CONT, payload: " world" }));
//   await c.waitFor((e) => e.type === "text");
//   c.log  // [{ type: "text", data: "4hello world", ... }, ...]

import { connect } from "node:net";
import { randomBytes, createHash } from "node:crypto";
import { withTimeout } from "./harness.mjs";

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

function toBuffer(p) {
  if (p === undefined) return Buffer.alloc(0);
  return Buffer.isBuffer(p) ? p : Buffer.from(p);
}

// frame encodes one client frame.
//   opcode   0..15, any value
//   payload  Buffer or string
//   fin      default true
//   rsv      the three reserved bits as a number 0..7 (RSV1 = 4)
//   mask     default true; maskKey: a 4-byte Buffer, random by default
//   length   "minimal" (default), 7, 16 or 64: the length field to use;
//            16 and 64 may be non-minimal encodings
//   declared a length to write instead of the payload's (header lies)
export function frame({ opcode, payload, fin = true, rsv = 0, mask = true, maskKey, length = "minimal", declared } = {}) {
  const data = toBuffer(payload);
  const n = declared ?? data.length;
  let form = length;
  if (form === "minimal") form = n <= 125 ? 7 : n <= 0xffff ? 16 : 64;
  const head = [((fin ? 1 : 0) << 7) | ((rsv & 7) << 4) | (opcode & 0xf)];
  const m = mask ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (form === 7) {
    if (n > 125) throw new Error(`length ${n} does not fit 7 bits`);
    head.push(m | n);
  } else if (form === 16) {
    if (n > 0xffff) throw new Error(`length ${n} does not fit 16 bits`);
    head.push(m | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(n);
  } else if (form === 64) {
    head.push(m | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(n));
  } else {
    throw new Error(`unknown length form ${length}`);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, data]);
  const key = maskKey ?? randomBytes(4);
  const body = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

// closePayload builds a close frame's payload: a 2-byte code and a reason.
export function closePayload(code, reason = "") {
  const r = toBuffer(reason);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code);
  r.copy(b, 2);
  return b;
}

// FrameParser splits a byte stream into frames as they complete.
export class FrameParser {
  // unmask false leaves masked payloads as they are (cheaper, when only the
  // frame structure matters).
  constructor({ unmask = true } = {}) {
    this.chunks = [];
    this.size = 0;
    this.unmask = unmask;
  }

  #take(n) {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.size = all.length - n;
    return all.subarray(0, n);
  }

  #peek(n) {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, n);
  }

  // push adds bytes and returns the frames they complete.
  push(buf) {
    this.chunks.push(buf);
    this.size += buf.length;
    const out = [];
    for (;;) {
      if (this.size < 2) return out;
      const h = this.#peek(Math.min(this.size, 14));
      const masked = (h[1] & 0x80) !== 0;
      const len7 = h[1] & 0x7f;
      const extLen = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      const headLen = 2 + extLen + (masked ? 4 : 0);
      if (this.size < headLen) return out;
      let length = len7;
      if (extLen === 2) length = h.readUInt16BE(2);
      if (extLen === 8) {
        const big = h.readBigUInt64BE(2);
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`server frame length ${big}`);
        length = Number(big);
      }
      if (this.size < headLen + length) return out;
      const bytes = this.#take(headLen + length);
      const header = Buffer.from(bytes.subarray(0, headLen));
      let payload = Buffer.from(bytes.subarray(headLen));
      if (masked && this.unmask) {
        const key = header.subarray(headLen - 4);
        for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      }
      out.push({
        fin: (h[0] & 0x80) !== 0,
        rsv: (h[0] >> 4) & 7,
        opcode: h[0] & 0xf,
        masked,
        extLen,
        length,
        header,
        payload,
        minimal: length <= 125 ? extLen === 0 : length <= 0xffff ? extLen === 2 : extLen === 8,
      });
    }
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
function validUTF8(buf) {
  try {
    utf8.decode(buf);
    return true;
  } catch {
    return false;
  }
}

// summary is how a payload appears in a log: small ones in full, large ones
// by length and digest, so that logs stay comparable and printable.
export function summary(buf, text) {
  if (buf.length <= 200) return text ? buf.toString("utf8") : buf.toString("hex");
  return `${buf.length} bytes sha1:${createHash("sha1").update(buf).digest("hex")}`;
}

// RawWebSocket is one client connection. What the server does lands in
// log, in order:
//   { type: "text" | "binary", data, length, headers }  a whole data message
//     (data: the payload, or its summary when large; headers: the hex of
//     each frame's header)
//   { type: "ping" | "pong", data }      a control frame (payload in hex)
//   { type: "close", code, reason }       a close frame (code null: empty)
//   { type: "end" }                       the server ended the connection
// Whatever breaks the rules for server frames (masked, reserved bits set,
// non-minimal length, oversized or fragmented control frame, unknown
// opcode, fragmented data message, bad UTF-8, anything after a close frame)
// is added to violations.
export class RawWebSocket {
  constructor(sock) {
    this.sock = sock;
    this.parser = new FrameParser();
    this.log = [];
    this.violations = [];
    this.frames = 0;
    this.closeReceived = false;
    this.closeSent = false;
    this.ended = false;
    this.partial = null; // a fragmented data message being reassembled
    // What the client wrote, parsed back: whether it stands between
    // messages, where a new message may start (see idle).
    this.sent = new FrameParser({ unmask: false });
    this.sentOpen = false; // a fragmented message is unfinished
    this.sentBroken = false; // it wrote what does not parse as frames
    this.waiters = [];
    // onMessage(entry, raw): a hook for each data message (Engine.IO pings);
    // onIdle(): after each write that leaves the client idle.
    this.onMessage = null;
    this.onIdle = null;
  }

  // open connects to 127.0.0.1:port and completes the opening handshake.
  static async open(port, path, { ms = 3000 } = {}) {
    const key = randomBytes(16).toString("base64");
    const sock = connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    const c = new RawWebSocket(sock);
    const head = await withTimeout(
      new Promise((resolve, reject) => {
        let buf = Buffer.alloc(0);
        const onData = (chunk) => {
          buf = Buffer.concat([buf, chunk]);
          const end = buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          sock.pause(); // frames that follow wait for the frame reader
          sock.off("data", onData);
          sock.off("error", reject);
          resolve({ text: buf.subarray(0, end).toString("latin1"), rest: buf.subarray(end + 4) });
        };
        sock.on("data", onData);
        sock.once("error", reject);
        sock.once("connect", () => {
          sock.write(
            `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          );
        });
      }),
      ms,
      "the websocket handshake",
    ).catch((err) => {
      sock.destroy();
      throw err;
    });
    const lines = head.text.split("\r\n");
    const headers = new Map(
      lines.slice(1).map((l) => {
        const i = l.indexOf(":");
        return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
      }),
    );
    const want = createHash("sha1").update(key + GUID).digest("base64");
    if (!/^HTTP\/1\.1 101 /.test(lines[0]) || headers.get("sec-websocket-accept") !== want) {
      sock.destroy();
      throw new Error(`bad handshake response:\n${head.text}`);
    }
    if (headers.has("sec-websocket-extensions")) c.violations.push(`extension negotiated unasked: ${headers.get("sec-websocket-extensions")}`);
    sock.on("data", (chunk) => c.#onData(chunk));
    sock.on("error", () => {}); // a reset ends the connection like an end
    const ended = () => {
      if (c.ended) return;
      c.ended = true;
      c.#record({ type: "end" });
    };
    sock.on("end", ended);
    sock.on("close", ended);
    if (head.rest.length > 0) c.#onData(head.rest);
    sock.resume();
    return c;
  }

  #record(entry) {
    this.log.push(entry);
    for (const w of this.waiters.splice(0)) w();
  }

  #onData(chunk) {
    let frames;
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      this.violations.push(String(err.message));
      this.sock.destroy();
      return;
    }
    for (const f of frames) this.#onFrame(f);
  }

  #onFrame(f) {
    this.frames++;
    const where = `frame ${this.frames} (opcode ${f.opcode})`;
    if (this.closeReceived) this.violations.push(`${where} after the close frame`);
    if (f.masked) this.violations.push(`${where} is masked`);
    if (f.rsv !== 0) this.violations.push(`${where} has reserved bits ${f.rsv}`);
    if (!f.minimal) this.violations.push(`${where}: length ${f.length} in a ${f.extLen}-byte extended field`);
    if (f.opcode >= 8) {
      if (!f.fin) this.violations.push(`${where}: fragmented control frame`);
      if (f.length > 125) this.violations.push(`${where}: control frame of ${f.length} bytes`);
    }
    switch (f.opcode) {
      case OP.TEXT:
      case OP.BINARY:
        if (this.partial) this.violations.push(`${where}: new message inside a fragmented one`);
        this.partial = { opcode: f.opcode, parts: [f.payload], headers: [f.header.toString("hex")] };
        if (!f.fin) this.violations.push(`${where}: the server fragmented a message (FIN clear)`);
        break;
      case OP.CONT:
        if (!this.partial) {
          this.violations.push(`${where}: continuation without a message`);
          return;
        }
        this.partial.parts.push(f.payload);
        this.partial.headers.push(f.header.toString("hex"));
        break;
      case OP.PING:
      case OP.PONG:
        this.#record({ type: f.opcode === OP.PING ? "ping" : "pong", data: f.payload.toString("hex") });
        return;
      case OP.CLOSE: {
        this.closeReceived = true;
        const p = f.payload;
        if (p.length === 1) this.violations.push(`${where}: 1-byte close payload`);
        const reason = p.subarray(2);
        if (!validUTF8(reason)) this.violations.push(`${where}: close reason is not UTF-8`);
        this.#record({ type: "close", code: p.length >= 2 ? p.readUInt16BE(0) : null, reason: reason.toString("utf8") });
        return;
      }
      default:
        this.violations.push(`${where}: unknown opcode`);
        return;
    }
    if (!f.fin) return;
    const { opcode, parts, headers } = this.partial;
    this.partial = null;
    const data = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const text = opcode === OP.TEXT;
    if (text && !validUTF8(data)) this.violations.push(`${where}: text message is not UTF-8`);
    const entry = { type: text ? "text" : "binary", data: summary(data, text), length: data.length, headers };
    this.#record(entry);
    this.onMessage?.(entry, data);
  }

  // write sends raw bytes; a connection the server has ended swallows them.
  write(bytes) {
    if (!this.sentBroken) {
      try {
        for (const f of this.sent.push(Buffer.from(bytes))) {
          if (f.opcode === OP.TEXT || f.opcode === OP.BINARY) this.sentOpen = !f.fin;
          else if (f.opcode === OP.CONT && f.fin) this.sentOpen = false;
        }
      } catch {
        this.sentBroken = true;
      }
    }
    if (this.sock.destroyed || !this.sock.writable) return;
    this.sock.write(bytes, () => {});
    if (this.idle) this.onIdle?.();
  }

  // idle reports whether what the client wrote ends between messages: a
  // new data message written now would be a message of its own, not part
  // of an unfinished frame or fragmented message.
  get idle() {
    return !this.sentBroken && !this.sentOpen && this.sent.size === 0;
  }

  // sendClose sends a masked close frame with the payload given.
  sendClose(payload = Buffer.alloc(0)) {
    this.closeSent = true;
    this.write(frame({ opcode: OP.CLOSE, payload }));
  }

  // waitFor resolves with the first log entry from index `from` on that
  // satisfies pred, or with the "end" entry, or with null after ms.
  async waitFor(pred, ms = 3000, from = 0) {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.log.slice(from).find((e) => pred(e) || e.type === "end");
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await withTimeout(new Promise((r) => this.waiters.push(r)), left, "a frame").catch(() => {});
    }
  }

  pause() {
    this.sock.pause();
  }

  resume() {
    this.sock.resume();
  }

  destroy() {
    this.sock.destroy();
  }
}

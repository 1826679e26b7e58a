// Engine.IO v3 on cmd/conformance -allow-eio3 (/engine.io/ echoes): the
// cases of engine.io-protocol's v3 test suite, checked in our own way.
// A v3 polling payload frames each packet as "<length>:<packet>"; binary
// goes as "b4"+base64 (b64=1) or in the binary framing; the client pings.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConformance, sleep, withTimeout } from "../lib/harness.mjs";
import { RawSocket } from "../lib/raw.mjs";

const PATH = "/engine.io/";
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;

let server;
before(async () => {
  server = await startConformance({ args: ["-allow-eio3"] });
});
after(async () => {
  await server?.stop();
});

// req performs one v3 polling request; body may be a string or bytes.
async function req({ sid, method = "GET", body, query = "", contentType }) {
  let url = `${server.url}${PATH}?EIO=3&transport=polling${query}`;
  if (sid) url += `&sid=${sid}`;
  const headers = contentType ? { "content-type": contentType } : {};
  const res = await fetch(url, { method, body, headers, signal: AbortSignal.timeout(3000) });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get("content-type"), bytes, text: bytes.toString("utf8") };
}

// open performs the handshake and returns the sid; b64 asks for base64 binary.
async function open(b64 = true) {
  const { status, text } = await req({ query: b64 ? "&b64=1" : "" });
  assert.equal(status, 200);
  const [len, packet] = [text.slice(0, text.indexOf(":")), text.slice(text.indexOf(":") + 1)];
  assert.equal(Number(len), packet.length);
  return JSON.parse(packet.slice(1)).sid;
}

describe("Engine.IO v3 handshake", () => {
  it("opens a polling session with a length-framed open packet", async () => {
    const { status, text } = await req({});
    assert.equal(status, 200);
    const colon = text.indexOf(":");
    assert.equal(Number(text.slice(0, colon)), text.length - colon - 1);
    const o = JSON.parse(text.slice(colon + 2));
    assert.equal(text[colon + 1], "0");
    assert.deepEqual(o.upgrades, ["websocket"]);
    assert.equal(o.pingInterval, PING_INTERVAL);
    assert.equal(o.pingTimeout, PING_TIMEOUT);
    assert.ok(o.maxPayload === undefined || o.maxPayload === 1000000);
  });

  it("opens a websocket session", async () => {
    const s = new RawSocket(`${server.wsURL}${PATH}?EIO=3&transport=websocket`);
    try {
      const o = JSON.parse((await s.next(3000, { skipPings: false })).slice(1));
      assert.deepEqual(o.upgrades, []);
    } finally {
      s.close();
    }
  });

  it("refuses a bad transport or method", async () => {
    for (const q of ["?EIO=3", "?EIO=3&transport=abc"]) {
      const res = await fetch(`${server.url}${PATH}${q}`, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      assert.equal(res.status, 400, q);
    }
    assert.equal((await req({ method: "POST" })).status, 400);
  });
});

describe("Engine.IO v3 messages", () => {
  const cases = [
    ["one text packet", "6:4hello", "6:4hello"],
    ["several text packets", "6:4test16:4test26:4test3", "6:4test16:4test26:4test3"],
    ["text and a base64 binary packet", "6:4hello10:b4AQIDBA==", "6:4hello10:b4AQIDBA=="],
    ["a non-ASCII packet (lengths in UTF-16 units)", "4:4é😀", "4:4é😀"],
  ];
  for (const [name, body, want] of cases) {
    it(`polling: echoes ${name}`, async () => {
      const sid = await open();
      const push = await req({ sid, method: "POST", body });
      assert.equal(push.status, 200);
      assert.equal(push.text, "ok");
      const pull = await req({ sid });
      assert.equal(pull.status, 200);
      assert.equal(pull.text, want);
    });
  }

  it("polling: a binary client gets binary packets in the binary framing", async () => {
    const sid = await open(false);
    await req({ sid, method: "POST", body: "6:4hello10:b4AQIDBA==" });
    const pull = await req({ sid });
    assert.equal(pull.type, "application/octet-stream");
    assert.deepEqual(pull.bytes, Buffer.concat([Buffer.from([0, 6, 255]), Buffer.from("4hello"), Buffer.from([1, 5, 255, 4, 1, 2, 3, 4])]));
  });

  it("polling: takes a binary-framed POST body", async () => {
    const sid = await open();
    const body = Uint8Array.from([1, 3, 255, 4, 9, 8]);
    assert.equal((await req({ sid, method: "POST", body, contentType: "application/octet-stream" })).status, 200);
    assert.equal((await req({ sid })).text, "6:b4CQg=");
  });

  it("polling: closes the session upon an invalid payload", async () => {
    const sid = await open();
    await req({ sid, method: "POST", body: "abc" }).catch(() => {});
    assert.equal((await req({ sid })).status, 400);
  });

  it("websocket: echoes text, and binary with its type byte", async () => {
    const s = new RawSocket(`${server.wsURL}${PATH}?EIO=3&transport=websocket`);
    try {
      await s.next(3000, { skipPings: false });
      s.send("4hello");
      assert.equal(await s.next(), "4hello");
      s.send(Uint8Array.from([4, 1, 2, 3, 4]));
      assert.deepEqual(await s.next(), Buffer.from([4, 1, 2, 3, 4]));
    } finally {
      s.close();
    }
  });

  it("websocket: closes upon an invalid packet", async () => {
    const s = new RawSocket(`${server.wsURL}${PATH}?EIO=3&transport=websocket`);
    try {
      await s.next(3000, { skipPings: false });
      s.send("abc");
      await s.waitClose(3000);
    } finally {
      s.close();
    }
  });
});

describe("Engine.IO v3 heartbeat (the client pings)", () => {
  it("polling: answers pings with pongs", async () => {
    const sid = await open();
    for (let i = 0; i < 3; i++) {
      assert.equal((await req({ sid, method: "POST", body: "1:2" })).status, 200);
      assert.equal((await req({ sid })).text, "1:3");
    }
  });

  it("polling: closes the session when no ping comes", async () => {
    const sid = await open();
    // The session lasts pingInterval + pingTimeout without a ping; the margin covers a busy machine.
    await sleep(PING_INTERVAL + PING_TIMEOUT + 300);
    assert.equal((await req({ sid, method: "POST", body: "1:2" })).status, 400);
  });

  it("websocket: answers pings with pongs, and the server never pings", async () => {
    const s = new RawSocket(`${server.wsURL}${PATH}?EIO=3&transport=websocket`);
    try {
      await s.next(3000, { skipPings: false });
      for (let i = 0; i < 3; i++) {
        s.send("2");
        assert.equal(await s.next(2000, { skipPings: false }), "3");
      }
    } finally {
      s.close();
    }
  });

  it("websocket: closes the session when no ping comes", async () => {
    const s = new RawSocket(`${server.wsURL}${PATH}?EIO=3&transport=websocket`);
    try {
      await s.opened;
      await s.waitClose(PING_INTERVAL + PING_TIMEOUT + 1500);
    } finally {
      s.close();
    }
  });
});

describe("Engine.IO v3 close and upgrade", () => {
  it("polling: a pending GET ends with a noop when the client closes", async () => {
    const sid = await open();
    const [pull] = await Promise.all([req({ sid }), sleep(20).then(() => req({ sid, method: "POST", body: "1:1" }))]);
    assert.equal(pull.status, 200);
    assert.equal(pull.text, "1:6");
    assert.equal((await req({ sid })).status, 400);
  });

  it("websocket: closes upon a close packet", async () => {
    const s = new RawSocket(`${server.wsURL}${PATH}?EIO=3&transport=websocket`);
    try {
      await s.next(3000, { skipPings: false });
      s.send("1");
      await s.waitClose(3000);
    } finally {
      s.close();
    }
  });

  it("upgrades from polling, then refuses polling requests", async () => {
    const sid = await open();
    const s = new RawSocket(`${server.wsURL}${PATH}?EIO=3&transport=websocket&sid=${sid}`);
    try {
      await withTimeout(s.opened, 3000, "websocket open");
      s.send("2probe");
      assert.equal(await s.next(3000, { skipPings: false }), "3probe");
      const pull = await req({ sid });
      assert.equal(pull.status, 200);
      assert.equal(pull.text, "1:6");
      s.send("5");
      s.send("4hello");
      assert.equal(await s.next(3000, { skipPings: false }), "4hello");
      assert.equal((await req({ sid })).status, 400);
    } finally {
      s.close();
    }
  });
});

// Socket.IO protocol v4 (socket.io-client 2.x) over Engine.IO v3 on
// /socket.io/: what differs from v5 in the connect handshake.
describe("Socket.IO protocol v4 on /socket.io/", () => {
  async function legacySocket() {
    const s = new RawSocket(`${server.wsURL}/socket.io/?EIO=3&transport=websocket`);
    assert.equal((await s.next(3000, { skipPings: false }))[0], "0");
    return s;
  }

  it("connects to / without a CONNECT from the client, and the CONNECT has no payload", async () => {
    const s = await legacySocket();
    try {
      assert.equal(await s.next(), "40");
      assert.equal(await s.next(), '42["auth",{}]');
    } finally {
      s.close();
    }
  });

  it("takes a namespace's query as its auth", async () => {
    const s = await legacySocket();
    try {
      await s.next(); // "40"
      await s.next(); // auth of "/"
      s.send("40/custom?token=abc,");
      assert.equal(await s.next(), "40/custom,");
      assert.equal(await s.next(), '42/custom,["auth",{"token":"abc"}]');
    } finally {
      s.close();
    }
  });

  it("refuses with the middleware error's data alone, or Invalid namespace", async () => {
    const s = await legacySocket();
    try {
      await s.next();
      await s.next();
      s.send("40/custom?reject=no,");
      assert.equal(await s.next(), '44/custom,{"reason":"rejected by the test middleware"}');
      s.send("40/random");
      assert.equal(await s.next(), '44/random,{"message":"Invalid namespace"}');
    } finally {
      s.close();
    }
  });

  it("carries binary attachments with the type byte", async () => {
    const s = await legacySocket();
    try {
      await s.next();
      await s.next();
      s.send('451-["message",{"_placeholder":true,"num":0}]');
      s.send(Uint8Array.from([4, 1, 2, 3]));
      assert.equal(await s.next(), '451-["message-back",{"_placeholder":true,"num":0}]');
      assert.deepEqual(await s.next(), Buffer.from([4, 1, 2, 3]));
    } finally {
      s.close();
    }
  });
});

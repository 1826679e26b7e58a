// The Engine.IO v4 checks of the official protocol test suites
// (socketio/engine.io-protocol and socketio/socket.io-protocol,
// test-suite/test-suite.js), rewritten for node:test against a server from
// cmd/conformance: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6.
// Messages are only checked where the endpoint echoes them (/engine.io/).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sleep, withTimeout, REFERENCE } from "./harness.mjs";
import { RawSocket, poll, openPolling } from "./raw.mjs";

export const PING_INTERVAL = 300;
export const PING_TIMEOUT = 200;
export const MAX_PAYLOAD = 1000000;

function assertOpenPacket(text, upgrades) {
  assert.equal(text[0], "0", `open packet expected, got ${text}`);
  const value = JSON.parse(text.slice(1));
  assert.deepEqual(Object.keys(value).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
  assert.equal(typeof value.sid, "string");
  assert.deepEqual(value.upgrades, upgrades);
  assert.equal(value.pingInterval, PING_INTERVAL);
  assert.equal(value.pingTimeout, PING_TIMEOUT);
  assert.equal(value.maxPayload, MAX_PAYLOAD);
  return value;
}

// refused resolves when a websocket to url is refused or closed by the server.
async function refused(url) {
  const s = new RawSocket(url);
  const info = await s.waitClose(3000);
  s.close();
  return info;
}

// defineEngineChecks registers the checks; server() returns the running Server.
export function defineEngineChecks(server, path, { echo }) {
  const url = () => server().url;
  const wsURL = () => server().wsURL;

  describe(`Engine.IO handshake on ${path}`, () => {
    it("opens a polling session", async () => {
      const { status, text } = await poll(url(), path);
      assert.equal(status, 200);
      assertOpenPacket(text, ["websocket"]);
    });

    it("opens a websocket session", async () => {
      const s = new RawSocket(`${wsURL()}${path}?EIO=4&transport=websocket`);
      try {
        assertOpenPacket(await s.next(3000, { skipPings: false }), []);
      } finally {
        s.close();
      }
    });

    it("answers HTTP 400 to a missing, invalid or old EIO", async () => {
      for (const q of ["?transport=polling", "?EIO=abc&transport=polling", "?EIO=3&transport=polling", "?EIO=5&transport=polling"]) {
        const res = await fetch(`${url()}${path}${q}`, { signal: AbortSignal.timeout(3000) });
        await res.arrayBuffer();
        assert.equal(res.status, 400, q);
      }
    });

    it("answers HTTP 400 to a missing or invalid transport", async () => {
      for (const q of ["?EIO=4", "?EIO=4&transport=abc"]) {
        const res = await fetch(`${url()}${path}${q}`, { signal: AbortSignal.timeout(3000) });
        await res.arrayBuffer();
        assert.equal(res.status, 400, q);
      }
    });

    it("answers HTTP 400 to a handshake that is not a GET", async () => {
      for (const method of ["POST", "PUT"]) {
        const { status } = await poll(url(), path, { method });
        assert.equal(status, 400, method);
      }
    });

    it("answers HTTP 400 to an unknown sid", async () => {
      const { status } = await poll(url(), path, { sid: "no-such-session" });
      assert.equal(status, 400);
    });

    it("refuses websockets with a bad EIO or transport", async () => {
      for (const q of ["?transport=websocket", "?EIO=abc&transport=websocket", "?EIO=3&transport=websocket", "?EIO=4", "?EIO=4&transport=abc"]) {
        await refused(`${wsURL()}${path}${q}`);
      }
    });

    it("sends CORS headers for any origin", async () => {
      const res = await fetch(`${url()}${path}?EIO=4&transport=polling`, {
        headers: { Origin: "http://example.test" },
        signal: AbortSignal.timeout(3000),
      });
      await res.text();
      const allow = res.headers.get("access-control-allow-origin");
      assert.ok(allow === "*" || allow === "http://example.test", `access-control-allow-origin: ${allow}`);
    });
  });

  if (echo) {
    describe(`Engine.IO messages on ${path}`, () => {
      const cases = [
        ["one plain text packet", "4hello"],
        ["several plain text packets", "4test1\x1e4test2\x1e4test3"],
        ["plain text and binary packets", "4hello\x1ebAQIDBA=="],
      ];
      for (const [name, body] of cases) {
        it(`polling: sends and receives a payload containing ${name}`, async () => {
          const sid = await openPolling(url(), path);
          const push = await poll(url(), path, { sid, method: "POST", body });
          assert.equal(push.status, 200);
          assert.equal(push.text, "ok");
          const pull = await poll(url(), path, { sid });
          assert.equal(pull.status, 200);
          assert.equal(pull.text, body);
        });
      }

      // As Node's httpCompression: a response of 1 KiB or more is
      // compressed for a client that accepts it; smaller ones are not.
      for (const [coding, size] of [["gzip", 2000], ["deflate", 2000], [null, 900]]) {
        it(`polling: a ${size}-byte response to a client accepting ${coding ?? "gzip"} is ${coding ? "compressed" : "not compressed"}`, async () => {
          const sid = await openPolling(url(), path);
          const body = "4" + "z".repeat(size - 1);
          assert.equal((await poll(url(), path, { sid, method: "POST", body })).status, 200);
          // fetch decompresses transparently; the header tells what came.
          // A slow machine may get a ping first: answer it and poll again.
          for (let i = 0; ; i++) {
            assert.ok(i < 5, "the echo never came");
            const res = await fetch(`${url()}${path}?EIO=4&transport=polling&sid=${sid}`, {
              headers: { "accept-encoding": coding ?? "gzip" },
              signal: AbortSignal.timeout(3000),
            });
            assert.equal(res.status, 200);
            const records = (await res.text()).split("\x1e");
            if (records.includes(body)) {
              assert.equal(res.headers.get("content-encoding"), coding);
              break;
            }
            if (records.includes("2")) await poll(url(), path, { sid, method: "POST", body: "3" });
          }
        });
      }

      it("websocket: sends and receives a plain text packet", async () => {
        const s = new RawSocket(`${wsURL()}${path}?EIO=4&transport=websocket`);
        try {
          await s.next(); // open
          s.send("4hello");
          assert.equal(await s.next(), "4hello");
        } finally {
          s.close();
        }
      });

      it("websocket: sends and receives a binary packet", async () => {
        const s = new RawSocket(`${wsURL()}${path}?EIO=4&transport=websocket`);
        try {
          await s.next(); // open
          s.send(Uint8Array.from([1, 2, 3, 4]));
          assert.deepEqual(await s.next(), Buffer.from([1, 2, 3, 4]));
        } finally {
          s.close();
        }
      });

      it("polling: answers HTTP 413 to a payload over maxPayload", async () => {
        const sid = await openPolling(url(), path);
        const push = await poll(url(), path, { sid, method: "POST", body: "4" + "x".repeat(MAX_PAYLOAD + 10) }).catch(
          (err) => ({ status: `error ${err.message}` }),
        );
        assert.ok(push.status === 413 || String(push.status).startsWith("error"), `status ${push.status}`);
      });

      it("websocket: closes on a message over maxPayload", async () => {
        const s = new RawSocket(`${wsURL()}${path}?EIO=4&transport=websocket`);
        try {
          await s.next(); // open
          s.send("4" + "x".repeat(MAX_PAYLOAD + 10));
          await s.waitClose(3000);
        } finally {
          s.close();
        }
      });
    });
  }

  describe(`Engine.IO invalid packets on ${path}`, () => {
    it("polling: closes the session upon an invalid packet format", async () => {
      const sid = await openPolling(url(), path);
      // The official suite does not insist on the POST's status (Node answers
      // 200 "ok" and then closes); the session must be gone either way.
      await poll(url(), path, { sid, method: "POST", body: "abc" }).catch(() => {});
      const pull = await poll(url(), path, { sid });
      assert.equal(pull.status, 400);
    });

    it("polling: closes the session upon duplicate poll requests", async () => {
      const sid = await openPolling(url(), path);
      const [first, second] = await Promise.all([
        poll(url(), path, { sid }),
        sleep(5).then(() => poll(url(), path, { sid, query: "&t=burst" })),
      ]);
      assert.equal(first.status, 200);
      assert.equal(first.text, "1");
      assert.ok([400, 500].includes(second.status), `duplicate GET status ${second.status}`);
      assert.equal((await poll(url(), path, { sid })).status, 400);
    });

    it("polling: closes the session upon a cancelled GET", async () => {
      const sid = await openPolling(url(), path);
      const abort = new AbortController();
      const pending = fetch(`${url()}${path}?EIO=4&transport=polling&sid=${sid}`, { signal: abort.signal }).catch(() => {});
      await sleep(20);
      abort.abort();
      await pending;
      // Whether or not the server has noticed the abort yet, the next GET
      // finds the session closed (or is a second concurrent GET, which closes it).
      assert.equal((await poll(url(), path, { sid })).status, 400);
    });

    it("websocket: closes the session upon an invalid packet format", async () => {
      const s = new RawSocket(`${wsURL()}${path}?EIO=4&transport=websocket`);
      try {
        await s.next(); // open
        s.send("abc");
        await s.waitClose(3000);
      } finally {
        s.close();
      }
    });
  });

  describe(`Engine.IO heartbeat on ${path}`, () => {
    it("polling: sends ping packets and accepts pongs", async () => {
      const sid = await openPolling(url(), path);
      for (let i = 0; i < 3; i++) {
        const pull = await poll(url(), path, { sid });
        assert.equal(pull.status, 200);
        assert.equal(pull.text, "2");
        const push = await poll(url(), path, { sid, method: "POST", body: "3" });
        assert.equal(push.status, 200);
      }
    });

    it("polling: closes the session upon ping timeout", async () => {
      const sid = await openPolling(url(), path);
      // The margin covers timer latency on a busy machine.
      await sleep(PING_INTERVAL + PING_TIMEOUT + 150);
      const pull = await poll(url(), path, { sid });
      // A poll that catches the close packet before the session is gone is fine too.
      assert.ok(pull.status === 400 || (pull.status === 200 && /(^|\x1e)1$/.test(pull.text)), `${pull.status} ${pull.text}`);
      if (pull.status === 200) assert.equal((await poll(url(), path, { sid })).status, 400);
    });

    it("websocket: sends ping packets and accepts pongs", async () => {
      const s = new RawSocket(`${wsURL()}${path}?EIO=4&transport=websocket`);
      try {
        await s.next(3000, { skipPings: false }); // open
        for (let i = 0; i < 3; i++) {
          assert.equal(await s.next(2000, { skipPings: false }), "2");
          s.send("3");
        }
      } finally {
        s.close();
      }
    });

    it("websocket: closes the session upon ping timeout", async () => {
      const s = new RawSocket(`${wsURL()}${path}?EIO=4&transport=websocket`);
      try {
        await s.opened;
        const start = Date.now();
        await s.waitClose(PING_INTERVAL + PING_TIMEOUT + 1500);
        assert.ok(Date.now() - start >= PING_INTERVAL, "closed before a ping was even due");
      } finally {
        s.close();
      }
    });
  });

  describe(`Engine.IO close on ${path}`, () => {
    // The GET and the POST are sent together: whichever the server sees
    // first, the GET ends with a noop and the session is gone after it.
    for (const [name, delay] of [["with a GET pending", 20], ["with a GET sent alongside", 0]]) {
      it(`polling: forcefully closes the session ${name}`, async () => {
        const sid = await openPolling(url(), path);
        const [pull, push] = await Promise.all([
          poll(url(), path, { sid }),
          sleep(delay).then(() => poll(url(), path, { sid, method: "POST", body: "1" })),
        ]);
        assert.equal(push.status, 200);
        assert.equal(pull.status, 200);
        assert.equal(pull.text, "6");
        assert.equal((await poll(url(), path, { sid })).status, 400);
      });
    }

    // Node's engine.io relies on handling the GET first; sockgate keeps the
    // session briefly so that a GET arriving after the close still gets it.
    it("polling: a GET arriving just after the close packet gets a noop, once", { skip: REFERENCE }, async () => {
      const sid = await openPolling(url(), path);
      const push = await poll(url(), path, { sid, method: "POST", body: "1" });
      assert.equal(push.status, 200);
      const pull = await poll(url(), path, { sid });
      assert.equal(pull.status, 200);
      assert.equal(pull.text, "6");
      assert.equal((await poll(url(), path, { sid })).status, 400);
    });

    it("websocket: forcefully closes the session", async () => {
      const s = new RawSocket(`${wsURL()}${path}?EIO=4&transport=websocket`);
      try {
        await s.next(); // open
        s.send("1");
        await s.waitClose(3000);
      } finally {
        s.close();
      }
    });
  });

  describe(`Engine.IO upgrade on ${path}`, () => {
    async function upgraded() {
      const sid = await openPolling(url(), path);
      const s = new RawSocket(`${wsURL()}${path}?EIO=4&transport=websocket&sid=${sid}`);
      await withTimeout(s.opened, 3000, "websocket open");
      s.send("2probe");
      assert.equal(await s.next(), "3probe");
      return { sid, s };
    }

    it("upgrades from polling to websocket", async () => {
      const { sid, s } = await upgraded();
      try {
        // The pending (or next) GET is released with a noop.
        const pull = await poll(url(), path, { sid });
        assert.equal(pull.status, 200);
        assert.equal(pull.text, "6");
        s.send("5");
        if (echo) {
          s.send("4hello");
          assert.equal(await s.next(), "4hello");
        }
      } finally {
        s.close();
      }
    });

    it("ignores HTTP requests with the same sid after the upgrade", async () => {
      const { sid, s } = await upgraded();
      try {
        s.send("5");
        // A ping round trip proves the server has processed "5" (frames are read in order).
        if (echo) {
          s.send("4sync");
          assert.equal(await s.next(), "4sync");
        } else {
          await sleep(100);
        }
        assert.equal((await poll(url(), path, { sid })).status, 400);
        if (echo) {
          s.send("4hello");
          assert.equal(await s.next(), "4hello");
        }
      } finally {
        s.close();
      }
    });

    // The newcomer's handshake succeeds (a refused handshake is an error to
    // a browser, not a close); then the server closes it.
    for (const [name, upgrade] of [["after the upgrade", true], ["during the upgrade", false]]) {
      it(`closes a second websocket with the same sid ${name}`, async () => {
        const { sid, s } = await upgraded();
        try {
          if (upgrade) s.send("5");
          const second = new RawSocket(`${wsURL()}${path}?EIO=4&transport=websocket&sid=${sid}`);
          try {
            await withTimeout(second.opened, 3000, "the second websocket's handshake");
            await second.waitClose(3000);
            assert.equal(second.queue.length, 0, "the second websocket got frames");
          } finally {
            second.close();
          }
          if (!upgrade) s.send("5");
          if (echo) {
            s.send("4hello");
            assert.equal(await s.next(), "4hello");
          } else {
            // The session is alive on the first websocket: it keeps pinging.
            assert.equal(await s.next(2000, { skipPings: false }), "2");
          }
        } finally {
          s.close();
        }
      });
    }
  });
}

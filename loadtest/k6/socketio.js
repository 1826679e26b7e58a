// k6 load test for a Socket.IO v4 server with the built-in events join,
// message and echo (sockgate, or the Node reference in loadtest/compare).
//
//   k6 run -e TARGET=ws://127.0.0.1:3000 -e VUS=50 -e DURATION=1m loadtest/k6/socketio.js
//
// Each VU iteration opens one websocket, does the Engine.IO handshake,
// connects namespace "/", joins ROOM, then for SESSION seconds:
//   - every ECHO_MS ms emits `echo` with an ack and records the round trip
//     in socketio_echo_latency (a Trend, ms);
//   - every MESSAGE_MS ms emits `message` to its room carrying Date.now();
//     every member records socketio_message_latency on receipt;
//   - answers the server's pings ("2" -> "3").
// Set ECHO_MS=0 / MESSAGE_MS=0 to only hold connections (idle test).
//
// Knobs (__ENV): TARGET, VUS, DURATION, ROOM, SESSION (s), ECHO_MS,
// MESSAGE_MS, PAYLOAD (bytes), ACK_TIMEOUT_MS, P95_MS (echo threshold).

import { WebSocket } from 'k6/websockets';
import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { connect } from './lib/socketio.js';

function num(name, fallback) {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : Number(v);
}

const TARGET = __ENV.TARGET || 'ws://127.0.0.1:3000';
const ROOM = __ENV.ROOM || 'k6';
const SESSION_MS = num('SESSION', 10) * 1000;
const ECHO_MS = num('ECHO_MS', 100);
const MESSAGE_MS = num('MESSAGE_MS', 1000);
const ACK_TIMEOUT_MS = num('ACK_TIMEOUT_MS', 5000);
const PAD = 'x'.repeat(num('PAYLOAD', 64));
const P95_MS = num('P95_MS', 50);

export const options = {
  vus: num('VUS', 10),
  duration: __ENV.DURATION || '30s',
  thresholds: {
    socketio_errors: ['rate<0.01'],
    socketio_echo_latency: ['p(95)<' + P95_MS],
    socketio_connect_duration: ['p(95)<1000'],
    checks: ['rate>0.99'],
  },
};

const connectDuration = new Trend('socketio_connect_duration', true);
const echoLatency = new Trend('socketio_echo_latency', true);
const messageLatency = new Trend('socketio_message_latency', true);
const errors = new Rate('socketio_errors');
const messagesReceived = new Counter('socketio_messages_received');
const pingsAnswered = new Counter('socketio_pings_answered');

export default function () {
  const timers = [];
  let finished = false;

  const client = connect(TARGET, {
    WebSocket: WebSocket,
    connectTimeoutMs: 10000,
    onConnect: (c) => {
      connectDuration.add(c.connectMs);
      c.emitWithAck('join', [ROOM], ACK_TIMEOUT_MS, (err, args) => {
        const ok = check(args, { 'join acked true': (a) => !err && a[0] === true });
        errors.add(!ok);
        if (ok) start(c);
      });
    },
    onEvent: (name, args) => {
      if (name === 'message' && args.length >= 2 && args[0] === 'k6') {
        messagesReceived.add(1);
        messageLatency.add(Date.now() - args[1]);
      }
    },
    onError: (err) => {
      if (!finished) {
        console.warn('socket.io error: ' + err.message);
        errors.add(true);
      }
    },
    onClose: () => {
      pingsAnswered.add(client.pings);
      stopTimers();
    },
  });

  function stopTimers() {
    while (timers.length > 0) {
      const t = timers.pop();
      clearInterval(t);
      clearTimeout(t);
    }
  }

  function start(c) {
    if (ECHO_MS > 0) {
      let seq = 0;
      timers.push(setInterval(() => {
        const sent = Date.now();
        const mine = seq++;
        c.emitWithAck('echo', [mine, PAD], ACK_TIMEOUT_MS, (err, args) => {
          if (finished && err) return; // cut off by the end of the session
          const ok = !err && args[0] === mine && args[1] === PAD;
          if (ok) echoLatency.add(Date.now() - sent);
          errors.add(!ok);
        });
      }, ECHO_MS));
    }
    if (MESSAGE_MS > 0) {
      timers.push(setInterval(() => {
        c.emit('message', 'k6', Date.now(), PAD);
      }, MESSAGE_MS));
    }
  }

  timers.push(setTimeout(() => {
    finished = true;
    stopTimers();
    client.close();
  }, SESSION_MS));
}

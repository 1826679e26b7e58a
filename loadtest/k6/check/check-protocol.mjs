// Checks the k6 scripts without k6:
//   1. lib/socketio.js encodes and decodes packets exactly as the reference
//      socket.io-parser (from the repo's node_modules) does;
//   2. with TARGET set, runs socketio.js for a few VUs and one short session
//      each against a live server, under a Node stand-in for k6's modules,
//      and fails unless joins, echoes and room messages all worked.
//
//   node loadtest/k6/check/check-protocol.mjs                  # 1 only
//   TARGET=ws://127.0.0.1:3000 node loadtest/k6/check/check-protocol.mjs
import assert from 'node:assert/strict';
import { createRequire, register } from 'node:module';

import { decodePacket, encodePacket, encodeEvent, socketURL, SIO } from '../lib/socketio.js';

const require = createRequire(new URL('../../../package.json', import.meta.url));
const parser = require('socket.io-parser');

function reference(packet) {
  const out = new parser.Encoder().encode(packet);
  assert.equal(out.length, 1);
  return '4' + out[0];
}

const cases = [
  { type: SIO.CONNECT, nsp: '/' },
  { type: SIO.CONNECT, nsp: '/admin', data: { token: 'a"b' } },
  { type: SIO.DISCONNECT, nsp: '/' },
  { type: SIO.EVENT, nsp: '/', data: ['join', 'room'] },
  { type: SIO.EVENT, nsp: '/', id: 0, data: ['echo', 1, 'x', { k: [true, null] }] },
  { type: SIO.EVENT, nsp: '/chat', id: 12345, data: ['message', 'é ✓ \u2028', 1.5] },
  { type: SIO.ACK, nsp: '/', id: 7, data: [true] },
];
for (const c of cases) {
  const mine = encodePacket(c);
  assert.equal(mine, reference(c), 'encode ' + JSON.stringify(c));
  const back = decodePacket(mine.slice(1));
  assert.equal(back.type, c.type);
  assert.equal(back.nsp, c.nsp);
  assert.equal(back.id, c.id);
  assert.deepEqual(back.data, c.data);
}
assert.equal(encodeEvent('echo', [1, 'a'], 3), '423["echo",1,"a"]');
assert.deepEqual(decodePacket('0{"sid":"abc"}'), { type: 0, nsp: '/', id: undefined, data: { sid: 'abc' }, attachments: 0 });
assert.deepEqual(decodePacket('4{"message":"Invalid namespace"}').data, { message: 'Invalid namespace' });
assert.deepEqual(decodePacket('51-/x,2["a",{"_placeholder":true,"num":0}]').attachments, 1);
assert.equal(socketURL('ws://127.0.0.1:3000/'), 'ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket');
assert.equal(socketURL('http://h:1'), 'ws://h:1/socket.io/?EIO=4&transport=websocket');
assert.equal(socketURL('127.0.0.1:3000'), 'ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket');
console.log(`codec: ${cases.length} packets match socket.io-parser`);

if (process.env.TARGET) {
  register('./hooks.mjs', import.meta.url);
  const vus = Number(process.env.VUS || 3);
  globalThis.__ENV = { SESSION: '2', ECHO_MS: '50', MESSAGE_MS: '200', ROOM: 'k6check-' + process.pid, ...process.env };
  const shim = await import('k6');
  const script = await import('../socketio.js');
  assert.ok(script.options.thresholds.socketio_echo_latency, 'script declares its thresholds');
  const pause = (ms) => new Promise((r) => setTimeout(r, ms)); // Node's timer, not counted
  shim.installGlobals();
  for (let i = 0; i < vus; i++) script.default();
  const deadline = Date.now() + 20000;
  while (shim.handles.open > 0 && Date.now() < deadline) await pause(20);
  shim.restoreGlobals();
  assert.equal(shim.handles.open, 0, 'sessions ended');
  const s = shim.samples;
  const count = (n) => (s[n] || []).length;
  const sum = (n) => (s[n] || []).reduce((a, b) => a + b, 0);
  const p95 = (n) => {
    const v = [...(s[n] || [])].sort((a, b) => a - b);
    return v.length ? v[Math.min(v.length - 1, Math.ceil(0.95 * v.length) - 1)] : NaN;
  };
  console.log(`k6 script: ${vus} VUs, connects ${count('socketio_connect_duration')}, echoes ${count('socketio_echo_latency')} ` +
    `(p95 ${p95('socketio_echo_latency')} ms), messages received ${sum('socketio_messages_received')} ` +
    `(p95 ${p95('socketio_message_latency')} ms), errors ${sum('socketio_errors')}/${count('socketio_errors')}, ` +
    `checks ${sum('checks')}/${count('checks')}`);
  assert.equal(count('socketio_connect_duration'), vus, 'every VU connected');
  assert.equal(sum('socketio_errors'), 0, 'no errors');
  assert.ok(count('socketio_echo_latency') > vus * 10, 'echoes acked');
  // Every VU sends ~10 messages to the room and every member receives them.
  assert.ok(sum('socketio_messages_received') >= vus * vus * 5, 'room messages crossed');
  assert.equal(sum('checks'), count('checks'), 'checks passed');
  console.log('ok');
}

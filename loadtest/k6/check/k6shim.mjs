// Just enough of k6's modules (k6, k6/metrics, k6/websockets, k6/timers) to
// run the scripts in this directory's parent under Node for a protocol check.
// It is not k6: no VU scheduling, no thresholds evaluation beyond what
// check-protocol.mjs does with the recorded samples.
import WS from 'ws';

export const samples = {}; // metric name -> array of values
export const handles = { open: 0 }; // open sockets + pending timers

function record(name, v) {
  (samples[name] || (samples[name] = [])).push(Number(v));
}

class Metric {
  constructor(name) {
    this.name = name;
  }
  add(v) {
    record(this.name, v);
  }
}
export class Trend extends Metric {}
export class Rate extends Metric {}
export class Counter extends Metric {}
export class Gauge extends Metric {}

export function check(value, sets) {
  let all = true;
  for (const name of Object.keys(sets)) {
    const ok = !!sets[name](value);
    record('checks', ok ? 1 : 0);
    if (!ok) all = false;
  }
  return all;
}

export function sleep() {
  throw new Error('sleep is not supported by the shim');
}

// Timers that count as pending work, like k6's event loop does. k6 has them
// as globals too: installGlobals puts these in place of Node's.
const node = {
  setTimeout: globalThis.setTimeout,
  setInterval: globalThis.setInterval,
  clearTimeout: globalThis.clearTimeout,
};
const live = new Set();
export function setTimeout(fn, ms, ...args) {
  const t = node.setTimeout(() => {
    if (live.delete(t)) handles.open--;
    fn(...args);
  }, ms);
  live.add(t);
  handles.open++;
  return t;
}
export function setInterval(fn, ms, ...args) {
  const t = node.setInterval(fn, ms, ...args);
  live.add(t);
  handles.open++;
  return t;
}
export function clearTimeout(t) {
  node.clearTimeout(t);
  if (live.delete(t)) handles.open--;
}
export const clearInterval = clearTimeout;

export class WebSocket {
  constructor(url) {
    this.ws = new WS(url);
    handles.open++;
    this.ws.addEventListener('close', () => handles.open--);
  }
  addEventListener(type, fn) {
    this.ws.addEventListener(type, fn);
  }
  send(data) {
    this.ws.send(data);
  }
  close() {
    this.ws.close();
  }
}

export function installGlobals() {
  Object.assign(globalThis, { setTimeout, setInterval, clearTimeout, clearInterval });
}

export function restoreGlobals() {
  Object.assign(globalThis, { setTimeout: node.setTimeout, setInterval: node.setInterval, clearTimeout: node.clearTimeout, clearInterval: node.clearTimeout });
}

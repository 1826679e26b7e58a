// Prints the side-by-side table of loadtest/compare/run.sh from the loadgen
// JSON summaries in a directory (files named <impl>-<scenario>-<round>.json):
// the median over rounds of each figure for floor, sockgate, node and
// baseline (the columns of those that ran), and the ratios of sockgate to
// each of the others.
//
//   node loadtest/compare/table.js <dir>
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node table.js <dir with loadgen JSON summaries>');
  process.exit(2);
}

const runs = {}; // scenario -> impl -> [summary]
for (const f of fs.readdirSync(dir).sort()) {
  const m = /^(floor|sockgate|node|baseline)-(\w+)-(\d+)\.json$/.exec(f);
  if (!m) continue;
  let s;
  try {
    s = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  } catch (err) {
    console.error(`table: skipping ${f}: ${err.message}`);
    continue;
  }
  ((runs[m[2]] = runs[m[2]] || {})[m[1]] = runs[m[2]][m[1]] || []).push(s);
}

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// Rows per scenario: [label, getter, better ('lower'|'higher')].
const userShare = (s) => (100 * s.server.cpu_user_s) / s.server.cpu_s;
const rows = {
  connect: [
    ['connections/s', (s) => s.connect.rate_per_s, 'higher'],
    ['handshake p50 ms', (s) => s.connect.handshake.p50_ms, 'lower'],
    ['handshake p99 ms', (s) => s.connect.handshake.p99_ms, 'lower'],
    ['server CPU µs / connection', (s) => s.server.cpu_us_per_op, 'lower'],
    ['  user-space share %', userShare, 'lower'],
    ['RSS KiB / connection', (s) => s.server.rss_per_conn_bytes / 1024, 'lower'],
    ['failed', (s) => s.connect.failed, 'lower'],
  ],
  fanout: [
    ['deliveries/s', (s) => s.fanout.deliveries_per_s, 'higher'],
    ['latency p50 ms', (s) => s.fanout.latency.p50_ms, 'lower'],
    ['latency p90 ms', (s) => s.fanout.latency.p90_ms, 'lower'],
    ['latency p99 ms', (s) => s.fanout.latency.p99_ms, 'lower'],
    ['latency max ms', (s) => s.fanout.latency.max_ms, 'lower'],
    ['server CPU µs / delivery', (s) => s.server.cpu_us_per_op, 'lower'],
    ['  incl. redis', (s) => s.server.cpu_us_per_op_incl_redis, 'lower'],
    ['  user-space share %', userShare, 'lower'],
    ['loadgen CPU s (same window)', (s) => s.server.loadgen_cpu_s, 'lower'],
    ['lost', (s) => s.fanout.lost, 'lower'],
    ['duplicated', (s) => s.fanout.duplicated, 'lower'],
  ],
  echo: [
    ['requests/s', (s) => s.echo.rate_per_s, 'higher'],
    ['RTT p50 ms', (s) => s.echo.rtt.p50_ms, 'lower'],
    ['RTT p99 ms', (s) => s.echo.rtt.p99_ms, 'lower'],
    ['server CPU µs / request', (s) => s.server.cpu_us_per_op, 'lower'],
    ['  user-space share %', userShare, 'lower'],
    ['errors', (s) => s.echo.errors, 'lower'],
  ],
  churn: [
    ['churned connections', (s) => s.churn.opened, 'higher'],
    ['fan-out p99 ms during churn', (s) => s.churn.fanout.latency.p99_ms, 'lower'],
    ['server CPU µs / delivery', (s) => s.server.cpu_us_per_op, 'lower'],
    ['sockets left after settle', (s) => s.churn.sockets_final - s.churn.sockets_baseline, 'lower'],
    ['lost', (s) => s.churn.fanout.lost, 'lower'],
  ],
};

function fmt(x) {
  if (!Number.isFinite(x)) return '-';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

const impls = ['floor', 'sockgate', 'node', 'baseline'].filter((impl) =>
  Object.values(runs).some((byImpl) => (byImpl[impl] || []).length > 0));
const ratios = impls.includes('sockgate') ? impls.filter((impl) => impl !== 'sockgate') : [];

const out = [];
const header = ['scenario', 'figure (median)', ...impls, ...ratios.map((impl) => `sockgate/${impl}`)];
out.push(header);
for (const sc of ['connect', 'fanout', 'echo', 'churn']) {
  if (!runs[sc]) continue;
  for (const [label, get, better] of rows[sc]) {
    const safe = (s) => {
      try {
        return get(s);
      } catch (e) {
        return NaN;
      }
    };
    const med = {};
    for (const impl of impls) med[impl] = median((runs[sc][impl] || []).map(safe));
    const row = [sc, label, ...impls.map((impl) => fmt(med[impl]))];
    for (const impl of ratios) {
      const a = med.sockgate;
      const b = med[impl];
      row.push(Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(2) + (better === 'lower' ? ' (lower is better)' : ' (higher is better)') : '-');
    }
    out.push(row);
  }
  out.push([sc, 'runs', ...impls.map((impl) => String((runs[sc][impl] || []).length)), ...ratios.map(() => '')]);
}

const widths = header.map((_, i) => Math.max(...out.map((row) => row[i].length)));
for (const [i, row] of out.entries()) {
  console.log(row.map((c, j) => (j >= 2 ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  ').trimEnd());
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}

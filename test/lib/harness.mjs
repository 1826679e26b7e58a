// Shared helpers for the Node.js test suites: building the Go binaries,
// starting them on random loopback ports, and bounded waiting.
//
// Every wait in here has a deadline: a hung server fails a test, it never
// hangs the run.
//
// Environment:
//   SOCKGATE_GATEWAY_BIN, SOCKGATE_CONFORMANCE_BIN  use a prebuilt binary
//   SOCKGATE_TEST_SERVER=node  run the suites against test/lib/reference.mjs
//     (Node's socket.io playing both servers) to check the tests themselves.

import { spawn, execFile, execFileSync } from "node:child_process";
import { mkdtemp, mkdir, rm, readdir, writeFile, access, stat } from "node:fs/promises";
import { createServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

export { sleep };

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const REFERENCE = process.env.SOCKGATE_TEST_SERVER === "node";

// withTimeout rejects with a clear message when p does not settle in ms.
export function withTimeout(p, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

// once resolves with the arguments of the next `event` of an EventEmitter-like
// object (socket.io-client sockets, managers, ws), or rejects after ms.
export function once(emitter, event, ms = 5000) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  });
  return withTimeout(p, ms, `event "${event}"`).catch((err) => {
    emitter.off?.(event, handler);
    throw err;
  });
}

// waitUntil polls cond (sync or async) every 20 ms until it is truthy.
export async function waitUntil(cond, ms = 5000, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timeout after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

// freePort asks the kernel for a free loopback port.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function run(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...opts, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\n${stderr}`;
        reject(err);
      } else resolve(stdout);
    });
  });
}

async function exists(p) {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

// buildDir returns the directory the binaries of this run go to. Under
// `node --test` every test file is a child of one runner process, so they
// share one directory named after the runner's pid and build each binary
// once per run; directories left by runners that have exited are removed.
// A file run on its own gets a private directory removed at exit.
let privateDir;
async function buildDir() {
  if (!process.env.NODE_TEST_CONTEXT) {
    if (!privateDir) {
      privateDir = await mkdtemp(join(tmpdir(), "sockgate-test-"));
      process.on("exit", () => {
        try {
          // "exit" hooks must be synchronous.
          execFileSyncQuiet("rm", ["-rf", privateDir]);
        } catch {}
      });
    }
    return privateDir;
  }
  const prefix = "sockgate-node-test-";
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (pid && pid !== process.ppid && !pidAlive(pid)) {
      await rm(join(tmpdir(), name), { recursive: true, force: true }).catch(() => {});
    }
  }
  const dir = join(tmpdir(), prefix + process.ppid);
  await mkdir(dir, { recursive: true });
  return dir;
}

function execFileSyncQuiet(cmd, args) {
  execFileSync(cmd, args, { stdio: "ignore" });
}

// buildBinary builds ./cmd/<name> once per test run and returns its path.
// Concurrent test files wait for the first builder through a lock directory.
export async function buildBinary(name) {
  const envName = `SOCKGATE_${name.toUpperCase()}_BIN`;
  if (process.env[envName]) return process.env[envName];
  const dir = await buildDir();
  const bin = join(dir, name);
  const done = bin + ".done";
  const lock = bin + ".lock";
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (await exists(done)) return bin;
    try {
      await mkdir(lock);
    } catch {
      // Someone else is building; a lock older than 3 minutes is stale.
      const st = await stat(lock).catch(() => null);
      if (st && Date.now() - st.mtimeMs > 180_000) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timeout waiting for the build of ${name}`);
      await sleep(100);
      continue;
    }
    try {
      if (!(await exists(done))) {
        await run("go", ["build", "-o", bin, `./cmd/${name}`], { cwd: ROOT });
        await writeFile(done, "");
      }
      return bin;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

// Server is a child process listening on 127.0.0.1:port.
export class Server {
  constructor(cmd, args, port, readyPath) {
    this.cmd = cmd;
    this.args = args;
    this.port = port;
    this.readyPath = readyPath;
    this.url = `http://127.0.0.1:${port}`;
    this.wsURL = `ws://127.0.0.1:${port}`;
    this.log = "";
    this.proc = null;
    this.exited = null;
  }

  async start(ms = 15_000) {
    const env = { ...process.env, ...this.env }; // this.env: more variables, if set
    delete env.NODE_TEST_CONTEXT; // the server is not a test file
    const proc = spawn(this.cmd, this.args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    const append = (chunk) => {
      this.log += chunk;
      if (this.log.length > 4 << 20) this.log = this.log.slice(-(2 << 20));
    };
    proc.stdout.setEncoding("utf8").on("data", append);
    proc.stderr.setEncoding("utf8").on("data", append);
    this.exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
    let dead = false;
    this.exited.then(() => (dead = true));
    try {
      await waitUntil(async () => {
        if (dead) throw new Error(`server exited early:\n${this.log}`);
        return this.readyPath ? this.#httpReady() : this.#tcpReady();
      }, ms, `${this.cmd} to listen on ${this.port}`);
    } catch (err) {
      await this.stop();
      throw err;
    }
    return this;
  }

  async #httpReady() {
    try {
      const res = await fetch(this.url + this.readyPath, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }

  #tcpReady() {
    return new Promise((resolve) => {
      const s = netConnect(this.port, "127.0.0.1");
      s.setTimeout(1000);
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
      s.once("timeout", () => {
        s.destroy();
        resolve(false);
      });
    });
  }

  alive() {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  // stop sends SIGTERM, then SIGKILL after ms; it resolves once the process is gone.
  async stop(ms = 5000) {
    if (!this.proc) return;
    const proc = this.proc;
    if (this.alive()) {
      proc.kill("SIGTERM");
      try {
        await withTimeout(this.exited, ms, "server exit after SIGTERM");
      } catch {
        proc.kill("SIGKILL");
        await withTimeout(this.exited, ms, "server exit after SIGKILL");
      }
    }
    this.proc = null;
  }
}

// startGateway builds and starts cmd/gateway (in-memory adapter).
export async function startGateway({ port, args = [] } = {}) {
  port ??= await freePort();
  if (REFERENCE) {
    const ref = join(ROOT, "test", "lib", "reference.mjs");
    return new Server(process.execPath, [ref, "gateway", String(port), ...args], port, "/healthz").start();
  }
  const bin = await buildBinary("gateway");
  return new Server(bin, ["-addr", `127.0.0.1:${port}`, ...args], port, "/healthz").start();
}

// startConformance builds and starts cmd/conformance.
export async function startConformance({ port, args = [] } = {}) {
  port ??= await freePort();
  if (REFERENCE) {
    const ref = join(ROOT, "test", "lib", "reference.mjs");
    return new Server(process.execPath, [ref, "conformance", String(port), ...args], port, null).start();
  }
  const bin = await buildBinary("conformance");
  return new Server(bin, ["-addr", `127.0.0.1:${port}`, ...args], port, null).start();
}

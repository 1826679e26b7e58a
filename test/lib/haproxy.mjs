// HAProxy in front of gateway processes on loopback, with the configuration
// of the docker-compose stack (deploy/haproxy/haproxy.cfg): only the
// addresses and ports are rewritten, and the server lines are the given
// gateways.

import { accessSync, constants } from "node:fs";
import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, delimiter } from "node:path";
import { ROOT, Server, freePort } from "./harness.mjs";

export function haproxyPath() {
  for (const d of [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin"]) {
    const c = join(d, "haproxy");
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {}
  }
  return "";
}

// haproxyConfig rewrites the compose configuration: the public and stats
// ports onto loopback, and one server line per gateway URL (the compose
// file's lines name gateway1..N; they are replaced in order).
export async function haproxyConfig(gateways, { port, statsPort }) {
  let cfg = await readFile(join(ROOT, "deploy", "haproxy", "haproxy.cfg"), "utf8");
  cfg = cfg.replace(/^(\s*bind )\S*:8080\b/m, `$1127.0.0.1:${port}`).replace(/^(\s*bind )\S*:8404\b/m, `$1127.0.0.1:${statsPort}`);
  const servers = [...cfg.matchAll(/^(\s*server (gateway\d+)) \S+ (.*)$/gm)];
  if (servers.length < gateways.length) throw new Error(`haproxy.cfg has ${servers.length} server lines, ${gateways.length} needed`);
  const lines = gateways.map((g, i) => {
    const [, , name, rest] = servers[i];
    return `    server ${name} ${new URL(g.url).host} ${rest}`;
  });
  // Replace the block of server lines by ours.
  const first = servers[0].index;
  const last = servers[servers.length - 1];
  return cfg.slice(0, first) + lines.join("\n") + cfg.slice(last.index + last[0].length);
}

// HAProxy runs haproxy -db (foreground) with the rewritten configuration.
export class HAProxy {
  // env adds variables to HAProxy's environment (SOCKGATE_STICKY=false
  // turns the configuration's stickiness off).
  static async start(gateways, { env } = {}) {
    const bin = haproxyPath();
    if (!bin) throw new Error("haproxy not installed (apt-get install -y haproxy)");
    const port = await freePort();
    const statsPort = await freePort();
    const dir = await mkdtemp(join(tmpdir(), "sockgate-haproxy-"));
    const cfgPath = join(dir, "haproxy.cfg");
    await writeFile(cfgPath, await haproxyConfig(gateways, { port, statsPort }));
    const lb = new HAProxy();
    lb.dir = dir;
    lb.url = `http://127.0.0.1:${port}`;
    lb.statsURL = `http://127.0.0.1:${statsPort}`;
    const server = new Server(bin, ["-db", "-f", cfgPath], port, null);
    server.env = env;
    lb.server = await server.start();
    return lb;
  }

  get log() {
    return this.server.log;
  }

  // status is the state HAProxy has for each server ("UP", "DOWN", ...),
  // from its stats page as CSV.
  async serverStatus() {
    const res = await fetch(this.statsURL + "/;csv", { signal: AbortSignal.timeout(2000) });
    const out = {};
    for (const line of (await res.text()).split("\n")) {
      const f = line.split(",");
      if (f[0] === "gateways" && f[1] !== "BACKEND" && f[1] !== "FRONTEND") out[f[1]] = f[17];
    }
    return out;
  }

  async stop() {
    await this.server.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

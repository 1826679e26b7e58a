// The chat demo in chromium on a gateway started with -path /rt: the page
// loads the bundle from there and connects there.
//
// Without /usr/bin/chromium the test is skipped, unless CI is set: then it fails.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, REFERENCE } from "../lib/harness.mjs";

const CHROMIUM = "/usr/bin/chromium";

let skip = false;
if (REFERENCE) {
  skip = "the Node reference server does not serve the demo";
} else if (!existsSync(CHROMIUM)) {
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing and CI is set: install Debian's chromium`);
  skip = `${CHROMIUM} is missing (apt-get install chromium); set CI=1 to make this a failure`;
}

describe("chat demo in chromium with -path /rt", { skip, timeout: 60_000 }, () => {
  let server, context, userDataDir;

  before(async () => {
    const { chromium } = await import("playwright-core");
    server = await startGateway({ args: ["-path", "/rt"] });
    userDataDir = await mkdtemp(join(tmpdir(), "sockgate-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    context.setDefaultTimeout(10_000);
  });

  after(async () => {
    await context?.close().catch(() => {});
    await server?.stop();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  it("connects and a message reaches the page", async () => {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    const requests = [];
    page.on("request", (req) => requests.push(new URL(req.url()).pathname));
    await page.goto(server.url + "/", { waitUntil: "load" });
    await page.locator('#status[data-state="connected"]').waitFor();
    await page.fill("#input", "over /rt");
    await page.click("#send");
    await page.locator('#messages [data-testid="message"]', { hasText: "over /rt" }).waitFor();
    assert.ok(requests.includes("/rt/socket.io.js"), `requests: ${requests.join(" ")}`);
    assert.ok(!requests.some((p) => p.startsWith("/socket.io/")), `requests: ${requests.join(" ")}`);
    assert.deepEqual(errors, []);
  });
});

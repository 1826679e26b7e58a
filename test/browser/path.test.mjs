// The chat demo in chromium on a gateway started with -path /rt: the page
// loads the bundle from there and connects there.
//
// Without /usr/bin/chromium the test is skipped, unless CI is set: then it fails.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../lib/harness.mjs";
import { skipBrowser, launchChromium } from "../lib/browser.mjs";

describe("chat demo in chromium with -path /rt", { skip: skipBrowser, timeout: 60_000 }, () => {
  let server, browser, context;

  before(async () => {
    server = await startGateway({ args: ["-path", "/rt"] });
    browser = await launchChromium();
    context = browser.context;
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
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

// The chat demo in a real browser: Debian's chromium driven by playwright-core
// (no downloaded browsers). Two pages in #chat see each other's message, a
// page in #study does not, and an XSS string shows as text without a dialog.
//
// Without /usr/bin/chromium the test is skipped, unless CI is set: then it fails.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../lib/harness.mjs";
import { skipBrowser, launchChromium } from "../lib/browser.mjs";

const XSS = "<img src=x onerror=alert(1)>";

describe("chat demo in chromium", { skip: skipBrowser, timeout: 90_000 }, () => {
  let server, browser, context;
  const dialogs = [];
  const pageErrors = [];

  before(async () => {
    server = await startGateway();
    browser = await launchChromium();
    context = browser.context;
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function openPage(room) {
    const page = await context.newPage();
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      d.dismiss().catch(() => {});
    });
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    await page.goto(server.url + "/", { waitUntil: "load" });
    await page.locator('#status[data-state="connected"]').waitFor();
    if (room) {
      await page.click(`#join-${room}`);
      await page.locator(`body[data-room="${room}"]`).waitFor();
      assert.equal(await page.textContent("#room"), room);
    }
    return page;
  }

  async function send(page, text) {
    await page.fill("#input", text);
    await page.click("#send");
  }

  const messages = (page) => page.locator('#messages [data-testid="message"]').allTextContents();

  it("a message crosses between two pages in #chat, not to #study; XSS shows as text", async () => {
    const [a, b, c] = await Promise.all([openPage("chat"), openPage("chat"), openPage("study")]);

    await send(a, "hello from a");
    await b.locator('#messages [data-testid="message"]', { hasText: "hello from a" }).waitFor();
    await a.locator('#messages [data-testid="message"]', { hasText: "hello from a" }).waitFor();

    await send(b, XSS);
    await a.locator('#messages [data-testid="message"]', { hasText: XSS }).waitFor();
    await b.locator('#messages [data-testid="message"]', { hasText: XSS }).waitFor();
    assert.equal(await a.locator("#messages img").count(), 0, "the XSS string became an <img> element");
    assert.deepEqual(await messages(a), ["hello from a", XSS]);

    // #study sees nothing of #chat: a message of its own arrives, the others did not.
    await send(c, "study only");
    await c.locator('#messages [data-testid="message"]', { hasText: "study only" }).waitFor();
    assert.deepEqual(await messages(c), ["study only"]);
    assert.deepEqual(await messages(a), ["hello from a", XSS]);

    assert.deepEqual(dialogs, [], "a dialog fired");
    assert.deepEqual(pageErrors, []);
  });
});

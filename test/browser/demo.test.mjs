// The chat demo in a real browser: Debian's chromium driven by playwright-core
// (no downloaded browsers). Two pages in #chat see each other's message, a
// page in #study does not, and an XSS string shows as text without a dialog.
// With the client bundle blocked, the page says so and its form never submits
// natively.
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

  it("without the client bundle the page says so and the form does not submit natively", async () => {
    const page = await context.newPage();
    try {
      let bundleRequests = 0;
      await page.route("**/socket.io/socket.io.js", (route) => {
        bundleRequests++;
        return route.abort("failed");
      });
      // A document-level listener runs after the form's own: a submit event
      // that reaches it not default-prevented is a native submission (which
      // would reload the page), whatever the CSP then does with it.
      await page.addInitScript(() => {
        window.__nativeSubmits = 0;
        window.__cspViolations = [];
        document.addEventListener("submit", (e) => {
          if (!e.defaultPrevented) window.__nativeSubmits++;
        });
        document.addEventListener("securitypolicyviolation", (e) => {
          window.__cspViolations.push(e.violatedDirective);
        });
      });
      const navigations = [];
      page.on("framenavigated", (f) => {
        if (f === page.mainFrame()) navigations.push(f.url());
      });
      await page.goto(server.url + "/", { waitUntil: "load" });
      assert.equal(bundleRequests, 1, "the page did not request the bundle");
      await page.locator('#status[data-state="disconnected"]', { hasText: "bundle" }).waitFor();

      await page.fill("#input", "typed while offline");
      await page.press("#input", "Enter");
      // Submitting through script too (requestSubmit runs the submit event as a
      // click on #send would), so the check does not hinge on #send being disabled.
      await page.evaluate(() => document.getElementById("form").requestSubmit());
      await page.click("#send", { force: true });

      assert.equal(await page.evaluate(() => window.__nativeSubmits), 0, "the form submitted natively");
      assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
      assert.deepEqual(navigations, [server.url + "/"], "the page navigated");
      assert.equal(await page.inputValue("#input"), "typed while offline");
      assert.equal(await page.locator('#messages [data-testid="message"]').count(), 0);
    } finally {
      await page.close();
    }
  });
});

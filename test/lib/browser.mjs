// Debian's chromium driven by playwright-core (no downloaded browsers), for
// the browser tests.
//
// Without /usr/bin/chromium the tests are skipped, unless CI is set: then
// importing this module fails.

import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REFERENCE } from "./harness.mjs";

const CHROMIUM = "/usr/bin/chromium";

// skipBrowser is the skip reason of a browser test, or false.
export let skipBrowser = false;
if (REFERENCE) {
  skipBrowser = "the Node reference server does not serve the demo";
} else if (!existsSync(CHROMIUM)) {
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing and CI is set: install Debian's chromium`);
  skipBrowser = `${CHROMIUM} is missing (apt-get install chromium); set CI=1 to make this a failure`;
}

// launchChromium starts a headless chromium with a throw-away profile; its
// close() also removes the profile.
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  const userDataDir = await mkdtemp(join(tmpdir(), "sockgate-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  context.setDefaultTimeout(10_000);
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

// Engine.IO v4 conformance of cmd/conformance's bare Engine.IO echo server
// (/engine.io/): the checks of socketio/engine.io-protocol's test suite.

import { before, after } from "node:test";
import { startConformance } from "../lib/harness.mjs";
import { defineEngineChecks } from "../lib/engine-checks.mjs";

let server;
before(async () => {
  server = await startConformance();
});
after(async () => {
  await server?.stop();
});

defineEngineChecks(() => server, "/engine.io/", { echo: true });

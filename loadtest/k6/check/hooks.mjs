// Module resolution hooks for check-protocol.mjs: map k6's built-in modules
// to the small Node stand-ins in k6shim.mjs.
const shim = new URL('./k6shim.mjs', import.meta.url).href;
const names = new Set(['k6', 'k6/metrics', 'k6/websockets', 'k6/timers']);

export async function resolve(specifier, context, next) {
  if (names.has(specifier)) {
    return { url: shim, shortCircuit: true }; // one instance serves them all
  }
  return next(specifier, context);
}

// The client-side safety suites again, on node's HTTP/1.1 front end
// (--http1-frontend node, still selectable): every assertion of those files,
// unchanged, against the other front end. The other traffic-port suites run
// on it with `npm run test:node-frontend` (docs/performance.md).
process.env.RINGLB_TEST_HTTP1_FRONTEND = 'node';
await import('./dataplane-client-errors.test.js');
await import('./dataplane-safety.test.js');
await import('./dataplane-fuzz.test.js');

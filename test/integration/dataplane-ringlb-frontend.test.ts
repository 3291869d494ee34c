// The client-side safety suites again, on ringlb's HTTP/1.1 front end
// (--http1-frontend ringlb): every assertion of those files, unchanged,
// against the other front end. The other traffic-port suites run on it with
// `npm run test:ringlb-frontend` (docs/performance.md).
process.env.RINGLB_TEST_HTTP1_FRONTEND = 'ringlb';
await import('./dataplane-client-errors.test.js');
await import('./dataplane-safety.test.js');
await import('./dataplane-fuzz.test.js');

import { runDifferential } from './http1-differential.js';
import { runRequestDifferential } from './http1-request-differential.js';

/**
 * The long differential run: `npm run fuzz:http1 -- [cases] [first seed]`
 * (default 10,000,000 from seed 1) for ringlb's response parser, and
 * `npm run fuzz:http1-requests -- …` (`--requests`) for its request parser
 * (the ringlb front end's). Prints progress every million and a summary;
 * exits 1 on any case where ringlb accepted a message and read it
 * differently from llhttp (the seed reproduces it: generate(seed),
 * generateRequests(seed)).
 */
function main(): void {
  const args = process.argv.slice(2);
  const requests = args[0] === '--requests';
  if (requests) args.shift();
  const run = requests ? runRequestDifferential : runDifferential;
  const what = requests ? 'http1 request differential' : 'http1 differential';
  const total = Number(args[0] ?? 10_000_000);
  const first = Number(args[1] ?? 1);
  if (!Number.isSafeInteger(total) || total <= 0 || !Number.isSafeInteger(first) || first <= 0) {
    console.error('usage: differential-main [cases > 0] [first seed > 0]');
    process.exit(2);
  }
  const step = 1_000_000;
  const started = Date.now();
  let cases = 0;
  let agreed = 0;
  let rejected = 0;
  const mismatches: { seed: number; reason: string }[] = [];
  for (let from = first; from < first + total && mismatches.length === 0; from += step) {
    const part = run(from, Math.min(step, first + total - from));
    cases += part.cases;
    agreed += part.agreed;
    rejected += part.ringlbRejected;
    mismatches.push(...part.mismatches);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `${what}: ${cases.toLocaleString('en')} cases, ${agreed.toLocaleString('en')} ${requests ? 'read' : 'framed'} alike, ` +
        `${rejected.toLocaleString('en')} rejected by ringlb, ${mismatches.length} mismatches, ${seconds.toFixed(0)} s`,
    );
  }
  for (const m of mismatches) console.log(`mismatch: seed ${m.seed}: ${m.reason}`);
  process.exit(mismatches.length === 0 ? 0 : 1);
}

main();

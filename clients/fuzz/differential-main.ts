import { runDifferential } from './http1-differential.js';

/**
 * The long differential run: `npm run fuzz:http1 -- [cases] [first seed]`
 * (default 10,000,000 from seed 1). Prints progress every million and a
 * summary; exits 1 on any case where ringlb accepted a response and framed
 * it differently from llhttp (the seed reproduces it: generate(seed)).
 */
function main(): void {
  const total = Number(process.argv[2] ?? 10_000_000);
  const first = Number(process.argv[3] ?? 1);
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
    const run = runDifferential(from, Math.min(step, first + total - from));
    cases += run.cases;
    agreed += run.agreed;
    rejected += run.ringlbRejected;
    mismatches.push(...run.mismatches);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `http1 differential: ${cases.toLocaleString('en')} cases, ${agreed.toLocaleString('en')} framed alike, ` +
        `${rejected.toLocaleString('en')} rejected by ringlb, ${mismatches.length} mismatches, ${seconds.toFixed(0)} s`,
    );
  }
  for (const m of mismatches) console.log(`mismatch: seed ${m.seed}: ${m.reason}`);
  process.exit(mismatches.length === 0 ? 0 : 1);
}

main();

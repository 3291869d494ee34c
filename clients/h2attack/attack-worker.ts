import { parentPort, workerData } from 'node:worker_threads';
import { type AttackName, runAttack } from './attacks.js';
import type { RawTarget } from './h2-frames.js';

/** Runs one attack on its own thread (so the attacker's busy loop does not slow the good client) and posts its report. */
const { attack, target, durationMs } = workerData as { attack: AttackName; target: RawTarget; durationMs: number };
parentPort!.postMessage(await runAttack(attack, target, { durationMs }));

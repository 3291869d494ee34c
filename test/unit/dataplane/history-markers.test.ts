import assert from 'node:assert/strict';
import test from 'node:test';
import type { RingView } from '../../../src/dataplane/core/ring-view.js';
import { HistoryMarkers, MAX_MARKERS } from '../../../src/dataplane/observability/history-markers.js';

function markers(health: { hostname: string; up: boolean }[], now: () => number) {
  const ring = { current: undefined as RingView | undefined, onChange: () => () => undefined };
  return new HistoryMarkers({ ring, health: () => health, now });
}

test('health samples mark each transition once: down, then up', () => {
  let now = 1_000;
  const health = [
    { hostname: 'a', up: true },
    { hostname: 'b', up: true },
  ];
  const m = markers(health, () => now);
  m.sampleHealth();
  assert.deepEqual(m.since(0), []);
  health[1].up = false;
  now = 2_000;
  m.sampleHealth();
  m.sampleHealth();
  health[1].up = true;
  now = 3_000;
  m.sampleHealth();
  assert.deepEqual(
    m.since(0).map((x) => [x.time, x.kind, x.text]),
    [
      [2_000, 'down', 'b refused a connection'],
      [3_000, 'up', 'b answers again'],
    ],
  );
  assert.deepEqual(
    m.since(2_500).map((x) => x.kind),
    ['up'],
  );
});

test('markers stay in time order and bounded', () => {
  const m = markers([], () => 0);
  m.add({ time: 30, kind: 'add', text: 'late' });
  m.add({ time: 10, kind: 'down', text: 'replayed' });
  m.add({ time: 20, kind: 'remove', text: 'middle' });
  assert.deepEqual(
    m.since(0).map((x) => x.text),
    ['replayed', 'middle', 'late'],
  );
  for (let i = 0; i < MAX_MARKERS + 50; i++) m.add({ time: 100 + i, kind: 'up', text: String(i) });
  const all = m.since(0);
  assert.equal(all.length, MAX_MARKERS);
  assert.equal(all.at(-1)!.text, String(MAX_MARKERS + 49));
});

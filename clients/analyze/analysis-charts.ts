import type { ChartSpec } from './chart-renderer.js';
import type { ExperimentResults, Measurement, Variant } from './experiments.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 560;
const HEIGHT = 300;

/** A chart to render: its file name (without extension), spec and what the report says about it. */
export interface ChartPlan {
  name: string;
  caption: string;
  spec: ChartSpec;
}

const fmt = (x: number): string => x.toLocaleString('en-US');

/** Every chart the results support, in report order. */
export function planCharts(results: ExperimentResults): ChartPlan[] {
  const s = results.settings;
  const base = s.variants[0]!;
  const at = (variant: string, n: number): Measurement | undefined =>
    results.measurements.find((m) => m.variant === variant && m.n === n);
  const plans: ChartPlan[] = [];

  const a1 = at(base.id, s.baseN);
  if (a1) plans.push(a1Chart(a1, base, s.requests));
  const a2 = results.measurements.filter((m) => m.variant === base.id).sort((x, y) => x.n - y.n);
  if (a2.length > 1) plans.push(a2Chart(a2, base, s.requests));
  if (results.kill) plans.push(a3Chart(results));
  if (s.runA4) plans.push(...a4Charts(results));
  return plans;
}

function a1Chart(m: Measurement, v: Variant, requests: number): ChartPlan {
  const top = m.perReplica.reduce((a, b) => (b.requests > a.requests ? b : a));
  const share = ((top.requests / Math.max(1, m.ok)) * 100).toFixed(1);
  return {
    name: 'a1-requests-per-replica',
    caption: `A-1: ${fmt(requests)} requests on N=${m.n} with the ${v.label} ring; ${top.hostname} takes ${share}%.`,
    spec: {
      $schema: SCHEMA,
      title: {
        text: `A-1: requests per replica (${v.label}, N=${m.n})`,
        subtitle: `${fmt(requests)} requests, random 6-digit request ids; max/mean ${m.maxOverMean.toFixed(2)}`,
      },
      width: WIDTH,
      height: HEIGHT,
      data: { values: m.perReplica.map((r) => ({ replica: r.hostname, requests: r.requests })) },
      layer: [
        {
          mark: { type: 'bar', tooltip: true },
          encoding: {
            x: { field: 'replica', type: 'nominal', title: 'Replica', axis: { labelAngle: 0 } },
            y: { field: 'requests', type: 'quantitative', title: 'Requests handled' },
            color: { field: 'replica', type: 'nominal', title: 'Replica' },
          },
        },
        {
          mark: { type: 'text', dy: -8, fontSize: 12 },
          encoding: {
            x: { field: 'replica', type: 'nominal' },
            y: { field: 'requests', type: 'quantitative' },
            text: { field: 'requests', type: 'quantitative', format: ',' },
          },
        },
      ],
    } as ChartSpec,
  };
}

const SERIES = ['busiest replica (max)', 'mean per replica', 'idlest replica (min)'];

function a2Chart(rows: Measurement[], v: Variant, requests: number): ChartPlan {
  const values = rows.flatMap((m) => {
    const counts = m.perReplica.map((r) => r.requests);
    return [
      { n: m.n, series: 'mean per replica', requests: m.ok / m.n },
      { n: m.n, series: 'busiest replica (max)', requests: Math.max(...counts) },
      { n: m.n, series: 'idlest replica (min)', requests: Math.min(...counts) },
    ];
  });
  return {
    name: 'a2-load-vs-n',
    caption: `A-2: ${fmt(requests)} requests for each N with the ${v.label} ring: the mean load per replica falls as 1/N, but the busiest replica keeps almost everything.`,
    spec: {
      $schema: SCHEMA,
      title: {
        text: `A-2: load per replica as N grows (${v.label})`,
        subtitle: `${fmt(requests)} requests per N; mean, max and min requests per replica`,
      },
      width: WIDTH,
      height: HEIGHT,
      data: { values },
      mark: { type: 'line', point: true, tooltip: true },
      encoding: {
        x: { field: 'n', type: 'ordinal', title: 'Replicas (N)', axis: { labelAngle: 0 } },
        y: { field: 'requests', type: 'quantitative', title: 'Requests per replica' },
        // Colour and dash on one field with one title merge into a single legend.
        color: { field: 'series', type: 'nominal', title: 'Series', sort: SERIES },
        strokeDash: { field: 'series', type: 'nominal', title: 'Series', sort: SERIES },
      },
    } as ChartSpec,
  };
}

function a3Chart(results: ExperimentResults): ChartPlan {
  const k = results.kill!;
  const toS = (ms: number): number => Math.round(ms) / 1000;
  // The last bucket is cut short by the end of the loop: leave it out rather than draw a false dip.
  const values = k.timeline.slice(0, k.timeline.length > 2 ? -1 : undefined).flatMap((b) => [
    { t: toS(b.startMs), outcome: '2xx', requests: b.ok },
    { t: toS(b.startMs), outcome: 'failed', requests: b.failed },
  ]);
  // One text row per event so labels of nearby events do not overlap.
  const marks = [
    { t: 0, label: `kill -9 ${k.victim}` },
    ...(k.detectMs === undefined ? [] : [{ t: toS(k.detectMs), label: `detected (${Math.round(k.detectMs)} ms)` }]),
    ...(k.replaceMs === undefined
      ? []
      : [{ t: toS(k.replaceMs), label: `${k.replacement} healthy (${Math.round(k.replaceMs)} ms)` }]),
  ].map((m, row) => ({ ...m, ypx: 4 + row * 16 }));
  return {
    name: 'a3-kill-timeline',
    caption: `A-3: client requests per 250 ms around the kill of ${k.victim}; ${k.failed} of ${fmt(k.requests)} failed.`,
    spec: {
      $schema: SCHEMA,
      title: {
        text: `A-3: a replica killed under load`,
        subtitle: `GET /home, ${results.settings.killConcurrency} in flight; ${k.failed} failed of ${fmt(k.requests)}; N ${k.nBefore} → ${k.nAfter}`,
      },
      width: WIDTH,
      height: HEIGHT,
      layer: [
        {
          data: { values },
          mark: { type: 'line', interpolate: 'step-after', tooltip: true },
          encoding: {
            x: { field: 't', type: 'quantitative', title: 'Seconds since the kill' },
            y: { field: 'requests', type: 'quantitative', title: 'Requests per 250 ms' },
            color: {
              field: 'outcome',
              type: 'nominal',
              title: 'Outcome',
              scale: { domain: ['2xx', 'failed'], range: ['#4c78a8', '#e45756'] },
            },
          },
        },
        {
          data: { values: marks },
          mark: { type: 'rule', strokeDash: [4, 3], color: '#555' },
          encoding: { x: { field: 't', type: 'quantitative' } },
        },
        {
          data: { values: marks },
          mark: { type: 'text', align: 'left', dx: 4, dy: -4, angle: 0, baseline: 'top', fontSize: 11, color: '#333' },
          encoding: {
            x: { field: 't', type: 'quantitative' },
            y: { field: 'ypx', type: 'quantitative', scale: null },
            text: { field: 'label' },
          },
        },
      ],
    } as ChartSpec,
  };
}

function a4Charts(results: ExperimentResults): ChartPlan[] {
  const s = results.settings;
  const label = new Map(s.variants.map((v) => [v.id, v.label]));
  const order = s.variants.map((v) => v.label);
  const atBase = results.measurements.filter((m) => m.n === s.baseN);
  const plans: ChartPlan[] = [];

  const measures = ['live (this machine)', 'model (equally fast replicas)'];
  const bars = atBase.flatMap((m) => [
    { strategy: label.get(m.variant), measure: measures[0], maxOverMean: m.maxOverMean },
    { strategy: label.get(m.variant), measure: measures[1], maxOverMean: m.modelMaxOverMean },
  ]);
  plans.push({
    name: 'a4-max-over-mean',
    caption: `A-4: max/mean load at N=${s.baseN} per strategy (1.00 is perfect), live and in the closed-loop model; dashed lines at 1.10 and 1.05.`,
    spec: {
      $schema: SCHEMA,
      title: {
        text: `A-4: balance per strategy (N=${s.baseN})`,
        subtitle: `${fmt(s.requests)} requests each; busiest replica's load over the mean`,
      },
      width: WIDTH + 140,
      height: HEIGHT,
      layer: [
        {
          data: { values: bars },
          mark: { type: 'bar', tooltip: true },
          encoding: {
            x: { field: 'strategy', type: 'nominal', title: 'Strategy', sort: order, axis: { labelAngle: -30 } },
            xOffset: { field: 'measure', type: 'nominal', sort: measures },
            y: { field: 'maxOverMean', type: 'quantitative', title: 'Max / mean load', scale: { domainMin: 0 } },
            color: {
              field: 'measure',
              type: 'nominal',
              title: 'Measured',
              sort: measures,
              scale: { range: ['#4c78a8', '#9ecae9'] },
            },
          },
        },
        {
          data: {
            values: [
              { y: 1.1, bound: 'target 1.10' },
              { y: 1.05, bound: 'target 1.05 (bounded loads)' },
            ],
          },
          mark: { type: 'rule', strokeDash: [6, 4] },
          encoding: {
            y: { field: 'y', type: 'quantitative' },
            stroke: { field: 'bound', type: 'nominal', title: 'Target', scale: { range: ['#54a24b', '#e45756'] } },
          },
        },
      ],
    } as ChartSpec,
  });

  plans.push({
    name: 'a4-requests-per-replica',
    caption: `A-4: A-1 repeated for every strategy (N=${s.baseN}): requests per replica.`,
    spec: {
      $schema: SCHEMA,
      title: {
        text: `A-4: requests per replica, every strategy (N=${s.baseN})`,
        subtitle: `${fmt(s.requests)} live requests per strategy`,
      },
      width: WIDTH + 140,
      height: HEIGHT,
      data: {
        values: atBase.flatMap((m) =>
          m.perReplica.map((r) => ({ strategy: label.get(m.variant), replica: r.hostname, requests: r.requests })),
        ),
      },
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'strategy', type: 'nominal', title: 'Strategy', sort: order, axis: { labelAngle: -30 } },
        xOffset: { field: 'replica', type: 'nominal' },
        y: { field: 'requests', type: 'quantitative', title: 'Requests handled' },
        color: { field: 'replica', type: 'nominal', title: 'Replica' },
      },
    } as ChartSpec,
  });

  const swept = results.measurements;
  const ns = new Set(swept.map((m) => m.n));
  if (ns.size > 1) {
    plans.push({
      name: 'a4-max-over-mean-vs-n',
      caption: `A-4: A-2 repeated for every strategy: max/mean load for N = ${s.nMin}…${s.nMax} (log scale).`,
      spec: {
        $schema: SCHEMA,
        title: {
          text: 'A-4: balance as N grows, every strategy',
          subtitle: `${fmt(s.requests)} live requests per point; max/mean load, log scale`,
        },
        width: WIDTH,
        height: HEIGHT,
        data: { values: swept.map((m) => ({ n: m.n, strategy: label.get(m.variant), maxOverMean: m.maxOverMean })) },
        mark: { type: 'line', point: true, tooltip: true },
        encoding: {
          x: { field: 'n', type: 'ordinal', title: 'Replicas (N)', axis: { labelAngle: 0 } },
          y: {
            field: 'maxOverMean',
            type: 'quantitative',
            title: 'Max / mean load',
            scale: { type: 'log', domainMin: 1 },
          },
          color: { field: 'strategy', type: 'nominal', title: 'Strategy', sort: order },
        },
      } as ChartSpec,
    });
  }

  if (results.disruption.length) {
    const values = results.disruption.flatMap((d) => [
      { strategy: label.get(d.variant), measure: 'remove one: moved', fraction: d.removeMoved },
      { strategy: label.get(d.variant), measure: `remove one: ideal 1/${d.n}`, fraction: d.removeIdeal },
      { strategy: label.get(d.variant), measure: 'add one: moved', fraction: d.addMoved },
      { strategy: label.get(d.variant), measure: `add one: ideal 1/${d.n + 1}`, fraction: d.addIdeal },
    ]);
    const n = results.disruption[0]!.n;
    plans.push({
      name: 'a4-disruption',
      caption: `A-4: keys that move when one replica is removed from or added to N=${n} (SimulateChange, 100,000 keys), against the ideal.`,
      spec: {
        $schema: SCHEMA,
        title: {
          text: `A-4: disruption on a membership change (N=${n})`,
          subtitle: 'SimulateChange dry runs on the live control plane, 100,000 sampled keys',
        },
        width: WIDTH,
        height: HEIGHT,
        data: { values },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: { field: 'strategy', type: 'nominal', title: 'Strategy', sort: order, axis: { labelAngle: 0 } },
          xOffset: { field: 'measure', type: 'nominal', sort: values.slice(0, 4).map((v) => v.measure) },
          y: { field: 'fraction', type: 'quantitative', title: 'Fraction of keys moved', axis: { format: '%' } },
          color: { field: 'measure', type: 'nominal', title: 'Change', sort: values.slice(0, 4).map((v) => v.measure) },
        },
      } as ChartSpec,
    });
  }
  return plans;
}

/**
 * The admin server's live dashboard: one self-contained page (no build step,
 * no external assets, works offline). It asks for /ring, /stats and
 * /stats/history as soon as its script runs and draws each as it arrives, so
 * the first render already has data; then it polls /ring and /stats every
 * second and /stats/history every two seconds. The table shows load per
 * replica (shares from recent totals when traffic is idle); the ring card
 * shows every strategy's key shares (and the slot table for slot-based ones);
 * the SVG charts span a window fitted to the history this data plane has (30 s
 * at first, growing to 30 minutes; `?window=SECONDS` fixes it), with a
 * marker for each ring version and health change, labels grouped so that
 * they never overprint (the details on hover).
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ringlb data plane</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
  body { margin: 0 auto; max-width: 1100px; padding: 16px 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .meta { color: #5a6272; font-size: 13px; margin-bottom: 16px; }
  .meta span { margin-right: 16px; }
  .ok { color: #12824c; } .bad { color: #c0392b; }
  .grid { display: grid; grid-template-columns: 1fr 320px; gap: 20px; align-items: start; }
  table { border-collapse: collapse; width: 100%; background: #fff; border-radius: 6px; overflow: hidden; box-shadow: 0 1px 2px #0002; }
  th, td { padding: 7px 10px; text-align: right; font-size: 13px; border-bottom: 1px solid #eceef2; white-space: nowrap; }
  th { background: #eef0f4; font-weight: 600; } th:first-child, td:first-child { text-align: left; }
  td.bar { width: 35%; text-align: left; }
  .bar div { height: 12px; border-radius: 3px; background: #4a7bd0; min-width: 1px; }
  .badge { display: inline-block; padding: 1px 7px; border-radius: 9px; font-size: 12px; color: #fff; }
  .badge.up { background: #12824c; } .badge.down { background: #c0392b; } .badge.gone { background: #8a93a3; }
  .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
  .card { background: #fff; border-radius: 6px; box-shadow: 0 1px 2px #0002; padding: 12px; }
  .card h2 { font-size: 14px; margin: 0 0 8px; }
  #error { color: #c0392b; font-size: 13px; min-height: 18px; }
  .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; margin-top: 20px; }
  .chart svg { width: 100%; height: 170px; display: block; }
  .chart .axis { stroke: #d5d9e0; stroke-width: 1; }
  .chart text { font-size: 10px; fill: #5a6272; }
  .chart .marker { stroke-width: 1.2; stroke-dasharray: 3 2; }
  .legend { font-size: 12px; color: #39404d; margin: 12px 0 0; }
  .legend span { margin-right: 14px; white-space: nowrap; }
  #events { font-size: 12px; margin: 6px 0 0; padding: 0; list-style: none; columns: 2; color: #39404d; }
  #events b { display: inline-block; min-width: 60px; }
  .chart .mlabel rect { fill: #fff; fill-opacity: 0.85; }
  td.bar span { display: inline-block; min-width: 40px; text-align: right; margin-right: 6px; color: #39404d; }
  td.bar div { display: inline-block; vertical-align: -1px; }
  td.bar.recent div { background: #9db5df; }
  th .basis { font-weight: 400; color: #5a6272; }
  #ringshares { font-size: 12px; color: #39404d; margin-top: 6px; line-height: 1.6; }
  #ringshares span { margin-right: 10px; white-space: nowrap; }
</style>
</head>
<body>
<h1>ringlb data plane</h1>
<div class="meta">
  <span>node <b id="node">–</b></span>
  <span>ring version <b id="version">–</b></span>
  <span>strategy <b id="strategy">–</b></span>
  <span>routing key <b id="routing">–</b></span>
  <span>control plane <b id="control">–</b></span>
  <span>total <b id="total">0</b> req/s</span>
</div>
<div id="error"></div>
<div class="grid">
  <table>
    <thead><tr><th>replica</th><th>id</th><th>health</th><th>req/s</th><th class="bar">share <span class="basis" id="sharebasis"></span></th><th>in flight</th><th>requests</th><th>errors</th><th>retries</th><th title="share of keys in the ring now (weights and slow start), and the weight">ring share</th></tr></thead>
    <tbody id="replicas"><tr><td colspan="10">waiting for the ring…</td></tr></tbody>
  </table>
  <div class="card"><h2>ring</h2><svg id="ring" viewBox="-110 -110 220 220" width="296" height="296" role="img" aria-label="the ring"></svg><div id="ringnote" class="meta"></div><div id="ringshares"></div></div>
</div>
<div class="legend" id="legend"></div>
<div class="charts">
  <div class="card chart"><h2>requests/s per replica (stacked)</h2><svg id="chart-requests" role="img" aria-label="requests per second"></svg></div>
  <div class="card chart"><h2>share of requests per replica</h2><svg id="chart-share" role="img" aria-label="share per replica"></svg></div>
  <div class="card chart"><h2>p99 latency (ms)</h2><svg id="chart-p99" role="img" aria-label="p99 latency"></svg></div>
  <div class="card chart"><h2>errors/s (status ≥ 500)</h2><svg id="chart-errors" role="img" aria-label="errors per second"></svg></div>
</div>
<div class="card" style="margin-top:16px"><h2>ring and health events <span class="meta" id="window"></span></h2><ul id="events"></ul></div>
<script>
const COLORS = ['#4a7bd0', '#e07b39', '#3aa776', '#c94f7c', '#8a6fd1', '#c2a233', '#3b9bb5', '#a15c3e', '#6b8e23', '#d45b5b'];
// One colour per replica for the page's lifetime, in order of first sight, so a replica keeps its colour in the table and every chart.
const assigned = new Map();
const colorOf = (hostname) => {
  if (!assigned.has(hostname)) assigned.set(hostname, COLORS[assigned.size % COLORS.length]);
  return assigned.get(hostname);
};
const MARKER_COLORS = { ring: '#8a93a3', add: '#12824c', remove: '#c0392b', replace: '#e07b39', policy: '#8a6fd1', down: '#c0392b', up: '#3aa776' };
const MAX_WINDOW = 1800;
// ?window=SECONDS fixes the window; otherwise it fits the history there is: its age and a tenth more,
// in steps of 30 s (a minute past 5 minutes), from 30 s up to MAX_WINDOW.
const FIXED_WINDOW = Number(new URLSearchParams(location.search).get('window')) || 0;
// Epoch second of the oldest traffic or marker seen (null: none yet).
let dataStart = null;
let previous = null;
let lastStats = null;
let lastRingVersion = null;
// From the last history drawn: requests per replica over its window, the window, and the last complete second's rates.
let recent = { totals: new Map(), span: 0, rates: new Map() };

function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]); }

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  return { status: res.status, body: await res.json() };
}

function windowFor(nowSecond) {
  if (FIXED_WINDOW) return Math.min(MAX_WINDOW, Math.max(10, Math.round(FIXED_WINDOW)));
  const age = dataStart === null ? 0 : nowSecond - dataStart + 1;
  const step = age < 300 ? 30 : 60;
  return Math.min(MAX_WINDOW, Math.max(30, Math.ceil((age * 1.1) / step) * step));
}

function pct(v) { return v >= 0.1 ? (v * 100).toFixed(0) + '%' : (v * 100).toFixed(1) + '%'; }

/** Donut arcs, one per member, sized by its share of keys. */
function donut(shares, r, width) {
  const c = 2 * Math.PI * r;
  let offset = 0;
  let html = '<circle r="' + r + '" fill="none" stroke="#e3e6ec" stroke-width="' + width + '"/>';
  for (const [hostname, share] of shares) {
    const len = share * c;
    if (len > 0) {
      html += '<circle class="share" data-replica="' + esc(hostname) + '" r="' + r + '" fill="none" stroke="' + colorOf(hostname) + '" stroke-width="' + width +
        '" stroke-dasharray="' + len.toFixed(2) + ' ' + (c - len).toFixed(2) + '" stroke-dashoffset="' + (-offset).toFixed(2) + '" transform="rotate(-90)"><title>' +
        esc(hostname) + ': ' + pct(share) + ' of keys</title></circle>';
    }
    offset += len;
  }
  return html;
}

const RING_NOTES = {
  ketama: (r) => (r.options.vnodes || '?') + ' points per member on a 32-bit circle, interleaved',
  maglev: (r) => 'a lookup table of ' + (r.options.table || '?') + ' entries, taken in turns',
  rendezvous: () => 'no table: each key goes to the member that scores it highest',
};

/**
 * Every strategy: a donut of each member's share of keys (from /ring's sample);
 * slot-based strategies (classic, custom) also get their slot table around it.
 */
function drawRing(ring) {
  if (lastRingVersion === ring.version) return;
  lastRingVersion = ring.version;
  const svg = document.getElementById('ring');
  const members = ring.members || [];
  const shares = members.map((m) => [m.hostname, (ring.shares || {})[m.hostname] || 0]);
  let html = '';
  let note;
  if (ring.slots) {
    const m = ring.slots.length;
    html += '<circle r="90" fill="none" stroke="#e3e6ec" stroke-width="14"/>';
    ring.slots.forEach((h, s) => {
      if (h === null) return;
      const a = (2 * Math.PI * s) / m - Math.PI / 2;
      const x1 = 83 * Math.cos(a), y1 = 83 * Math.sin(a), x2 = 97 * Math.cos(a), y2 = 97 * Math.sin(a);
      html += '<line class="slot" x1="' + x1.toFixed(1) + '" y1="' + y1.toFixed(1) + '" x2="' + x2.toFixed(1) + '" y2="' + y2.toFixed(1) + '" stroke="' + colorOf(h) + '" stroke-width="2.5"><title>slot ' + s + ': ' + esc(h) + '</title></line>';
    });
    html += donut(shares, 58, 20);
    note = 'outer: ' + ring.slots.filter((s) => s !== null).length + ' occupied of ' + m + ' slots; inner: share of keys';
  } else {
    html += donut(shares, 76, 30);
    note = (RING_NOTES[ring.strategy] ? RING_NOTES[ring.strategy](ring) : ring.strategy) + '; the ring: share of keys';
  }
  html += '<text text-anchor="middle" y="-2" font-size="14" font-weight="600" fill="#1d2330">' + esc(ring.strategy) + '</text>' +
    '<text text-anchor="middle" y="14" font-size="11" fill="#5a6272">' + members.length + ' member' + (members.length === 1 ? '' : 's') + '</text>';
  svg.innerHTML = html;
  document.getElementById('ringnote').textContent = note;
  document.getElementById('ringshares').innerHTML = shares.map(([h, v]) =>
    '<span data-replica="' + esc(h) + '"><span class="swatch" style="background:' + colorOf(h) + '"></span>' + esc(h) + ' ' + pct(v) + '</span>').join('');
}

/** The table: rates from the last two /stats, else the history's last second; shares from rates, else recent totals, else all requests. */
function renderTable() {
  const s = lastStats;
  if (!s) return;
  const dt = previous ? (s.time - previous.time) / 1000 : 0;
  const before = new Map(previous ? previous.replicas.map((r) => [r.hostname, r.requests]) : []);
  const rates = s.replicas.map((r) => {
    if (dt > 0) return before.has(r.hostname) ? Math.max(0, (r.requests - before.get(r.hostname)) / dt) : 0;
    return recent.rates.get(r.hostname) || 0;
  });
  const total = rates.reduce((a, b) => a + b, 0);
  let weights = rates;
  let basis = '';
  if (!(total > 0)) {
    const fromHistory = s.replicas.map((r) => recent.totals.get(r.hostname) || 0);
    if (fromHistory.some((v) => v > 0)) {
      weights = fromHistory;
      basis = '(last ' + fmtSpan(recent.span) + ')';
    } else {
      weights = s.replicas.map((r) => r.requests);
      basis = weights.some((v) => v > 0) ? '(all requests)' : '';
    }
  }
  const sum = weights.reduce((a, b) => a + b, 0);
  document.getElementById('total').textContent = total.toFixed(0);
  document.getElementById('sharebasis').textContent = basis;
  const rows = s.replicas.map((r, i) => {
    const share = sum > 0 ? weights[i] / sum : 0;
    const health = r.inRing ? r.health : 'gone';
    return '<tr data-replica="' + esc(r.hostname) + '"><td><span class="swatch" style="background:' + colorOf(r.hostname) + '"></span>' + esc(r.hostname) + '</td>' +
      '<td>' + (r.serverId ?? '') + '</td><td><span class="badge ' + health + '">' + health + '</span></td>' +
      '<td>' + rates[i].toFixed(0) + '</td><td class="bar' + (basis ? ' recent' : '') + '" data-share="' + share.toFixed(4) + '"><span>' + (sum > 0 ? pct(share) : '') + '</span><div style="width:calc((100% - 52px) * ' + share.toFixed(4) + ')"></div></td>' +
      '<td>' + r.inflight + '</td><td>' + r.requests + '</td><td>' + r.errors + '</td><td>' + r.retries + '</td>' +
      '<td>' + (r.share === undefined ? '' : pct(r.share) + ' · w' + r.weight) + '</td></tr>';
  });
  document.getElementById('replicas').innerHTML = rows.join('') || '<tr><td colspan="10">no replicas</td></tr>';
}

async function tick() {
  try {
    const [ring, stats] = await Promise.all([getJson('ring'), getJson('stats')]);
    const s = stats.body;
    document.getElementById('error').textContent = ring.status === 200 ? '' : (ring.body.message || 'no ring yet');
    document.getElementById('node').textContent = s.nodeId;
    document.getElementById('version').textContent = s.ringVersion ?? '–';
    document.getElementById('strategy').textContent = s.strategy ?? '–';
    document.getElementById('routing').textContent = s.routingKey;
    const control = document.getElementById('control');
    control.textContent = s.controlPlane;
    control.className = s.controlPlane === 'connected' ? 'ok' : 'bad';
    previous = lastStats;
    lastStats = s;
    renderTable();
    if (ring.status === 200) drawRing(ring.body);
  } catch (err) {
    document.getElementById('error').textContent = 'admin server unreachable: ' + err.message;
  }
}
const W = 520, H = 170, PAD_L = 38, PAD_B = 16, PAD_T = 8;
const LABEL_GAP = 4, LABEL_LANES = 3, CLOSE = 6;

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

// Marker labels are laid out before drawing, so their widths are measured with the charts' font (10 units in viewBox units).
const measure = document.createElement('canvas').getContext('2d');
function textWidth(text) {
  measure.font = '10px ' + getComputedStyle(document.body).fontFamily;
  return measure.measureText(text).width;
}

/**
 * Marker labels that never overlap. Markers a few units apart (a kill, its
 * removal and its replacement) form one group, named by its most telling
 * event. Left to right, each group's label takes the first of LABEL_LANES rows
 * where it starts past the previous label's end; a group that fits in none
 * folds into the label placed last. A label's box is sized at placement for
 * its text plus a "+N" count, so folding never widens it: no two boxes of a
 * row meet, and rows are apart.
 */
function markerGroups(placed) {
  const groups = [];
  for (const p of placed) {
    const last = groups[groups.length - 1];
    if (last && p.x - last.xEnd < CLOSE) {
      last.items.push(p.m);
      last.xEnd = p.x;
    } else groups.push({ x: p.x, xEnd: p.x, items: [p.m] });
  }
  const reserve = textWidth(' +' + placed.length);
  const laneEnd = new Array(LABEL_LANES).fill(-Infinity);
  const labels = [];
  for (const g of groups) {
    g.top = mostTelling(g.items);
    g.w = textWidth(shortLabel(g.top)) + reserve + 4;
    g.lx = Math.max(PAD_L, Math.min(g.x + 2, W - g.w));
    g.lane = laneEnd.findIndex((end) => g.lx >= end + LABEL_GAP);
    if (g.lane >= 0) {
      laneEnd[g.lane] = g.lx + g.w;
      labels.push(g);
    } else labels[labels.length - 1].items.push(...g.items);
  }
  for (const l of labels) l.label = shortLabel(l.top) + (l.items.length > 1 ? ' +' + (l.items.length - 1) : '');
  return labels;
}

// Which event names a group: a replacement tells the most, a bare ring version the least.
const SIGNIFICANCE = ['replace', 'policy', 'remove', 'add', 'down', 'up', 'ring'];
function mostTelling(items) {
  const rank = (m) => SIGNIFICANCE.indexOf(m.kind) + 1 || SIGNIFICANCE.length + 1;
  return items.reduce((a, b) => (rank(b) < rank(a) ? b : a));
}

/** An SVG chart: areas (stacked, with bottoms) or lines over the time axis, and marker lines. */
function chart(id, seconds, layers, markers, opts) {
  const svg = document.getElementById(id);
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  const n = seconds.length;
  const x = (i) => PAD_L + (i / Math.max(1, n - 1)) * (W - PAD_L - 4);
  let top = 0;
  for (const l of layers) for (const v of l.values) if (v !== null && v > top) top = v;
  const yMax = opts.yMax || niceMax(top);
  const y = (v) => H - PAD_B - (Math.min(v, yMax) / yMax) * (H - PAD_B - PAD_T);
  let html = '<line class="axis" x1="' + PAD_L + '" y1="' + (H - PAD_B) + '" x2="' + W + '" y2="' + (H - PAD_B) + '"/>';
  for (const f of [0.5, 1]) {
    html += '<line class="axis" stroke-dasharray="2 3" x1="' + PAD_L + '" y1="' + y(yMax * f).toFixed(1) + '" x2="' + W + '" y2="' + y(yMax * f).toFixed(1) + '"/>' +
      '<text x="' + (PAD_L - 4) + '" y="' + (y(yMax * f) + 3).toFixed(1) + '" text-anchor="end">' + opts.format(yMax * f) + '</text>';
  }
  const span = n > 1 ? seconds[n - 1] - seconds[0] + 1 : 0;
  html += '<text x="' + PAD_L + '" y="' + (H - 3) + '">−' + fmtSpan(span) + '</text><text x="' + ((PAD_L + W) / 2) + '" y="' + (H - 3) + '" text-anchor="middle">−' + fmtSpan(Math.round(span / 2)) + '</text>' +
    '<text x="' + W + '" y="' + (H - 3) + '" text-anchor="end">now</text>';
  for (const l of layers) {
    if (opts.area) {
      let d = '';
      for (let i = 0; i < n; i++) d += (i ? 'L' : 'M') + x(i).toFixed(1) + ',' + y(l.values[i]).toFixed(1);
      for (let i = n - 1; i >= 0; i--) d += 'L' + x(i).toFixed(1) + ',' + y(l.bottom[i]).toFixed(1);
      html += '<path class="area" data-replica="' + esc(l.hostname) + '" d="' + d + 'Z" fill="' + l.color + '" fill-opacity="0.85" stroke="none"><title>' + esc(l.hostname) + '</title></path>';
    } else {
      let d = '';
      let pen = false;
      for (let i = 0; i < n; i++) {
        const v = l.values[i];
        if (v === null) { pen = false; continue; }
        d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ',' + y(v).toFixed(1);
        pen = true;
      }
      if (d) html += '<path class="line" data-replica="' + esc(l.hostname) + '" d="' + d + '" fill="none" stroke="' + l.color + '" stroke-width="1.5"><title>' + esc(l.hostname) + '</title></path>';
    }
  }
  const t0 = seconds[0] * 1000, t1 = (seconds[n - 1] + 1) * 1000;
  const placed = [];
  for (const m of markers) {
    if (!(m.time >= t0 && m.time <= t1)) continue;
    const mx = PAD_L + ((m.time - t0) / Math.max(1, t1 - t0 - 1000)) * (W - PAD_L - 4);
    placed.push({ x: Math.min(mx, W), m });
    html += '<line class="marker" data-kind="' + m.kind + '" x1="' + mx.toFixed(1) + '" x2="' + mx.toFixed(1) + '" y1="' + PAD_T + '" y2="' + (H - PAD_B) + '" stroke="' + (MARKER_COLORS[m.kind] || '#555') + '"><title>' + esc(m.text) + '</title></line>';
  }
  if (opts.labels) {
    // One label per group, on a white ground; the group's events, with their times, are its tooltip.
    for (const g of markerGroups(placed)) {
      const kind = g.top.kind;
      const color = g.items.every((m) => m.kind === kind) ? MARKER_COLORS[kind] || '#555' : '#39404d';
      const details = g.items.map((m) => new Date(m.time).toLocaleTimeString() + '  ' + m.kind + ': ' + m.text).join('\\n');
      const y0 = PAD_T + g.lane * 12;
      html += '<g class="mlabel" data-count="' + g.items.length + '"><title>' + esc(details) + '</title>' +
        '<rect x="' + g.lx.toFixed(1) + '" y="' + y0 + '" width="' + g.w.toFixed(1) + '" height="11"/>' +
        '<text x="' + (g.lx + 2).toFixed(1) + '" y="' + (y0 + 8.5) + '" fill="' + color + '">' + esc(g.label) + '</text></g>';
    }
  }
  svg.innerHTML = html;
}

function fmtSpan(s) { return s >= 120 ? Math.round(s / 60) + ' min' : s + ' s'; }
// The marker's text without version prefix, reason and policy options, cut short: the full text is the tooltip and in the event list.
function shortLabel(m) {
  if (m.kind === 'ring') return 'ring';
  let t = m.text.replace(/^v[0-9]+: /, '').replace(/ [(].*$/, '').replace(' replaced by ', ' → ');
  if (m.kind === 'policy') t = t.split(' ').slice(0, 2).join(' ');
  return t.length > 24 ? t.slice(0, 23) + '…' : t;
}

function drawHistory(h, span) {
  // The last second is still filling (and a worker's arrives a second late): draw complete seconds only.
  const from = Math.max(0, h.seconds.length - 1 - span);
  const seconds = h.seconds.slice(from, -1);
  const n = seconds.length;
  const series = h.series.map((s) => ({ ...s, color: colorOf(s.hostname) }));
  const cut = (values) => values.slice(from, from + n);
  const totals = new Array(n).fill(0);
  for (const s of series) {
    const r = cut(s.requests);
    for (let i = 0; i < n; i++) totals[i] += r[i];
  }
  const stack = (values) => {
    const below = new Array(n).fill(0);
    return series.map((s) => {
      const bottom = below.slice();
      const v = values(s);
      for (let i = 0; i < n; i++) below[i] += v[i];
      return { hostname: s.hostname, color: s.color, bottom, values: below.slice() };
    });
  };
  const served = (s) => cut(s.requests);
  const share = (s) => cut(s.requests).map((r, i) => (totals[i] > 0 ? r / totals[i] : 0));
  const count = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1).replace(/[.]0$/, ''));
  chart('chart-requests', seconds, stack(served), h.markers, { area: true, labels: true, format: count });
  chart('chart-share', seconds, stack(share), h.markers, { area: true, yMax: 1, format: (v) => Math.round(v * 100) + '%' });
  chart('chart-p99', seconds, series.map((s) => ({ hostname: s.hostname, color: s.color, values: cut(s.p99) })), h.markers, { format: (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(1)) });
  chart('chart-errors', seconds, stack((s) => cut(s.errors)), h.markers, { area: true, format: count });
  const sum = totals.reduce((a, b) => a + b, 0);
  document.getElementById('chart-requests').setAttribute('data-total', String(sum));
  document.getElementById('legend').innerHTML = series.map((s) => '<span><span class="swatch" style="background:' + s.color + '"></span>' + esc(s.hostname) + '</span>').join('');
  document.getElementById('window').textContent = '(last ' + fmtSpan(span) + ')';
  document.getElementById('events').innerHTML = h.markers.slice(-16).reverse().map((m) =>
    '<li data-kind="' + m.kind + '"><b style="color:' + (MARKER_COLORS[m.kind] || '#555') + '">' + m.kind + '</b> ' + new Date(m.time).toLocaleTimeString() + ' ' + esc(m.text) + '</li>').join('') || '<li>none yet</li>';
  // For the table: totals over the window and the rate of the last complete seconds (until two /stats give a rate).
  const last = Math.max(0, n - 3);
  recent = {
    totals: new Map(series.map((s) => [s.hostname, served(s).reduce((a, b) => a + b, 0)])),
    span: n,
    rates: new Map(series.map((s) => [s.hostname, served(s).slice(last).reduce((a, b) => a + b, 0) / Math.max(1, n - last)])),
  };
  renderTable();
}

/** Oldest second with traffic or a marker in a history report, or null. */
function oldestData(h) {
  let oldest = h.markers.length ? Math.floor(h.markers[0].time / 1000) : null;
  for (const s of h.series) {
    const i = s.requests.findIndex((r) => r > 0);
    if (i >= 0 && (oldest === null || h.seconds[i] < oldest)) oldest = h.seconds[i];
  }
  return oldest;
}

async function tickHistory() {
  try {
    // Until the history's start is known, ask for all of it (once): the window then fits what is there.
    const ask = FIXED_WINDOW || dataStart !== null ? windowFor(Math.floor(Date.now() / 1000)) : MAX_WINDOW;
    // One second more than the window: the last one is still filling and is not drawn.
    const h = await getJson('stats/history?seconds=' + Math.min(MAX_WINDOW, ask + 1));
    if (h.status !== 200) return;
    const oldest = oldestData(h.body);
    if (oldest !== null && (dataStart === null || oldest < dataStart)) dataStart = oldest;
    const now = h.body.seconds[h.body.seconds.length - 1] || Math.floor(Date.now() / 1000);
    drawHistory(h.body, Math.min(ask, windowFor(now)));
  } catch (err) {
    document.getElementById('error').textContent = 'admin server unreachable: ' + err.message;
  }
}

// All three requests leave at once, before the first paint; each part draws when its answer arrives.
tickHistory();
tick();
setInterval(tick, 1000);
setInterval(tickHistory, 2000);
</script>
</body>
</html>
`;

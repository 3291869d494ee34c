/**
 * The admin server's live dashboard: one self-contained page (no build step,
 * no external assets) that polls /ring and /stats every second and shows
 * load per replica, health, and for slot-based strategies the ring itself.
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
    <thead><tr><th>replica</th><th>id</th><th>health</th><th>req/s</th><th class="bar">share</th><th>in flight</th><th>requests</th><th>errors</th><th>retries</th></tr></thead>
    <tbody id="replicas"><tr><td colspan="9">waiting for the ring…</td></tr></tbody>
  </table>
  <div class="card"><h2>ring</h2><svg id="ring" viewBox="-110 -110 220 220" width="296" height="296" role="img" aria-label="ring slots"></svg><div id="ringnote" class="meta"></div></div>
</div>
<script>
const COLORS = ['#4a7bd0', '#e07b39', '#3aa776', '#c94f7c', '#8a6fd1', '#c2a233', '#3b9bb5', '#a15c3e', '#6b8e23', '#d45b5b'];
const colorOf = (hostname, ring) => COLORS[Math.max(0, (ring.members || []).findIndex((m) => m.hostname === hostname)) % COLORS.length];
let previous = null;
let lastSlotsVersion = null;

function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]); }

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  return { status: res.status, body: await res.json() };
}

function drawRing(ring) {
  const svg = document.getElementById('ring');
  const note = document.getElementById('ringnote');
  if (!ring.slots) {
    svg.innerHTML = '';
    (ring.members || []).forEach((m, i, all) => {
      const a = (2 * Math.PI * i) / Math.max(all.length, 1) - Math.PI / 2;
      svg.insertAdjacentHTML('beforeend', '<circle cx="' + (90 * Math.cos(a)).toFixed(1) + '" cy="' + (90 * Math.sin(a)).toFixed(1) + '" r="8" fill="' + colorOf(m.hostname, ring) + '"><title>' + esc(m.hostname) + '</title></circle>');
    });
    note.textContent = (ring.members || []).length + ' members (' + ring.strategy + ' has no slot table)';
    return;
  }
  if (lastSlotsVersion === ring.version) return;
  lastSlotsVersion = ring.version;
  const m = ring.slots.length;
  let html = '<circle r="90" fill="none" stroke="#e3e6ec" stroke-width="14"/>';
  ring.slots.forEach((h, s) => {
    if (h === null) return;
    const a = (2 * Math.PI * s) / m - Math.PI / 2;
    const x1 = 83 * Math.cos(a), y1 = 83 * Math.sin(a), x2 = 97 * Math.cos(a), y2 = 97 * Math.sin(a);
    html += '<line x1="' + x1.toFixed(1) + '" y1="' + y1.toFixed(1) + '" x2="' + x2.toFixed(1) + '" y2="' + y2.toFixed(1) + '" stroke="' + colorOf(h, ring) + '" stroke-width="2.5"><title>slot ' + s + ': ' + esc(h) + '</title></line>';
  });
  svg.innerHTML = html;
  note.textContent = ring.slots.filter((s) => s !== null).length + ' occupied of ' + m + ' slots';
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
    const dt = previous ? (s.time - previous.time) / 1000 : 0;
    const before = new Map(previous ? previous.replicas.map((r) => [r.hostname, r.requests]) : []);
    const rates = s.replicas.map((r) => (dt > 0 && before.has(r.hostname) ? Math.max(0, (r.requests - before.get(r.hostname)) / dt) : 0));
    const total = rates.reduce((a, b) => a + b, 0);
    document.getElementById('total').textContent = total.toFixed(0);
    const ringView = ring.status === 200 ? ring.body : { members: [] };
    const rows = s.replicas.map((r, i) => {
      const share = total > 0 ? rates[i] / total : 0;
      const health = r.inRing ? r.health : 'gone';
      return '<tr data-replica="' + esc(r.hostname) + '"><td><span class="swatch" style="background:' + colorOf(r.hostname, ringView) + '"></span>' + esc(r.hostname) + '</td>' +
        '<td>' + (r.serverId ?? '') + '</td><td><span class="badge ' + health + '">' + health + '</span></td>' +
        '<td>' + rates[i].toFixed(0) + '</td><td class="bar"><div style="width:' + (share * 100).toFixed(1) + '%"></div></td>' +
        '<td>' + r.inflight + '</td><td>' + r.requests + '</td><td>' + r.errors + '</td><td>' + r.retries + '</td></tr>';
    });
    document.getElementById('replicas').innerHTML = rows.join('') || '<tr><td colspan="9">no replicas</td></tr>';
    if (ring.status === 200) drawRing(ring.body);
    previous = s;
  } catch (err) {
    document.getElementById('error').textContent = 'admin server unreachable: ' + err.message;
  }
}
tick();
setInterval(tick, 1000);
</script>
</body>
</html>
`;

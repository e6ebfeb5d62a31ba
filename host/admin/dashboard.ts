// The admin dashboard: one self-contained page (no assets from the internet, so it works in an
// air-gapped cluster) that polls /stats.json and shows the golden metrics per route and per peer,
// with success-rate and latency charts drawn as inline SVG. The numbers come from golden.ts, whose
// function is embedded in the page as it is, so the page and `skiff stat` cannot disagree.
import { golden } from '../metrics/golden.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function dashboardPage(version: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Skiff proxy</title>
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#fafbfc}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.05em;margin:1.4em 0 .4em}
.sub{color:#667}table{border-collapse:collapse;min-width:60%;background:#fff}
th,td{padding:.3em .8em;border-bottom:1px solid #e3e6ea;text-align:right;font-variant-numeric:tabular-nums}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}
.bad{color:#b42318;font-weight:600}.charts{display:flex;flex-wrap:wrap;gap:1.5em}
figure{margin:0;background:#fff;border:1px solid #e3e6ea;padding:.5em}figcaption{font-weight:600;margin-bottom:.3em}
svg text{font-size:11px;fill:#667}.legend span{margin-right:1em}
</style></head><body>
<h1>Skiff proxy</h1><div class="sub">version ${esc(version)} · <span id="status">connecting…</span></div>
<div class="charts">
<figure><figcaption>Success rate</figcaption><svg id="sr" width="460" height="180" role="img" aria-label="success rate"></svg><div class="legend" id="sr-legend"></div></figure>
<figure><figcaption>Latency (ms)</figcaption><svg id="lat" width="460" height="180" role="img" aria-label="latency"></svg><div class="legend" id="lat-legend"></div></figure>
</div>
<h2>Routes</h2><table id="routes"><thead><tr><th>direction</th><th>route / authority</th><th>success</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>requests</th></tr></thead><tbody></tbody></table>
<h2>Peers</h2><table id="peers"><thead><tr><th>direction</th><th>peer</th><th>success</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>requests</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const golden = (${golden.toString()});
const POLL_MS = 2000, KEEP = 90;
let prev = null;
const history = [];
const colors = { inbound: '#2563eb', outbound: '#d97706', p50: '#16a34a', p95: '#d97706', p99: '#b42318' };
const pct = (v) => v === null ? '–' : (v * 100).toFixed(1) + '%';
const ms = (v) => v === null ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(0);
function fill(id, rows) {
  const body = document.querySelector('#' + id + ' tbody');
  body.replaceChildren(...rows.map((r) => {
    const tr = document.createElement('tr');
    const cells = [r.direction, r.name, pct(r.successRate), r.rps.toFixed(1), ms(r.p50), ms(r.p95), ms(r.p99), String(r.requests)];
    cells.forEach((c, i) => { const td = document.createElement('td'); td.textContent = c; if (i === 2 && r.successRate !== null && r.successRate < 0.95) td.className = 'bad'; tr.appendChild(td); });
    return tr;
  }));
  if (rows.length === 0) { const tr = document.createElement('tr'); const td = document.createElement('td'); td.colSpan = 8; td.textContent = 'no traffic yet'; tr.appendChild(td); body.appendChild(tr); }
}
function chart(id, series, max, fmt) {
  const svg = document.getElementById(id);
  const W = 460, H = 180, L = 44, B = 20;
  const n = Math.max(2, history.length);
  const x = (i) => L + (W - L - 8) * i / (n - 1);
  const y = (v) => H - B - (H - B - 8) * Math.min(v, max) / max;
  let out = '';
  for (let k = 0; k <= 4; k++) { const v = max * k / 4; out += '<line x1="' + L + '" x2="' + (W - 8) + '" y1="' + y(v) + '" y2="' + y(v) + '" stroke="#eef0f3"/><text x="4" y="' + (y(v) + 4) + '">' + fmt(v) + '</text>'; }
  for (const s of series) {
    const pts = s.values.map((v, i) => v === null ? null : x(i) + ',' + y(v)).filter(Boolean);
    if (pts.length) out += '<polyline fill="none" stroke-width="2" stroke="' + s.color + '" points="' + pts.join(' ') + '"/>';
  }
  svg.innerHTML = out;
  document.getElementById(id + '-legend').innerHTML = series.map((s) => '<span style="color:' + s.color + '">■ ' + s.name + '</span>').join('');
}
async function poll() {
  try {
    const res = await fetch('stats.json', { cache: 'no-store' });
    if (!res.ok) throw new Error('stats.json: ' + res.status);
    const cur = await res.json();
    fill('routes', golden(null, cur, 'route'));
    fill('peers', golden(null, cur, 'peer'));
    if (prev) {
      const byDir = golden(prev, cur, 'direction');
      history.push({ byDir: Object.fromEntries(byDir.map((r) => [r.direction, r])) });
      if (history.length > KEEP) history.shift();
    }
    prev = cur;
    const dirs = ['inbound', 'outbound'];
    chart('sr', dirs.map((d) => ({ name: d, color: colors[d], values: history.map((h) => h.byDir[d] ? h.byDir[d].successRate : null) })), 1, (v) => (v * 100).toFixed(0) + '%');
    const lat = ['p50', 'p95', 'p99'].map((q) => ({ name: q, color: colors[q], values: history.map((h) => { const v = Object.values(h.byDir).map((r) => r[q]).filter((z) => z !== null); return v.length ? Math.max(...v) : null; }) }));
    const top = Math.max(1, ...lat.flatMap((s) => s.values.filter((v) => v !== null)));
    chart('lat', lat, top * 1.1, (v) => v < 10 ? v.toFixed(1) : v.toFixed(0));
    document.getElementById('status').textContent = 'updated ' + new Date(cur.time).toLocaleTimeString() + ' · up ' + Math.round((cur.time - cur.startedAt) / 1000) + ' s';
  } catch (err) {
    document.getElementById('status').textContent = 'cannot read the proxy: ' + err.message;
  }
}
poll();
setInterval(poll, POLL_MS);
</script></body></html>
`;
}

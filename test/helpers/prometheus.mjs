// Reading a Prometheus exposition in tests: samples with their labels, sums over a label subset,
// and promtool (Debian's prometheus package, installed by test/setup/peers.mjs) as the real parser.
import { spawnSync } from 'node:child_process';
import http from 'node:http';

/** Samples of the text format: { name, labels, value }. Comments and blank lines are skipped. */
export function parseExposition(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels = {};
    if (m[2]) for (const p of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]] = p[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The samples of `name` whose labels include all of `want` (a value of undefined: label absent). */
export function select(samples, name, want = {}) {
  return samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => (v === undefined ? !(k in s.labels) : s.labels[k] === v)));
}

/** The sum of `name` over the series whose labels include `want`. */
export function sum(samples, name, want = {}) {
  return select(samples, name, want).reduce((a, s) => a + s.value, 0);
}

export function getText(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject);
  });
}

/** promtool check metrics over `text`: { code, output }. */
export function promtool(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The exposition of an in-process proxy (startProxy's result) as /metrics would render it. */
export async function renderMetricsOf(proxy) {
  const { renderMetrics } = await import('../../dist/host/metrics/exposition.js');
  return (await renderMetrics(proxy.telemetry, 'test')).body;
}

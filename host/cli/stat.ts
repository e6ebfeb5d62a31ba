// `skiff stat`: golden metrics per route or per peer from one or more proxies' admin endpoints,
// as a table: since each proxy started, or over each refresh interval with --watch.
import type { HostPort } from '../config/address.js';
import { adminRequest } from './admin-client.js';
import { golden, type GroupBy, type Stats, type GoldenRow } from '../metrics/golden.js';

export interface StatOptions {
  admins: HostPort[];
  by: GroupBy;
  /** Refresh every this many ms (0: print once, since the proxies started). */
  watchMs: number;
  /** With watch: stop after this many tables (0: until interrupted). */
  count: number;
  out: (text: string) => void;
  clear: boolean;
}

/** The proxies' readings as one: each scope labelled with its proxy, so readings line up. */
async function read(admins: HostPort[]): Promise<Stats> {
  const all = await Promise.all(admins.map(async (a) => {
    const r = await adminRequest(a, 'GET', '/stats.json', 5000);
    if (r.status !== 200) throw new Error(`${a.host}:${a.port}/stats.json: ${r.status} ${r.body.trim()}`);
    return { at: `${a.host}:${a.port}`, stats: JSON.parse(r.body) as Stats };
  }));
  return {
    time: Math.max(...all.map((x) => x.stats.time)),
    startedAt: Math.min(...all.map((x) => x.stats.startedAt)),
    latencyBucketsMs: all[0].stats.latencyBucketsMs,
    http: all.flatMap((x) => x.stats.http.map((s) => ({ ...s, labels: { ...s.labels, proxy: x.at } }))),
  };
}

const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);
const ms = (v: number | null): string => (v === null ? '-' : v < 10 ? `${v.toFixed(2)}ms` : `${v.toFixed(0)}ms`);

export function formatTable(rows: GoldenRow[], by: GroupBy): string {
  const head = ['DIRECTION', by === 'peer' ? 'PEER' : by === 'authority' ? 'AUTHORITY' : 'ROUTE', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'REQUESTS'];
  const body = rows.map((r) => [r.direction, r.name, pct(r.successRate), r.rps.toFixed(1), ms(r.p50), ms(r.p95), ms(r.p99), String(r.requests)]);
  if (body.length === 0) return 'no requests yet\n';
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body].map((cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

export async function runStat(o: StatOptions): Promise<number> {
  if (o.watchMs === 0) {
    o.out(formatTable(golden(null, await read(o.admins), o.by), o.by));
    return 0;
  }
  let prev = await read(o.admins);
  for (let n = 0; o.count === 0 || n < o.count; n++) {
    await new Promise((r) => setTimeout(r, o.watchMs));
    const cur = await read(o.admins);
    o.out(`${o.clear ? '\x1b[2J\x1b[H' : ''}${new Date(cur.time).toISOString()} over ${((cur.time - prev.time) / 1000).toFixed(1)} s\n${formatTable(golden(prev, cur, o.by), o.by)}`);
    prev = cur;
  }
  return 0;
}

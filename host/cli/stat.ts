// `skiff stat`: golden metrics per route or per peer from one or more proxies' admin endpoints,
// as a table: since each proxy started, or over each refresh interval with --watch.
import type { HostPort } from '../config/address.js';
import { adminRequest } from './admin-client.js';
import { golden, type GroupBy, type Stats, type GoldenRow } from '../metrics/golden.js';

export interface StatOptions {
  admins: HostPort[];
  /** endpoint: the balancers' endpoints (breaker state, EWMA latency) instead of golden metrics. */
  by: GroupBy | 'endpoint';
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
    balancers: all.flatMap((x) => (x.stats.balancers ?? []).map((b) => ({ ...b, service: all.length > 1 ? `${x.at} ${b.service}` : b.service }))),
  };
}

/** The balancers' endpoints: breaker state, EWMA latency, load, failures; then fail-fast counts. */
export function formatEndpoints(stats: Stats): string {
  const bs = stats.balancers ?? [];
  if (bs.length === 0) return 'no outbound balancers yet\n';
  const head = ['BACKEND', 'ENDPOINT', 'STATE', 'EWMA', 'IN_FLIGHT', 'REQUESTS', 'FAILURES', 'CONSECUTIVE'];
  const body = bs.flatMap((b) => b.endpoints.map((e) => [b.service, e.addr, e.available ? e.state : e.state === 'closed' ? 'connecting' : e.state,
    ms(e.ewmaMs), String(e.inFlight), String(e.requests), String(e.failures), String(e.consecutiveFailures)]));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const table = [head, ...body].map((cells) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()).join('\n');
  const ff = bs.filter((b) => b.failFast > 0).map((b) => `${b.service}: ${b.failFast} request(s) failed fast (no endpoint available in time)`);
  return `${table}\n${ff.length ? `${ff.join('\n')}\n` : ''}`;
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
  if (o.by === 'endpoint') {
    for (let n = 0; ; n++) {
      const cur = await read(o.admins);
      o.out(`${o.clear ? '\x1b[2J\x1b[H' : ''}${o.watchMs ? `${new Date(cur.time).toISOString()}\n` : ''}${formatEndpoints(cur)}`);
      if (o.watchMs === 0 || (o.count !== 0 && n + 1 >= o.count)) return 0;
      await new Promise((r) => setTimeout(r, o.watchMs));
    }
  }
  const by = o.by;
  if (o.watchMs === 0) {
    o.out(formatTable(golden(null, await read(o.admins), by), by));
    return 0;
  }
  let prev = await read(o.admins);
  for (let n = 0; o.count === 0 || n < o.count; n++) {
    await new Promise((r) => setTimeout(r, o.watchMs));
    const cur = await read(o.admins);
    o.out(`${o.clear ? '\x1b[2J\x1b[H' : ''}${new Date(cur.time).toISOString()} over ${((cur.time - prev.time) / 1000).toFixed(1)} s\n${formatTable(golden(prev, cur, by), by)}`);
    prev = cur;
  }
  return 0;
}

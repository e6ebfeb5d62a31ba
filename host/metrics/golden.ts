// Golden metrics (success rate, requests per second, latency percentiles) from two readings of a
// proxy's /stats.json: what `skiff stat` prints and the admin dashboard draws. One self-contained
// function with no imports, so the dashboard page embeds this very code (golden.toString()).

import type { BalancerReport } from './balancer-metrics.js';

export interface StatsScope {
  labels: Record<string, string>;
  requests: number;
  responses: { labels: Record<string, string>; success: boolean; count: number; buckets: number[] }[];
}

export interface Stats {
  /** ms since the epoch when read, and when the proxy started. */
  time: number;
  startedAt: number;
  latencyBucketsMs: number[];
  http: StatsScope[];
  /** The outbound's balancers and their endpoints (circuit breakers, EWMA latency, fail-fast counts). */
  balancers?: BalancerReport[];
}

export interface GoldenRow {
  direction: string;
  /** What the row is about: a route, an authority or a peer identity/address. */
  name: string;
  requests: number;
  rps: number;
  /** 0..1, or null without responses. */
  successRate: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export type GroupBy = 'route' | 'authority' | 'peer' | 'direction';

/**
 * Rows per group over the window between `prev` (null: since the proxy started) and `cur`. Latency
 * quantiles interpolate inside the bucket, as Prometheus' histogram_quantile does.
 */
export function golden(prev: Stats | null, cur: Stats, by: GroupBy): GoldenRow[] {
  const groupOf = (l: Record<string, string>): string => {
    if (by === 'route') return l.route_name ? `${l.route_kind} ${l.route_namespace}/${l.route_name}` : (l.authority || '(no authority)');
    if (by === 'authority') return l.authority || '(no authority)';
    if (by === 'direction') return l.direction || '';
    // the other side: the client's proven identity inbound; the server's identity or address outbound
    if (l.direction === 'inbound') return l.client_id || '(no identity)';
    return l.server_id || l.target_addr || '(unknown)';
  };
  const keyOf = (l: Record<string, string>): string => Object.keys(l).sort().map((k) => `${k}=${l[k]}`).join(',');
  const before = new Map<string, StatsScope>();
  if (prev) for (const s of prev.http) before.set(keyOf(s.labels), s);
  const bounds = cur.latencyBucketsMs;
  const groups = new Map<string, { direction: string; name: string; requests: number; ok: number; total: number; buckets: number[] }>();
  for (const s of cur.http) {
    const old = before.get(keyOf(s.labels));
    const name = groupOf(s.labels);
    const direction = s.labels.direction || '';
    const gk = `${direction} ${name}`;
    let g = groups.get(gk);
    if (!g) groups.set(gk, g = { direction, name, requests: 0, ok: 0, total: 0, buckets: new Array(bounds.length + 1).fill(0) });
    g.requests += s.requests - (old ? old.requests : 0);
    for (const r of s.responses) {
      const o = old ? old.responses.find((x) => keyOf(x.labels) === keyOf(r.labels)) : undefined;
      const n = r.count - (o ? o.count : 0);
      g.total += n;
      if (r.success) g.ok += n;
      for (let i = 0; i < r.buckets.length; i++) g.buckets[i] += r.buckets[i] - (o ? o.buckets[i] : 0);
    }
  }
  const quantile = (q: number, b: number[]): number | null => {
    let total = 0;
    for (const n of b) total += n;
    if (total === 0) return null;
    const rank = q * total;
    let seen = 0;
    for (let i = 0; i < b.length; i++) {
      if (seen + b[i] >= rank && b[i] > 0) {
        if (i === bounds.length) return bounds[bounds.length - 1]; // above the last bound: its value, as Prometheus
        const lo = i === 0 ? 0 : bounds[i - 1];
        return lo + (bounds[i] - lo) * ((rank - seen) / b[i]);
      }
      seen += b[i];
    }
    return bounds[bounds.length - 1];
  };
  const seconds = Math.max(0.001, (cur.time - (prev ? prev.time : cur.startedAt)) / 1000);
  const rows: GoldenRow[] = [];
  for (const g of groups.values()) {
    if (g.requests === 0 && g.total === 0 && prev) continue;
    rows.push({
      direction: g.direction, name: g.name, requests: g.requests, rps: g.total / seconds,
      successRate: g.total > 0 ? g.ok / g.total : null,
      p50: quantile(0.5, g.buckets), p95: quantile(0.95, g.buckets), p99: quantile(0.99, g.buckets),
    });
  }
  rows.sort((a, b) => (a.direction + a.name < b.direction + b.name ? -1 : 1));
  return rows;
}

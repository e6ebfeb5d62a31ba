// GET /stats.json on the admin server: the HTTP counters as they are now, unlabelled by
// Prometheus' text format: what `skiff stat` and the dashboard read (golden.ts turns two readings
// into rates and percentiles).
import type { Telemetry } from './telemetry.js';
import type { Stats } from './golden.js';
import { LATENCY_BUCKETS_MS } from './histogram.js';

export function statsOf(t: Telemetry): Stats {
  return {
    time: Date.now(), startedAt: t.startedAt, latencyBucketsMs: [...LATENCY_BUCKETS_MS],
    http: t.http.all().map((s) => ({
      labels: { ...s.labels }, requests: s.requests,
      responses: [...s.classes].map((c) => {
        const { classification, status_code, grpc_status, error } = c.labels;
        const labels: Record<string, string> = { classification, status_code };
        if (grpc_status !== undefined) labels.grpc_status = grpc_status;
        if (error !== undefined) labels.error = error;
        return { labels, success: c.success, count: c.count, buckets: Array.from(c.latency.counts) };
      }),
    })),
    balancers: t.balancers?.() ?? [],
  };
}

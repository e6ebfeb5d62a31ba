// Fixed-bucket histograms kept as plain counts (no labels, no hashing): a request's latency costs
// a short scan and two additions. Buckets are upper bounds, as Prometheus' `le`.

/** Linkerd's response_latency_ms buckets, so dashboards built for it read Skiff's the same. */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500,
  1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000,
];

/** tcp_connection_duration_ms buckets: a millisecond to about three hours, by decades. */
export const DURATION_BUCKETS_MS: readonly number[] = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000];

export class Histogram {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }

  /** Cumulative counts per bound, then the total (+Inf), as the exposition format wants them. */
  cumulative(): number[] {
    const out: number[] = [];
    let n = 0;
    for (let i = 0; i < this.counts.length; i++) out.push(n += this.counts[i]);
    return out;
  }
}

// HTTP golden metrics, Linkerd's families: request_total, response_total (classification,
// status_code, grpc_status, error) and response_latency_ms. Counts live in plain objects, one per
// label set, found by the data path through caches keyed by its own objects (a target, a route
// rule, an endpoint): a request costs a map lookup and a few additions, never a label hash. The
// exposition (exposition.ts) reads them on scrape.
import { Histogram, LATENCY_BUCKETS_MS } from './histogram.js';
import { LabelSets, type Retained } from './label-sets.js';

export type Labels = Readonly<Record<string, string>>;

/** Why a request ended without (all of) its response: a small, fixed set of label values. */
export type RequestError = 'client_reset' | 'upstream_reset' | 'proxy_reset';

/** The responses of one label set with one status (and gRPC status, and error): a counter and the latencies. */
export class ResponseClass {
  count = 0;
  readonly latency = new Histogram(LATENCY_BUCKETS_MS);
  constructor(readonly labels: Labels, readonly success: boolean) {}
}

export class RequestScope implements Retained<RequestScope> {
  requests = 0;
  /** Requests counted here whose response has not ended: the set is not forgotten while any is. */
  inFlight = 0;
  /** performance.now() of the last response that ended (or of the set's creation). */
  lastActive = performance.now();
  evicted = false;
  replacedBy: RequestScope | null = null;
  private byStatus = new Map<number, ResponseClass>();
  private byError = new Map<string, ResponseClass>();
  constructor(readonly labels: Labels, readonly owner: HttpMetrics) {}

  idleFor(now: number): number { return this.inFlight > 0 ? 0 : now - this.lastActive; }

  /**
   * One response ended. `status` 0: none was sent; `grpcStatus` -1: not gRPC; `error`: the stream
   * was cut (before or during the response). `latencyMs`: request head to the response's first byte.
   * `at`: performance.now() at the end.
   */
  responded(status: number, grpcStatus: number, error: RequestError | null, latencyMs: number, at: number): void {
    this.inFlight--;
    this.lastActive = at;
    let c: ResponseClass | undefined;
    if (error === null) {
      const key = status * 32 + grpcStatus + 1; // grpc -1..16 → 0..17 (others are folded to 2 = UNKNOWN)
      c = this.byStatus.get(key);
      if (c === undefined) this.byStatus.set(key, c = this.classOf(status, grpcStatus, null));
    } else {
      const key = `${error}|${status}|${grpcStatus}`;
      c = this.byError.get(key);
      if (c === undefined) this.byError.set(key, c = this.classOf(status, grpcStatus, error));
    }
    c.count++;
    c.latency.observe(latencyMs);
  }

  private classOf(status: number, grpcStatus: number, error: string | null): ResponseClass {
    const success = error === null && status > 0 && status < 500 && grpcStatus <= 0;
    const labels: Record<string, string> = { ...this.labels, classification: success ? 'success' : 'failure', status_code: status > 0 ? String(status) : '' };
    if (grpcStatus >= 0) labels.grpc_status = String(grpcStatus);
    if (error !== null) labels.error = error;
    return new ResponseClass(labels, success);
  }

  get classes(): IterableIterator<ResponseClass> {
    const a = this.byStatus.values(), b = this.byError.values();
    return (function* () { yield* a; yield* b; })();
  }
}

/** Every label set seen (and not forgotten), so scrapes and `skiff stat` can list them. */
export class HttpMetrics {
  private readonly sets: LabelSets<RequestScope> = new LabelSets(
    (labels) => new RequestScope(labels, this),
    // past the bound: one catch-all label set per direction rather than unbounded series
    (labels) => ({ direction: labels.direction ?? '', authority: '', overflow: 'true' }));

  /** The scope of a label set (built once; call sites cache it on their own objects). */
  scope(labels: Labels): RequestScope { return this.sets.get(labels); }

  /** The scope to count in for a cached one that was forgotten since. */
  revive(s: RequestScope): RequestScope { return this.sets.revive(s); }

  /** Forgets label sets idle for longer than `idleMs`; returns how many. */
  evictIdle(now: number, idleMs: number): number { return this.sets.evictIdle(now, idleMs); }

  all(): RequestScope[] { return this.sets.all(); }
}

/** The grpc-status a response or its trailers carry: 0–16, 2 (UNKNOWN) for anything else, -1 when absent. */
export function grpcStatusOf(value: string | undefined): number {
  if (value === undefined) return -1;
  const n = value.length > 0 && value.length <= 2 ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= 16 ? n : 2;
}

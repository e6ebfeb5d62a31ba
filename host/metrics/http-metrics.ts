// HTTP golden metrics, Linkerd's families: request_total, response_total (classification,
// status_code, grpc_status, error) and response_latency_ms. Counts live in plain objects, one per
// label set, found by the data path through caches keyed by its own objects (a target, a route
// rule, an endpoint): a request costs a map lookup and a few additions, never a label hash. The
// exposition (exposition.ts) reads them on scrape.
import { Histogram, LATENCY_BUCKETS_MS } from './histogram.js';

export type Labels = Readonly<Record<string, string>>;

/** At most this many label sets per family: labels come from config and identities, but stay bounded. */
export const MAX_SCOPES = 5000;

/** Why a request ended without (all of) its response: a small, fixed set of label values. */
export type RequestError = 'client_reset' | 'upstream_reset' | 'proxy_reset';

/** The responses of one label set with one status (and gRPC status, and error): a counter and the latencies. */
export class ResponseClass {
  count = 0;
  readonly latency = new Histogram(LATENCY_BUCKETS_MS);
  constructor(readonly labels: Labels, readonly success: boolean) {}
}

export class RequestScope {
  requests = 0;
  private byStatus = new Map<number, ResponseClass>();
  private byError = new Map<string, ResponseClass>();
  constructor(readonly labels: Labels) {}

  /**
   * One response ended. `status` 0: none was sent; `grpcStatus` -1: not gRPC; `error`: the stream
   * was cut (before or during the response). `latencyMs`: request head to the response's first byte.
   */
  responded(status: number, grpcStatus: number, error: RequestError | null, latencyMs: number): void {
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

/** Every label set seen, so scrapes and `skiff stat` can list them. */
export class HttpMetrics {
  readonly scopes = new Map<string, RequestScope>();
  private overflow: RequestScope | null = null;

  /** The scope of a label set (built once; call sites cache it on their own objects). */
  scope(labels: Labels): RequestScope {
    const key = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join('\u0000');
    let s = this.scopes.get(key);
    if (s) return s;
    if (this.scopes.size >= MAX_SCOPES) {
      // past the bound: one catch-all label set per proxy rather than unbounded series
      return this.overflow ??= new RequestScope({ direction: labels.direction ?? '', authority: '', overflow: 'true' });
    }
    this.scopes.set(key, s = new RequestScope(labels));
    return s;
  }

  all(): RequestScope[] {
    return this.overflow ? [...this.scopes.values(), this.overflow] : [...this.scopes.values()];
  }
}

/** The grpc-status a response or its trailers carry: 0–16, 2 (UNKNOWN) for anything else, -1 when absent. */
export function grpcStatusOf(value: string | undefined): number {
  if (value === undefined) return -1;
  const n = value.length > 0 && value.length <= 2 ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= 16 ? n : 2;
}

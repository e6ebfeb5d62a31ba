// Failure accrual (circuit breaking) as a Service configures it, with Linkerd's annotations so its
// users' YAML works unchanged (and the same under skiff.io/):
//   balancer.linkerd.io/failure-accrual: consecutive
//   balancer.linkerd.io/failure-accrual-consecutive-max-failures: "7"
//   balancer.linkerd.io/failure-accrual-consecutive-min-penalty: 1s
//   balancer.linkerd.io/failure-accrual-consecutive-max-penalty: 1m
//   balancer.linkerd.io/failure-accrual-consecutive-jitter-ratio: "0.5"
// What counts as a failure: a connection failure, a reset or timeout, a 5xx, or a gRPC status in
// skiff.io/failure-accrual-grpc-codes (default: the server-side ones, UNKNOWN, DEADLINE_EXCEEDED,
// INTERNAL, UNAVAILABLE, DATA_LOSS).
import { parseDuration } from '../config/duration.js';

export interface AccrualPolicy {
  maxFailures: number;
  minPenaltyMs: number;
  maxPenaltyMs: number;
  jitterRatio: number;
  grpcFailures: ReadonlySet<number>;
}

const PREFIXES = ['skiff.io/', 'balancer.linkerd.io/'];
const DEFAULT_GRPC_FAILURES: ReadonlySet<number> = new Set([2, 4, 13, 14, 15]);
const GRPC_CODES: Record<string, number> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14,
  DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/** The annotation's value under skiff.io/ or balancer.linkerd.io/ (skiff.io/ wins). */
function get(annotations: Record<string, string>, name: string): string | undefined {
  for (const p of PREFIXES) {
    const v = annotations[`${p}${name}`];
    if (v !== undefined) return v.trim();
  }
  return undefined;
}

/**
 * The Service's policy: null when failure accrual is off (no annotation), or a message naming the
 * annotation that is wrong (the caller reports it; the Service is not rejected for it).
 */
export function accrualPolicy(annotations: Record<string, string>): AccrualPolicy | null | string {
  const mode = get(annotations, 'failure-accrual');
  if (mode === undefined) return null;
  if (mode !== 'consecutive') return `failure-accrual: expected 'consecutive', got '${mode}'`;
  const num = (name: string, def: number, ok: (n: number) => boolean, what: string): number | string => {
    const v = get(annotations, name);
    if (v === undefined) return def;
    const n = Number(v);
    return v !== '' && Number.isFinite(n) && ok(n) ? n : `${name}: expected ${what}, got '${v}'`;
  };
  const dur = (name: string, def: number): number | string => {
    const v = get(annotations, name);
    if (v === undefined) return def;
    try { return parseDuration(v, name); } catch (err) { return (err as Error).message; }
  };
  const maxFailures = num('failure-accrual-consecutive-max-failures', 7, (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1');
  const minPenaltyMs = dur('failure-accrual-consecutive-min-penalty', 1000);
  const maxPenaltyMs = dur('failure-accrual-consecutive-max-penalty', 60_000);
  const jitterRatio = num('failure-accrual-consecutive-jitter-ratio', 0.5, (n) => n >= 0 && n <= 100, 'a ratio ≥ 0');
  for (const x of [maxFailures, minPenaltyMs, maxPenaltyMs, jitterRatio]) if (typeof x === 'string') return x;
  if ((maxPenaltyMs as number) < (minPenaltyMs as number)) return 'failure-accrual-consecutive-max-penalty must not be less than the min-penalty';
  let grpcFailures = DEFAULT_GRPC_FAILURES;
  const codes = get(annotations, 'failure-accrual-grpc-codes');
  if (codes !== undefined) {
    const set = new Set<number>();
    for (const c of codes.split(',').map((x) => x.trim()).filter(Boolean)) {
      const n = /^\d+$/.test(c) ? Number(c) : GRPC_CODES[c.toUpperCase()];
      if (n === undefined || n < 1 || n > 16) return `failure-accrual-grpc-codes: '${c}' is not a gRPC status code other than OK`;
      set.add(n);
    }
    grpcFailures = set;
  }
  return { maxFailures: maxFailures as number, minPenaltyMs: minPenaltyMs as number, maxPenaltyMs: maxPenaltyMs as number, jitterRatio: jitterRatio as number, grpcFailures };
}

/** Whether a finished request counts as a failure (the endpoint's, not the client's). */
export function isFailure(ok: boolean, status: number, grpcStatus: number, grpcFailures: ReadonlySet<number>): boolean {
  if (!ok) return true;
  if (status >= 500) return true;
  return grpcStatus > 0 && grpcFailures.has(grpcStatus);
}

export const DEFAULT_GRPC_FAILURE_CODES = DEFAULT_GRPC_FAILURES;

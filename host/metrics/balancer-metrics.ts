// What the outbound's balancers say about their endpoints, read when /metrics or /stats.json is
// asked for (the balancers keep plain fields; nothing is recorded per request for this).
export interface EndpointReport {
  /** "name.namespace:port" of the Service (backend) whose balancer holds the endpoint. */
  service: string;
  dst_namespace: string;
  dst_service: string;
  addr: string;
  /** closed (taking requests), open (out for its penalty), half-open (one probe out). */
  state: 'closed' | 'open' | 'half-open';
  /** Out of the balancer for now: breaker open or half-open, or a failed connection's backoff. */
  available: boolean;
  /** The peak-EWMA round-trip estimate now, in ms. */
  ewmaMs: number;
  inFlight: number;
  requests: number;
  failures: number;
  consecutiveFailures: number;
  /** Breaker transitions, by the state entered. */
  transitions: { closed: number; open: number; 'half-open': number };
  /** Penalised for a Retry-After answer for this many more ms (0: not). */
  retryAfterMs: number;
}

export interface BalancerReport {
  service: string;
  dst_namespace: string;
  dst_service: string;
  /** Requests answered 503 because no endpoint became available within the fail-fast timeout. */
  failFast: number;
  /** Whether failure accrual (circuit breaking) is configured on the Service. */
  accrual: boolean;
  endpoints: EndpointReport[];
}

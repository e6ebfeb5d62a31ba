// One proxy's telemetry: its metrics (HTTP and TCP), live tap and access log. The listeners hand
// each exchange a recorder for their direction; the exchange reports its outcome once, at its end.
import type { BalancerReport } from './balancer-metrics.js';
import { HttpMetrics, type RequestScope, type Labels } from './http-metrics.js';
import { TcpMetrics } from './tcp-metrics.js';
import { PoolMetrics } from './pool-metrics.js';
import { AuthzMetrics } from './authz-metrics.js';
import { Tap, type RequestSummary } from './tap.js';
import type { Exchange, ExchangeRecorder } from '../http/exchange.js';
import { getField } from '../http/headers.js';

export interface TelemetryOptions {
  /** Record metrics (default true). Off only to measure what they cost. */
  metrics?: boolean;
  /** Where access log lines go (one JSON object per request); none by default. */
  accessLog?: (summary: RequestSummary) => void;
  /** Label sets idle this long leave the exposition (default 10 minutes, as Linkerd's proxy). */
  retainIdleMs?: number;
}

export const DEFAULT_RETAIN_IDLE_MS = 10 * 60_000;

export class Telemetry {
  readonly http = new HttpMetrics();
  readonly tcp = new TcpMetrics();
  readonly pools = new PoolMetrics();
  readonly authz = new AuthzMetrics();
  readonly tap = new Tap();
  readonly metricsEnabled: boolean;
  readonly accessLog: ((s: RequestSummary) => void) | null;
  /** Mesh TLS connections refused for proving another identity than discovery expects, by expected/actual. */
  readonly identityMismatches = new Map<string, { labels: Labels; count: number }>();
  /** The outbound's balancers, as they are now (set by the outbound; read at scrape time). */
  balancers: (() => BalancerReport[]) | null = null;
  /** When the proxy started (ms since the epoch). */
  readonly startedAt = Date.now();
  readonly retainIdleMs: number;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(options: TelemetryOptions = {}) {
    this.metricsEnabled = options.metrics ?? true;
    this.accessLog = options.accessLog ?? null;
    this.retainIdleMs = options.retainIdleMs ?? DEFAULT_RETAIN_IDLE_MS;
    if (this.metricsEnabled) {
      this.sweeper = setInterval(() => this.evictIdle(), Math.max(10, Math.min(this.retainIdleMs / 2, 60_000)));
      this.sweeper.unref();
    }
  }

  /** Forgets the label sets idle for longer than retainIdleMs (run on a timer). */
  evictIdle(now = performance.now()): void {
    this.http.evictIdle(now, this.retainIdleMs);
    this.tcp.evictIdle(now, this.retainIdleMs);
  }

  close(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** What a listener hands its exchanges; `fallback` labels a request that ended before it was routed. */
  recorder(direction: 'inbound' | 'outbound', fallback: (x: Exchange) => RequestScope): ExchangeRecorder {
    return new DirectionRecorder(this, direction, fallback);
  }

  identityMismatch(expected: string, actual: string): void {
    const key = `${expected}\u0000${actual}`;
    let m = this.identityMismatches.get(key);
    if (!m) {
      if (this.identityMismatches.size >= 1000) return;
      this.identityMismatches.set(key, m = { labels: { expected, actual }, count: 0 });
    }
    m.count++;
  }
}

class DirectionRecorder implements ExchangeRecorder {
  constructor(private t: Telemetry, readonly direction: 'inbound' | 'outbound', private fallback: (x: Exchange) => RequestScope) {}

  ended(x: Exchange): void {
    const t = this.t;
    const latency = x.firstByteAt - x.startedAt;
    if (t.metricsEnabled) {
      if (x.scope === null) x.setScope(this.fallback(x));
      x.scope!.responded(x.status, x.grpcStatus, x.error, latency, x.endedAt);
    }
    if (t.tap.active || t.accessLog !== null) {
      const s = summarize(this.direction, x, latency);
      if (t.tap.active) t.tap.publish(s);
      t.accessLog?.(s);
    }
  }
}

function summarize(direction: string, x: Exchange, latency: number): RequestSummary {
  const head = x.head ?? [];
  const s: RequestSummary = {
    time: new Date().toISOString(), direction,
    method: getField(head, ':method') ?? '', authority: getField(head, ':authority') ?? '', path: getField(head, ':path') ?? '',
    status: x.status, latency_ms: round(latency), duration_ms: round(x.endedAt - x.startedAt),
  };
  if (x.grpcStatus >= 0) s.grpc_status = x.grpcStatus;
  const l = x.scope?.labels;
  if (l) {
    if (l.client_id) s.client_id = l.client_id;
    if (l.server_id) s.server_id = l.server_id;
    if (l.target_addr) s.target_addr = l.target_addr;
    if (l.route_name) s.route = `${l.route_kind} ${l.route_namespace}/${l.route_name}`;
  }
  if (x.error !== null) s.error = x.error;
  if (x.authz !== null && x.authz !== 'allow') s.authz = x.authz;
  if (x.clientId !== null && s.client_id === undefined) s.client_id = x.clientId;
  if (x.clientAddr !== null) s.client_addr = x.clientAddr;
  return s;
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

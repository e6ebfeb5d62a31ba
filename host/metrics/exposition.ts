// The Prometheus exposition of one proxy's telemetry, with prom-client (the standard Node client:
// text format, escaping and the process metrics done right). The data path never touches it: the
// families here read the plain counters of http-metrics.ts and tcp-metrics.ts when scraped. The
// proxy builds the registry at start-up when it has an admin server (see proxy.ts for why).
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { Telemetry } from './telemetry.js';
import type { Histogram } from './histogram.js';
import type { Labels } from './http-metrics.js';
import { AUTHZ_FAMILIES, type AuthzFamily } from './authz-metrics.js';

const AUTHZ_HELP: Record<AuthzFamily, string> = {
  inbound_http_authz_allow_total: 'HTTP requests authorized by inbound policy',
  inbound_http_authz_deny_total: 'HTTP requests denied by inbound policy',
  inbound_http_route_not_found_total: 'HTTP requests to a Server with inbound routes that matched none of them',
  inbound_tcp_authz_allow_total: 'TCP connections authorized by inbound policy',
  inbound_tcp_authz_deny_total: 'TCP connections denied by inbound policy',
  inbound_tcp_authz_terminate_total: 'TCP connections closed because a policy change withdrew their authorization',
};

interface Value { labels: Labels; value: number; metricName?: string }
type Kind = 'counter' | 'gauge' | 'histogram';

/**
 * prom-client's default metrics (its lib/metrics/*, as collectDefaultMetrics registers them) but one:
 * nodejs_gc_duration_seconds, whose observer runs JavaScript after every garbage collection —
 * hundreds a second in a busy proxy — for a figure the CPU and heap metrics already reflect.
 */
const DEFAULT_METRICS = ['processCpuTotal', 'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors',
  'eventLoopLag', 'processHandles', 'processRequests', 'processResources', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'version'];

const registries = new WeakMap<Telemetry, PromClient.Registry>();

/** A family whose values are computed at scrape time (prom-client's custom-metric shape). */
function family(name: string, help: string, type: Kind, values: () => Value[]): PromClient.Metric {
  const get = async () => ({ name, help, type, aggregator: 'sum' as const, values: values() });
  return { name, help, type, aggregator: 'sum', get, reset() {} } as unknown as PromClient.Metric;
}

function histogramValues(out: Value[], name: string, labels: Labels, h: Histogram): void {
  const cum = h.cumulative();
  for (let i = 0; i < h.bounds.length; i++) out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(h.bounds[i]) }, value: cum[i] });
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cum[cum.length - 1] });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
}

function registryOf(t: Telemetry, version: string): PromClient.Registry {
  let r = registries.get(t);
  if (r) return r;
  const req = createRequire(import.meta.url);
  const prom = req('prom-client') as typeof PromClient;
  r = new prom.Registry();
  for (const m of DEFAULT_METRICS) (req(`prom-client/lib/metrics/${m}`) as (r: PromClient.Registry, c: object) => void)(r, { eventLoopMonitoringPrecision: 10 });
  const http = () => t.http.all();
  const tcp = () => t.tcp.all();
  const balancers = () => t.balancers?.() ?? [];
  const families = [
    family('skiff_build_info', 'Skiff build information', 'gauge', () => [{ labels: { version }, value: 1 }]),
    family('request_total', 'Requests received, counted when their head arrives', 'counter',
      () => http().map((s) => ({ labels: s.labels, value: s.requests }))),
    family('response_total', 'Responses ended (or requests cut short), classified', 'counter',
      () => http().flatMap((s) => [...s.classes].map((c) => ({ labels: c.labels, value: c.count })))),
    family('response_latency_ms', 'Request head to the response\'s first byte (or its end), in milliseconds', 'histogram',
      () => { const out: Value[] = []; for (const s of http()) for (const c of s.classes) histogramValues(out, 'response_latency_ms', c.labels, c.latency); return out; }),
    family('tcp_open_total', 'TCP connections opened', 'counter', () => tcp().map((s) => ({ labels: s.labels, value: s.opened }))),
    family('tcp_close_total', 'TCP connections closed', 'counter',
      () => tcp().flatMap((s) => [...s.closes.values()].map((c) => ({ labels: c.labels, value: c.count })))),
    family('tcp_open_connections', 'TCP connections open now', 'gauge', () => tcp().map((s) => ({ labels: s.labels, value: s.live.size }))),
    family('tcp_read_bytes_total', 'Bytes read from TCP connections', 'counter', () => tcp().map((s) => ({ labels: s.labels, value: s.readBytes }))),
    family('tcp_write_bytes_total', 'Bytes written to TCP connections', 'counter', () => tcp().map((s) => ({ labels: s.labels, value: s.writtenBytes }))),
    family('tcp_connection_duration_ms', 'How long closed TCP connections were open, in milliseconds', 'histogram',
      () => { const out: Value[] = []; for (const s of tcp()) for (const c of s.closes.values()) histogramValues(out, 'tcp_connection_duration_ms', c.labels, c.duration); return out; }),
    family('skiff_identity_mismatch_total', 'Connections to meshed endpoints refused: the peer proved another identity than discovery expects', 'counter',
      () => [...t.identityMismatches.values()].map((m) => ({ labels: m.labels, value: m.count }))),
    family('skiff_pool_queue_depth', 'Requests waiting now for an upstream connection with room (HTTP/1.1: an idle connection; HTTP/2: a stream under the peer\'s limit)', 'gauge',
      () => t.pools.all().map((p) => ({ labels: p.labels, value: p.stats.depth }))),
    family('skiff_pool_queued_total', 'Requests that had to wait for an upstream connection with room', 'counter',
      () => t.pools.all().map((p) => ({ labels: p.labels, value: p.stats.queued }))),
    family('skiff_pool_queue_rejected_total', 'Requests refused with 503 because the queue for an upstream was full (--max-pending-requests)', 'counter',
      () => t.pools.all().map((p) => ({ labels: p.labels, value: p.stats.rejected }))),
    family('skiff_pool_queue_wait_seconds', 'How long queued requests waited for an upstream connection with room', 'histogram',
      () => { const out: Value[] = []; for (const p of t.pools.all()) histogramValues(out, 'skiff_pool_queue_wait_seconds', p.labels, p.stats.wait); return out; }),
    ...AUTHZ_FAMILIES.map((name) => family(name, AUTHZ_HELP[name], 'counter', () => t.authz.all(name).map((c) => ({ labels: c.labels, value: c.value })))),
    family('outbound_http_balancer_endpoints', 'Endpoints in each outbound balancer: ready (taking requests) or pending (out: circuit breaker open or half-open, or connecting failed)', 'gauge',
      () => balancers().flatMap((b) => {
        let ready = 0;
        for (const e of b.endpoints) if (e.available) ready++;
        const l = { dst_namespace: b.dst_namespace, dst_service: b.dst_service, backend: b.service };
        return [{ labels: { ...l, endpoint_state: 'ready' }, value: ready }, { labels: { ...l, endpoint_state: 'pending' }, value: b.endpoints.length - ready }];
      })),
    family('skiff_balancer_fail_fast_total', 'Requests answered 503 because no endpoint of the backend became available within the fail-fast timeout', 'counter',
      () => balancers().map((b) => ({ labels: { dst_namespace: b.dst_namespace, dst_service: b.dst_service, backend: b.service }, value: b.failFast }))),
    family('skiff_endpoint_breaker_state', 'Each endpoint\'s circuit breaker: 1 for its current state (closed, open, half-open), 0 for the others', 'gauge',
      () => balancers().flatMap((b) => b.endpoints.flatMap((e) => (['closed', 'open', 'half-open'] as const).map((state) => ({ labels: { backend: b.service, target_addr: e.addr, state }, value: e.state === state ? 1 : 0 }))))),
    family('skiff_endpoint_breaker_transitions_total', 'Circuit breaker state changes per endpoint, by the state entered', 'counter',
      () => balancers().flatMap((b) => b.endpoints.flatMap((e) => (['closed', 'open', 'half-open'] as const).map((state) => ({ labels: { backend: b.service, target_addr: e.addr, state }, value: e.transitions[state] }))))),
    family('skiff_endpoint_rtt_ewma_seconds', 'Each endpoint\'s peak-EWMA round-trip estimate, as the balancer weighs it', 'gauge',
      () => balancers().flatMap((b) => b.endpoints.map((e) => ({ labels: { backend: b.service, target_addr: e.addr }, value: e.ewmaMs / 1000 })))),
    family('skiff_tap_dropped_total', 'Tap summaries a slow listener missed', 'counter', () => [{ labels: {}, value: t.tap.dropped }]),
  ];
  for (const f of families) r.registerMetric(f);
  registries.set(t, r);
  return r;
}

/** Builds the registry (and loads prom-client) ahead of the first scrape. */
export function prepareMetrics(t: Telemetry, version: string): void {
  registryOf(t, version);
}

/** The exposition text of everything recorded so far. */
export async function renderMetrics(t: Telemetry, version: string): Promise<{ contentType: string; body: string }> {
  const r = registryOf(t, version);
  return { contentType: r.contentType, body: await r.metrics() };
}

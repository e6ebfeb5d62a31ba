// The proxy's Prometheus metrics (prom-client: the standard Node client, exposition format and
// registry done right). Loaded on first use, so a proxy that records nothing yet does not carry it;
// the admin server's GET /metrics renders the registry.
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

export interface Metrics {
  registry: PromClient.Registry;
  /** Mesh TLS connections refused because the peer proved another identity than discovery expects. */
  identityMismatches: PromClient.Counter<'expected' | 'actual'>;
}

let metrics: Metrics | null = null;

export function getMetrics(): Metrics {
  if (metrics) return metrics;
  const prom = createRequire(import.meta.url)('prom-client') as typeof PromClient;
  const registry = new prom.Registry();
  metrics = {
    registry,
    identityMismatches: new prom.Counter({
      name: 'skiff_identity_mismatch_total',
      help: 'Connections to meshed endpoints refused: the peer proved another identity than discovery expects',
      labelNames: ['expected', 'actual'], registers: [registry],
    }),
  };
  return metrics;
}

/** The exposition text of everything recorded so far. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  const m = getMetrics();
  return { contentType: m.registry.contentType, body: await m.registry.metrics() };
}

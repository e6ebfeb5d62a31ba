// `skiff control`'s admin server, for the Deployment's probes and Prometheus: GET /live, GET /ready
// (listening, and with --kubernetes the cluster listed: every kind listed or answered for), and
// GET /metrics (prom-client: the process, the view, the config streams, the API and status writes).
import http from 'node:http';
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { RunningControlPlane } from './control-plane.js';

export function createControlAdmin(cp: RunningControlPlane): http.Server {
  const prom = createRequire(import.meta.url)('prom-client') as typeof PromClient;
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: PromClient.Gauge) => void): void => {
    registry.registerMetric(new prom.Gauge({ name, help, labelNames, registers: [], collect() { this.reset(); collect(this); } }));
  };
  const counter = (name: string, help: string, labelNames: string[], collect: (set: (labels: Record<string, string>, v: number) => void) => void): void => {
    // monotonic figures kept by the control plane, read at scrape time
    registry.registerMetric(new prom.Counter({ name, help, labelNames, registers: [], collect() { this.reset(); collect((l, v) => this.inc(l, v)); } }));
  };
  gauge('skiff_control_config_streams', 'Proxy config streams open', [], (g) => g.set(cp.config?.streams ?? 0));
  counter('skiff_control_config_messages_total', 'Messages sent on config streams', [], (set) => set({}, cp.config?.messages ?? 0));
  counter('skiff_control_config_objects_sent_total', 'Objects sent on config streams', [], (set) => set({}, cp.config?.objectsSent ?? 0));
  counter('skiff_control_config_streams_refused_total', 'Config streams refused (no or wrong identity, not ready)', [], (set) => set({}, cp.config?.refused ?? 0));
  gauge('skiff_control_view_objects', 'Valid objects in the control plane\'s view, by kind', ['kind'], (g) => {
    const by = new Map<string, number>();
    for (const o of cp.source?.view.objects.values() ?? []) by.set(o.parsed.kind, (by.get(o.parsed.kind) ?? 0) + 1);
    for (const [kind, n] of by) g.set({ kind }, n);
  });
  gauge('skiff_control_view_invalid_objects', 'Objects the API served that fail validation (their last valid version serves)', [], (g) => g.set(cp.source?.view.invalid.size ?? 0));
  counter('skiff_control_api_errors_total', 'List or watch failures against the Kubernetes API, by kind', ['kind'], (set) => {
    for (const [kind, n] of cp.source?.errors ?? []) set({ kind }, n);
  });
  counter('skiff_control_route_status_writes_total', 'Route status writes, by result', ['result'], (set) => {
    const s = cp.status;
    if (!s) return;
    set({ result: 'written' }, s.writes);
    set({ result: 'conflict' }, s.conflicts);
    set({ result: 'failed' }, s.failures);
  });
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') { res.writeHead(405).end(); return; }
    if (path === '/live') { res.writeHead(200, { 'content-type': 'text/plain' }).end('live\n'); return; }
    if (path === '/ready') {
      const ready = cp.source === null || cp.source.synced;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'listing the cluster\n');
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then((text) => { res.writeHead(200, { 'content-type': registry.contentType }).end(text); },
        (err: Error) => { res.writeHead(500).end(`${err.message}\n`); });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /live, /ready, /metrics\n');
  });
}

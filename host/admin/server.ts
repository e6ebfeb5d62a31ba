// The admin server: liveness and readiness for the kubelet, a shutdown hook, and the effective
// configuration (GET /config: what this proxy serves, with route status as a controller would
// report it). Not on the data path, so it uses node:http. Metrics join it in a later issue.
import http from 'node:http';
import { renderMetrics } from '../metrics/registry.js';

export interface AdminState {
  ready(): boolean;
  /** Lines for /ready's body (e.g. "identity: none (plaintext)"). */
  readyDetails(): string[];
  shutdown(): void;
  /** The effective configuration, as JSON-ready data. */
  config(): unknown;
}

export function createAdminServer(state: AdminState): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const text = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (path === '/live') return text(200, 'live\n');
    if (path === '/ready') {
      const ok = state.ready();
      return text(ok ? 200 : 503, `${ok ? 'ready' : 'not ready'}\n${state.readyDetails().join('\n')}\n`);
    }
    if (path === '/shutdown') {
      if (req.method !== 'POST') return text(405, 'POST to shut down\n');
      text(202, 'shutting down\n');
      state.shutdown();
      return;
    }
    if (path === '/metrics') {
      renderMetrics().then(({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }, (err: Error) => text(500, `${err.message}\n`));
      return;
    }
    if (path === '/config') {
      const body = `${JSON.stringify(state.config(), null, 2)}\n`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    text(404, 'admin endpoints: /live, /ready, /config, /metrics, POST /shutdown\n');
  });
}

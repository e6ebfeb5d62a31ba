// The admin server: liveness and readiness for the kubelet, and a shutdown hook. Not on the data
// path, so it uses node:http. Metrics and config dumps join it in later issues.
import http from 'node:http';

export interface AdminState {
  ready(): boolean;
  /** Lines for /ready's body (e.g. "identity: none (plaintext)"). */
  readyDetails(): string[];
  shutdown(): void;
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
    text(404, 'admin endpoints: /live, /ready, POST /shutdown\n');
  });
}

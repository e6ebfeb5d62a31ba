// `skiff tap`: a proxy's live request summaries (admin /tap), one line each, filtered at the proxy.
import http from 'node:http';
import type { HostPort } from '../config/address.js';
import type { RequestSummary } from '../metrics/tap.js';

export interface TapOptions {
  admin: HostPort;
  filters: Record<string, string>;
  json: boolean;
  /** Stop after this many summaries (0: until interrupted). */
  limit: number;
  out: (line: string) => void;
}

export function formatSummary(s: RequestSummary): string {
  const who = s.direction === 'inbound' ? (s.client_id ? ` from ${s.client_id}` : s.client_addr ? ` from ${s.client_addr}` : '') : (s.server_id ? ` to ${s.server_id}` : s.target_addr ? ` to ${s.target_addr}` : '');
  const grpc = s.grpc_status !== undefined ? ` grpc-status=${s.grpc_status}` : '';
  const err = s.error ? ` error=${s.error}` : '';
  const route = s.route ? ` route=${s.route}` : '';
  const authz = s.authz ? ` authz=${s.authz}` : '';
  return `${s.time} ${s.direction === 'inbound' ? 'in ' : 'out'} ${s.method} ${s.authority}${s.path} → ${s.status || '-'}${grpc} ${s.latency_ms.toFixed(1)}ms${who}${route}${authz}${err}`;
}

export function runTap(o: TapOptions): Promise<number> {
  const q = new URLSearchParams(o.filters);
  if (o.limit > 0) q.set('limit', String(o.limit));
  return new Promise((resolve) => {
    const req = http.get({ host: o.admin.host, port: o.admin.port, path: `/tap?${q}` }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        res.on('data', (c: string) => { buf += c; });
        res.on('end', () => { o.out(`skiff tap: ${res.statusCode} ${buf.trim()}`); resolve(1); });
        return;
      }
      res.on('data', (c: string) => {
        buf += c;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line) o.out(o.json ? line : formatSummary(JSON.parse(line) as RequestSummary));
        }
      });
      res.on('end', () => resolve(0));
      res.on('error', () => resolve(1));
    });
    req.on('error', (err) => { o.out(`skiff tap: ${o.admin.host}:${o.admin.port}: ${err.message}`); resolve(1); });
    const stop = (): void => { req.destroy(); resolve(0); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

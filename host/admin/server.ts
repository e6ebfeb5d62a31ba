// The admin server: what the kubelet, Prometheus, operators and a Job's main container talk to.
//   GET  /live, /ready           probes (/ready says why not)
//   GET  /metrics                Prometheus text (Linkerd's families, process metrics)
//   GET  /stats.json             the HTTP counters as JSON (skiff stat, the dashboard)
//   GET  /dashboard              golden metrics, live, as a page (no assets from elsewhere)
//   GET  /tap?filters            request summaries as they happen, one JSON object per line
//   GET  /config                 the effective configuration, with route status
//   GET  /log-level, PUT body    the log level, changed at run time
//   POST /shutdown               drain and stop (a Job's main container ends its sidecar)
// Endpoints that act or show request contents or the mesh's layout (shutdown, log-level changes,
// tap, config) answer loopback clients only, unless enabled off the loopback explicitly (--admin-remote). Not on the data path,
// so it uses node:http.
import http from 'node:http';
import { gzip as gzipCallback } from 'node:zlib';
import { promisify } from 'node:util';
import type { Telemetry } from '../metrics/telemetry.js';
import type { Logger } from '../log/logger.js';
import { parseLogLevel, LOG_LEVELS, type LogLevel } from '../log/logger.js';
import { parseTapFilter } from '../metrics/tap.js';

export type RemoteEndpoint = 'shutdown' | 'log-level' | 'tap' | 'config';
export const REMOTE_ENDPOINTS: readonly RemoteEndpoint[] = ['shutdown', 'log-level', 'tap', 'config'];

export interface AdminState {
  ready(): boolean;
  /** Lines for /ready's body (e.g. "identity: none (plaintext)"). */
  readyDetails(): string[];
  shutdown(): void;
  /** The effective configuration, as JSON-ready data. */
  config(): unknown;
  telemetry: Telemetry | null;
  logger: Logger;
  version: string;
  /** Endpoints allowed to clients off the loopback. */
  remote: ReadonlySet<RemoteEndpoint>;
}

const LIST = 'admin endpoints: /live, /ready, /metrics, /stats.json, /dashboard, /tap, /config, /log-level, POST /shutdown\n';

function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}

const gzipped = promisify(gzipCallback);

/** Most tap summaries queued for one listener before it misses some. */
const TAP_HIGH_WATER = 256 * 1024;

export function createAdminServer(state: AdminState): http.Server {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const text = (status: number, body: string, extra: http.OutgoingHttpHeaders = {}): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...extra });
      res.end(body);
    };
    const json = (body: unknown): void => {
      const s = `${JSON.stringify(body)}\n`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), 'cache-control': 'no-store' });
      res.end(s);
    };
    const guard = (what: RemoteEndpoint): boolean => {
      if (state.remote.has(what) || isLoopback(req.socket.remoteAddress)) return true;
      text(403, `${path} answers loopback clients only; enable it off the loopback with --admin-remote ${what}\n`);
      return false;
    };
    const method = req.method ?? 'GET';
    if (path === '/live') return text(200, 'live\n');
    if (path === '/ready') {
      const ok = state.ready();
      return text(ok ? 200 : 503, `${ok ? 'ready' : 'not ready'}\n${state.readyDetails().join('\n')}\n`);
    }
    if (path === '/shutdown') {
      if (method !== 'POST') return text(405, 'POST to shut down\n', { allow: 'POST' });
      if (!guard('shutdown')) return;
      state.logger.info('shutdown asked for on the admin server', { client: req.socket.remoteAddress });
      text(202, 'shutting down\n');
      state.shutdown();
      return;
    }
    if (path === '/log-level') {
      if (method === 'GET' || method === 'HEAD') return text(200, `${state.logger.level}\n`);
      if (method !== 'PUT' && method !== 'POST') return text(405, 'GET the level, or PUT a new one\n', { allow: 'GET, PUT' });
      if (!guard('log-level')) return;
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { if (body.length < 64) body += c; });
      req.on('end', () => {
        const level = parseLogLevel(body);
        if (!(LOG_LEVELS as readonly string[]).includes(level)) return text(400, `${level}\n`);
        const from = state.logger.level;
        state.logger.level = level as LogLevel;
        state.logger.info('log level changed', { from, to: level });
        text(200, `${level}\n`);
      });
      return;
    }
    if (path === '/config') {
      // the whole mesh as this proxy knows it (Services, endpoints, routes): not for whoever reaches the port
      if (!guard('config')) return;
      return json(state.config());
    }
    const t = state.telemetry;
    if (path === '/metrics' || path === '/stats.json' || path === '/tap') {
      if (t === null) return text(404, 'metrics are off in this proxy\n');
    }
    if (path === '/metrics') {
      // Prometheus asks for gzip; with many label sets the text shrinks about tenfold
      const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      import('../metrics/exposition.js').then((m) => m.renderMetrics(t!, state.version)).then(async ({ contentType, body }) => {
        const out = gzip ? await gzipped(body) : Buffer.from(body);
        res.writeHead(200, { 'content-type': contentType, 'content-length': out.length, vary: 'accept-encoding', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
        res.end(out);
      }).catch((err: Error) => text(500, `${err.message}\n`));
      return;
    }
    if (path === '/stats.json') {
      import('../metrics/stats.js').then((m) => json(m.statsOf(t!)), (err: Error) => text(500, `${err.message}\n`));
      return;
    }
    if (path === '/tap') {
      if (!guard('tap')) return;
      const filter = parseTapFilter(url.searchParams);
      if (typeof filter === 'string') return text(400, `${filter}\n`);
      const limit = Number(url.searchParams.get('limit') ?? '0');
      if (!Number.isInteger(limit) || limit < 0) return text(400, `limit: expected a count, got '${url.searchParams.get('limit')}'\n`);
      let sent = 0;
      let stop: () => void;
      try {
        stop = t!.tap.listen({
          filter,
          send: (s) => {
            if (res.writableLength > TAP_HIGH_WATER) return false;
            res.write(`${JSON.stringify(s)}\n`);
            if (limit > 0 && ++sent >= limit) { stop(); res.end(); }
            return true;
          },
        });
      } catch (err) {
        return text(429, `${(err as Error).message}\n`);
      }
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      res.flushHeaders();
      res.on('close', stop);
      return;
    }
    if (path === '/dashboard') {
      import('./dashboard.js').then((m) => {
        const page = m.dashboardPage(state.version);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page), 'cache-control': 'no-store' });
        res.end(page);
      }, (err: Error) => text(500, `${err.message}\n`));
      return;
    }
    text(404, LIST);
  });
  return server;
}

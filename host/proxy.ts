// startProxy: one sidecar in this process — inbound, outbound and admin listeners — as the CLI,
// tests and benchmarks run it. Returns the bound addresses and a close().
import net from 'node:net';
import type http from 'node:http';
import { Inbound } from './inbound/inbound.js';
import { createAdminServer } from './admin/server.js';
import { parseHostPort, type HostPort } from './config/address.js';
import type { H2SessionOptions } from './transport/h2-session.js';

export interface ProxyOptions {
  /** Where inbound traffic arrives (default 0.0.0.0:4143). */
  inbound?: string;
  /** Admin server (default 127.0.0.1:4191); null: none. */
  admin?: string | null;
  /** The local application (default 127.0.0.1:8080). */
  app?: string;
  /** How long protocol detection waits for a client's first bytes (default 10 s). */
  detectTimeoutMs?: number;
  /** HTTP/2 settings for every session (windows, limits). */
  http2?: H2SessionOptions;
  /** Grace period for in-flight requests on close() (default 30 s). */
  shutdownGraceMs?: number;
  log?: (line: string) => void;
}

export interface RunningProxy {
  inbound: HostPort;
  admin: HostPort | null;
  /** Drains (GOAWAY, stop accepting, wait for in-flight requests up to the grace period) and stops. */
  close(): Promise<void>;
}

function listen(server: net.Server | http.Server, at: HostPort): Promise<HostPort> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      const a = server.address() as net.AddressInfo;
      resolve({ host: a.address, port: a.port });
    });
  });
}

export async function startProxy(options: ProxyOptions = {}): Promise<RunningProxy> {
  const log = options.log ?? (() => {});
  const app = parseHostPort(options.app ?? '127.0.0.1:8080', '--app');
  const inboundAt = parseHostPort(options.inbound ?? '0.0.0.0:4143', '--inbound');
  const inbound = new Inbound({ app, detectTimeoutMs: options.detectTimeoutMs ?? 10_000, session: options.http2 ?? {} });
  const inboundServer = net.createServer({ noDelay: true, pauseOnConnect: false }, (s) => inbound.accept(s));
  let closing: Promise<void> | null = null;
  const adminServer = options.admin === null ? null : createAdminServer({
    ready: () => closing === null,
    readyDetails: () => ['identity: none (plaintext; no identity flags given)'],
    shutdown: () => { void running.close(); },
  });
  const inboundBound = await listen(inboundServer, inboundAt);
  const adminBound = adminServer ? await listen(adminServer, parseHostPort(options.admin ?? '127.0.0.1:4191', '--admin')) : null;
  log(`inbound on ${inboundBound.host}:${inboundBound.port} → app ${app.host}:${app.port}`);

  const running: RunningProxy = {
    inbound: inboundBound,
    admin: adminBound,
    close(): Promise<void> {
      closing ??= (async () => {
        inboundServer.close();
        inbound.drain();
        const grace = options.shutdownGraceMs ?? 30_000;
        const deadline = Date.now() + grace;
        while (inbound.openSessions > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
        inbound.destroy();
        adminServer?.close();
        adminServer?.closeAllConnections();
      })();
      return closing;
    },
  };
  return running;
}

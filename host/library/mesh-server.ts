// A Node service meshed in-process, without a sidecar: its node:http (or node:http2 h2c) server is
// kept on the loopback, and Skiff's inbound — mesh mTLS termination, inbound authorization policy,
// the caller's proven identity passed as `skiff-client-id`, inbound golden metrics — listens where
// the mesh reaches the workload and hands it each admitted request.
//
//   const server = http.createServer((req, res) => res.end(`hello ${req.headers['skiff-client-id']}`));
//   const meshed = await meshServer(server, { config: './mesh', workload: 'default/books',
//                                             inbound: '0.0.0.0:4143', identity: { … } });
//   …
//   await meshed.close();   // drains, then closes the server
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { startProxy, type ProxyOptions, type RunningProxy } from '../proxy.js';
import type { HostPort } from '../config/address.js';
import type { Telemetry } from '../metrics/telemetry.js';

export interface MeshServerOptions extends Pick<ProxyOptions, 'config' | 'control' | 'workload' | 'clusterDomain' | 'identity' | 'policy'
  | 'responseTimeoutMs' | 'pools' | 'metrics' | 'logger' | 'log' | 'accessLog' | 'shutdownGraceMs' | 'underscoreHeaders'> {
  /** Where the mesh reaches this workload (default 0.0.0.0:4143). */
  inbound?: string;
  /** An admin server (/ready, /metrics, …) for the workload (default: none). */
  admin?: string | null;
}

export interface MeshedServer {
  /** The mesh-facing address. */
  inbound: HostPort;
  admin: HostPort | null;
  /** Inbound metrics (null with metrics: false). */
  telemetry: Telemetry | null;
  /** Drains the mesh side (in-flight requests finish), then closes the server. */
  close(): Promise<void>;
}

function isLoopback(address: string): boolean {
  return address === '127.0.0.1' || address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
}

/**
 * Meshes `server`: if it is not listening yet it is put on 127.0.0.1 (an ephemeral port); if it
 * listens elsewhere than the loopback it is refused, since callers could then bypass the policy.
 */
export async function meshServer(server: http.Server | http2.Http2Server, options: MeshServerOptions = {}): Promise<MeshedServer> {
  const startedHere = !server.listening;
  if (startedHere) await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); }); });
  const a = server.address() as net.AddressInfo | null;
  if (!a || typeof a !== 'object') throw new Error('the server listens on no TCP address');
  if (!isLoopback(a.address)) throw new Error(`the server listens on ${a.address}:${a.port}: a meshed server must listen on the loopback only, or callers could bypass the mesh's policy`);
  // node:http speaks HTTP/1.1 only; a node:http2 server without TLS speaks h2c only
  const appProtocol = server instanceof http.Server ? 'http1' : 'h2c';
  let proxy: RunningProxy;
  try {
    proxy = await startProxy({
      ...options, appProtocol, app: `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`,
      inbound: options.inbound ?? '0.0.0.0:4143',
      // the outbound side is the MeshClient's (library/mesh-client.ts): here only a loopback listener nobody is told of
      outbound: '127.0.0.1:0', admin: options.admin ?? null,
    });
  } catch (err) {
    // a server put on the loopback here for the mesh does not stay up without it
    if (startedHere) server.close();
    throw err;
  }
  return {
    inbound: proxy.inbound, admin: proxy.admin, telemetry: proxy.telemetry,
    async close() {
      await proxy.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

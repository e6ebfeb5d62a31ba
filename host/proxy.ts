// startProxy: one sidecar in this process — inbound, outbound and admin listeners — as the CLI,
// tests and benchmarks run it. Returns the bound addresses and a close().
import net from 'node:net';
import type http from 'node:http';
import { Inbound } from './inbound/inbound.js';
import { Outbound } from './outbound/outbound.js';
import { routeStatuses } from './route/status.js';
import type { Snapshot } from './config/snapshot.js';
import { startMeshCore, ConfigRejected } from './mesh-core.js';
import { createAdminServer, type RemoteEndpoint } from './admin/server.js';
import { Telemetry } from './metrics/telemetry.js';
import type { RequestSummary } from './metrics/tap.js';
import { Logger } from './log/logger.js';
import { packageFile } from './dist-files.js';
import { readFileSync } from 'node:fs';
import { parseHostPort, type HostPort } from './config/address.js';
import type { H2SessionOptions } from './transport/h2-session.js';
import type { PoolLimits } from './transport/listener.js';
import type { UnderscoreHeaders } from './http/headers.js';
import type { DefaultPolicy } from './policy/model.js';
import { DEFAULT_CLUSTER_NETWORKS, NetworkMatcher } from './policy/authn.js';

export interface ProxyOptions {
  /** Kubernetes YAML directory, watched (default: none, so every outbound name is unknown). */
  config?: string;
  /**
   * The control plane (skiff control), HOST:PORT: the configuration arrives over one mTLS stream from
   * it instead of a directory. Needs `identity` (whose addr defaults to this).
   */
  control?: string;
  /** How long a request for a Service the control plane has not sent yet waits for it (default 3 s). */
  discoveryTimeoutMs?: number;
  /** How often the config directory is checked for changes (default 1000 ms). */
  configPollMs?: number;
  /** Where the application's outbound calls arrive (default 127.0.0.1:4140). */
  outbound?: string;
  /** Where inbound traffic arrives (default 0.0.0.0:4143). */
  inbound?: string;
  /** Who this proxy speaks for, NAMESPACE/NAME (default default/default): bare names resolve in NAMESPACE. */
  workload?: string;
  /** Cluster DNS domain (default cluster.local). */
  clusterDomain?: string;
  /** Admin server (default 127.0.0.1:4191); null: none. */
  admin?: string | null;
  /** The local application (default 127.0.0.1:8080). */
  app?: string;
  /** What the application speaks: the caller's protocol (default), or always http1 / h2c (see Inbound). */
  appProtocol?: 'caller' | 'http1' | 'h2c';
  /** Application ports whose inbound traffic is opaque TCP: no protocol detection (e.g. [3306, 5432]). */
  opaquePorts?: number[];
  /** How long protocol detection waits for a client's first bytes (default 10 s). */
  detectTimeoutMs?: number;
  /** Answer 504 (gRPC: DEADLINE_EXCEEDED) when an upstream sends no response head in this long (default: no limit). */
  responseTimeoutMs?: number;
  /** HTTP/2 settings for every session (windows, limits). */
  http2?: H2SessionOptions;
  /** Connections per upstream endpoint and the queue of requests waiting at that limit (see PoolLimits). */
  pools?: PoolLimits;
  /**
   * Request header names containing '_' (default 'allow': passed as they are, as Linkerd and
   * Envoy do; 'drop' removes them, as nginx; 'reject' answers 400). Mesh headers are removed
   * in every spelling whatever this says.
   */
  underscoreHeaders?: UnderscoreHeaders;
  /** Grace period for in-flight requests on close() (default 30 s). */
  shutdownGraceMs?: number;
  /**
   * Workload identity from the identity service (skiff control): /ready stays false until the first
   * certificate. (mTLS between sidecars with it arrives next; see README.)
   */
  identity?: { addr?: string; tokenFile: string; trustAnchorsFile: string; trustDomain?: string };
  /** Plain log lines (the library's simple form); `logger` takes precedence. */
  log?: (line: string) => void;
  /** Structured logs (the `skiff proxy` command's JSON lines). */
  logger?: Logger;
  /** Record metrics and offer tap (default true); false only to measure what they cost. */
  metrics?: boolean;
  /** Metric label sets idle this long leave /metrics (default 10 minutes, as Linkerd's proxy). */
  metricsRetainIdleMs?: number;
  /** Access log: called with every request's summary (the command writes them as JSON lines). */
  accessLog?: (summary: RequestSummary) => void;
  /**
   * Inbound authorization (Linkerd's policy resources in the config): the default policy for ports
   * no Server selects (default all-unauthenticated; a Pod's or Namespace's
   * config.linkerd.io/default-inbound-policy annotation overrides it), what "cluster" means to the
   * cluster-* policies (default: the private ranges and loopback), and whether the loopback is
   * trusted by itself (a pod's own; default false: on one machine every workload shares it).
   */
  policy?: { defaultInboundPolicy?: DefaultPolicy; clusterNetworks?: string[]; trustLoopback?: boolean };
  /** Admin endpoints that also answer clients off the loopback (default: none). */
  adminRemote?: RemoteEndpoint[];
}

export interface RunningProxy {
  /** How many valid configurations have been applied (0 without --config). */
  readonly configGeneration: number;
  outbound: HostPort;
  inbound: HostPort;
  admin: HostPort | null;
  /** Metrics, tap and access log of this proxy (null with metrics: false). */
  telemetry: Telemetry | null;
  /** Drains (GOAWAY, stop accepting, wait for in-flight requests up to the grace period) and stops. */
  close(): Promise<void>;
  /** Settles when the proxy has stopped (after close(), or a POST /shutdown). */
  readonly closed: Promise<void>;
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

/** What GET /config on the admin server shows: the snapshot in use and the status of its routes. */
function effectiveConfig(snapshot: Snapshot, generation: number, dir: string | null, workload: string): unknown {
  return {
    source: dir, generation, workload, objects: snapshot.objectCount,
    services: [...snapshot.services.values()].map((s) => ({
      namespace: s.namespace, name: s.name, ports: s.ports.map((p) => p.port), source: s.source,
      endpointSlices: snapshot.slicesOf(s.namespace, s.name).map((e) => ({ name: e.name, endpoints: e.endpoints.filter((x) => x.ready && !x.terminating).flatMap((x) => x.addresses) })),
    })),
    routes: routeStatuses(snapshot).map(({ route, parents }) => ({
      kind: route.kind, namespace: route.namespace, name: route.name, source: `${route.source}:${route.line}`,
      rules: route.rules.length,
      parents: parents.map((p) => ({ parentRef: p.parentRef, conditions: p.conditions })),
    })),
  };
}

let version: string | null = null;
const VERSION = (): string => version ??= (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;

export { ConfigRejected };

export async function startProxy(options: ProxyOptions = {}): Promise<RunningProxy> {
  const logger = options.logger ?? Logger.lines(options.log ?? (() => {}));
  const log = (line: string): void => logger.info(line);
  const telemetry = options.metrics === false ? null : new Telemetry({ accessLog: options.accessLog, retainIdleMs: options.metricsRetainIdleMs });
  const app = parseHostPort(options.app ?? '127.0.0.1:8080', '--app');
  const inboundAt = parseHostPort(options.inbound ?? '0.0.0.0:4143', '--inbound');
  const outboundAt = parseHostPort(options.outbound ?? '127.0.0.1:4140', '--outbound');
  const core = await startMeshCore(options, logger, telemetry);
  const { workload, resolver, meshTls, control } = core;
  // config updates re-check the TCP connections the inbound's policy admitted
  core.onConfig = () => inboundRef?.configChanged();
  let inboundRef: Inbound | null = null;
  const session = options.http2 ?? {};
  const detectTimeoutMs = options.detectTimeoutMs ?? 10_000;
  const responseTimeoutMs = options.responseTimeoutMs ?? 0;
  const [podNamespace, podName] = workload.split('/');
  const policy = {
    namespace: podNamespace, name: podName, port: app.port,
    defaultPolicy: options.policy?.defaultInboundPolicy ?? 'all-unauthenticated',
    clusterNetworks: new NetworkMatcher((options.policy?.clusterNetworks ?? DEFAULT_CLUSTER_NETWORKS).map((cidr) => ({ cidr, except: [] }))),
    trustLoopback: options.policy?.trustLoopback ?? false,
    trustDomain: options.identity?.trustDomain ?? options.clusterDomain ?? 'cluster.local',
  };
  const inbound = inboundRef = new Inbound({
    policy,
    app, appProtocol: options.appProtocol, detectTimeoutMs, session, pools: options.pools, underscoreHeaders: options.underscoreHeaders, responseTimeoutMs, opaque: options.opaquePorts?.includes(app.port) ?? false,
    snapshot: core.snapshot, resolver, meshTls, telemetry: telemetry ?? undefined,
  });
  const outbound = new Outbound({
    responseTimeoutMs,
    resolver,
    meshTls,
    snapshot: core.snapshot,
    detectTimeoutMs,
    session,
    pools: options.pools,
    underscoreHeaders: options.underscoreHeaders,
    telemetry: telemetry ?? undefined,
    discover: control ? (ns, name) => control!.discover(ns, name) : undefined,
  });
  // half-open: a tunnel's client may finish sending and still be owed the rest of the answer
  const inboundServer = net.createServer({ noDelay: true, allowHalfOpen: true }, (s) => inbound.accept(s));
  const outboundServer = net.createServer({ noDelay: true, allowHalfOpen: true }, (s) => outbound.accept(s));
  let closing: Promise<void> | null = null;
  const adminServer = options.admin === null ? null : createAdminServer({
    ready: () => closing === null && core.ready(),
    readyDetails: () => core.readyDetails(),
    shutdown: () => { void running.close(); },
    config: () => effectiveConfig(core.snapshot(), core.generation, options.config ?? (options.control ? `control ${options.control}` : null), workload),
    telemetry, logger, version: VERSION(), remote: new Set(options.adminRemote ?? []),
  });
  const outboundBound = await listen(outboundServer, outboundAt);
  const inboundBound = await listen(inboundServer, inboundAt);
  // Build the Prometheus registry now, not on the first scrape: loading prom-client while traffic
  // flows leaves V8's heap in a costlier state for the rest of the process's life (measured: about
  // 20 MB more resident memory and up to a third less throughput), while loading it idle costs ~4 MB.
  // Before the admin server listens, so /ready is never answered by a proxy still starting.
  if (adminServer && telemetry) (await import('./metrics/exposition.js')).prepareMetrics(telemetry, VERSION());
  const adminBound = adminServer ? await listen(adminServer, parseHostPort(options.admin ?? '127.0.0.1:4191', '--admin')) : null;
  logger.info(`outbound on ${outboundBound.host}:${outboundBound.port}; inbound on ${inboundBound.host}:${inboundBound.port} → app ${app.host}:${app.port}${adminBound ? `; admin on ${adminBound.host}:${adminBound.port}` : ''}`);
  let markClosed!: () => void;
  const closed = new Promise<void>((r) => { markClosed = r; });

  const running: RunningProxy = {
    get configGeneration() { return core.generation; },
    outbound: outboundBound,
    inbound: inboundBound,
    admin: adminBound,
    telemetry,
    closed,
    close(): Promise<void> {
      closing ??= (async () => {
        core.close();
        inboundServer.close();
        outboundServer.close();
        inbound.drain();
        outbound.drain();
        const grace = options.shutdownGraceMs ?? 30_000;
        const deadline = Date.now() + grace;
        while (inbound.openConnections + outbound.openConnections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
        inbound.destroy();
        outbound.destroy();
        adminServer?.close();
        adminServer?.closeAllConnections();
        telemetry?.close();
        logger.info('stopped');
        markClosed();
      })();
      return closing;
    },
  };
  return running;
}

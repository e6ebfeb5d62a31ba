// `skiff control` in one object: the listener (identity service and config streams, one port), the
// cluster view fed by the Kubernetes API, and the route status writer. The command runs it; tests
// and the scale bench run it in-process.
import type { KubeConfig } from '@kubernetes/client-node';
import { createControlServer, type ControlServer } from './control-server.js';
import { ConfigServer } from './config-server.js';
import { KubernetesSource } from './kubernetes-source.js';
import { RouteStatusWriter } from './route-status-writer.js';
import { tokenReviewer } from './token-review.js';
import type { HostPort } from '../config/address.js';

export interface ControlPlaneOptions {
  /** The directory `skiff identity init` wrote (a mounted Secret in a cluster). */
  identityDir: string;
  trustDomain?: string;
  certificateLifetimeMs?: number;
  listen: HostPort;
  /** The cluster: config streams from its API, tokens checked by TokenReview, route status written back. */
  kubernetes?: {
    kubeConfig: KubeConfig;
    /** Write route status (default true). */
    writeStatus?: boolean;
    /** Changes arriving within this long make one update (default 50 ms). */
    debounceMs?: number;
    retryMs?: number;
  };
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface RunningControlPlane {
  address: HostPort;
  server: ControlServer;
  config: ConfigServer | null;
  source: KubernetesSource | null;
  status: RouteStatusWriter | null;
  close(): Promise<void>;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const log = options.log ?? (() => {});
  const trustDomain = options.trustDomain ?? 'cluster.local';
  const k = options.kubernetes;
  let source: KubernetesSource | null = null;
  let config: ConfigServer | null = null;
  let status: RouteStatusWriter | null = null;
  if (k) {
    let first = true;
    source = new KubernetesSource({
      kubeConfig: k.kubeConfig, debounceMs: k.debounceMs, retryMs: k.retryMs,
      onUpdate: (view, changed) => {
        if (first) log('info', 'cluster listed', { objects: view.objects.size });
        first = false;
        config?.changed(changed);
        // a partial view would report parents and backends missing that are only not listed yet
        if (source!.synced) status?.sync();
      },
      onInvalid: (errors) => log('error', 'objects refused (each keeps its last valid version; the rest applies)', { errors: errors.map(String) }),
      onError: (kind, err) => log('warn', `cannot list or watch ${kind} objects; serving the last view, retrying`, { error: (err as Error)?.message ?? String(err) }),
    });
    const src = source;
    config = new ConfigServer({ view: source.view, trustDomain, ready: () => src.synced, log: (l) => log('info', l) });
    if (k.writeStatus !== false) status = new RouteStatusWriter({ kubeConfig: k.kubeConfig, view: source.view, log });
  }
  const server = await createControlServer({
    identityDir: options.identityDir, trustDomain, certificateLifetimeMs: options.certificateLifetimeMs,
    authenticate: k ? tokenReviewer(k.kubeConfig) : undefined, config: config ?? undefined,
    log: (l) => log('info', l),
  });
  // listed before listening: a proxy's first state is the cluster's, never an empty one
  if (source) await source.start();
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(options.listen.port, options.listen.host, () => { server.off('error', reject); resolve(); }); });
  const a = server.address() as { address: string; port: number };
  return {
    address: { host: a.address, port: a.port }, server, config, source, status,
    async close() {
      status?.close();
      await source?.close();
      server.close();
      server.closeAllConnections();
    },
  };
}

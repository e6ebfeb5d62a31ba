// The control plane's view of a cluster: every kind Skiff reads, listed and watched on the
// Kubernetes API with @kubernetes/client-node's informers (list, then watch from its
// resourceVersion; bookmarks; a relist after 410 Gone), turned into the same Snapshot the directory
// source makes — so everything built on the snapshot behaves the same in both modes. An informer
// that fails is restarted with backoff; meanwhile the last good snapshot keeps serving.
//
// @kubernetes/client-node 1.x, not 2.x: 2.x depends on undici 8, which needs Node 22, and Skiff runs
// on Node 20.18+. 1.x watches over node-fetch and runs on both.
import http from 'node:http';
import https from 'node:https';
import { KubeConfig, ListWatch, Watch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { parseObject, type KnownObject } from '../config/objects.js';
import { findDuplicates, Snapshot } from '../config/snapshot.js';
import type { ConfigError } from '../config/checker.js';

/** What is read, where: the collection's API path (all namespaces) and its objects' apiVersion and kind. */
export const WATCHED: readonly { path: string; apiVersion: string; kind: string }[] = [
  { path: '/api/v1/services', apiVersion: 'v1', kind: 'Service' },
  { path: '/apis/discovery.k8s.io/v1/endpointslices', apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' },
  { path: '/api/v1/pods', apiVersion: 'v1', kind: 'Pod' },
  { path: '/api/v1/namespaces', apiVersion: 'v1', kind: 'Namespace' },
  { path: '/apis/gateway.networking.k8s.io/v1/httproutes', apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
  { path: '/apis/gateway.networking.k8s.io/v1/grpcroutes', apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute' },
  { path: '/apis/policy.linkerd.io/v1beta3/servers', apiVersion: 'policy.linkerd.io/v1beta3', kind: 'Server' },
  { path: '/apis/policy.linkerd.io/v1alpha1/authorizationpolicies', apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'AuthorizationPolicy' },
  { path: '/apis/policy.linkerd.io/v1alpha1/meshtlsauthentications', apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'MeshTLSAuthentication' },
  { path: '/apis/policy.linkerd.io/v1alpha1/networkauthentications', apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'NetworkAuthentication' },
];

export interface KubernetesSourceOptions {
  /** The cluster to talk to (in-cluster service account, a kubeconfig, or options). */
  kubeConfig: KubeConfig;
  onUpdate(snapshot: Snapshot): void;
  /** Objects the API served that Skiff refuses (each with kind, namespace/name and field); the rest applies. */
  onInvalid?(errors: ConfigError[]): void;
  /** An informer failed (the API is unreachable, refused, …); it is restarted after `retryMs`. */
  onError?(kind: string, err: unknown): void;
  /** Changes arriving within this long make one snapshot (default 50 ms). */
  debounceMs?: number;
  /** Wait before restarting a failed informer (default 1 s, doubling to 30 s). */
  retryMs?: number;
}

/** A GET of `path` on the API server as JSON, with the kubeconfig's credentials and TLS settings. */
async function getJson(kc: KubeConfig, path: string): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig names no current cluster');
  const url = new URL(path, cluster.server);
  const opts: https.RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) { reject(new Error(`GET ${path}: ${res.statusCode} ${body.slice(0, 200)}`)); return; }
        try { resolve(JSON.parse(body)); } catch (err) { reject(err as Error); }
      });
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path}: no answer in 30 s`)));
    req.end();
  });
}

export class KubernetesSource {
  private informers = new Map<string, ListWatch<KubernetesObject>>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private retries = new Map<string, number>();
  /** The first snapshot is delivered once every kind has been listed. */
  private listed = new Set<string>();
  last: Snapshot | null = null;

  constructor(private options: KubernetesSourceOptions) {}

  /** Lists and watches every kind; resolves once all have been listed (the first snapshot delivered). */
  async start(): Promise<void> {
    await Promise.all(WATCHED.map((w) => this.startInformer(w)));
    this.rebuild();
  }

  private async startInformer(w: typeof WATCHED[number]): Promise<void> {
    const kc = this.options.kubeConfig;
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const l = await getJson(kc, w.path) as KubernetesListObject<KubernetesObject>;
      // list items carry no kind or apiVersion: the list says what they are
      for (const o of l.items) { o.kind = w.kind; o.apiVersion = w.apiVersion; }
      return l;
    };
    const informer = new ListWatch<KubernetesObject>(w.path, new Watch(kc), list, false);
    const changed = (): void => { this.retries.delete(w.kind); this.schedule(); };
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    informer.on('connect', () => { this.listed.add(w.kind); });
    informer.on('error', (err: unknown) => {
      if (this.closed) return; // stopping aborts the watches: not an error
      this.options.onError?.(w.kind, err);
      // keep serving the last snapshot; start again after a backoff (a relist, then a new watch)
      const n = (this.retries.get(w.kind) ?? 0) + 1;
      this.retries.set(w.kind, n);
      const delay = Math.min((this.options.retryMs ?? 1000) * 2 ** (n - 1), 30_000);
      setTimeout(() => { if (!this.closed) informer.start().catch(() => {}); }, delay).unref();
    });
    this.informers.set(w.kind, informer);
    try {
      await informer.start();
      this.listed.add(w.kind);
    } catch (err) {
      // the error callback restarts it; the first snapshot waits for nothing that may never come
      this.options.onError?.(w.kind, err);
    }
  }

  private schedule(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(() => { this.timer = null; this.rebuild(); }, this.options.debounceMs ?? 50);
  }

  /** A snapshot of every object the informers hold; objects Skiff refuses are left out and reported. */
  private rebuild(): void {
    if (this.closed) return;
    const objects: KnownObject[] = [];
    const errors: ConfigError[] = [];
    for (const [kind, informer] of this.informers) {
      for (const o of informer.list()) {
        const raw = JSON.parse(JSON.stringify(o)) as Record<string, unknown>;
        raw.kind ??= kind;
        const parsed = parseObject(raw, `${kind.toLowerCase()}s (API)`, 0);
        if (parsed.object) objects.push(parsed.object);
        errors.push(...parsed.errors);
      }
    }
    errors.push(...findDuplicates(objects));
    if (errors.length) this.options.onInvalid?.(errors);
    this.last = new Snapshot(objects);
    this.options.onUpdate(this.last);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([...this.informers.values()].map((i) => i.stop().catch(() => {})));
  }
}

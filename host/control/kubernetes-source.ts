// The control plane's view of a cluster: every kind Skiff reads, listed and watched on the
// Kubernetes API with @kubernetes/client-node's informers (list, then watch from its
// resourceVersion; bookmarks; a relist after 410 Gone), turned into the same Snapshot the directory
// source makes — so everything built on the snapshot behaves the same in both modes. An informer
// that fails is restarted with backoff; meanwhile the last good snapshot keeps serving.
//
// @kubernetes/client-node 1.x, not 2.x: 2.x depends on undici 8, which needs Node 22, and Skiff runs
// on Node 20.18+. 1.x watches over node-fetch and runs on both.
import { KubeConfig, ListWatch, Watch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { ConfigError } from '../config/checker.js';
import { ClusterView, type StoredObject } from './cluster-view.js';
import { objectKey } from './config-protocol.js';
import { ApiError, apiRequest } from './api-request.js';

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
  /**
   * The view changed: `changed` holds the keys ("Kind namespace/name") of what changed since the
   * last call, each with the version it had then (null: new); `view` has the current ones.
   */
  onUpdate(view: ClusterView, changed: Map<string, StoredObject | null>): void;
  /**
   * Objects the API served that Skiff refuses (each with kind, namespace/name and field): the last
   * valid version of each, if any, keeps serving; the rest applies.
   */
  onInvalid?(errors: ConfigError[]): void;
  /** An informer failed (the API is unreachable, refused, …); it is restarted after `retryMs`. */
  onError?(kind: string, err: unknown): void;
  /** Changes arriving within this long make one snapshot (default 50 ms). */
  debounceMs?: number;
  /** Wait before restarting a failed informer (default 1 s, doubling to 30 s). */
  retryMs?: number;
}

export class KubernetesSource {
  private informers = new Map<string, ListWatch<KubernetesObject>>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private retries = new Map<string, number>();
  /** Kinds listed, or answered for definitely (403, 404): the view is whole once all are. */
  private settled = new Set<string>();
  /** List/watch failures by kind (for metrics). */
  readonly errors = new Map<string, number>();
  /** Every object served, raw and validated, with the indexes config streams need. */
  readonly view = new ClusterView();

  constructor(private options: KubernetesSourceOptions) {}

  /** Every kind has been listed (or the API said it cannot be): the view is the cluster's. */
  get synced(): boolean { return this.settled.size === WATCHED.length; }

  /** Lists and watches every kind; resolves once all have been listed (the first snapshot delivered). */
  async start(): Promise<void> {
    await Promise.all(WATCHED.map((w) => this.startInformer(w)));
    this.rebuild();
  }

  private async startInformer(w: typeof WATCHED[number]): Promise<void> {
    const kc = this.options.kubeConfig;
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      let l: KubernetesListObject<KubernetesObject>;
      try {
        l = await apiRequest(kc, 'GET', w.path) as KubernetesListObject<KubernetesObject>;
      } catch (err) {
        // a definite answer (not installed: 404; not allowed: 403) settles the kind as empty for
        // now — the rest of the cluster is served — while it is retried with backoff
        if (err instanceof ApiError && (err.status === 403 || err.status === 404)) this.settled.add(w.kind);
        throw err;
      }
      // list items carry no kind or apiVersion: the list says what they are
      for (const o of l.items) { o.kind = w.kind; o.apiVersion = w.apiVersion; }
      return l;
    };
    const informer = new ListWatch<KubernetesObject>(w.path, new Watch(kc), list, false);
    const source = `${w.kind} (API)`;
    const changed = (o: KubernetesObject): void => {
      this.retries.delete(w.kind);
      const raw = o as unknown as Record<string, unknown>;
      raw.kind ??= w.kind;
      raw.apiVersion ??= w.apiVersion;
      const errors = this.view.set(raw, source);
      if (errors.length) this.options.onInvalid?.(errors);
      this.schedule();
    };
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', (o: KubernetesObject) => {
      this.view.delete(objectKey(w.kind, o.metadata?.namespace, o.metadata?.name ?? ''));
      this.schedule();
    });
    informer.on('connect', () => { this.settled.add(w.kind); });
    informer.on('error', (err: unknown) => {
      if (this.closed) return; // stopping aborts the watches: not an error
      this.errors.set(w.kind, (this.errors.get(w.kind) ?? 0) + 1);
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
      this.settled.add(w.kind);
    } catch (err) {
      // the error callback restarts it; the first snapshot waits for nothing that may never come
      this.errors.set(w.kind, (this.errors.get(w.kind) ?? 0) + 1);
      this.options.onError?.(w.kind, err);
    }
  }

  private schedule(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(() => { this.timer = null; this.rebuild(); }, this.options.debounceMs ?? 50);
  }

  /** Publishes the changes (an invalid change keeps the object's last valid version). */
  private rebuild(): void {
    if (this.closed) return;
    this.options.onUpdate(this.view, this.view.commit());
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([...this.informers.values()].map((i) => i.stop().catch(() => {})));
  }
}

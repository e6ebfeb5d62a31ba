// A Kubernetes API server for tests, faithful to the API conventions the control plane relies on:
// collection lists carry metadata.resourceVersion and items without kind/apiVersion; watches
// (?watch=true&resourceVersion=N) stream one JSON event per line — ADDED, MODIFIED, DELETED, BOOKMARK
// (when allowWatchBookmarks) — for changes after N; a resourceVersion older than the server keeps
// answers 410 Gone (a watch event of type ERROR with a Status, as the real server sends once a watch
// has started, or HTTP 410 on the request); every object change bumps one cluster-wide resourceVersion.
import http from 'node:http';

/** The collections served: path prefix → [apiVersion, kind, namespaced?]. */
const RESOURCES = {
  '/api/v1/services': ['v1', 'Service'],
  '/api/v1/pods': ['v1', 'Pod'],
  '/api/v1/namespaces': ['v1', 'Namespace'],
  '/apis/discovery.k8s.io/v1/endpointslices': ['discovery.k8s.io/v1', 'EndpointSlice'],
  '/apis/gateway.networking.k8s.io/v1/httproutes': ['gateway.networking.k8s.io/v1', 'HTTPRoute'],
  '/apis/gateway.networking.k8s.io/v1/grpcroutes': ['gateway.networking.k8s.io/v1', 'GRPCRoute'],
  '/apis/policy.linkerd.io/v1beta3/servers': ['policy.linkerd.io/v1beta3', 'Server'],
  '/apis/policy.linkerd.io/v1alpha1/authorizationpolicies': ['policy.linkerd.io/v1alpha1', 'AuthorizationPolicy'],
  '/apis/policy.linkerd.io/v1alpha1/meshtlsauthentications': ['policy.linkerd.io/v1alpha1', 'MeshTLSAuthentication'],
  '/apis/policy.linkerd.io/v1alpha1/networkauthentications': ['policy.linkerd.io/v1alpha1', 'NetworkAuthentication'],
};

export class FakeApiServer {
  constructor() {
    this.rv = 100;
    /** Oldest resourceVersion a watch may start from (older: 410 Gone). */
    this.compactedTo = 0;
    /** kind → Map(ns/name → object) */
    this.objects = new Map();
    /** Every change: { rv, kind, type, object } */
    this.history = [];
    this.watchers = new Set();
    this.requests = [];
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  listen() { return new Promise((r) => this.server.listen(0, '127.0.0.1', () => r(this.server.address().port))); }
  close() {
    for (const w of this.watchers) w.res.destroy();
    this.server.closeAllConnections?.();
    return new Promise((r) => this.server.close(() => r()));
  }

  /** Creates or replaces an object (its kind and apiVersion say where it lives). */
  apply(obj) {
    const kind = obj.kind;
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    let m = this.objects.get(kind);
    if (!m) this.objects.set(kind, m = new Map());
    const type = m.has(key) ? 'MODIFIED' : 'ADDED';
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    stored.metadata.uid ??= `uid-${kind}-${key}`;
    stored.metadata.creationTimestamp ??= '2026-01-01T00:00:00Z';
    m.set(key, stored);
    this.publish(kind, type, stored);
  }

  delete(kind, namespace, name) {
    const m = this.objects.get(kind);
    const key = `${namespace ?? ''}/${name}`;
    const o = m?.get(key);
    if (!o) return;
    m.delete(key);
    const gone = structuredClone(o);
    gone.metadata.resourceVersion = String(++this.rv);
    this.publish(kind, 'DELETED', gone);
  }

  /** Forgets history up to now: watches from older resourceVersions get 410 Gone. */
  compact() {
    this.compactedTo = this.rv;
    this.history = [];
    // as the real server: the watch gets an ERROR event with the 410 Status, then ends
    for (const w of [...this.watchers]) {
      this.sendEvent(w, { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version', reason: 'Expired', code: 410 } });
      w.res.end();
      this.watchers.delete(w);
    }
  }

  /** Sends a BOOKMARK to every watch (the real server does so about once a minute). */
  bookmark() {
    for (const w of this.watchers) {
      if (!w.bookmarks) continue;
      const [apiVersion, kind] = w.resource;
      this.sendEvent(w, { type: 'BOOKMARK', object: { kind, apiVersion, metadata: { resourceVersion: String(this.rv) } } });
    }
  }

  publish(kind, type, object) {
    const event = { rv: Number(object.metadata.resourceVersion), kind, type, object };
    this.history.push(event);
    for (const w of this.watchers) if (w.resource[1] === kind) this.sendEvent(w, { type, object });
  }

  sendEvent(w, e) { if (!w.res.writableEnded) w.res.write(`${JSON.stringify(e)}\n`); }

  handle(req, res) {
    const url = new URL(req.url, 'http://api');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const resource = RESOURCES[url.pathname];
    if (!resource || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${url.pathname} not found` }));
      return;
    }
    const [apiVersion, kind] = resource;
    const items = [...(this.objects.get(kind)?.values() ?? [])];
    if (url.searchParams.get('watch') !== 'true' && url.searchParams.get('watch') !== '1') {
      res.writeHead(200, { 'content-type': 'application/json' });
      // list items carry no kind/apiVersion: the list's kind says what they are
      res.end(JSON.stringify({ kind: `${kind}List`, apiVersion, metadata: { resourceVersion: String(this.rv) },
        items: items.map((o) => { const { kind: _k, apiVersion: _a, ...rest } = o; return rest; }) }));
      return;
    }
    const from = Number(url.searchParams.get('resourceVersion') ?? this.rv);
    if (from < this.compactedTo) {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders(); // a watch's answer starts now: clients wait for its headers
    const w = { res, resource, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true' };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
    for (const e of this.history) if (e.kind === kind && e.rv > from) this.sendEvent(w, { type: e.type, object: e.object });
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    if (timeout > 0) setTimeout(() => res.end(), timeout * 1000).unref();
  }
}

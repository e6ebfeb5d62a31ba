// A Kubernetes API server for tests, faithful to the API conventions the control plane relies on:
// collection lists carry metadata.resourceVersion and items without kind/apiVersion; watches
// (?watch=true&resourceVersion=N) stream one JSON event per line — ADDED, MODIFIED, DELETED, BOOKMARK
// (when allowWatchBookmarks) — for changes after N; a resourceVersion older than the server keeps
// answers 410 Gone (a watch event of type ERROR with a Status, as the real server sends once a watch
// has started, or HTTP 410 on the request); every object change bumps one cluster-wide resourceVersion.
// Also: TokenReview (tokens registered with addToken; audiences intersected as the real server does),
// the status subresource of routes (JSON merge patch; a stale metadata.resourceVersion is a 409
// Conflict; status writes leave metadata.generation alone, spec changes bump it), and RBAC denials
// (deny(verb, resource) → 403 Forbidden with the real server's message shape).
import http from 'node:http';
import https from 'node:https';

/** The collections served: path → [apiVersion, kind, plural]. */
const RESOURCES = {
  '/api/v1/services': ['v1', 'Service', 'services'],
  '/api/v1/pods': ['v1', 'Pod', 'pods'],
  '/api/v1/namespaces': ['v1', 'Namespace', 'namespaces'],
  '/apis/discovery.k8s.io/v1/endpointslices': ['discovery.k8s.io/v1', 'EndpointSlice', 'endpointslices'],
  '/apis/gateway.networking.k8s.io/v1/httproutes': ['gateway.networking.k8s.io/v1', 'HTTPRoute', 'httproutes'],
  '/apis/gateway.networking.k8s.io/v1/grpcroutes': ['gateway.networking.k8s.io/v1', 'GRPCRoute', 'grpcroutes'],
  '/apis/policy.linkerd.io/v1beta3/servers': ['policy.linkerd.io/v1beta3', 'Server', 'servers'],
  '/apis/policy.linkerd.io/v1alpha1/authorizationpolicies': ['policy.linkerd.io/v1alpha1', 'AuthorizationPolicy', 'authorizationpolicies'],
  '/apis/policy.linkerd.io/v1alpha1/meshtlsauthentications': ['policy.linkerd.io/v1alpha1', 'MeshTLSAuthentication', 'meshtlsauthentications'],
  '/apis/policy.linkerd.io/v1alpha1/networkauthentications': ['policy.linkerd.io/v1alpha1', 'NetworkAuthentication', 'networkauthentications'],
};

/** RFC 7386 JSON merge patch. */
function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeApiServer {
  /** tls: { key, cert } PEM to serve HTTPS, as a real API server does (kubeconfigs then carry its CA). */
  constructor({ tls } = {}) {
    this.rv = 100;
    /** Oldest resourceVersion a watch may start from (older: 410 Gone). */
    this.compactedTo = 0;
    /** kind → Map(ns/name → object) */
    this.objects = new Map();
    /** Every change: { rv, kind, type, object } */
    this.history = [];
    this.watchers = new Set();
    this.requests = [];
    /** token → { namespace, name, audiences } */
    this.tokens = new Map();
    /** "verb resource" pairs refused, e.g. "list pods", "patch httproutes/status", "create tokenreviews" */
    this.denied = new Set();
    const handler = (req, res) => this.handle(req, res);
    this.server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
  }

  listen(port = 0) { return new Promise((r) => this.server.listen(port, '127.0.0.1', () => r(this.server.address().port))); }

  /** A ServiceAccount token the TokenReview endpoint accepts (a JWT-shaped string whose claims name the account). */
  addToken(namespace, name, audiences = ['identity.skiff.io']) {
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const token = `${b64({ alg: 'RS256' })}.${b64({ aud: audiences, sub: `system:serviceaccount:${namespace}:${name}`, 'kubernetes.io': { namespace, serviceaccount: { name } } })}.${b64({ sig: this.tokens.size })}`;
    this.tokens.set(token, { namespace, name, audiences });
    return token;
  }

  deny(verb, resource) { this.denied.add(`${verb} ${resource}`); }
  allow(verb, resource) { this.denied.delete(`${verb} ${resource}`); }

  /** The stored object, or undefined. */
  get(kind, namespace, name) { return this.objects.get(kind)?.get(`${namespace ?? ''}/${name}`); }

  forbidden(res, verb, resource) {
    res.writeHead(403, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403,
      message: `${resource} is forbidden: User "system:serviceaccount:skiff:skiff-control" cannot ${verb} resource "${resource}" at the cluster scope` }));
  }

  status(res, code, reason, message) {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code, message }));
  }

  async body(req) {
    let t = '';
    for await (const c of req) t += c;
    return JSON.parse(t);
  }

  async tokenReview(req, res) {
    if (this.denied.has('create tokenreviews')) return this.forbidden(res, 'create', 'tokenreviews');
    const review = await this.body(req);
    const known = this.tokens.get(review?.spec?.token);
    const asked = review?.spec?.audiences ?? [];
    const audiences = known ? (asked.length ? asked.filter((a) => known.audiences.includes(a)) : known.audiences) : [];
    const ok = known !== undefined && audiences.length > 0;
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: review.spec,
      status: ok ? { authenticated: true, user: { username: `system:serviceaccount:${known.namespace}:${known.name}`, groups: ['system:serviceaccounts'] }, audiences }
        : { authenticated: false, error: known ? 'token audiences do not match' : 'invalid bearer token' } }));
  }

  async patchStatus(req, res, plural, namespace, name) {
    if (this.denied.has(`patch ${plural}/status`)) return this.forbidden(res, 'patch', `${plural}/status`);
    if (req.headers['content-type'] !== 'application/merge-patch+json') return this.status(res, 415, 'UnsupportedMediaType', `the content type ${req.headers['content-type']} is not supported here`);
    const kind = Object.values(RESOURCES).find(([, , p]) => p === plural)?.[1];
    const o = kind && this.get(kind, namespace, name);
    if (!o) return this.status(res, 404, 'NotFound', `${plural} "${name}" not found`);
    const patch = await this.body(req);
    const rv = patch?.metadata?.resourceVersion;
    if (rv !== undefined && rv !== o.metadata.resourceVersion) {
      return this.status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    // the status subresource: only status changes (a merge patch replaces lists whole)
    const next = structuredClone(o);
    next.status = mergePatch(next.status ?? {}, patch.status ?? {});
    this.store(kind, next, 'MODIFIED');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(this.get(kind, namespace, name)));
  }
  close() {
    for (const w of this.watchers) w.res.destroy();
    this.server.closeAllConnections?.();
    return new Promise((r) => this.server.close(() => r()));
  }

  /** Creates or replaces an object (its kind and apiVersion say where it lives). */
  apply(obj) {
    const kind = obj.kind;
    const prev = this.get(kind, obj.metadata.namespace, obj.metadata.name);
    const stored = structuredClone(obj);
    // spec changes bump the generation; the status is the status subresource's (kept across applies)
    const { status: _s, metadata: _m, ...spec } = stored;
    const { status: _ps, metadata: _pm, ...prevSpec } = prev ?? {};
    stored.metadata.generation = prev ? prev.metadata.generation + (JSON.stringify(spec) === JSON.stringify(prevSpec) ? 0 : 1) : 1;
    if (prev?.status !== undefined) stored.status = prev.status;
    this.store(kind, stored, prev ? 'MODIFIED' : 'ADDED');
  }

  store(kind, stored, type) {
    const key = `${stored.metadata.namespace ?? ''}/${stored.metadata.name}`;
    let m = this.objects.get(kind);
    if (!m) this.objects.set(kind, m = new Map());
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
    if (req.method === 'POST' && url.pathname === '/apis/authentication.k8s.io/v1/tokenreviews') {
      this.tokenReview(req, res).catch(() => this.status(res, 400, 'BadRequest', 'malformed TokenReview'));
      return;
    }
    const st = /^\/apis\/gateway\.networking\.k8s\.io\/v1\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)\/status$/.exec(url.pathname);
    if (st && req.method === 'PATCH') {
      this.patchStatus(req, res, st[2], st[1], st[3]).catch(() => this.status(res, 400, 'BadRequest', 'malformed patch'));
      return;
    }
    const resource = RESOURCES[url.pathname];
    if (resource && req.method === 'GET' && this.denied.has(`list ${resource[2]}`)) return this.forbidden(res, url.searchParams.get('watch') === 'true' ? 'watch' : 'list', resource[2]);
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

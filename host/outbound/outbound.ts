// The outbound side: the application's calls to other services, in HTTP/2 or HTTP/1.1. Each
// request is routed by its authority (Kubernetes DNS name; Host or an absolute-form target for
// HTTP/1.1) to a Service port; HTTPRoutes/GRPCRoutes attached to it (GAMMA) pick a rule, apply its
// filters and choose a backend Service by weight; the request is balanced over the backend's ready
// endpoints, and sent on a pooled connection:
// HTTP/2 to a meshed endpoint (a peer sidecar's inbound; HTTP/1.1 requests ride it marked with
// skiff-orig-proto), or the endpoint's own protocol when it is not meshed.
import type net from 'node:net';
import { H2Pool } from '../transport/h2-pool.js';
import { H1Pool } from '../transport/h1-client.js';
import { TcpStream } from '../transport/tcp-stream.js';
import { HttpListener, type ListenerOptions } from '../transport/listener.js';
import type { Exchange, ExchangeObserver } from '../http/exchange.js';
import type { FieldList } from '../core/fields.js';
import { forwardFields, getField, VIA_H1, VIA_H2, ORIG_PROTO, ROUTED, MESH_HOP } from '../http/headers.js';
import { toExtendedConnect } from '../http/h1-message.js';
import { ProxyErrorKind } from '../http/proxy-error.js';
import { startUpstream, type Upstream } from '../http/upstream.js';
import type { HttpStream } from '../http/stream.js';
import type { Snapshot } from '../config/snapshot.js';
import { Resolver, endpointsOf, type Destination } from './discovery.js';
import { Balancer, EndpointState, BREAKER_NAMES } from './balancer.js';
import type { BalancerReport } from '../metrics/balancer-metrics.js';
import { accrualPolicy, isFailure, DEFAULT_GRPC_FAILURE_CODES } from './accrual.js';
import { Router } from '../route/router.js';
import { routesFor } from '../route/attach.js';
import { applyFilters } from '../route/filters.js';
import { Mirror } from '../route/mirror.js';
import { RetryBudget, RetryState } from '../route/retry.js';
import type { MeshTls } from '../identity/mesh-tls.js';
import type { BackendRef } from '../route/model.js';
import type { RuleRef } from '../route/precedence.js';
import type { RequestScope, Labels } from '../metrics/http-metrics.js';

export interface OutboundOptions extends ListenerOptions {
  resolver: Resolver;
  snapshot(): Snapshot;
  /** mTLS to meshed endpoints (with a workload identity); plaintext without. */
  meshTls?: MeshTls;
  /**
   * How long a request waits for an endpoint when none is available (none ready, or all failing)
   * before it is answered 503 (default 3 s, as Linkerd's fail-fast timeout).
   */
  failFastTimeoutMs?: number;
  /**
   * Asks the control plane for a Service the snapshot does not have (control-source.ts): null when
   * there is nothing to wait for; else settles true once answered, false when it did not answer in time.
   */
  discover?(namespace: string, name: string): Promise<boolean> | null;
}

/** Where requests for a Service port go: its endpoints, balanced. */
interface Backend {
  dest: Destination;
  balancer: Balancer;
}

/** What an authority means under one config snapshot. */
interface Target {
  snapshot: Snapshot;
  /** null: not routable (error says why). */
  backend: Backend | null;
  error: string;
  /** The HTTPRoutes/GRPCRoutes attached to the Service port, if any: they decide the backend. */
  router: Router | string | null;
  /** Metrics label sets of its requests: by rule (null: no routes), backend and endpoint. */
  scopes: Map<RuleRef | null, Map<Backend, Map<EndpointState, RequestScope>>> | null;
  /** The label set of its requests that end before an endpoint is picked. */
  unrouted: RequestScope | null;
}

/** What the outbound needs to send one request (again, if it must be retried). */
class Attempt {
  endpoint: EndpointState | null = null;
  /** When the current try went out (performance.now()), for its round-trip time. */
  sentAt = 0;
  /** The current try's outcome has been recorded on its endpoint. */
  recorded = false;
  /** When waiting for an available endpoint gives up (0: not waiting). */
  failFastAt = 0;
  connectRetries = 0;
  /** The backend it goes to (a failover route may move it to another while no endpoint can take it). */
  constructor(readonly target: Target, readonly ref: RuleRef | null, public backend: Backend, readonly fields: FieldList,
    readonly down: HttpStream, readonly isH2: boolean, readonly authority: string) {}
}

export class Outbound extends HttpListener implements ExchangeObserver {
  private targets = new Map<string, Target>();
  /** Per snapshot: backends by "namespace/name:port", routers by the same key. */
  private backends = new Map<string, Backend>();
  /** Per snapshot: a parent's router, null when no route attaches, or why its table could not be built. */
  private routers = new Map<string, Router | string | null>();
  private balancers = new Map<string, Balancer>();
  private endpoints = new Map<string, EndpointState>();
  private pools = new Map<string, Upstream>();
  private lastSnapshot: Snapshot | null = null;
  private budgets = new Map<string, RetryBudget>();

  constructor(private options: OutboundOptions) {
    super({ ...options, session: { ...options.session, enableConnectProtocol: true } }, 'outbound');
    if (options.telemetry) options.telemetry.balancers = () => this.balancerReport();
  }

  /** Every balancer and its endpoints as they are now (for /metrics, /stats.json, skiff stat). */
  balancerReport(now = performance.now()): BalancerReport[] {
    const out: BalancerReport[] = [];
    for (const [key, b] of this.balancers) {
      const [svc, port] = key.split(':');
      const [ns, name] = svc.split('/');
      const service = `${name}.${ns}:${port}`;
      out.push({
        service, dst_namespace: ns, dst_service: name, failFast: b.failFast, accrual: b.policy !== null,
        endpoints: b.list.map((e) => ({
          service, dst_namespace: ns, dst_service: name, addr: e.key, state: BREAKER_NAMES[e.breaker], available: e.available(now),
          ewmaMs: Math.round(e.estimate(now) * 1000) / 1000, inFlight: e.inFlight, requests: e.requests, failures: e.failures,
          consecutiveFailures: e.consecutive, retryAfterMs: Math.max(0, Math.round(e.biasUntil - now)),
          transitions: { closed: e.transitions[0], open: e.transitions[1], 'half-open': e.transitions[2] },
        })),
      });
    }
    return out;
  }

  protected onOpaque(socket: net.Socket): void {
    // opaque outbound traffic has no destination to route by without the original destination
    // address (iptables); it arrives with the TCP tunnelling work
    this.trackAccepted(socket, null);
    socket.destroy();
  }

  // ---- metrics labels (Linkerd's names) ----

  private noTarget: RequestScope | null = null;

  protected srcLabels(): Labels {
    return { direction: 'outbound', peer: 'src', tls: 'no_identity', no_tls_reason: 'loopback' };
  }

  protected unroutedScope(x: Exchange): RequestScope {
    const tag = x.tag;
    const target = tag instanceof Attempt ? tag.target : (tag as Target | null);
    if (target?.backend) return target.unrouted ??= this.telemetry!.http.scope(this.targetLabels(target));
    return this.noTarget ??= this.telemetry!.http.scope({ direction: 'outbound', authority: '' });
  }

  private targetLabels(target: Target): Record<string, string> {
    const { service, port } = target.backend!.dest;
    return {
      direction: 'outbound', authority: `${service.name}.${service.namespace}.svc.${this.options.resolver.clusterDomain}:${port.port}`,
      dst_namespace: service.namespace, dst_service: service.name,
    };
  }

  /** tls, and server_id (the identity the endpoint must prove) or why there is no mesh TLS. */
  private tlsLabels(l: Record<string, string>, ep: EndpointState): Record<string, string> {
    const mtls = this.options.meshTls;
    const a = ep.address;
    if (mtls && a.meshed) {
      l.tls = 'true';
      const id = mtls.expectedIdentity(a.identity, a.serviceAccount);
      if (id !== undefined) l.server_id = id;
    } else {
      l.tls = 'no_identity';
      l.no_tls_reason = a.meshed ? 'disabled' : 'not_provided_by_service_discovery';
    }
    return l;
  }

  /** The label set of a request to `ep`, cached on its target (rebuilt with the config). */
  private scopeFor(at: Attempt, ep: EndpointState): RequestScope {
    const target = at.target;
    const byRef = target.scopes ??= new Map();
    let byBackend = byRef.get(at.ref);
    if (!byBackend) byRef.set(at.ref, byBackend = new Map());
    let byEp = byBackend.get(at.backend);
    if (!byEp) byBackend.set(at.backend, byEp = new Map());
    let s = byEp.get(ep);
    if (!s) {
      const l = this.targetLabels(target);
      const ref = at.ref;
      if (ref !== null) {
        const b = at.backend.dest;
        l.route_kind = ref.route.kind;
        l.route_namespace = ref.route.namespace;
        l.route_name = ref.route.name;
        l.backend_namespace = b.service.namespace;
        l.backend_name = b.service.name;
        l.backend_port = String(b.port.port);
      }
      l.target_addr = ep.key;
      byEp.set(ep, s = this.telemetry!.http.scope(this.tlsLabels(l, ep)));
    }
    return s;
  }

  private snapshot(): Snapshot {
    const snapshot = this.options.snapshot();
    if (snapshot !== this.lastSnapshot) this.onSnapshot(snapshot);
    return snapshot;
  }

  /** The target of an authority, recomputed when the config snapshot changes. */
  private targetFor(authority: string): Target {
    const snapshot = this.snapshot();
    let t = this.targets.get(authority);
    if (t && t.snapshot === snapshot) return t;
    const d = this.options.resolver.resolve(snapshot, authority);
    if (typeof d === 'string') t = { snapshot, backend: null, error: d, router: null, scopes: null, unrouted: null };
    else t = { snapshot, backend: this.backendOf(snapshot, d), error: '', router: this.routerOf(snapshot, d), scopes: null, unrouted: null };
    if (this.targets.size > 10_000) this.targets.clear(); // names are client-chosen: bound the cache
    this.targets.set(authority, t);
    return t;
  }

  private backendOf(snapshot: Snapshot, d: Destination): Backend {
    const key = `${d.service.namespace}/${d.service.name}:${d.port.port}`;
    let b = this.backends.get(key);
    if (b) return b;
    let balancer = this.balancers.get(key);
    if (!balancer) this.balancers.set(key, balancer = new Balancer());
    const policy = accrualPolicy(d.service.annotations);
    balancer.policy = typeof policy === 'string' ? null : policy; // a wrong annotation: `skiff check` names it
    balancer.update(endpointsOf(snapshot, d), this.endpoints);
    b = { dest: d, balancer };
    this.backends.set(key, b);
    return b;
  }

  private routerOf(snapshot: Snapshot, d: Destination): Router | string | null {
    const key = `${d.service.namespace}/${d.service.name}:${d.port.port}`;
    let r = this.routers.get(key);
    if (r !== undefined) return r;
    const routes = routesFor(snapshot, this.options.resolver.namespace, d.service.namespace, d.service.name, d.port.port);
    try {
      r = routes.length ? new Router(routes) : null;
    } catch (err) {
      // validated routes always load; if they ever do not, requests fail loudly instead of bypassing them
      r = `the routes of Service ${d.label} could not be loaded: ${(err as Error).message}`;
    }
    this.routers.set(key, r);
    return r;
  }

  /** A new config: endpoints that are gone stop taking requests; their connections drain. */
  private onSnapshot(snapshot: Snapshot): void {
    this.lastSnapshot = snapshot;
    // requests in flight keep the rule and backend they selected; new ones see the new config
    for (const r of this.routers.values()) if (r instanceof Router) r.free();
    this.routers.clear();
    this.backends.clear();
    this.targets.clear();
    const live = new Set<string>();
    for (const [key, balancer] of this.balancers) {
      const [svc, port] = key.split(':');
      const [namespace, name] = svc.split('/');
      const d = this.options.resolver.resolve(snapshot, `${name}.${namespace}:${port}`);
      if (typeof d === 'string') { this.balancers.delete(key); continue; }
      const eps = endpointsOf(snapshot, d);
      const policy = accrualPolicy(d.service.annotations);
      balancer.policy = typeof policy === 'string' ? null : policy;
      balancer.update(eps, this.endpoints);
      for (const e of eps) live.add(`${e.host}:${e.port}`);
    }
    for (const [key, pool] of this.pools) {
      const endpoint = key.replace(/\/h1$|\|.*$/, '');
      if (!live.has(endpoint)) {
        pool.close();
        this.pools.delete(key);
        this.endpoints.delete(endpoint);
      }
    }
  }

  protected route(exchange: Exchange, fields: FieldList, down: HttpStream, isH2: boolean): void {
    this.routeBy(exchange, fields, down, isH2, true);
  }

  private routeBy(exchange: Exchange, fields: FieldList, down: HttpStream, isH2: boolean, mayDiscover: boolean): void {
    const authority = getField(fields, ':authority');
    if (!authority) {
      exchange.fail(ProxyErrorKind.NOT_FOUND, 'request has no :authority or Host to route by');
      return;
    }
    const target = this.targetFor(authority);
    exchange.tag = target; // for metrics, should it end here
    if (!target.backend) {
      const name = mayDiscover && this.options.discover ? this.options.resolver.parse(authority) : null;
      const wait = name ? this.options.discover!(name.namespace, name.name) : null;
      if (wait) {
        // the control plane has not been asked for this Service yet: the request waits for its answer
        const w = { cancel(): void {} };
        exchange.waiting = w;
        void wait.then((answered) => {
          if (exchange.waiting === w) exchange.waiting = null;
          if (exchange.isDone || down.closed) return;
          if (answered) this.routeBy(exchange, fields, down, isH2, false);
          else exchange.fail(ProxyErrorKind.UNAVAILABLE, `the control plane did not answer in time for Service ${name!.namespace}/${name!.name}`);
        });
        return;
      }
      exchange.fail(ProxyErrorKind.NOT_FOUND, target.error);
      return;
    }
    let backend = target.backend;
    let ref: RuleRef | null = null;
    if (typeof target.router === 'string') {
      exchange.fail(ProxyErrorKind.INTERNAL, target.router);
      return;
    }
    if (target.router) {
      const chosen = this.applyRoute(exchange, target, fields);
      if (chosen === null) return;
      backend = chosen.backend;
      fields = chosen.fields;
      ref = chosen.ref;
    }
    exchange.observer = this;
    exchange.tag = new Attempt(target, ref, backend, fields, down, isH2, getField(fields, ':authority') ?? authority);
    this.dispatch(exchange);
  }

  /**
   * The Gateway API part: the rule the request selects, its filters, and the backend it picks by
   * weight. Answers the request itself (404, 500, a redirect) and returns null when it goes nowhere.
   */
  private applyRoute(exchange: Exchange, target: Target, fields: FieldList): { backend: Backend; fields: FieldList; ref: RuleRef } | null {
    const dest = target.backend!.dest;
    const ref = (target.router as Router).select(fields);
    if (ref === null) {
      exchange.fail(ProxyErrorKind.NOT_FOUND, `no rule of the routes of Service ${dest.label} matches the request`);
      return null;
    }
    const rule = ref.rule;
    const what = `${ref.route.kind} ${ref.route.namespace}/${ref.route.name} rule ${ref.ruleIndex}`;
    const out = fields.slice();
    const mirror = (f: { backend: BackendRef }): void => this.mirror(exchange, target, f.backend, out, dest.port.port);
    if (!applyFilters(exchange, rule.filters, fields, out, ref.prefix, dest.port.port, mirror)) return null;
    // an unusable backend: HTTPRoute says 500; GRPCRoute says UNAVAILABLE (gRPC status 14)
    const invalid = ref.route.kind === 'GRPCRoute' ? ProxyErrorKind.UNAVAILABLE : ProxyErrorKind.INTERNAL;
    const refs = rule.backendRefs;
    let chosen: BackendRef;
    if (ref.route.failover) {
      chosen = this.failoverPick(target.snapshot, refs, ref.route.failover.primary, dest.port.port);
    } else {
      let total = 0;
      for (const b of refs) total += b.weight;
      if (total === 0) {
        exchange.fail(invalid, refs.length ? `${what}: every backendRef has weight 0` : `${what} has no backendRefs`);
        return null;
      }
      let pick = Math.random() * total;
      chosen = refs[refs.length - 1];
      for (const b of refs) {
        if (b.weight === 0) continue;
        if (pick < b.weight) { chosen = b; break; }
        pick -= b.weight;
      }
    }
    if (chosen.group !== '' || chosen.kind !== 'Service') {
      exchange.fail(invalid, `${what}: backendRef ${chosen.kind} ${chosen.namespace}/${chosen.name} is not a Service`);
      return null;
    }
    const d = this.options.resolver.resolve(target.snapshot, `${chosen.name}.${chosen.namespace}:${chosen.port ?? dest.port.port}`);
    if (typeof d === 'string') {
      exchange.fail(invalid, `${what}: backendRef does not resolve: ${d}`);
      return null;
    }
    if (!applyFilters(exchange, chosen.filters, fields, out, ref.prefix, dest.port.port, mirror)) return null;
    // timeouts.request bounds the whole exchange (every try); timeouts.backendRequest each try
    if (rule.requestTimeoutMs > 0) exchange.limitResponseTime(rule.requestTimeoutMs);
    if (rule.backendRequestTimeoutMs > 0) exchange.attemptTimeoutMs = rule.backendRequestTimeoutMs;
    if (rule.retry && rule.retry.attempts > 0) {
      const budget = this.budgetFor(`${ref.route.kind} ${ref.route.namespace}/${ref.route.name}#${ref.ruleIndex}`);
      budget.recordRequest();
      exchange.retryState = new RetryState(new Set(rule.retry.codes), rule.retry.attempts, rule.retry.backoffMs, budget);
    }
    return { backend: this.backendOf(target.snapshot, d), fields: out, ref };
  }

  /**
   * A failover route's backend: the primary Service while any of its endpoints can take a request
   * (or is due a probe), else the secondaries that can, chosen evenly; the primary again when none can
   * (the request then waits for it, up to the fail-fast timeout). Weights do not apply: the health of
   * the primary's endpoints decides, in this proxy, at once.
   */
  private failoverPick(snapshot: Snapshot, refs: BackendRef[], primaryName: string, port: number): BackendRef {
    const now = performance.now();
    const usable = (b: BackendRef): boolean => {
      if (b.group !== '' || b.kind !== 'Service') return false;
      const d = this.options.resolver.resolve(snapshot, `${b.name}.${b.namespace}:${b.port ?? port}`);
      return typeof d !== 'string' && this.backendOf(snapshot, d).balancer.hasAvailable(now);
    };
    const primary = refs.find((b) => b.name === primaryName) ?? refs[0];
    if (usable(primary)) return primary;
    const up = refs.filter((b) => b !== primary && usable(b));
    return up.length ? up[(Math.random() * up.length) | 0] : primary;
  }

  /**
   * A request of a failover route whose backend has no endpoint that can take it: moved to the
   * backend failover picks now, if that is another one that can. (Its backendRef filters stay those
   * of the backend first picked.)
   */
  private failOver(at: Attempt): boolean {
    const f = at.ref?.route.failover;
    if (!f || !at.target.backend) return false;
    const snapshot = at.target.snapshot;
    const port = at.target.backend.dest.port.port;
    const ref = this.failoverPick(snapshot, at.ref!.rule.backendRefs, f.primary, port);
    const d = this.options.resolver.resolve(snapshot, `${ref.name}.${ref.namespace}:${ref.port ?? port}`);
    if (typeof d === 'string') return false;
    const b = this.backendOf(snapshot, d);
    if (b === at.backend || !b.balancer.hasAvailable()) return false;
    at.backend = b;
    return true;
  }

  /** The retry budget of a route rule (kept across config changes). */
  private budgetFor(key: string): RetryBudget {
    let b = this.budgets.get(key);
    if (!b) {
      if (this.budgets.size > 10_000) this.budgets.clear();
      this.budgets.set(key, b = new RetryBudget());
    }
    return b;
  }

  /** Starts a RequestMirror copy of the request (already filtered) to `ref`'s Service; failures are ignored. */
  private mirror(exchange: Exchange, target: Target, ref: BackendRef, fields: FieldList, port: number): void {
    if (ref.group !== '' || ref.kind !== 'Service') return;
    const d = this.options.resolver.resolve(target.snapshot, `${ref.name}.${ref.namespace}:${ref.port ?? port}`);
    if (typeof d === 'string') return;
    const ep = this.backendOf(target.snapshot, d).balancer.pick(performance.now(), false);
    if (!ep) return;
    const isH2 = exchange.downIsH2;
    const h2 = ep.address.meshed || (ep.address.h2c && isH2);
    const next = forwardFields(fields, isH2 ? VIA_H2 : VIA_H1, h2, MESH_HOP);
    if (ep.address.meshed) next.push(ROUTED, '1');
    if (ep.address.meshed && !isH2) next.push(ORIG_PROTO, 'HTTP/1.1');
    (exchange.mirrors ??= []).push(new Mirror(this.pool(ep, h2), next, exchange.headOnly));
  }

  /** Picks an endpoint for the exchange's request and sends it there. */
  private dispatch(exchange: Exchange): void {
    const at = exchange.tag as Attempt;
    const { backend, fields, down, isH2, authority } = at;
    const dest = backend.dest;
    const now = performance.now();
    const ep = backend.balancer.pick(now);
    if (!ep) {
      if (this.failOver(at)) this.dispatch(exchange);
      else this.waitForEndpoint(exchange, at, now);
      return;
    }
    ep.inFlight++;
    at.endpoint = ep;
    at.sentAt = now;
    at.recorded = false;
    at.failFastAt = 0;
    if (exchange.recorder !== null && exchange.scope === null && this.telemetry!.metricsEnabled) exchange.setScope(this.scopeFor(at, ep));
    const a = ep.address;
    if (getField(fields, ':method') === 'CONNECT' && getField(fields, ':protocol') === undefined) {
      // a TCP tunnel: over the mesh as an HTTP/2 CONNECT stream, or as plain TCP to an unmeshed
      // endpoint or to an opaque port (whose sidecar relays without detecting anything)
      if (!a.meshed || dest.opaque) {
        exchange.upIsH2 = false;
        exchange.attach(new TcpStream(a.host, a.port, this.dstTracker(this.dstLabels(ep))));
        return;
      }
      startUpstream(exchange, this.pool(ep, true), [':method', 'CONNECT', ':authority', authority], `endpoint ${ep.key} of ${dest.label}`);
      return;
    }
    const h2 = a.meshed || (a.h2c && isH2);
    const upgrade = (down as { upgrade?: string | null }).upgrade ?? null;
    exchange.upgrade = upgrade;
    let next = forwardFields(fields, isH2 ? VIA_H2 : VIA_H1, h2, MESH_HOP);
    if (upgrade !== null && h2) next = toExtendedConnect(next, upgrade);
    if (a.meshed) next.push(ROUTED, '1');
    if (a.meshed && !isH2) next.push(ORIG_PROTO, 'HTTP/1.1');
    exchange.responseVia = h2 ? VIA_H2 : VIA_H1;
    startUpstream(exchange, this.pool(ep, h2), next, `endpoint ${ep.key} of ${dest.label}`);
  }

  /**
   * No endpoint can take the request now (none ready, or every breaker open): it waits for one —
   * a probe coming due, a connect backoff ending, new endpoints — up to the fail-fast timeout, then
   * is answered 503 (gRPC UNAVAILABLE) instead of piling up.
   */
  private waitForEndpoint(exchange: Exchange, at: Attempt, now: number): void {
    const balancer = at.backend.balancer;
    const dest = at.backend.dest;
    // within the request's own timeout, if shorter: the client hears why (503, no endpoint) rather than 504
    if (at.failFastAt === 0) at.failFastAt = Math.min(now + (this.options.failFastTimeoutMs ?? 3000), exchange.responseDeadline - 5);
    if (now >= at.failFastAt) {
      balancer.failFast++;
      const n = balancer.size;
      exchange.fail(ProxyErrorKind.UNAVAILABLE, n === 0
        ? `Service ${dest.label} has no ready endpoints`
        : `Service ${dest.label} has no available endpoints: all ${n} failing (circuit breakers open or connections failing)`);
      return;
    }
    let fired = false;
    const again = (): void => {
      if (fired) return;
      fired = true;
      clearTimeout(timer);
      cancelWake();
      if (exchange.waiting === w) exchange.waiting = null;
      if (exchange.isDone || exchange.down.closed) return;
      this.dispatch(exchange);
    };
    const until = Math.min(at.failFastAt, balancer.nextAvailableAt());
    const timer = setTimeout(again, Math.max(0, until - now) + 1);
    const cancelWake = balancer.whenAvailable(again);
    const w = { cancel: (): void => { fired = true; clearTimeout(timer); cancelWake(); } };
    exchange.waiting = w;
  }

  /** The try's response head: its round-trip time; a 5xx is the endpoint's failure; Retry-After biases. */
  responded(exchange: Exchange, status: number, fields: FieldList): void {
    const at = exchange.tag as Attempt;
    const ep = at.endpoint;
    if (!ep) return;
    const now = performance.now();
    ep.observe(now - at.sentAt, now);
    if ((status === 429 || status === 503)) {
      const ra = getField(fields, 'retry-after');
      if (ra !== undefined) {
        // delay-seconds, or an HTTP date (RFC 9110 §10.2.3)
        const secs = /^\d+$/.test(ra.trim()) ? Number(ra.trim()) * 1000 : Date.parse(ra) - Date.now();
        if (Number.isFinite(secs) && secs > 0) ep.retryAfter(secs, now);
      }
    }
    if (status >= 500) {
      at.recorded = true;
      at.backend.balancer.record(ep, true, now);
    }
  }

  /** A try dropped for a route retry: the endpoint's failure unless its 5xx already counted. */
  attemptFailed(exchange: Exchange): void {
    const at = exchange.tag as Attempt;
    if (at.endpoint && !at.recorded) {
      at.recorded = true;
      at.backend.balancer.record(at.endpoint, true);
    }
  }

  /** No connection to the endpoint: it is marked failing, and the request (not sent) goes elsewhere. */
  connectFailed(exchange: Exchange): boolean {
    const at = exchange.tag as Attempt;
    const ep = at.endpoint;
    if (!ep) return false;
    const now = performance.now();
    ep.inFlight--;
    ep.connectFailed(now);
    at.backend.balancer.record(ep, true, now, true);
    at.endpoint = null;
    // elsewhere only if another endpoint (or, on a failover route, another backend) can take it now;
    // else the client hears this failure's cause
    if (++at.connectRetries > 3 || (!at.backend.balancer.hasAvailable(now) && !this.failOver(at))) return false;
    this.dispatch(exchange);
    return true;
  }

  private pool(ep: EndpointState, h2: boolean): Upstream {
    // mesh TLS connections are also keyed by the identity their peer must prove
    const mtls = this.options.meshTls;
    const a = ep.address;
    const expected = mtls && a.meshed ? mtls.expectedIdentity(a.identity, a.serviceAccount) : undefined;
    const key = h2 ? (mtls && a.meshed ? `${ep.key}|${expected ?? ''}` : ep.key) : `${ep.key}/h1`;
    let p = this.pools.get(key);
    if (!p) {
      const track = this.dstTracker(this.dstLabels(ep));
      p = h2 ? new H2Pool(a.host, a.port, {
        session: this.options.session,
        connect: mtls && a.meshed ? (host, port) => mtls.connect(host, port, expected) : undefined,
        ...this.poolOptions(ep.key, true, track),
      }) : new H1Pool(a.host, a.port, this.poolOptions(ep.key, false, track));
      this.pools.set(key, p);
    }
    return p;
  }

  private dstLabels(ep: EndpointState): Labels {
    return this.tlsLabels({ direction: 'outbound', peer: 'dst', target_addr: ep.key }, ep);
  }

  exchangeDone(exchange: Exchange, ok: boolean): void {
    const at = exchange.tag as Attempt;
    const ep = at.endpoint;
    if (!ep) return;
    ep.inFlight--;
    if (at.recorded) return;
    at.recorded = true;
    if (exchange.error === 'client_reset') {
      // the client left: no verdict on the endpoint (a probe cut short is sent again)
      ep.probeAbandoned(performance.now());
      return;
    }
    const policy = at.backend.balancer.policy;
    at.backend.balancer.record(ep, isFailure(ok, exchange.status, exchange.grpcStatus, policy?.grpcFailures ?? DEFAULT_GRPC_FAILURE_CODES));
  }

  /** A request refused unprocessed (its endpoint is going away), or a route retry: a fresh pick. */
  retry(exchange: Exchange): boolean {
    const at = exchange.tag as Attempt;
    const ep = at.endpoint;
    if (ep) {
      ep.inFlight--;
      // refused unprocessed: no verdict on the endpoint; a probe is sent again
      if (!at.recorded) ep.probeAbandoned(performance.now());
    }
    at.endpoint = null;
    this.dispatch(exchange);
    return true;
  }

  destroy(): void {
    this.destroyConnections();
    for (const p of this.pools.values()) p.destroy();
  }
}

// The inbound side: connections from the mesh (or any client) to this workload, forwarded to the
// local application in the protocol the request was first made in: HTTP/2 stays HTTP/2; HTTP/1.1
// — whether it arrived as HTTP/1.1 or inside the mesh's HTTP/2 marked `skiff-orig-proto` — goes to
// the application as HTTP/1.1. Other traffic is relayed as opaque TCP.
// A request that did not come through a Skiff outbound (a client outside the mesh) meets the
// producer routes of the Service it names here instead: their filters (headers, rewrites,
// redirects) and timeouts apply; their backends do not (the request has reached its backend).
import type net from 'node:net';
import { H2Pool } from '../transport/h2-pool.js';
import { H1Pool } from '../transport/h1-client.js';
import { tunnelTcp } from '../transport/opaque.js';
import { TcpStream } from '../transport/tcp-stream.js';
import { HttpListener, type ListenerOptions } from '../transport/listener.js';
import type { Exchange } from '../http/exchange.js';
import type { FieldList } from '../core/fields.js';
import { forwardFields, getField, VIA_H1, VIA_H2, ORIG_PROTO, ROUTED, MESH_HOP, CLIENT_ID } from '../http/headers.js';
import { ProxyErrorKind } from '../http/proxy-error.js';
import type { Snapshot } from '../config/snapshot.js';
import type { Resolver, Destination } from '../outbound/discovery.js';
import { Router } from '../route/router.js';
import { routesFor } from '../route/attach.js';
import { applyFilters } from '../route/filters.js';
import { MESH_ALPN, spiffeIdOf } from '../identity/spiffe.js';
import type { MeshTls } from '../identity/mesh-tls.js';
import { parseClientHello } from '../transport/client-hello.js';
import type { H2Stream } from '../transport/h2-session.js';
import { fromExtendedConnect } from '../http/h1-message.js';
import { startUpstream } from '../http/upstream.js';
import type { HttpStream } from '../http/stream.js';
import type { HostPort } from '../config/address.js';
import type { RuleRef } from '../route/precedence.js';
import type { RequestScope, Labels } from '../metrics/http-metrics.js';
import { compilePortPolicy, decide, denialReason, type Authorization, type InboundPolicyConfig, type PortPolicy } from '../policy/inbound-policy.js';
import { POLICY_GROUP } from '../policy/model.js';
import type { H1ServerStream } from '../transport/h1-server.js';
import type { DeclaredProtocol } from '../transport/detect.js';

/**
 * What the inbound knows of one :authority under the current config, worked out once: the Service
 * port it names (null: none; then no producer routes apply and the metrics name no authority), and
 * the metrics label sets of its requests by producer route rule and client identity.
 */
interface AuthorityInfo {
  dest: Destination | null;
  labels: Labels;
  scopes: Map<RuleRef | null, Map<string, RequestScope>>;
}

export interface InboundOptions extends ListenerOptions {
  app: HostPort;
  /** The application port is opaque: connections are relayed at once, with no protocol detection. */
  opaque?: boolean;
  /**
   * What the application speaks: the caller's protocol (default, as a sidecar), or always HTTP/1.1
   * (a node:http server meshed in-process) or always HTTP/2 without TLS (a node:http2 server).
   */
  appProtocol?: 'caller' | 'http1' | 'h2c';
  /** The config and names, for producer routes on requests from outside the mesh. */
  snapshot?: () => Snapshot;
  resolver?: Resolver;
  /** Terminates mesh mTLS (connections offering the mesh ALPN); other TLS passes through. */
  meshTls?: MeshTls;
  /** Authorization policy for the application's port (Servers, AuthorizationPolicies, defaults). */
  policy?: InboundPolicyConfig;
}

/** Connections to the local application: loopback, no mesh TLS. */
const APP_DST = (addr: string): Labels => ({ direction: 'inbound', peer: 'dst', target_addr: addr, tls: 'no_identity', no_tls_reason: 'loopback' });

export class Inbound extends HttpListener {
  private appH2: H2Pool;
  private appH1: H1Pool;
  private app: HostPort;
  private appLabel: string;
  private opaque: boolean;
  private routers = new Map<string, Router | null>();
  private routersOf: Snapshot | null = null;
  private authorities = new Map<string, AuthorityInfo>();
  private authoritiesOf: Snapshot | null = null;
  private unrouted: RequestScope | null = null;
  private appAddr: string;
  /** Counts connections to the application (undefined: metrics off). */
  private appTracker: ((s: net.Socket) => void) | undefined;
  private policyOf: Snapshot | null | undefined = undefined;
  private portPolicyCache: PortPolicy | null = null;
  /** The Server's inbound routes loaded in the core (null: it has none). */
  private serverRouter: Router | null = null;
  /** What admitted the request being routed (set by authorize, read by setScope within the same route() call). */
  private admittedBy: Authorization | null = null;
  /** Open TCP connections and tunnels the policy admitted, to be closed if a change withdraws that. */
  private admitted = new Map<object, { peer: string | null; address: string; close(): void }>();

  constructor(private options: InboundOptions) {
    // RFC 8441: WebSockets from other sidecars arrive as extended CONNECT
    super({ ...options, session: { ...options.session, enableConnectProtocol: true } }, 'inbound');
    this.app = options.app;
    this.appAddr = `${options.app.host}:${options.app.port}`;
    this.opaque = options.opaque ?? false;
    this.appLabel = `application at ${options.app.host}:${options.app.port}`;
    const track = this.appTracker = this.dstTracker(APP_DST(this.appAddr));
    this.appH2 = new H2Pool(options.app.host, options.app.port, { session: options.session, ...this.poolOptions(this.appAddr, true, track) });
    this.appH1 = new H1Pool(options.app.host, options.app.port, this.poolOptions(this.appAddr, false, track));
  }

  // ---- metrics labels (Linkerd's names) ----

  protected srcLabels(peerIdentity: string | null): Labels {
    return peerIdentity === null
      ? { direction: 'inbound', peer: 'src', tls: 'no_identity', no_tls_reason: 'not_provided_by_remote' }
      : { direction: 'inbound', peer: 'src', tls: 'true', client_id: peerIdentity };
  }

  protected unroutedScope(): RequestScope {
    return this.unrouted ??= this.telemetry!.http.scope({ direction: 'inbound', authority: '', target_addr: this.appAddr });
  }

  /** The inbound's knowledge of `authority` (cached per config snapshot; bounded). */
  private authorityInfo(authority: string): AuthorityInfo {
    const snapshot = this.options.snapshot?.() ?? null;
    if (snapshot !== this.authoritiesOf) { this.authorities.clear(); this.authoritiesOf = snapshot; }
    let a = this.authorities.get(authority);
    if (a) return a;
    const d = snapshot && this.options.resolver ? this.options.resolver.resolve(snapshot, authority) : null;
    const dest = d && typeof d === 'object' ? d : null;
    const canonical = dest ? `${dest.service.name}.${dest.service.namespace}.svc.${this.options.resolver!.clusterDomain}:${dest.port.port}` : '';
    if (this.authorities.size >= 1000) this.authorities.clear(); // authorities are the client's to choose: bound the cache
    this.authorities.set(authority, a = { dest, labels: { direction: 'inbound', authority: canonical, target_addr: this.appAddr }, scopes: new Map() });
    return a;
  }

  /**
   * Sets the label set of a request (once): the Service its authority names (no label for names
   * that are not a Service's: they are the client's to choose), the producer route rule it
   * matched, and the client's proven identity.
   */
  private setScope(exchange: Exchange, a: AuthorityInfo, ref: RuleRef | null, peer: string | null): void {
    if (exchange.recorder === null || exchange.scope !== null || !this.telemetry!.metricsEnabled) return;
    let byPeer = a.scopes.get(ref);
    if (!byPeer) a.scopes.set(ref, byPeer = new Map());
    const by = this.admittedBy;
    const key = by === null ? peer ?? '' : `${peer ?? ''}\u0000${by.kind}/${by.name}`;
    let s = byPeer.get(key);
    if (!s) {
      const l: Record<string, string> = { ...a.labels };
      if (ref !== null) { l.route_kind = ref.route.kind; l.route_namespace = ref.route.namespace; l.route_name = ref.route.name; }
      if (peer !== null) { l.tls = 'true'; l.client_id = peer; } else { l.tls = 'no_identity'; l.no_tls_reason = 'not_provided_by_remote'; }
      // the Server (or default policy) and the authorization that admitted it, as on Linkerd's inbound metrics
      const pp = this.portPolicyCache;
      if (pp !== null) { l.srv_group = pp.server ? POLICY_GROUP : ''; l.srv_kind = pp.srvKind; l.srv_name = pp.srvName; }
      if (by !== null) { l.authz_group = by.kind === 'default' ? '' : POLICY_GROUP; l.authz_kind = by.kind; l.authz_name = by.name; }
      byPeer.set(key, s = this.telemetry!.http.scope(l));
    }
    exchange.setScope(s);
  }

  /** The port's compiled policy under the current config (null: no policy configured). */
  portPolicy(): PortPolicy | null {
    const config = this.options.policy;
    if (config === undefined) return null;
    const snapshot = this.options.snapshot?.() ?? null;
    if (snapshot !== this.policyOf || this.portPolicyCache === null) {
      this.policyOf = snapshot;
      const t = this.telemetry;
      this.portPolicyCache = snapshot === null ? null : compilePortPolicy(snapshot, config, t !== null && t.metricsEnabled ? t.authz : null);
      this.serverRouter?.free();
      this.serverRouter = null;
      const routes = this.portPolicyCache?.routes ?? [];
      if (routes.length) {
        try { this.serverRouter = new Router(routes); } catch { this.serverRouter = null; }
      }
    }
    return this.portPolicyCache;
  }

  /**
   * The authorization of a client (mesh identity `peer`, or null) from `address`: true to go on;
   * false when denied (counted; the caller refuses). `probePath`: the path of a GET, for probes.
   */
  private authorize(pp: PortPolicy, exchange: Exchange | null, peer: string | null, address: string, probePath: string | null, tcp: boolean, route: RuleRef['route'] | null = null): boolean {
    const d = decide(pp, peer, address, probePath, route, tcp);
    this.admittedBy = d.allowed ? d.authz : null;
    if (d.allowed) {
      const cell = tcp ? d.authz?.tcpAllow : d.authz?.httpAllow;
      if (cell) cell.value++;
      if (exchange !== null) exchange.authz = d.audit ? 'audit' : 'allow';
      return true;
    }
    if (d.deny) d.deny.value++;
    if (exchange !== null) {
      exchange.authz = 'deny';
      exchange.fail(ProxyErrorKind.FORBIDDEN, denialReason(pp, peer, address));
    }
    return false;
  }

  /**
   * The configuration changed: TCP connections and tunnels whose authorization is withdrawn are
   * closed (counted as inbound_tcp_authz_terminate_total); HTTP requests meet the new policy anyway.
   */
  configChanged(): void {
    if (this.admitted.size === 0) return;
    const pp = this.portPolicy();
    if (pp === null) return;
    for (const [key, c] of this.admitted) {
      if (decide(pp, c.peer, c.address, null).allowed) continue;
      this.admitted.delete(key);
      if (pp.tcpTerminate) pp.tcpTerminate.value++;
      c.close();
    }
  }

  protected route(exchange: Exchange, fields: FieldList, down: HttpStream, isH2: boolean): void {
    // the skiff-routed mark counts only from a peer sidecar: proven by mTLS when mesh TLS is on
    const peer = isH2 ? (down as H2Stream).session.peerIdentity : null;
    this.admittedBy = null;
    const pp = this.portPolicy();
    if (pp !== null) {
      const socket = isH2 ? (down as H2Stream).session.socket : (down as H1ServerStream).conn.socket;
      const method = getField(fields, ':method');
      const tunnel = method === 'CONNECT' && getField(fields, ':protocol') === undefined;
      // a GET may be one of the Pod's probes (only looked at where probes can be admitted)
      let probe: string | null = null;
      if (method === 'GET' && pp.probePaths.size > 0 && pp.routes.length === 0) {
        const path = getField(fields, ':path') ?? '';
        const q = path.indexOf('?');
        probe = q < 0 ? path : path.slice(0, q);
      }
      const address = socket.remoteAddress ?? '';
      if (exchange.recorder !== null) { exchange.clientId = peer; exchange.clientAddr = address; }
      // a Server with inbound routes admits only requests that match one; its filters apply here
      let ref: RuleRef | null = null;
      if (pp.routes.length > 0 && !tunnel) {
        ref = this.serverRouter?.select(fields) ?? null;
        if (ref === null) {
          if (pp.routeNotFound) pp.routeNotFound.value++;
          exchange.fail(ProxyErrorKind.NO_INBOUND_ROUTE, `no inbound route of Server ${pp.server!.namespace}/${pp.server!.name} matches the request`);
          return;
        }
      }
      if (!this.authorize(pp, exchange, peer, address, probe, tunnel, ref?.route ?? null)) return;
      if (ref !== null && ref.rule.filters.length > 0) {
        const out = fields.slice();
        if (!applyFilters(exchange, ref.rule.filters, fields, out, ref.prefix, this.app.port)) return;
        fields = out;
      }
      if (tunnel) {
        this.admitted.set(exchange, { peer, address, close: () => exchange.fail(ProxyErrorKind.FORBIDDEN, 'authorization withdrawn by a policy change') });
        exchange.onDone = () => this.admitted.delete(exchange);
      }
    }
    const trustMark = this.options.meshTls === undefined || peer !== null;
    const authority = this.authorityInfo(getField(fields, ':authority') ?? '');
    if ((!trustMark || getField(fields, ROUTED) === undefined) && this.options.snapshot) {
      const routed = this.producerRoutes(exchange, fields, peer, authority);
      if (routed === null) return;
      fields = routed;
    }
    this.setScope(exchange, authority, null, peer);
    const ap = this.options.appProtocol;
    const appIsH1 = ap === 'http1' ? true : ap === 'h2c' ? false : !isH2 || getField(fields, ORIG_PROTO) !== undefined;
    exchange.responseVia = appIsH1 ? VIA_H1 : VIA_H2;
    exchange.upgrade = (down as { upgrade?: string | null }).upgrade ?? null;
    if (isH2 && appIsH1 && getField(fields, ':protocol') !== undefined) {
      // a WebSocket that crossed the mesh as extended CONNECT: an HTTP/1.1 Upgrade again for the app
      const g = fromExtendedConnect(fields);
      fields = g.fields;
      exchange.upgrade = g.protocol;
    }
    if (getField(fields, ':method') === 'CONNECT' && getField(fields, ':protocol') === undefined) {
      // a TCP tunnel (opaque traffic across the mesh): its bytes go to the application as they are
      exchange.upIsH2 = false;
      exchange.attach(new TcpStream(this.app.host, this.app.port, this.appTracker));
      return;
    }
    const next = forwardFields(fields, isH2 ? VIA_H2 : VIA_H1, !appIsH1, MESH_HOP);
    // the client's mesh identity, as mTLS proved it (a client-sent skiff-client-id was dropped above)
    if (peer) next.push(CLIENT_ID, peer);
    startUpstream(exchange, appIsH1 ? this.appH1 : this.appH2, next, this.appLabel);
  }

  /** The request after its Service's producer routes (null: answered here, e.g. a redirect or 404). */
  private producerRoutes(exchange: Exchange, fields: FieldList, peer: string | null, a: AuthorityInfo): FieldList | null {
    const d = a.dest;
    if (d === null) return fields; // not addressed to a Service by name: nothing to apply
    const snapshot = this.options.snapshot!();
    if (snapshot !== this.routersOf) {
      for (const r of this.routers.values()) r?.free();
      this.routers.clear();
      this.routersOf = snapshot;
    }
    const key = `${d.service.namespace}/${d.service.name}:${d.port.port}`;
    let router = this.routers.get(key);
    if (router === undefined) {
      // the Service's own namespace as the caller's: its producer routes
      const routes = routesFor(snapshot, d.service.namespace, d.service.namespace, d.service.name, d.port.port);
      try { router = routes.length ? new Router(routes) : null; } catch { router = null; }
      this.routers.set(key, router);
    }
    if (router === null) return fields;
    const ref = router.select(fields);
    this.setScope(exchange, a, ref, peer);
    if (ref === null) {
      exchange.fail(ProxyErrorKind.NOT_FOUND, `no rule of the routes of Service ${d.label} matches the request`);
      return null;
    }
    const out = fields.slice();
    if (!applyFilters(exchange, ref.rule.filters, fields, out, ref.prefix, d.port.port)) return null;
    if (ref.rule.requestTimeoutMs > 0) exchange.limitResponseTime(ref.rule.requestTimeoutMs);
    return out;
  }

  /** A Server's proxyProtocol: HTTP/1, or HTTP/2 and gRPC, are taken as declared (mesh TLS and HTTP/2 still recognised). */
  protected override declaredProtocol(): DeclaredProtocol {
    const p = this.portPolicy()?.proxyProtocol;
    return p === 'HTTP/1' ? 'http1' : p === 'HTTP/2' || p === 'gRPC' ? 'h2' : null;
  }

  override accept(socket: net.Socket): void {
    // server-speaks-first protocols (MySQL, SMTP, …) would wait out detection: skip it
    // a Server that declares its port opaque skips detection the same way
    if (this.opaque || this.portPolicy()?.proxyProtocol === 'opaque') this.relay(socket, Buffer.alloc(0));
    else super.accept(socket);
  }

  /** Opaque TCP to the application, counted on both sides: authorized first (denied: closed before a byte reaches it). */
  private relay(socket: net.Socket, initial: Buffer): void {
    this.trackAccepted(socket, null);
    const address = socket.remoteAddress ?? '';
    const pp = this.portPolicy();
    if (pp !== null && !this.authorize(pp, null, null, address, null, true)) {
      socket.destroy();
      return;
    }
    if (pp !== null) {
      this.admitted.set(socket, { peer: null, address, close: () => socket.destroy() });
      socket.once('close', () => this.admitted.delete(socket));
    }
    tunnelTcp(socket, initial, this.app.host, this.app.port, { track: this.appTracker });
  }
  protected onOpaque(socket: net.Socket, initial: Buffer): void {
    const mtls = this.options.meshTls;
    if (mtls && initial.length > 0 && initial[0] === 0x16) this.onTls(socket, initial, mtls);
    else this.relay(socket, initial);
  }

  // TLS: read the whole ClientHello; mesh ALPN → terminate mTLS and serve HTTP/2; else the app's own TLS
  private onTls(socket: net.Socket, initial: Buffer, mtls: MeshTls): void {
    let buf = initial;
    const decide = (): boolean => {
      const hello = parseClientHello(buf);
      if (hello === 'more' && buf.length < 64 * 1024) return false;
      socket.off('data', onData);
      clearTimeout(timer);
      socket.pause();
      if (typeof hello === 'object' && hello.alpn.includes(MESH_ALPN)) this.terminate(socket, buf, mtls);
      else this.relay(socket, buf);
      return true;
    };
    const onData = (c: Buffer): void => { buf = Buffer.concat([buf, c]); decide(); };
    const timer = setTimeout(() => { socket.off('data', onData); this.trackAccepted(socket, null); socket.destroy(); }, this.options.detectTimeoutMs);
    if (decide()) return;
    socket.on('data', onData);
    socket.resume();
  }

  private terminate(socket: net.Socket, hello: Buffer, mtls: MeshTls): void {
    let t;
    try {
      socket.unshift(hello);
      t = mtls.accept(socket);
    } catch {
      this.trackAccepted(socket, null);
      socket.destroy(); // no certificate yet: mesh peers retry elsewhere
      return;
    }
    let secure = false;
    t.on('error', () => {
      if (!secure) { secure = true; this.trackAccepted(socket, null); } // a failed handshake still counts
      t.destroy();
    });
    t.once('secure', () => {
      secure = true;
      const peer = spiffeIdOf(t.getPeerCertificate());
      this.trackAccepted(socket, peer);
      if (t.alpnProtocol !== MESH_ALPN) { t.destroy(); return; }
      t.setNoDelay(true);
      this.serveH2(t, undefined, peer);
    });
  }

  destroy(): void {
    this.destroyConnections();
    this.appH2.destroy();
    this.appH1.destroy();
  }
}

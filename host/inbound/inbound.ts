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
import type { Resolver } from '../outbound/discovery.js';
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

export interface InboundOptions extends ListenerOptions {
  app: HostPort;
  /** The application port is opaque: connections are relayed at once, with no protocol detection. */
  opaque?: boolean;
  /** The config and names, for producer routes on requests from outside the mesh. */
  snapshot?: () => Snapshot;
  resolver?: Resolver;
  /** Terminates mesh mTLS (connections offering the mesh ALPN); other TLS passes through. */
  meshTls?: MeshTls;
}

export class Inbound extends HttpListener {
  private appH2: H2Pool;
  private appH1: H1Pool;
  private app: HostPort;
  private appLabel: string;
  private opaque: boolean;
  private routers = new Map<string, Router | null>();
  private routersOf: Snapshot | null = null;

  constructor(private options: InboundOptions) {
    // RFC 8441: WebSockets from other sidecars arrive as extended CONNECT
    super({ ...options, session: { ...options.session, enableConnectProtocol: true } });
    this.app = options.app;
    this.opaque = options.opaque ?? false;
    this.appLabel = `application at ${options.app.host}:${options.app.port}`;
    this.appH2 = new H2Pool(options.app.host, options.app.port, { session: options.session });
    this.appH1 = new H1Pool(options.app.host, options.app.port);
  }

  protected route(exchange: Exchange, fields: FieldList, down: HttpStream, isH2: boolean): void {
    // the skiff-routed mark counts only from a peer sidecar: proven by mTLS when mesh TLS is on
    const peer = isH2 ? (down as H2Stream).session.peerIdentity : null;
    const trustMark = this.options.meshTls === undefined || peer !== null;
    if ((!trustMark || getField(fields, ROUTED) === undefined) && this.options.snapshot) {
      const routed = this.producerRoutes(exchange, fields);
      if (routed === null) return;
      fields = routed;
    }
    const appIsH1 = !isH2 || getField(fields, ORIG_PROTO) !== undefined;
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
      exchange.attach(new TcpStream(this.app.host, this.app.port));
      return;
    }
    const next = forwardFields(fields, isH2 ? VIA_H2 : VIA_H1, !appIsH1, MESH_HOP);
    // the client's mesh identity, as mTLS proved it (a client-sent skiff-client-id was dropped above)
    if (peer) next.push(CLIENT_ID, peer);
    startUpstream(exchange, appIsH1 ? this.appH1 : this.appH2, next, this.appLabel);
  }

  /** The request after its Service's producer routes (null: answered here, e.g. a redirect or 404). */
  private producerRoutes(exchange: Exchange, fields: FieldList): FieldList | null {
    const authority = getField(fields, ':authority');
    const snapshot = this.options.snapshot!();
    const d = authority === undefined ? null : this.options.resolver?.resolve(snapshot, authority);
    if (!d || typeof d === 'string') return fields; // not addressed to a Service by name: nothing to apply
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
    if (ref === null) {
      exchange.fail(ProxyErrorKind.NOT_FOUND, `no rule of the routes of Service ${d.label} matches the request`);
      return null;
    }
    const out = fields.slice();
    if (!applyFilters(exchange, ref.rule.filters, fields, out, ref.prefix, d.port.port)) return null;
    if (ref.rule.requestTimeoutMs > 0) exchange.limitResponseTime(ref.rule.requestTimeoutMs);
    return out;
  }

  override accept(socket: net.Socket): void {
    // server-speaks-first protocols (MySQL, SMTP, …) would wait out detection: skip it
    if (this.opaque) tunnelTcp(socket, Buffer.alloc(0), this.app.host, this.app.port);
    else super.accept(socket);
  }

  protected onOpaque(socket: net.Socket, initial: Buffer): void {
    const mtls = this.options.meshTls;
    if (mtls && initial.length > 0 && initial[0] === 0x16) this.onTls(socket, initial, mtls);
    else tunnelTcp(socket, initial, this.app.host, this.app.port);
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
      else tunnelTcp(socket, buf, this.app.host, this.app.port);
      return true;
    };
    const onData = (c: Buffer): void => { buf = Buffer.concat([buf, c]); decide(); };
    const timer = setTimeout(() => { socket.off('data', onData); socket.destroy(); }, this.options.detectTimeoutMs);
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
      socket.destroy(); // no certificate yet: mesh peers retry elsewhere
      return;
    }
    t.on('error', () => t.destroy());
    t.once('secure', () => {
      if (t.alpnProtocol !== MESH_ALPN) { t.destroy(); return; }
      t.setNoDelay(true);
      this.serveH2(t, undefined, spiffeIdOf(t.getPeerCertificate()));
    });
  }

  destroy(): void {
    this.destroyConnections();
    this.appH2.destroy();
    this.appH1.destroy();
  }
}

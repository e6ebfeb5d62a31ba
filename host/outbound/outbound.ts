// The outbound side: the application's calls to other services. Each request is routed by its
// authority (Kubernetes DNS name) to a Service, balanced over its ready endpoints, and sent on a
// pooled HTTP/2 connection to the endpoint (a peer sidecar's inbound, or an h2c application).
import net from 'node:net';
import { detectProtocol } from '../transport/detect.js';
import { H2Session, type H2SessionOptions, type H2Stream } from '../transport/h2-session.js';
import { H2Pool, type ConnectError } from '../transport/h2-pool.js';
import { tunnelTcp } from '../transport/opaque.js';
import { Exchange, type ExchangeObserver } from '../http/exchange.js';
import { forwardFields, getField, VIA_H2 } from '../http/headers.js';
import { ProxyErrorKind } from '../http/proxy-error.js';
import type { Snapshot } from '../config/snapshot.js';
import { Resolver, endpointsOf, type Destination } from './discovery.js';
import { Balancer, EndpointState } from './balancer.js';

export interface OutboundOptions {
  resolver: Resolver;
  snapshot(): Snapshot;
  detectTimeoutMs: number;
  session: H2SessionOptions;
}

interface Route {
  snapshot: Snapshot;
  dest: Destination | null;
  error: string;
  balancer: Balancer;
}

export class Outbound implements ExchangeObserver {
  private sessions = new Set<H2Session>();
  private routes = new Map<string, Route>();
  private endpoints = new Map<string, EndpointState>();
  private pools = new Map<string, H2Pool>();
  private lastSnapshot: Snapshot | null = null;
  private onStreamBound = (s: H2Stream): void => this.onStream(s);

  constructor(private options: OutboundOptions) {}

  accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    detectProtocol(socket, this.options.detectTimeoutMs, (proto, initial) => {
      if (proto === 'h2') {
        const session = new H2Session(socket, 'server', this.options.session, {
          onStream: this.onStreamBound,
          onClose: () => this.sessions.delete(session),
        }, initial);
        this.sessions.add(session);
        socket.resume();
      } else {
        // HTTP/1.1 and opaque outbound traffic arrive with the HTTP/1.1 data path
        socket.end('HTTP/1.1 501 Not Implemented\r\nskiff-proxy-error: outbound HTTP/1.1 is not supported yet\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      }
    });
  }

  /** Route for an authority, recomputed when the config snapshot changes. */
  private route(authority: string): Route {
    const snapshot = this.options.snapshot();
    if (snapshot !== this.lastSnapshot) this.onSnapshot(snapshot);
    let r = this.routes.get(authority);
    if (r && r.snapshot === snapshot) return r;
    const d = this.options.resolver.resolve(snapshot, authority);
    const balancer = r?.balancer ?? new Balancer();
    if (typeof d === 'string') r = { snapshot, dest: null, error: d, balancer };
    else {
      balancer.update(endpointsOf(snapshot, d), this.endpoints);
      r = { snapshot, dest: d, error: '', balancer };
    }
    this.routes.set(authority, r);
    return r;
  }

  /** A new config: endpoints that are gone stop taking requests; their connections drain. */
  private onSnapshot(snapshot: Snapshot): void {
    this.lastSnapshot = snapshot;
    const live = new Set<string>();
    for (const [authority, r] of this.routes) {
      const d = this.options.resolver.resolve(snapshot, authority);
      if (typeof d === 'string') continue;
      for (const e of endpointsOf(snapshot, d)) live.add(`${e.host}:${e.port}`);
    }
    for (const [key, pool] of this.pools) {
      if (!live.has(key)) {
        pool.close();
        this.pools.delete(key);
        this.endpoints.delete(key);
      }
    }
  }

  private onStream(down: H2Stream): void {
    const exchange = new Exchange(down);
    const fields = down.headers!;
    const authority = getField(fields, ':authority') ?? getField(fields, 'host');
    if (!authority) {
      exchange.fail(ProxyErrorKind.NOT_FOUND, 'request has no :authority or host to route by');
      return;
    }
    const route = this.route(authority);
    if (!route.dest) {
      exchange.fail(ProxyErrorKind.NOT_FOUND, route.error);
      return;
    }
    const ep = route.balancer.pick();
    if (!ep) {
      exchange.fail(ProxyErrorKind.UNAVAILABLE, `Service ${route.dest.label} has no ready endpoints`);
      return;
    }
    const a = ep.address;
    if (!a.meshed && !a.h2c) {
      exchange.fail(ProxyErrorKind.BAD_GATEWAY, `endpoint ${ep.key} of ${route.dest.label} speaks HTTP/1.1, which outbound does not forward yet`);
      return;
    }
    ep.inFlight++;
    exchange.observer = this;
    exchange.tag = ep;
    const pool = this.pool(ep);
    const next = forwardFields(fields, VIA_H2, true);
    const session = pool.ready();
    if (session) {
      exchange.start(session, next);
      return;
    }
    pool.acquire().then(
      (s) => exchange.start(s, next),
      (err: ConnectError) => exchange.fail(ProxyErrorKind.BAD_GATEWAY, `endpoint ${ep.key} of ${route.dest!.label}: ${err.message}`),
    );
  }

  private pool(ep: EndpointState): H2Pool {
    let p = this.pools.get(ep.key);
    if (!p) {
      p = new H2Pool(ep.address.host, ep.address.port, { session: this.options.session });
      this.pools.set(ep.key, p);
    }
    return p;
  }

  exchangeDone(exchange: Exchange, ok: boolean): void {
    const ep = exchange.tag as EndpointState;
    ep.inFlight--;
    if (!ok) ep.failures++;
  }

  drain(): void {
    for (const s of this.sessions) s.shutdown();
  }

  get openSessions(): number { return this.sessions.size; }

  destroy(): void {
    for (const s of this.sessions) s.socket.destroy();
    for (const p of this.pools.values()) p.destroy();
  }
}

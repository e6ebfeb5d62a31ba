// The outbound side: the application's calls to other services, in HTTP/2 or HTTP/1.1. Each
// request is routed by its authority (Kubernetes DNS name; Host or an absolute-form target for
// HTTP/1.1) to a Service, balanced over its ready endpoints, and sent on a pooled connection:
// HTTP/2 to a meshed endpoint (a peer sidecar's inbound; HTTP/1.1 requests ride it marked with
// skiff-orig-proto), or the endpoint's own protocol when it is not meshed.
import type net from 'node:net';
import { H2Pool } from '../transport/h2-pool.js';
import { H1Pool } from '../transport/h1-client.js';
import { TcpStream } from '../transport/tcp-stream.js';
import { HttpListener, type ListenerOptions } from '../transport/listener.js';
import type { Exchange, ExchangeObserver } from '../http/exchange.js';
import type { FieldList } from '../core/fields.js';
import { forwardFields, getField, VIA_H1, VIA_H2, ORIG_PROTO } from '../http/headers.js';
import { toExtendedConnect } from '../http/h1-message.js';
import { ProxyErrorKind } from '../http/proxy-error.js';
import { startUpstream, type Upstream } from '../http/upstream.js';
import type { HttpStream } from '../http/stream.js';
import type { Snapshot } from '../config/snapshot.js';
import { Resolver, endpointsOf, type Destination } from './discovery.js';
import { Balancer, EndpointState } from './balancer.js';

export interface OutboundOptions extends ListenerOptions {
  resolver: Resolver;
  snapshot(): Snapshot;
}

/** What the outbound needs to send one request (again, if it must be retried). */
class Attempt {
  endpoint: EndpointState | null = null;
  constructor(readonly route: Route, readonly fields: FieldList, readonly down: HttpStream, readonly isH2: boolean, readonly authority: string) {}
}

interface Route {
  snapshot: Snapshot;
  dest: Destination | null;
  error: string;
  balancer: Balancer;
}

export class Outbound extends HttpListener implements ExchangeObserver {
  private routes = new Map<string, Route>();
  private endpoints = new Map<string, EndpointState>();
  private pools = new Map<string, Upstream>();
  private lastSnapshot: Snapshot | null = null;

  constructor(private options: OutboundOptions) {
    super({ ...options, session: { ...options.session, enableConnectProtocol: true } });
  }

  protected onOpaque(socket: net.Socket): void {
    // opaque outbound traffic has no destination to route by without the original destination
    // address (iptables); it arrives with the TCP tunnelling work
    socket.destroy();
  }

  /** Route for an authority, recomputed when the config snapshot changes. */
  private routeFor(authority: string): Route {
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
    if (this.routes.size > 10_000) this.routes.clear(); // names are client-chosen: bound the cache
    this.routes.set(authority, r);
    return r;
  }

  /** A new config: endpoints that are gone stop taking requests; their connections drain. */
  private onSnapshot(snapshot: Snapshot): void {
    this.lastSnapshot = snapshot;
    const live = new Set<string>();
    for (const authority of this.routes.keys()) {
      const d = this.options.resolver.resolve(snapshot, authority);
      if (typeof d === 'string') continue;
      for (const e of endpointsOf(snapshot, d)) live.add(`${e.host}:${e.port}`);
    }
    for (const [key, pool] of this.pools) {
      const endpoint = key.endsWith('/h1') ? key.slice(0, -3) : key;
      if (!live.has(endpoint)) {
        pool.close();
        this.pools.delete(key);
        this.endpoints.delete(endpoint);
      }
    }
  }

  protected route(exchange: Exchange, fields: FieldList, down: HttpStream, isH2: boolean): void {
    const authority = getField(fields, ':authority');
    if (!authority) {
      exchange.fail(ProxyErrorKind.NOT_FOUND, 'request has no :authority or Host to route by');
      return;
    }
    const route = this.routeFor(authority);
    if (!route.dest) {
      exchange.fail(ProxyErrorKind.NOT_FOUND, route.error);
      return;
    }
    exchange.observer = this;
    exchange.tag = new Attempt(route, fields, down, isH2, authority);
    this.dispatch(exchange);
  }

  /** Picks an endpoint for the exchange's request and sends it there. */
  private dispatch(exchange: Exchange): void {
    const at = exchange.tag as Attempt;
    const { route, fields, down, isH2, authority } = at;
    const dest = route.dest!;
    const ep = route.balancer.pick();
    if (!ep) {
      exchange.fail(ProxyErrorKind.UNAVAILABLE, `Service ${dest.label} has no ready endpoints`);
      return;
    }
    ep.inFlight++;
    at.endpoint = ep;
    const a = ep.address;
    if (getField(fields, ':method') === 'CONNECT' && getField(fields, ':protocol') === undefined) {
      // a TCP tunnel: over the mesh as an HTTP/2 CONNECT stream, or as plain TCP to an unmeshed
      // endpoint or to an opaque port (whose sidecar relays without detecting anything)
      if (!a.meshed || dest.opaque) {
        exchange.upIsH2 = false;
        exchange.attach(new TcpStream(a.host, a.port));
        return;
      }
      startUpstream(exchange, this.pool(ep, true), [':method', 'CONNECT', ':authority', authority], `endpoint ${ep.key} of ${dest.label}`);
      return;
    }
    const h2 = a.meshed || (a.h2c && isH2);
    const upgrade = (down as { upgrade?: string | null }).upgrade ?? null;
    exchange.upgrade = upgrade;
    let next = forwardFields(fields, isH2 ? VIA_H2 : VIA_H1, h2);
    if (upgrade !== null && h2) next = toExtendedConnect(next, upgrade);
    if (a.meshed && !isH2) next.push(ORIG_PROTO, 'HTTP/1.1');
    exchange.responseVia = h2 ? VIA_H2 : VIA_H1;
    startUpstream(exchange, this.pool(ep, h2), next, `endpoint ${ep.key} of ${dest.label}`);
  }

  private pool(ep: EndpointState, h2: boolean): Upstream {
    const key = h2 ? ep.key : `${ep.key}/h1`;
    let p = this.pools.get(key);
    if (!p) {
      p = h2 ? new H2Pool(ep.address.host, ep.address.port, { session: this.options.session })
        : new H1Pool(ep.address.host, ep.address.port);
      this.pools.set(key, p);
    }
    return p;
  }

  exchangeDone(exchange: Exchange, ok: boolean): void {
    const ep = (exchange.tag as Attempt).endpoint;
    if (!ep) return;
    ep.inFlight--;
    if (!ok) ep.failures++;
  }

  /** A request refused unprocessed (its endpoint is going away): once more, on a fresh pick. */
  retry(exchange: Exchange): boolean {
    const at = exchange.tag as Attempt;
    if (at.endpoint) at.endpoint.inFlight--;
    at.endpoint = null;
    this.dispatch(exchange);
    return true;
  }

  destroy(): void {
    this.destroyConnections();
    for (const p of this.pools.values()) p.destroy();
  }
}

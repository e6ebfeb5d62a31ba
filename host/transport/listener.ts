// What inbound and outbound share: accept a connection, detect its protocol, and run it as an
// HTTP/2 session or an HTTP/1.1 connection whose requests go to `onRequest`; other traffic goes
// to `onOpaque`. Tracks the connections so they can be drained on shutdown, and hands each exchange
// the telemetry recorder of its direction.
import type net from 'node:net';
import { detectProtocol, type DeclaredProtocol } from './detect.js';
import { H2Session, type H2SessionOptions, type H2Stream } from './h2-session.js';
import { H1ServerConnection, type H1ServerOptions, type H1ServerStream } from './h1-server.js';
import type { HttpStream } from '../http/stream.js';
import type { FieldList } from '../core/fields.js';
import { Exchange, type ExchangeRecorder } from '../http/exchange.js';
import type { Telemetry } from '../metrics/telemetry.js';
import type { RequestScope, Labels } from '../metrics/http-metrics.js';
import type { TcpScope } from '../metrics/tcp-metrics.js';
import { h1RequestToH2 } from '../http/h1-message.js';
import { underscoreName, withoutUnderscoreNames, type UnderscoreHeaders } from '../http/headers.js';
import { ProxyErrorKind } from '../http/proxy-error.js';

export interface ListenerOptions {
  detectTimeoutMs: number;
  /** Answer 504 when an upstream has not sent a response head in this long (0: no limit). */
  responseTimeoutMs?: number;
  session: H2SessionOptions;
  /** Upstream connection limits and the queue of requests waiting at them. */
  pools?: PoolLimits;
  /** Request header names containing '_': passed (default), dropped, or refused with 400. */
  underscoreHeaders?: UnderscoreHeaders;
  http1?: H1ServerOptions;
  /** Metrics, tap and access log (none: nothing recorded). */
  telemetry?: Telemetry;
}

/** How many connections a proxy opens to one upstream endpoint, and how many requests may wait at that limit. */
export interface PoolLimits {
  /** HTTP/1.1 connections per endpoint (default 256): one request in flight on each. */
  http1MaxConnections?: number;
  /** HTTP/2 connections per endpoint (default 4), each carrying as many streams as the peer allows. */
  http2MaxConnections?: number;
  /** Requests waiting for room per endpoint and protocol (default 100,000); beyond, 503. */
  maxPending?: number;
  /** How long a new connection may take (default: 1 s outbound, 5 s to the local application). */
  connectTimeoutMs?: number;
}

export abstract class HttpListener {
  private h2 = new Set<H2Session>();
  private h1 = new Set<H1ServerConnection>();
  private onH2Stream = (s: H2Stream): void => this.onRequest(s, true);
  private onH1Request = (s: H1ServerStream): void => this.onRequest(s, false);

  protected readonly telemetry: Telemetry | null;
  private readonly recorder: ExchangeRecorder | null;
  private plainSrc: TcpScope | null = null;

  constructor(protected listenerOptions: ListenerOptions, readonly direction: 'inbound' | 'outbound') {
    this.telemetry = listenerOptions.telemetry ?? null;
    this.recorder = this.telemetry?.recorder(direction, (x) => this.unroutedScope(x)) ?? null;
  }

  /** The label set of a request that ended before routing gave it one (e.g. a 400 or 404). */
  protected abstract unroutedScope(exchange: Exchange): RequestScope;

  /** The TCP label set of connections this listener accepts; `peerIdentity` when mesh TLS proved one. */
  protected abstract srcLabels(peerIdentity: string | null): Labels;

  /** Counts an accepted connection from now on (once who it is from is known). */
  protected trackAccepted(socket: net.Socket, peerIdentity: string | null): void {
    const t = this.telemetry;
    if (t === null || !t.metricsEnabled) return;
    const scope = peerIdentity === null ? (this.plainSrc ??= t.tcp.scope(this.srcLabels(null))) : t.tcp.scope(this.srcLabels(peerIdentity));
    t.tcp.track(socket, scope);
  }

  /** The options of a pool to `targetAddr`: the configured limits, its queue counted in metrics, its connections tracked. */
  protected poolOptions(targetAddr: string, h2: boolean, track: ((socket: net.Socket) => void) | undefined) {
    const l = this.listenerOptions.pools ?? {};
    const t = this.telemetry;
    return {
      maxConnections: h2 ? l.http2MaxConnections : l.http1MaxConnections,
      maxPending: l.maxPending,
      connectTimeoutMs: l.connectTimeoutMs ?? (this.direction === 'outbound' ? 1000 : 5000),
      queueStats: t !== null && t.metricsEnabled ? t.pools.stats(this.direction, targetAddr) : undefined,
      track,
    };
  }

  /** A tracker for connections this listener opens with `labels`, or undefined without metrics. */
  protected dstTracker(labels: Labels): ((socket: net.Socket) => void) | undefined {
    const t = this.telemetry;
    if (t === null || !t.metricsEnabled) return undefined;
    const scope = t.tcp.scope(labels);
    return (socket) => t.tcp.track(socket, scope);
  }

  /**
   * A request to route: its exchange, and its head as HTTP/2 fields (an HTTP/1.1 head translated:
   * :authority from Host or an absolute-form target). `down` is the client's side of it.
   */
  protected abstract route(exchange: Exchange, fields: FieldList, down: HttpStream, isH2: boolean): void;

  private onRequest(down: HttpStream, isH2: boolean): void {
    this.handleRequest(down, isH2, isH2);
  }

  /**
   * A request from anywhere — a connection this listener accepted, or an in-process caller (the mesh
   * client): `down` carries its head (HTTP/2 fields when `isH2`, else an HTTP/1.1 head) and takes
   * the response, formatted as HTTP/2 fields when `respondAsH2`.
   */
  handleRequest(down: HttpStream, isH2: boolean, respondAsH2: boolean): void {
    const exchange = new Exchange(down);
    exchange.downIsH2 = respondAsH2;
    if (this.recorder !== null) {
      exchange.recorder = this.recorder;
      exchange.startedAt = performance.now();
      exchange.head = down.headers;
    }
    const timeout = this.listenerOptions.responseTimeoutMs;
    if (timeout) exchange.limitResponseTime(timeout);
    let fields = down.headers!;
    if (!isH2) {
      const t = h1RequestToH2(fields, 'http');
      if (typeof t === 'string') {
        exchange.fail(ProxyErrorKind.BAD_REQUEST, t);
        return;
      }
      fields = t;
      if (this.recorder !== null) exchange.head = t;
    }
    const underscores = this.listenerOptions.underscoreHeaders;
    if (underscores !== undefined && underscores !== 'allow') {
      const name = underscoreName(fields);
      if (name !== undefined) {
        if (underscores === 'reject') {
          exchange.fail(ProxyErrorKind.BAD_REQUEST, `header names containing '_' are refused here (--underscore-headers reject): ${name}`);
          return;
        }
        fields = withoutUnderscoreNames(fields);
      }
    }
    this.route(exchange, fields, down, isH2);
  }
  /** A connection that is not HTTP (or is TLS we do not terminate here). */
  protected abstract onOpaque(socket: net.Socket, initial: Buffer): void;

  /** The application protocol the listener's port declares (null: detect it). */
  protected declaredProtocol(): DeclaredProtocol { return null; }

  accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    detectProtocol(socket, this.listenerOptions.detectTimeoutMs, (proto, initial) => {
      if (proto === 'h2') {
        this.trackAccepted(socket, null);
        this.serveH2(socket, initial, null);
      } else if (proto === 'http1') {
        this.trackAccepted(socket, null);
        const conn = new H1ServerConnection(socket, { onRequest: this.onH1Request, onClose: () => this.h1.delete(conn) }, this.listenerOptions.http1, initial);
        this.h1.add(conn);
        socket.resume();
      } else {
        this.onOpaque(socket, initial);
      }
    }, this.declaredProtocol());
  }

  /** Runs an HTTP/2 session on a socket (plain, or a terminated mesh TLS connection and its peer's identity). */
  protected serveH2(socket: net.Socket, initial: Buffer | undefined, peerIdentity: string | null): void {
    const session = new H2Session(socket, 'server', this.listenerOptions.session, {
      onStream: this.onH2Stream,
      onClose: () => this.h2.delete(session),
    }, initial);
    session.peerIdentity = peerIdentity;
    this.h2.add(session);
    socket.resume();
  }

  /** Graceful: GOAWAY on HTTP/2, close after the current response on HTTP/1.1. */
  drain(): void {
    for (const s of this.h2) s.shutdown();
    for (const c of this.h1) c.drain();
  }

  get openConnections(): number { return this.h2.size + this.h1.size; }

  destroyConnections(): void {
    for (const s of this.h2) s.socket.destroy();
    for (const c of this.h1) c.socket.destroy();
  }
}

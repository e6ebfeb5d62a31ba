// One proxied request: a downstream stream (from the client) bridged to an upstream stream (to the
// next hop). Bodies move chunk by chunk with end-to-end flow control: a chunk received on one side
// is credited back to its sender only once the other side has taken it (its queue under the
// high-water mark), so a slow reader slows the writer instead of growing the proxy's memory.
// Cancellation propagates both ways; failures before a response become explicit proxy errors.
import type { FieldList } from '../core/fields.js';
import { ErrorCode } from '../core/reasons.js';
import type { H2Session } from '../transport/h2-session.js';
import type { HttpStream, StreamHandler, StreamResetError } from './stream.js';
import { forwardFields, getField, isGrpc, VIA_H2, MESH_HOP } from './headers.js';
import { withStatus } from './h1-message.js';
import { respondProxyError, proxyErrorStatus, ProxyErrorKind } from './proxy-error.js';
import { grpcStatusOf, type RequestError, type RequestScope } from '../metrics/http-metrics.js';
import type { HeaderModifier } from '../route/model.js';
import { modifyHeaders } from '../route/filters.js';
import type { Mirror } from '../route/mirror.js';
import { REPLAY_LIMIT, type RetryState } from '../route/retry.js';
import { restartUpstream } from './upstream.js';

/** Times one request may be refused unprocessed (REFUSED_STREAM, GOAWAY) and sent again. */
const MAX_REFUSALS = 5;

/** Told once when an exchange is over (the response ended, or either side failed). */
export interface ExchangeObserver {
  exchangeDone(exchange: Exchange, ok: boolean): void;
  /**
   * The upstream refused the request without processing it (REFUSED_STREAM, or above the last
   * stream id of its GOAWAY) and nothing of it was answered: send it again elsewhere if possible.
   * Returns true when the exchange was restarted (then exchangeDone is not called for this try).
   */
  retry?(exchange: Exchange): boolean;
  /** The response head arrived (status; its fields): latency and load signals. */
  responded?(exchange: Exchange, status: number, fields: FieldList): void;
  /**
   * A connection for the request could not be made (nothing of it was sent): send it elsewhere if
   * possible. Returns true when the exchange was restarted.
   */
  connectFailed?(exchange: Exchange, err: Error): boolean;
  /** The current try is dropped for a route retry (its status was not wanted, or it timed out). */
  attemptFailed?(exchange: Exchange): void;
}

/** Told once when an exchange ends, with its outcome on the exchange: metrics, tap, access log. */
export interface ExchangeRecorder {
  ended(exchange: Exchange): void;
}

export class Exchange implements StreamHandler {
  readonly down: HttpStream;
  up: HttpStream | null = null;
  /** Whoever picked the upstream (a balancer's endpoint) and wants to know when it is over. */
  observer: ExchangeObserver | null = null;
  /** Opaque to the exchange: the observer's per-request data (e.g. the endpoint). */
  tag: unknown = null;
  private done = false;
  private timer: NodeJS.Timeout | null = null;
  // request body that arrived before the upstream was attached (not yet credited to the client)
  private early: Buffer[] | null = null;
  /** Our Via entry for the response: the protocol it reaches us with (VIA_H2 or VIA_H1). */
  responseVia = VIA_H2;
  /** Whether the client side is HTTP/2 (keeps `te: trailers` on responses… and drives field rules). */
  downIsH2 = true;
  /** Whether the upstream is HTTP/2. */
  upIsH2 = true;
  /**
   * A protocol switch asked for (e.g. "websocket"): HTTP/1.1 answers 101, extended CONNECT over
   * HTTP/2 answers 200; the status is translated for the client's side, then bytes flow as a tunnel.
   */
  upgrade: string | null = null;
  private grpc: boolean;
  private responded = false;
  /** Copies of the request going to RequestMirror backends: they get the body too, never the response. */
  mirrors: Mirror[] | null = null;
  /** Route rule response filters (ResponseHeaderModifier), applied to the response head. */
  responseHeaders: HeaderModifier[] | null = null;
  /** Tries so far beyond the first. */
  retries = 0;
  /** The route rule's retry policy for this request, if any. */
  retryState: RetryState | null = null;
  /** Per try: answer 504 (or retry) if the upstream sends no response head within this many ms (0: none). */
  attemptTimeoutMs = 0;
  private attemptTimer: NodeJS.Timeout | null = null;
  /** The client sent body bytes (a retry must send them again, so its head is not the whole request). */
  private bodyReceived = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /**
   * The request body so far, by reference, to send again: kept while no response has come (the
   * upstream may refuse the stream unprocessed) and while a route retry may want it; null once it
   * passed REPLAY_LIMIT (then it cannot be sent again) or is no longer needed.
   */
  private held: Buffer[] | null = [];
  private heldBytes = 0;
  /** The next upstream attached must first be given the held body (a retry or a refused request). */
  private replaying = false;
  /** Times the upstream refused this request unprocessed. */
  private refusals = 0;
  /** Where the request was last sent (a pool), its head, and how errors name it: to send it again when refused. */
  sentTo: unknown = null;
  sentFields: FieldList | null = null;
  sentWhat = '';
  /** Set while the request waits in a pool's queue for a connection with room. */
  waiting: { cancel(): void } | null = null;
  /** Response body bytes received from the current upstream try. */
  private upBytes = 0;
  // bytes received but not yet credited back, per side, waiting for the other side to drain
  private downOwed = 0;
  private upOwed = 0;

  // ---- outcome, for metrics and tap (recorded only when a recorder is set) ----
  recorder: ExchangeRecorder | null = null;
  /** The metrics label set the request counts under (request_total counted when it is set). */
  scope: RequestScope | null = null;
  /** The request head as HTTP/2 fields (an HTTP/1.1 head translated), as the client sent it. */
  head: FieldList | null = null;
  /** performance.now() at the request head, at the response's first byte (or its end), at the end. */
  startedAt = 0;
  firstByteAt = 0;
  endedAt = 0;
  /** The response status the client got (0: none), its grpc-status (-1: none). */
  status = 0;
  grpcStatus = -1;
  /** Set when the exchange was cut short by a reset. */
  error: RequestError | null = null;
  /** The inbound authorization decision, when policy decided: 'audit' is a would-be denial let through. */
  authz: 'allow' | 'deny' | 'audit' | null = null;
  /** Called once when the exchange is over, whoever else is told (e.g. the inbound forgetting a tunnel it admitted). */
  onDone: (() => void) | null = null;
  /** Inbound: the client's proven mesh identity and its address, as policy saw them. */
  clientId: string | null = null;
  clientAddr: string | null = null;

  constructor(down: HttpStream) {
    this.down = down;
    this.grpc = isGrpc(down.headers!);
    down.handler = this;
    down.autoConsume = false;
  }

  /** The label set this request counts under; the first one set wins (retries keep it). */
  setScope(scope: RequestScope): void {
    if (this.scope !== null) return;
    if (scope.evicted) scope = scope.owner.revive(scope); // a cached set, forgotten while idle
    this.scope = scope;
    scope.requests++;
    scope.inFlight++;
  }

  /** Whether the exchange is over (answered, failed or cut short). */
  get isDone(): boolean { return this.done; }

  /** Whether the request is gRPC (its content-type). */
  get isGrpc(): boolean { return this.grpc; }

  /** Answers 504 (gRPC: DEADLINE_EXCEEDED) if no response head arrives within `ms` (replacing an earlier limit). */
  limitResponseTime(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(Exchange.expire, ms, this, ms);
    this.responseDeadline = performance.now() + ms;
  }
  /** When the response timeout fires (performance.now() time; Infinity: no timeout). */
  responseDeadline = Infinity;
  private static expire(x: Exchange, ms: number): void {
    x.timer = null;
    if (!x.responded) x.fail(ProxyErrorKind.TIMEOUT, `upstream did not answer within ${ms} ms`);
  }

  /** Whether the upstream request is complete with its head (no body will follow). */
  get headOnly(): boolean {
    return this.down.remoteEnded && !this.bodyReceived && this.early === null && this.down.trailers === null;
  }

  /** Opens the upstream stream on an HTTP/2 `session` with the request head `fields`. */
  start(session: H2Session, fields: FieldList): void {
    if (this.down.closed) return;
    let up: HttpStream;
    try {
      up = session.request(fields, this.headOnly);
    } catch (err) {
      this.fail(ProxyErrorKind.UNAVAILABLE, `upstream refused a new stream: ${(err as Error).message}`);
      return;
    }
    this.attach(up);
  }

  /** Takes an upstream stream opened elsewhere (e.g. an HTTP/1.1 client request). */
  attach(up: HttpStream): void {
    this.up = up;
    up.handler = this;
    up.autoConsume = false;
    if (this.attemptTimeoutMs > 0) this.attemptTimer = setTimeout(Exchange.attemptExpired, this.attemptTimeoutMs, this, up);
    const replay = this.replaying;
    this.replaying = false;
    if (up.localEnded) return;
    if (replay) {
      if (this.held === null) {
        // more of the body arrived while waiting to retry than we can hold: it cannot be resent
        up.reset(ErrorCode.CANCEL);
        this.up = null;
        this.fail(ProxyErrorKind.BAD_GATEWAY, 'upstream failed and the request body is too large to send again');
        return;
      }
      // a retry: the body so far again, then whatever still comes; what arrived during the backoff
      // is in the replay too, so it is credited to the client now
      for (const chunk of this.held) up.write(chunk);
      const early = this.early;
      this.early = null;
      if (early) for (const c of early) this.down.consume(c.length);
      if (this.down.remoteEnded) {
        const t = this.down.trailers;
        up.end(undefined, t ? forwardFields(t, null, this.upIsH2, MESH_HOP) : undefined);
      }
      return;
    }
    const early = this.early;
    this.early = null;
    if (early) for (const chunk of early) this.forward(this.down, chunk);
    if (this.down.remoteEnded) {
      const t = this.down.trailers;
      up.end(undefined, t ? forwardFields(t, null, this.upIsH2, MESH_HOP) : undefined);
    }
  }

  /** Answers the client from the proxy itself with an empty-bodied `status` and `extra` fields (a redirect). */
  respondLocally(status: number, extra: FieldList): void {
    if (!this.done && !this.responded) this.status = status;
    this.finish(true);
    this.dropEarlyBody();
    if (this.down.closed || this.responded) return;
    this.responded = true;
    this.down.respond([':status', String(status), ...extra, 'content-length', '0'], true);
  }

  /** Answers the client with a proxy error (status or grpc-status) if nothing was sent yet; else resets. */
  fail(kind: ProxyErrorKind, message: string): void {
    if (!this.done) {
      if (this.responded) this.error ??= 'proxy_reset';
      else if (this.grpc) { this.status = 200; this.grpcStatus = proxyErrorStatus(kind, true); }
      else this.status = proxyErrorStatus(kind, false);
    }
    this.finish(false);
    if (this.up === null) this.dropEarlyBody();
    this.held = null;
    const down = this.down;
    if (this.up && !this.up.closed) this.up.reset(ErrorCode.CANCEL);
    if (down.closed) return;
    if (this.responded) down.reset(ErrorCode.INTERNAL_ERROR);
    else {
      this.responded = true;
      respondProxyError(down, kind, message, this.grpc);
    }
  }

  private static attemptExpired(x: Exchange, up: HttpStream): void {
    x.attemptTimer = null;
    if (x.up !== up || x.responded || x.done) return;
    if (x.retryState !== null && x.held !== null && x.retryState.wants(504)) x.tryAgain('no response in time');
    else x.fail(ProxyErrorKind.TIMEOUT, `upstream did not answer within ${x.attemptTimeoutMs} ms`);
  }

  /** Drops the current try (its response is not the client's) and sends the request again after a backoff. */
  private tryAgain(why: string): void {
    this.observer?.attemptFailed?.(this);
    this.dropUpstream();
    this.retryState!.left--;
    this.retries++;
    this.retryTimer = setTimeout(Exchange.retryNow, this.retryState!.delay(this.retries - 1), this, why);
  }
  private static retryNow(x: Exchange, why: string): void {
    x.retryTimer = null;
    if (x.done || x.down.closed) return;
    if (x.held === null) {
      x.fail(ProxyErrorKind.BAD_GATEWAY, `upstream ${why}, and the request body is too large to send again`);
      return;
    }
    x.replaying = true;
    if (!x.observer?.retry?.(x)) x.fail(ProxyErrorKind.BAD_GATEWAY, `upstream ${why}, and the request could not be sent again`);
  }

  /**
   * Lets go of the current upstream try (reset unless it is over): its response is not the client's.
   * Body bytes written to it but not yet credited to the client are credited now: they are held,
   * and the next try gets them again.
   */
  private dropUpstream(): void {
    const old = this.up!;
    this.up = null;
    old.handler = null;
    old.autoConsume = true;
    if (!old.closed) old.reset(ErrorCode.CANCEL);
    this.upOwed = 0;
    this.upBytes = 0;
    if (this.downOwed > 0) {
      const n = this.downOwed;
      this.downOwed = 0;
      this.down.consume(n);
    }
  }

  /** Keeps a request body chunk to send again, while it may be needed and fits. */
  private hold(data: Buffer): void {
    if (this.responded && this.retryState === null) { this.held = null; return; }
    this.heldBytes += data.length;
    if (this.heldBytes > REPLAY_LIMIT) this.held = null; // streamed beyond what we hold: it cannot be resent
    else this.held!.push(data);
  }

  private dropEarlyBody(): void {
    const early = this.early;
    this.early = null;
    if (early) for (const c of early) this.down.consume(c.length);
  }

  // ---- StreamHandler ------------------------------------------------------------------------

  onResponse(s: HttpStream, fields: FieldList, status: number, endStream: boolean): void {
    if (this.attemptTimer) { clearTimeout(this.attemptTimer); this.attemptTimer = null; }
    if (s === this.up) this.observer?.responded?.(this, status, fields);
    if (this.down.closed) return;
    if (this.retryState !== null && s === this.up && this.held !== null && this.retryState.wants(status)) {
      this.tryAgain(`status ${status}`);
      return;
    }
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    this.responded = true;
    if (this.retryState === null) this.held = null; // answered: nothing will be sent again
    this.status = status;
    if (endStream) {
      this.firstByteAt = performance.now();
      if (this.grpc) this.grpcStatus = grpcStatusOf(getField(fields, 'grpc-status'));
    }
    if (this.upgrade !== null && (status === 101 || (status === 200 && this.upIsH2))) {
      fields = withStatus(fields, this.downIsH2 ? '200' : '101');
    }
    const out = forwardFields(fields, this.responseVia, this.downIsH2);
    if (this.responseHeaders !== null) for (const m of this.responseHeaders) modifyHeaders(out, m);
    this.down.respond(out, endStream);
  }

  onInformational(_s: HttpStream, fields: FieldList): void {
    if (!this.down.closed) this.down.informational(fields);
  }

  onData(from: HttpStream, data: Buffer): void {
    if (from === this.down) {
      this.bodyReceived = true;
      if (this.mirrors !== null) for (const m of this.mirrors) m.write(data);
      if (this.held !== null) this.hold(data);
    } else {
      this.upBytes += data.length;
      if (this.firstByteAt === 0) this.firstByteAt = performance.now();
    }
    this.forward(from, data);
  }

  // Body bytes from one side to the other, credited to the sender once the other side took them.
  private forward(from: HttpStream, data: Buffer): void {
    const to = from === this.down ? this.up : this.down;
    if (to === null) {
      if (this.done) from.consume(data.length); // answered locally: the rest of the body is dropped
      else (this.early ??= []).push(data); // credited once the upstream takes it
      return;
    }
    if (to.closed) {
      from.consume(data.length);
      return;
    }
    if (to.write(data)) from.consume(data.length);
    else if (from === this.down) this.downOwed += data.length;
    else this.upOwed += data.length;
  }

  onDrain(stream: HttpStream): void {
    // `stream` took our queued bytes: credit the other side what it was owed
    if (stream === this.up && this.downOwed > 0) {
      const n = this.downOwed;
      this.downOwed = 0;
      this.down.consume(n);
    } else if (stream === this.down && this.upOwed > 0 && this.up) {
      const n = this.upOwed;
      this.upOwed = 0;
      this.up.consume(n);
    }
  }

  onTrailers(from: HttpStream, fields: FieldList): void {
    const to = from === this.down ? this.up : this.down;
    if (from !== this.down && this.grpc) this.grpcStatus = grpcStatusOf(getField(fields, 'grpc-status'));
    if (this.mirrors !== null && from === this.down) for (const m of this.mirrors) m.end(forwardFields(fields, null, true, MESH_HOP));
    if (to && !to.closed) to.end(undefined, forwardFields(fields, null, to === this.up ? this.upIsH2 : this.downIsH2, MESH_HOP));
  }

  onEnd(from: HttpStream): void {
    if (from === this.up) this.finish(true);
    if (this.mirrors !== null && from === this.down && !from.trailers) for (const m of this.mirrors) m.end();
    if (from.trailers) return; // ended by trailers, already forwarded
    const to = from === this.down ? this.up : this.down;
    if (to && !to.closed) to.end();
  }

  /**
   * RST_STREAM(NO_ERROR) from the upstream after its response: RFC 9113 §8.1 lets a server that has
   * sent its complete response stop the rest of the request that way. The response is the
   * client's, whole: what is queued for the client still goes out, and it ends normally (the rest
   * of the request body is dropped as it arrives). A server may send it before its END_STREAM has
   * gone out (Node's http2 server does, when flow control holds its last bytes): then the response
   * is whole if it has all the bytes its content-length declared, or declared none; a response
   * short of its content-length was cut off, and is reset. Returns false in that case.
   */
  private upstreamDone(up: HttpStream): boolean {
    if (up.remoteEnded) return true; // ended before the reset: already forwarded, nothing to undo
    const declared = up.headers !== null ? getField(up.headers, 'content-length') : undefined;
    if (declared !== undefined && Number(declared) !== this.upBytes) return false;
    if (this.grpc && up.trailers === null) return false; // a gRPC response without its status is not whole
    this.finish(true);
    if (!this.down.closed) this.down.end();
    return true;
  }

  private finish(ok: boolean): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.attemptTimer) { clearTimeout(this.attemptTimer); this.attemptTimer = null; }
    if (this.retryTimer) { clearTimeout(this.retryTimer); this.retryTimer = null; }
    if (this.waiting !== null) { this.waiting.cancel(); this.waiting = null; }
    if (this.done) return;
    this.done = true;
    this.observer?.exchangeDone(this, ok);
    if (this.onDone !== null) this.onDone();
    if (this.recorder !== null) {
      this.endedAt = performance.now();
      if (this.firstByteAt === 0) this.firstByteAt = this.endedAt;
      this.recorder.ended(this);
    }
  }

  onReset(from: HttpStream, error: StreamResetError): void {
    if (from === this.up && error.code === ErrorCode.NO_ERROR && this.responded && !error.refused && this.upstreamDone(from)) return;
    if (from === this.up && error.refused && !this.responded && !this.done && this.held !== null &&
        this.refusals < MAX_REFUSALS && !this.down.closed) {
      // never processed upstream (RFC 9113 §8.7), whatever its method: send it again, with the body
      // so far, on another stream or connection (for the outbound, on a fresh pick of endpoint)
      this.refusals++;
      this.dropUpstream();
      this.replaying = true;
      if (this.observer?.retry ? this.observer.retry(this) : restartUpstream(this)) return;
      this.replaying = false;
    }
    if (!this.done) {
      if (from === this.down) this.error = 'client_reset';
      else if (this.responded) this.error = 'upstream_reset';
      else if (this.grpc) { this.status = 200; this.grpcStatus = proxyErrorStatus(error.refused ? ProxyErrorKind.UNAVAILABLE : ProxyErrorKind.BAD_GATEWAY, true); }
      else this.status = proxyErrorStatus(error.refused ? ProxyErrorKind.UNAVAILABLE : ProxyErrorKind.BAD_GATEWAY, false);
    }
    this.finish(false);
    if (from === this.down) {
      // the client went away: stop the upstream work, and the mirrors' (their requests are cut short)
      if (this.mirrors !== null) for (const m of this.mirrors) m.abort();
      if (this.up && !this.up.closed) this.up.reset(ErrorCode.CANCEL);
      return;
    }
    if (this.down.closed) return;
    if (!this.responded) {
      if (error.refused) this.fail(ProxyErrorKind.UNAVAILABLE, `upstream refused the stream (${error.message})`);
      else this.fail(ProxyErrorKind.BAD_GATEWAY, `upstream ${error.message}`);
    } else {
      this.down.reset(error.code === ErrorCode.NO_ERROR ? ErrorCode.CANCEL : error.code);
    }
  }
}

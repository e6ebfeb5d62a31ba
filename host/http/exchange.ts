// One proxied request: a downstream stream (from the client) bridged to an upstream stream (to the
// next hop). Bodies move chunk by chunk with end-to-end flow control: a chunk received on one side
// is credited back to its sender only once the other side has taken it (its queue under the
// high-water mark), so a slow reader slows the writer instead of growing the proxy's memory.
// Cancellation propagates both ways; failures before a response become explicit proxy errors.
import type { FieldList } from '../core/fields.js';
import { ErrorCode } from '../core/reasons.js';
import type { H2Session, H2Stream, StreamHandler, StreamResetError } from '../transport/h2-session.js';
import { forwardFields, isGrpc, VIA_H2 } from './headers.js';
import { respondProxyError, ProxyErrorKind } from './proxy-error.js';

/** Told once when an exchange is over (the response ended, or either side failed). */
export interface ExchangeObserver {
  exchangeDone(exchange: Exchange, ok: boolean): void;
}

export class Exchange implements StreamHandler {
  readonly down: H2Stream;
  up: H2Stream | null = null;
  /** Whoever picked the upstream (a balancer's endpoint) and wants to know when it is over. */
  observer: ExchangeObserver | null = null;
  /** Opaque to the exchange: the observer's per-request data (e.g. the endpoint). */
  tag: unknown = null;
  private done = false;
  private grpc: boolean;
  private responded = false;
  // bytes received but not yet credited back, per side, waiting for the other side to drain
  private downOwed = 0;
  private upOwed = 0;

  constructor(down: H2Stream) {
    this.down = down;
    this.grpc = isGrpc(down.headers!);
    down.handler = this;
    down.autoConsume = false;
  }

  /** Opens the upstream stream on `session` with the request head `fields`. */
  start(session: H2Session, fields: FieldList): void {
    const down = this.down;
    if (down.closed) return;
    let up: H2Stream;
    try {
      up = session.request(fields, down.remoteEnded);
    } catch (err) {
      this.fail(ProxyErrorKind.UNAVAILABLE, `upstream refused a new stream: ${(err as Error).message}`);
      return;
    }
    this.up = up;
    up.handler = this;
    up.autoConsume = false;
  }

  /** Answers the client with a proxy error (status or grpc-status) if nothing was sent yet; else resets. */
  fail(kind: ProxyErrorKind, message: string): void {
    this.finish(false);
    const down = this.down;
    if (this.up && !this.up.closed) this.up.reset(ErrorCode.CANCEL);
    if (down.closed) return;
    if (this.responded) down.reset(ErrorCode.INTERNAL_ERROR);
    else {
      this.responded = true;
      respondProxyError(down, kind, message, this.grpc);
    }
  }

  // ---- StreamHandler ------------------------------------------------------------------------

  onResponse(_s: H2Stream, fields: FieldList, _status: number, endStream: boolean): void {
    if (this.down.closed) return;
    this.responded = true;
    this.down.respond(forwardFields(fields, VIA_H2, true), endStream);
  }

  onInformational(_s: H2Stream, fields: FieldList): void {
    if (!this.down.closed) this.down.informational(fields);
  }

  onData(from: H2Stream, data: Buffer): void {
    const to = from === this.down ? this.up : this.down;
    if (to === null || to.closed) {
      from.consume(data.length);
      return;
    }
    if (to.write(data)) from.consume(data.length);
    else if (from === this.down) this.downOwed += data.length;
    else this.upOwed += data.length;
  }

  onDrain(stream: H2Stream): void {
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

  onTrailers(from: H2Stream, fields: FieldList): void {
    const to = from === this.down ? this.up : this.down;
    if (to && !to.closed) to.end(undefined, forwardFields(fields, null, true));
  }

  onEnd(from: H2Stream): void {
    if (from === this.up) this.finish(true);
    if (from.trailers) return; // ended by trailers, already forwarded
    const to = from === this.down ? this.up : this.down;
    if (to && !to.closed) to.end();
  }

  private finish(ok: boolean): void {
    if (this.done) return;
    this.done = true;
    this.observer?.exchangeDone(this, ok);
  }

  onReset(from: H2Stream, error: StreamResetError): void {
    this.finish(false);
    if (from === this.down) {
      // the client went away: stop the upstream work
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

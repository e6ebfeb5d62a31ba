// RequestMirror: a copy of a request sent to another backend, fire-and-forget. The copy never
// affects the real request: its response is read and dropped, its failures are ignored, and it is
// abandoned rather than waited for when it cannot keep up (more than MIRROR_BUFFER bytes of the
// body queued for it), so a slow mirror never slows the client or grows the proxy's memory.
import type { FieldList } from '../core/fields.js';
import { ErrorCode } from '../core/reasons.js';
import type { HttpStream, StreamHandler } from '../http/stream.js';
import { H2Pool } from '../transport/h2-pool.js';
import type { H1Pool, H1ClientConnection } from '../transport/h1-client.js';
import type { H2Session } from '../transport/h2-session.js';
import type { PoolQueue, PoolWaiter } from '../transport/pool-queue.js';

export const MIRROR_BUFFER = 1 << 20;

export class Mirror implements StreamHandler, PoolWaiter<H2Session | H1ClientConnection> {
  private up: HttpStream | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private ended = false;
  private endTrailers: FieldList | undefined;
  private dead = false;
  queuedAt = 0;
  queue: PoolQueue<H2Session | H1ClientConnection> | null = null;

  /** Opens the copy of a request head `fields` on `pool`; `headOnly` when no body will follow. */
  constructor(private pool: H2Pool | H1Pool, private fields: FieldList, headOnly: boolean) {
    this.ended = headOnly;
    (pool as { wait(w: PoolWaiter<unknown>): void }).wait(this);
  }

  get abandoned(): boolean { return this.dead; }

  /** A connection with room (at once, or after waiting in the pool's queue). */
  granted(conn: H2Session | H1ClientConnection): void {
    if (this.dead) {
      if (!(this.pool instanceof H2Pool)) this.pool.release(conn as H1ClientConnection);
      return;
    }
    const headOnly = this.ended && this.pending.length === 0;
    let up: HttpStream;
    try {
      up = this.pool instanceof H2Pool ? (conn as H2Session).request(this.fields, headOnly) : (conn as H1ClientConnection).request(this.fields, headOnly);
    } catch {
      this.abort(); // the connection could not take the stream after all: a mirror is not retried
      return;
    }
    this.attach(up);
  }

  failed(): void { this.abort(); }

  private attach(up: HttpStream): void {
    this.up = up;
    up.handler = this;
    up.autoConsume = true;
    for (const chunk of this.pending) up.write(chunk);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.ended && !up.localEnded) up.end(undefined, this.endTrailers);
  }

  /** A piece of the request body (the same bytes go to the real upstream). */
  write(chunk: Buffer): void {
    if (this.dead) return;
    if (this.up === null) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes > MIRROR_BUFFER) this.abort();
      return;
    }
    this.up.write(chunk);
    if (this.up.bufferedAmount > MIRROR_BUFFER) this.abort();
  }

  end(trailers?: FieldList): void {
    if (this.dead || this.ended) return;
    this.ended = true;
    this.endTrailers = trailers;
    if (this.up && !this.up.localEnded) this.up.end(undefined, trailers);
  }

  /** Gives up on the copy (the client went away, or the mirror fell behind). */
  abort(): void {
    if (this.dead) return;
    this.dead = true;
    this.pending = [];
    this.queue?.abandon(this);
    if (this.up && !this.up.closed) this.up.reset(ErrorCode.CANCEL);
  }

  // The mirror's response goes nowhere.
  onResponse(): void {}
  onInformational(): void {}
  onData(): void {}
  onTrailers(): void {}
  onEnd(): void { this.dead = true; }
  onReset(): void { this.dead = true; }
  onDrain(): void {}
}

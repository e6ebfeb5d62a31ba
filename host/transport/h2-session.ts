// An HTTP/2 connection on a socket, for either role, built on the wasm core (H2Connection).
// The session owns the socket's reads and writes; each stream is a small object with callbacks,
// not a Node stream, so a proxy can move DATA between two sessions without extra buffering layers.
// Backpressure: received DATA is credited back to the peer only when the consumer calls consume();
// sent DATA waits in the stream's queue for flow-control credit, and write() reports when the
// queue is over its high-water mark; the socket's own buffer pauses reading when the peer is slow.
import type { Socket } from 'node:net';
import { H2Connection, H2Error, describeError, type H2Handler, type H2Options, type Role } from '../core/h2-connection.js';
import type { FieldList } from '../core/fields.js';
import { ErrorCode, Reason, errorCodeName, reasonMessage } from '../core/reasons.js';
import { StreamResetError, type HttpStream, type StreamHandler } from '../http/stream.js';

export { StreamResetError };
export type { StreamHandler };

export interface H2SessionOptions extends H2Options {
  /** Pause reading when this many bytes wait in the socket's write buffer (default 1 MiB). */
  socketHighWater?: number;
  /** Per-stream queued-bytes mark above which write() returns false (default 256 KiB). */
  streamHighWater?: number;
  /** Close with SETTINGS_TIMEOUT when our SETTINGS are not acknowledged in time (default 10 s; 0: never). */
  settingsTimeoutMs?: number;
  /** GOAWAY and close a connection that has had no open stream for this long (default 5 min; 0: never). */
  idleTimeoutMs?: number;
}

export interface H2SessionEvents {
  /** Server: a new request stream. Its head is in stream.headers. */
  onStream?(stream: H2Stream): void;
  /** The session ended (socket closed); error when it ended because of one. */
  onClose?(error?: Error): void;
  onGoaway?(lastSid: number, code: number): void;
  /** Client: a stream closed or the peer's SETTINGS changed, so there may be room for another stream. */
  onRoom?(): void;
}

export class H2Stream implements HttpStream {
  readonly id: number;
  /** When set, events go here and the callback properties below are not used. */
  handler: StreamHandler | null = null;
  readonly session: H2Session;
  /** The request (server side) or the final response (client side) head. */
  headers: FieldList | null = null;
  status = 0;
  trailers: FieldList | null = null;
  remoteEnded = false;
  localEnded = false;
  closed = false;

  // consumer callbacks
  onResponse?: (fields: FieldList, status: number, endStream: boolean) => void;
  onInformational?: (fields: FieldList, status: number) => void;
  onData?: (data: Buffer, endStream: boolean) => void;
  onTrailers?: (fields: FieldList) => void;
  onEnd?: () => void;
  onReset?: (error: StreamResetError) => void;
  onDrain?: () => void;
  /** When true (default) received DATA is credited back at once; set false to consume() it yourself. */
  autoConsume = true;

  private queue: Buffer[] = [];
  private queued = 0;
  /** write() said "wait": onDrain is owed once there is room. */
  private needDrain = false;
  private endAfterQueue = false;
  private trailersAfterQueue: FieldList | null = null;

  constructor(session: H2Session, id: number) {
    this.session = session;
    this.id = id;
  }

  /** Sends the response head (server) — or, for a client stream, nothing: use session.request. */
  respond(fields: FieldList, endStream = false): void {
    if (this.closed) return;
    try {
      this.session.conn.submitHeaders(this.id, fields, endStream);
    } catch (err) {
      this.lost(err);
      return;
    }
    this.session.flush();
    if (endStream) {
      this.localEnded = true;
      if (this.remoteEnded) this.session.forget(this);
    }
  }

  /** Sends a 1xx head before the final response (100 Continue, 103 Early Hints). */
  informational(fields: FieldList): void {
    if (this.closed) return;
    try {
      this.session.conn.submitHeaders(this.id, fields, false);
    } catch (err) {
      this.lost(err);
      return;
    }
    this.session.flush();
  }

  /**
   * The core no longer has this stream (it was reset or ended under us): it is closed, and what
   * was queued for it is dropped. Never thrown to callers: one stream's end must not take down the
   * connection or the exchange feeding it.
   */
  private lost(err: unknown): void {
    if (!(err instanceof H2Error)) throw err;
    this.dropQueue();
    this.session.forget(this);
  }

  /** Queues body bytes; false when the queue is over the high-water mark (wait for onDrain). */
  write(data: Uint8Array): boolean {
    if (this.localEnded || this.closed || this.endAfterQueue) return false;
    if (data.length > 0) {
      this.queue.push(data as Buffer);
      this.queued += data.length;
    }
    this.pump();
    const ok = this.queued < this.session.streamHighWater && !this.session.congested;
    if (!ok) this.needDrain = true;
    return ok;
  }

  /** Ends the body, optionally with a last chunk and trailers. */
  end(data?: Uint8Array, trailers?: FieldList): void {
    if (this.localEnded || this.closed || this.endAfterQueue) return;
    if (data && data.length > 0) {
      this.queue.push(data as Buffer);
      this.queued += data.length;
    }
    this.endAfterQueue = true;
    this.trailersAfterQueue = trailers ?? null;
    this.pump();
  }

  get bufferedAmount(): number { return this.queued; }

  /** Moves queued DATA into the connection as far as flow control allows. */
  pump(): void {
    if (this.closed || this.localEnded) return;
    const session = this.session;
    const conn = session.conn;
    let wrote = false;
    while (this.queue.length > 0) {
      // a peer that opens its windows but does not read its socket must not make us buffer
      // without bound (CVE-2019-9517): nothing more goes out until the socket drains
      if (session.congested) break;
      const head = this.queue[0];
      const last = this.queue.length === 1 && this.endAfterQueue && !this.trailersAfterQueue;
      let n: number;
      try {
        n = conn.submitData(this.id, head, last);
      } catch (err) {
        this.lost(err);
        return;
      }
      if (n === 0 && head.length > 0) break;
      wrote = true;
      this.queued -= n;
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
      if (last && n === head.length) this.localEnded = true;
    }
    if (this.queue.length === 0 && this.endAfterQueue && !this.localEnded) {
      try {
        if (this.trailersAfterQueue) conn.submitHeaders(this.id, this.trailersAfterQueue, true);
        else conn.submitData(this.id, Buffer.alloc(0), true);
      } catch (err) {
        this.lost(err);
        return;
      }
      this.localEnded = true;
      wrote = true;
    }
    if (wrote) session.flush();
    if ((wrote || this.needDrain) && this.queued < session.streamHighWater && !session.congested) {
      this.needDrain = false;
      if (this.handler) this.handler.onDrain(this);
      else this.onDrain?.();
    }
    if (this.localEnded && this.remoteEnded) this.session.forget(this);
  }

  /** Returns flow-control credit for received bytes (when autoConsume is false). */
  consume(n: number): void {
    this.session.conn.consume(this.id, n);
    this.session.flush();
  }

  /** RST_STREAM (CANCEL by default). */
  reset(code: number = ErrorCode.CANCEL): void {
    if (this.closed) return;
    this.session.conn.resetStream(this.id, code);
    this.session.flush();
    this.session.forget(this);
  }

  /** @internal */
  dropQueue(): void {
    this.queue = [];
    this.queued = 0;
  }
}

let pendingFlush: H2Session[] = [];
let flushScheduled = false;
function flushAll(): void {
  const list = pendingFlush;
  pendingFlush = [];
  flushScheduled = false;
  for (let i = 0; i < list.length; i++) list[i].flushNow();
}

export class H2Session implements H2Handler {
  /** The peer's SPIFFE identity when the connection is mesh mTLS (set by whoever terminated it). */
  peerIdentity: string | null = null;
  readonly conn: H2Connection;
  readonly socket: Socket;
  readonly role: Role;
  readonly streamHighWater: number;
  private socketHighWater: number;
  private streams = new Map<number, H2Stream>();
  private events: H2SessionEvents;
  private paused = false;
  private ended = false;
  private goawayReceived = false;
  private draining = false;
  private dirty = false;
  private settingsTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private idleTimeoutMs: number;
  closedError?: Error;
  /** Whether the peer's first SETTINGS frame has arrived (until then its limits are the RFC's defaults). */
  peerSettingsReceived = false;

  constructor(socket: Socket, role: Role, options: H2SessionOptions = {}, events: H2SessionEvents = {}, initial?: Buffer) {
    this.socket = socket;
    this.role = role;
    this.events = events;
    this.streamHighWater = options.streamHighWater ?? 256 * 1024;
    this.socketHighWater = options.socketHighWater ?? 1 << 20;
    this.conn = new H2Connection(role, this, options);
    this.idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
    this.armIdle();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('drain', () => this.onSocketDrain());
    socket.on('error', (err) => this.teardown(err));
    socket.on('close', () => this.teardown());
    socket.on('end', () => this.teardown());
    const settingsTimeout = options.settingsTimeoutMs ?? 10_000;
    if (settingsTimeout > 0) {
      this.settingsTimer = setTimeout(() => {
        this.conn.goaway(ErrorCode.SETTINGS_TIMEOUT);
        this.closedError = new Error('HTTP/2 connection error: SETTINGS_TIMEOUT: the peer never acknowledged our SETTINGS');
        this.flush();
        this.closeSoon();
      }, settingsTimeout);
      this.settingsTimer.unref();
    }
    this.flush();
    if (initial && initial.length > 0) this.onSocketData(initial);
  }

  private onSocketData(chunk: Buffer): void {
    if (this.ended) return;
    try {
      this.conn.receive(chunk);
      this.flush();
      // replies we cannot send yet (a peer flooding PINGs or SETTINGS and not reading, CVE-2019-9512
      // and -9515) stop us reading at once, before the next read adds more
      if (!this.paused && this.congested) {
        this.paused = true;
        this.socket.pause();
      }
    } catch (err) {
      // a bug in the core or an exception from a stream callback: this connection ends, the process does not
      this.socket.destroy(err as Error);
      return;
    }
    if (this.conn.failed) this.closeSoon();
  }

  private onSocketDrain(): void {
    if (this.socket.writableLength < this.socketHighWater) this.relieve();
  }

  /** The socket has room again: read again, and move streams held back while it was congested. */
  private relieve(): void {
    if (this.congested) return;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    for (const s of this.streams.values()) s.pump();
  }

  /** Our unsent bytes (socket buffer and output not yet flushed) are over the high-water mark. */
  get congested(): boolean {
    return this.socket.writableLength + this.conn.pendingOutput >= this.socketHighWater;
  }

  /**
   * Asks for whatever the connection has for the peer to be written. Writes are coalesced: every
   * session touched while handling one socket read (the downstream and the upstreams its streams
   * feed) is written once, after that read, as one writev — not once per frame.
   */
  flush(): void {
    if (this.dirty || this.ended) return;
    this.dirty = true;
    pendingFlush.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  }

  /** @internal Writes now. */
  flushNow(): void {
    this.dirty = false;
    if (this.ended) return;
    const out = this.conn.output();
    if (!out) return;
    const s = this.socket;
    if (out.length === 1) s.write(out[0]);
    else {
      // many small pieces (frame headers, small bodies) are cheaper copied into one write than
      // handed to writev one by one; large bodies keep going by reference
      let total = 0;
      for (let i = 0; i < out.length; i++) total += out[i].length;
      if (total <= 32768) s.write(Buffer.concat(out, total));
      else {
        s.cork();
        for (const b of out) s.write(b);
        s.uncork();
      }
    }
    // a peer that does not read our replies (PING/SETTINGS floods, slow readers) stops being read;
    // when the kernel took it all at once there will be no 'drain', so relieve here
    if (s.writableLength >= this.socketHighWater) {
      if (!this.paused) {
        this.paused = true;
        s.pause();
      }
    } else if (this.paused) {
      this.relieve();
    }
  }

  private armIdle(): void {
    if (this.idleTimeoutMs <= 0 || this.ended) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(H2Session.idleExpired, this.idleTimeoutMs, this);
    this.idleTimer.unref();
  }
  private static idleExpired(s: H2Session): void {
    if (s.streams.size === 0) s.shutdown();
  }

  /** Client: opens a stream with a request head. */
  request(fields: FieldList, endStream = false): H2Stream {
    const sid = this.conn.submitHeaders(0, fields, endStream);
    if (this.streams.size === 0) clearTimeout(this.idleTimer);
    const stream = new H2Stream(this, sid);
    if (endStream) stream.localEnded = true;
    this.streams.set(sid, stream);
    this.flush();
    return stream;
  }

  ping(payload: Buffer = Buffer.alloc(8)): void {
    this.conn.ping(payload);
    this.flush();
  }

  /** Graceful shutdown: GOAWAY, then close once the open streams are done. */
  shutdown(code: number = ErrorCode.NO_ERROR): void {
    this.draining = true;
    this.conn.goaway(code);
    this.flush();
    if (this.streams.size === 0 || code !== ErrorCode.NO_ERROR) this.closeSoon();
  }

  get streamCount(): number { return this.streams.size; }
  get isClosed(): boolean { return this.ended; }
  get canRequest(): boolean { return !this.ended && !this.goawayReceived && !this.conn.failed; }

  /** @internal */
  forget(stream: H2Stream): void {
    if (stream.closed) return;
    stream.closed = true;
    this.streams.delete(stream.id);
    if (this.streams.size === 0) this.armIdle();
    if (this.role === 'client') this.events.onRoom?.();
    // after GOAWAY either way, the connection closes once its last stream is done
    if ((this.draining || this.goawayReceived) && this.streams.size === 0) this.closeSoon();
  }

  private closeSoon(): void {
    // let the GOAWAY reach the peer, then close
    this.flushNow();
    this.socket.end();
  }

  private teardown(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.settingsTimer);
    clearTimeout(this.idleTimer);
    this.closedError = err;
    const streamErr = new StreamResetError(ErrorCode.CANCEL, err ? `connection lost: ${err.message}` : 'connection closed');
    for (const s of this.streams.values()) {
      s.closed = true;
      s.dropQueue();
      if (s.handler) s.handler.onReset(s, streamErr);
      else s.onReset?.(streamErr);
    }
    this.streams.clear();
    this.conn.destroy();
    if (!this.socket.destroyed) this.socket.destroy();
    this.events.onClose?.(err);
  }

  // ---- H2Handler: events from the core -------------------------------------------------------

  onHeaders(sid: number, fields: FieldList, endStream: boolean, kind: number, status: number): void {
    let stream = this.streams.get(sid);
    if (kind === 1) {
      // a new request (server)
      if (this.streams.size === 0) clearTimeout(this.idleTimer);
      stream = new H2Stream(this, sid);
      stream.headers = fields;
      stream.remoteEnded = endStream;
      this.streams.set(sid, stream);
      if (this.events.onStream) this.events.onStream(stream);
      else stream.reset(ErrorCode.REFUSED_STREAM);
      if (endStream && !stream.closed) stream.onEnd?.();
      return;
    }
    if (!stream) return;
    const h = stream.handler;
    if (kind === 3) {
      if (h) h.onInformational(stream, fields, status);
      else stream.onInformational?.(fields, status);
      return;
    }
    if (kind === 2) {
      stream.headers = fields;
      stream.status = status;
      stream.remoteEnded = endStream;
      if (h) h.onResponse(stream, fields, status, endStream);
      else stream.onResponse?.(fields, status, endStream);
    } else {
      stream.trailers = fields;
      stream.remoteEnded = true;
      if (h) h.onTrailers(stream, fields);
      else stream.onTrailers?.(fields);
    }
    if (endStream) this.remoteEnd(stream);
  }

  private remoteEnd(stream: H2Stream): void {
    stream.remoteEnded = true;
    if (stream.handler) stream.handler.onEnd(stream);
    else stream.onEnd?.();
    if (stream.localEnded) this.forget(stream);
  }

  onData(sid: number, data: Buffer, endStream: boolean, flowLength: number): void {
    const stream = this.streams.get(sid);
    if (!stream) {
      this.conn.consume(sid, data.length);
      return;
    }
    if (stream.autoConsume) this.conn.consume(sid, data.length);
    if (data.length > 0) {
      if (stream.handler) stream.handler.onData(stream, data, endStream);
      else stream.onData?.(data, endStream);
    }
    if (endStream) this.remoteEnd(stream);
  }

  onRstStream(sid: number, code: number, refused: boolean): void {
    const stream = this.streams.get(sid);
    if (!stream) return;
    this.forget(stream);
    stream.dropQueue();
    const err = new StreamResetError(code, `stream reset by peer: ${errorCodeName(code)}`, refused || code === ErrorCode.REFUSED_STREAM);
    if (stream.handler) stream.handler.onReset(stream, err);
    else stream.onReset?.(err);
  }

  onGoaway(lastSid: number, code: number): void {
    this.goawayReceived = true;
    this.events.onGoaway?.(lastSid, code);
    if (this.streams.size === 0) this.closeSoon();
  }

  onWindowUpdate(sid: number): void {
    if (sid === 0) {
      for (const s of this.streams.values()) s.pump();
    } else {
      this.streams.get(sid)?.pump();
    }
  }

  onStreamError(sid: number, code: number, reason: number, detail: number): void {
    const stream = this.streams.get(sid);
    if (code === 0 && reason === Reason.HEADER_LIST_TOO_LARGE) {
      // the request head was too large: answer 431 (RFC 6585) and stop the body
      if (this.role === 'server') {
        const s = new H2Stream(this, sid);
        this.streams.set(sid, s);
        s.respond([':status', '431', 'content-length', '0'], true);
        if (!s.closed) s.reset(ErrorCode.NO_ERROR);
      }
      return;
    }
    if (!stream) return;
    this.forget(stream);
    stream.dropQueue();
    const err = new StreamResetError(code, `stream error: ${describeError(code, reason)}${detail ? ` (${reasonMessage(detail)})` : ""}`);
    if (stream.handler) stream.handler.onReset(stream, err);
    else stream.onReset?.(err);
  }

  onSettings(): void {
    this.peerSettingsReceived = true;
    this.events.onRoom?.();
  }

  onSettingsAck(): void {
    clearTimeout(this.settingsTimer);
    this.settingsTimer = undefined;
  }

  onConnectionError(code: number, reason: number): void {
    const err = new Error(`HTTP/2 connection error: ${describeError(code, reason)}`);
    this.closedError = err;
  }
}

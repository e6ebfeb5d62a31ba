// An HTTP/1.1 server connection on a socket, parsed by the core. Each request becomes an
// H1ServerStream (an HttpStream, like an HTTP/2 stream) so the same Exchange proxies it.
// Pipelining: requests are answered strictly in order; a request that arrives while another is in
// progress waits (its events queued, the socket paused) until the earlier response is complete.
// Backpressure: request bodies pause the socket while the consumer has not taken them; response
// writes report the socket's buffer against a high-water mark.
import type { Socket } from 'node:net';
import { H1Parser, H1Flags, type H1Handler } from '../core/h1-parser.js';
import type { FieldList } from '../core/fields.js';
import { reasonMessage, ErrorCode } from '../core/reasons.js';
import { StreamResetError, type HttpStream, type StreamHandler } from '../http/stream.js';
import { responseHead, reasonPhrase, statusHasNoBody, statusOf, contentLengthOf } from '../http/h1-message.js';
import { writeBody, endChunked } from '../http/h1-body.js';

export interface H1ServerOptions {
  maxHeadSize?: number;
  /** Response bytes buffered on the socket above which write() returns false (default 256 KiB). */
  highWater?: number;
  /** Close a connection with no request in progress after this long (default 60 s; 0: never). */
  idleTimeoutMs?: number;
}

export interface H1ServerEvents {
  onRequest(stream: H1ServerStream): void;
  onClose?(): void;
}


export class H1ServerStream implements HttpStream {
  headers: FieldList;
  trailers: FieldList | null = null;
  remoteEnded = false;
  localEnded = false;
  closed = false;
  handler: StreamHandler | null = null;
  autoConsume = true;
  readonly minor: number;
  readonly flags: number;
  keepAlive: boolean;
  readonly isHead: boolean;
  readonly isConnect: boolean;
  /** The protocol asked for in Upgrade (lowercase), for a request that may become a tunnel. */
  upgrade: string | null = null;
  /** After 101: bytes flow raw both ways. */
  tunnel = false;
  private headSent = false;
  private chunked = false;
  private noBody = false;
  private unconsumed = 0;

  constructor(readonly conn: H1ServerConnection, headers: FieldList, flags: number, minor: number) {
    this.headers = headers;
    this.flags = flags;
    this.minor = minor;
    this.keepAlive = (flags & H1Flags.KEEP_ALIVE) !== 0;
    this.isHead = headers[1] === 'HEAD';
    this.isConnect = (flags & H1Flags.CONNECT) !== 0;
  }

  get responded(): boolean { return this.headSent; }
  get bufferedAmount(): number { return this.conn.socket.writableLength; }

  respond(fields: FieldList, endStream = false): void {
    if (this.headSent || this.closed) return;
    this.headSent = true;
    const status = statusOf(fields);
    if (this.isConnect && status >= 200 && status < 300) {
      // RFC 9110 §9.3.6: a 2xx to CONNECT has no framing; the connection is the tunnel now
      this.conn.socket.write(`HTTP/1.1 ${status} Connection Established\r\n\r\n`, 'latin1');
      this.tunnel = true;
      this.conn.startTunnel(this);
      return;
    }
    if (status === 101 && this.upgrade !== null) {
      // the upgrade was accepted: the connection is the tunnel's from here on
      this.conn.socket.write(responseHead(101, fields, { contentLength: -1, chunked: false }, `connection: upgrade\r\nupgrade: ${this.upgrade}\r\n`));
      this.tunnel = true;
      this.conn.startTunnel(this);
      return;
    }
    if (this.upgrade !== null || this.isConnect) this.conn.declineUpgrade(this);
    const cl = contentLengthOf(fields);
    let contentLength = -1;
    let extra = '';
    if (this.isHead || statusHasNoBody(status)) {
      this.noBody = true;
      if (this.isHead || status === 304) contentLength = cl; // describes the body not sent
    } else if (cl >= 0) {
      contentLength = cl;
    } else if (endStream) {
      contentLength = 0;
    } else if (this.minor === 1) {
      this.chunked = true;
    } else {
      this.keepAlive = false; // HTTP/1.0 without a length: the close ends the body
    }
    if (!this.keepAlive || this.conn.draining) {
      this.keepAlive = false;
      extra = 'connection: close\r\n';
    } else if (this.minor === 0) {
      extra = 'connection: keep-alive\r\n';
    }
    this.conn.socket.write(responseHead(status, fields, { contentLength, chunked: this.chunked }, extra));
    if (endStream) this.finish();
  }

  informational(fields: FieldList): void {
    if (this.headSent || this.closed || this.minor === 0) return; // no 1xx to HTTP/1.0 clients
    const status = statusOf(fields);
    if (status === 101) return; // upgrades are answered by the tunnel code, not relayed
    this.conn.socket.write(responseHead(status, fields, { contentLength: -1, chunked: false }));
  }

  write(data: Uint8Array): boolean {
    if (!this.headSent || this.localEnded || this.closed) return false;
    if (this.noBody || data.length === 0) return true;
    return writeBody(this.conn.socket, data, this.chunked && !this.tunnel, this.conn.highWater);
  }

  end(data?: Uint8Array, trailers?: FieldList): void {
    if (this.localEnded || this.closed) return;
    if (!this.headSent) this.respond([':status', '200'], false);
    if (data && data.length > 0) this.write(data);
    if (this.tunnel) {
      this.localEnded = true;
      this.conn.socket.end();
      return;
    }
    if (this.chunked) endChunked(this.conn.socket, trailers);
    this.finish();
  }

  consume(n: number): void {
    this.unconsumed -= n;
    this.conn.bodyConsumed(this.unconsumed);
  }

  /** There is no way to abort one HTTP/1.1 response but closing its connection. */
  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.socket.destroy();
  }

  private finish(): void {
    this.localEnded = true;
    this.conn.streamDone(this);
  }

  /** @internal from the connection */
  deliver(data: Buffer): void {
    if (this.closed) return;
    if (!this.autoConsume) {
      this.unconsumed += data.length;
      this.conn.bodyPending(this.unconsumed);
    }
    this.handler?.onData(this, data, false);
  }
}

type Queued = { kind: 0; fields: FieldList; flags: number; minor: number } | { kind: 1; data: Buffer } | { kind: 2; trailers: FieldList | null };

export class H1ServerConnection implements H1Handler {
  readonly socket: Socket;
  readonly highWater: number;
  draining = false;
  private parser: H1Parser;
  private current: H1ServerStream | null = null;
  private tunnelStream: H1ServerStream | null = null;
  private peerEnded = false;
  private queue: Queued[] = [];
  private paused = false;
  private ended = false;
  private idleTimer?: NodeJS.Timeout;
  private idleTimeoutMs: number;

  constructor(socket: Socket, private events: H1ServerEvents, options: H1ServerOptions = {}, initial?: Buffer) {
    this.socket = socket;
    this.highWater = options.highWater ?? 256 * 1024;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.parser = new H1Parser('request', this, { maxHeadSize: options.maxHeadSize });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('end', () => this.onSocketEnd());
    socket.on('close', () => this.teardown());
    socket.on('error', () => this.teardown());
    socket.on('drain', () => {
      const c = this.current;
      if (c && c.handler) c.handler.onDrain(c);
    });
    this.armIdle();
    if (initial && initial.length > 0) this.onSocketData(initial);
  }

  private armIdle(): void {
    if (this.idleTimeoutMs <= 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => { if (!this.current) this.socket.end(); }, this.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private onSocketData(chunk: Buffer): void {
    if (this.tunnelStream) {
      this.tunnelStream.deliver(chunk);
      return;
    }
    if (this.ended) return;
    try {
      this.parser.execute(chunk);
    } catch (err) {
      this.socket.destroy(err as Error);
    }
  }

  private onSocketEnd(): void {
    const t = this.tunnelStream;
    if (t) {
      if (!t.remoteEnded && !t.closed) {
        t.remoteEnded = true;
        t.handler?.onEnd(t);
      }
      if (t.localEnded) this.socket.end();
      return;
    }
    if (this.ended) return;
    this.peerEnded = true;
    // A client EOF while a request is in flight is an abort, as hyper (Linkerd) and Envoy treat it:
    // otherwise a client that gave up is only noticed when the response is written, and the
    // upstream keeps working for nobody. Between requests, an EOF is a clean close.
    if (this.current || this.queue.length > 0) {
      this.socket.destroy();
      return;
    }
    this.parser.finish();
    this.socket.end();
  }

  // ---- H1Handler: the parser's events ----------------------------------------------------------

  onHead(fields: FieldList, flags: number, _status: number, minor: number): void {
    if (this.current || this.queue.length > 0) {
      this.queue.push({ kind: 0, fields, flags, minor });
      this.pause();
      return;
    }
    clearTimeout(this.idleTimer);
    const stream = new H1ServerStream(this, fields, flags, minor);
    stream.remoteEnded = (flags & H1Flags.HAS_BODY) === 0;
    if (flags & H1Flags.UPGRADE && !(flags & H1Flags.HAS_BODY)) {
      // may become a tunnel: the request stays open until the answer says which
      let proto = '';
      for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'upgrade') proto = fields[i + 1].split(',')[0].trim().toLowerCase();
      stream.upgrade = proto;
      stream.remoteEnded = false;
    } else if (flags & H1Flags.CONNECT) {
      stream.remoteEnded = false; // the tunnel's bytes are its body, if the CONNECT succeeds
    } else if (flags & H1Flags.UPGRADE) {
      this.parser.setTunnel(false);
    }
    this.current = stream;
    this.events.onRequest(stream);
  }

  onBody(data: Buffer): void {
    if (this.queue.length > 0) { this.queue.push({ kind: 1, data }); return; }
    this.current?.deliver(data);
  }

  onEnd(trailers: FieldList | null): void {
    if (this.queue.length > 0) { this.queue.push({ kind: 2, trailers }); return; }
    const s = this.current;
    if (!s || s.closed || s.upgrade !== null || s.isConnect) return;
    const hadBody = !s.remoteEnded;
    s.remoteEnded = true;
    if (!hadBody) return; // no body: the request was complete at its head
    const h = s.handler;
    if (trailers) {
      s.trailers = trailers;
      h?.onTrailers(s, trailers);
    }
    h?.onEnd(s);
    if (s.localEnded) this.next();
  }

  onError(status: number, reason: number): void {
    const s = this.current;
    if (s && !s.closed) {
      // the request being received is broken: its upstream is cancelled
      s.handler?.onReset(s, new StreamResetError(ErrorCode.CANCEL, `client sent a malformed request: ${reasonMessage(reason)}`));
      if (s.responded) { this.socket.destroy(); return; }
      s.closed = true;
    }
    const why = reasonMessage(reason);
    const body = `${why}\n`;
    this.socket.end(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\nskiff-proxy-error: ${why}\r\n\r\n${body}`);
    this.ended = true;
  }

  // ---- stream bookkeeping ----------------------------------------------------------------------

  /** 101 sent: from now on the socket's bytes are the stream's body, both ways. */
  startTunnel(stream: H1ServerStream): void {
    this.tunnelStream = stream;
    this.parser.setTunnel(true);
    const early = this.parser.tunnelBytes();
    if (early.length > 0) stream.deliver(early);
  }

  /** The upgrade was refused (any status but 101): the request was a plain one after all. */
  declineUpgrade(stream: H1ServerStream): void {
    stream.upgrade = null;
    stream.remoteEnded = true;
    this.parser.setTunnel(false);
  }

  /** The response is fully written. */
  streamDone(stream: H1ServerStream): void {
    if (stream !== this.current) return;
    if (!stream.keepAlive) {
      stream.closed = true;
      this.current = null;
      this.socket.end();
      this.ended = true;
      return;
    }
    // HTTP/1.1 lets the server answer before the body is all in; wait for it before the next request
    if (stream.remoteEnded) this.next();
  }

  private next(): void {
    const done = this.current;
    if (done) done.closed = true;
    this.current = null;
    if (this.draining || (this.peerEnded && this.queue.length === 0)) {
      this.socket.end();
      this.ended = true;
      return;
    }
    const q = this.queue;
    this.queue = [];
    for (let i = 0; i < q.length; i++) {
      const e = q[i];
      if (e.kind === 0) this.onHead(e.fields, e.flags, 0, e.minor);
      else if (e.kind === 1) this.onBody(e.data);
      else this.onEnd(e.trailers);
    }
    if (this.queue.length === 0) {
      this.resume();
      if (!this.current) this.armIdle();
    }
  }

  private pause(): void {
    if (!this.paused) { this.paused = true; this.socket.pause(); }
  }
  private resume(): void {
    if (this.paused) { this.paused = false; this.socket.resume(); }
  }

  /** @internal request body bytes not yet taken by the consumer */
  bodyPending(unconsumed: number): void {
    if (unconsumed >= this.highWater) this.pause();
  }
  bodyConsumed(unconsumed: number): void {
    if (unconsumed < this.highWater / 2 && this.queue.length === 0) this.resume();
  }

  /** Graceful: the response in progress closes the connection; an idle one closes now. */
  drain(): void {
    this.draining = true;
    if (!this.current) {
      this.socket.end();
      this.ended = true;
    }
  }

  private teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.ended = true;
    clearTimeout(this.idleTimer);
    const s = this.tunnelStream ?? this.current;
    this.current = null;
    if (s && !s.closed && !(s.localEnded && s.remoteEnded)) {
      s.closed = true;
      s.handler?.onReset(s, new StreamResetError(ErrorCode.CANCEL, 'client closed the connection'));
    }
    this.parser.destroy();
    this.events.onClose?.();
  }
  private tornDown = false;
}

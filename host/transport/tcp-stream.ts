// A TCP connection seen as the upstream side of an exchange: what a CONNECT tunnel ends in.
// Connecting is the "request"; once connected it "responds" 200, and then its bytes are the body
// both ways, with backpressure through write()'s return and the socket's pause/resume.
import net from 'node:net';
import type { FieldList } from '../core/fields.js';
import { ErrorCode } from '../core/reasons.js';
import { StreamResetError, type HttpStream, type StreamHandler } from '../http/stream.js';

export class TcpStream implements HttpStream {
  headers: FieldList | null = null;
  trailers: FieldList | null = null;
  remoteEnded = false;
  localEnded = false;
  closed = false;
  handler: StreamHandler | null = null;
  autoConsume = true;
  private unconsumed = 0;
  private paused = false;
  private connected = false;
  readonly socket: net.Socket;

  /** `track`: told of the connection once it is established (metrics). */
  constructor(host: string, port: number, track?: (socket: net.Socket) => void, private highWater = 256 * 1024, connectTimeoutMs = 5000) {
    const s = net.connect({ port, host, allowHalfOpen: true });
    this.socket = s;
    s.setNoDelay(true);
    const timer = setTimeout(() => s.destroy(new Error(`connect to ${host}:${port} timed out`)), connectTimeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      track?.(s);
      this.connected = true;
      this.headers = [':status', '200'];
      this.handler?.onResponse(this, this.headers, 200, false);
    });
    s.on('data', (c: Buffer) => {
      if (!this.autoConsume) {
        this.unconsumed += c.length;
        if (this.unconsumed >= this.highWater && !this.paused) { this.paused = true; s.pause(); }
      }
      this.handler?.onData(this, c, false);
    });
    s.on('end', () => {
      this.remoteEnded = true;
      this.handler?.onEnd(this);
    });
    s.on('drain', () => this.handler?.onDrain(this));
    s.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (this.closed) return;
      this.closed = true;
      const what = this.connected ? 'connection lost' : 'connect failed';
      this.handler?.onReset(this, new StreamResetError(ErrorCode.CONNECT_ERROR, `${what} to ${host}:${port}: ${err.code ?? err.message}`));
    });
    s.on('close', () => { this.closed = true; });
  }

  get bufferedAmount(): number { return this.socket.writableLength; }
  respond(): void { throw new Error('respond() on a TCP upstream'); }
  informational(): void { throw new Error('informational() on a TCP upstream'); }

  write(data: Uint8Array): boolean {
    if (this.localEnded || this.closed) return false;
    this.socket.write(data);
    return this.socket.writableLength < this.highWater;
  }

  end(data?: Uint8Array): void {
    if (this.localEnded || this.closed) return;
    if (data && data.length > 0) this.socket.write(data);
    this.localEnded = true;
    this.socket.end();
  }

  consume(n: number): void {
    this.unconsumed -= n;
    if (this.paused && this.unconsumed < this.highWater / 2) { this.paused = false; this.socket.resume(); }
  }

  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }
}

// TCP golden metrics, Linkerd's families: tcp_open_total, tcp_close_total (classification, errno),
// tcp_open_connections, tcp_read_bytes_total, tcp_write_bytes_total and tcp_connection_duration_ms.
// A connection is tracked from the moment its labels are known (for accepted connections: once
// protocol detection and any mesh TLS handshake have said who the peer is). Bytes of open
// connections are read from their sockets at scrape time, so the data path adds nothing per read.
import type net from 'node:net';
import { Histogram, DURATION_BUCKETS_MS } from './histogram.js';
import { MAX_SCOPES, type Labels } from './http-metrics.js';

export class TcpClose {
  count = 0;
  readonly duration = new Histogram(DURATION_BUCKETS_MS);
  constructor(readonly labels: Labels) {}
}

export class TcpScope {
  opened = 0;
  /** Bytes of the connections already closed (open ones are read from their sockets). */
  closedRead = 0;
  closedWritten = 0;
  readonly live = new Set<net.Socket>();
  readonly closes = new Map<string, TcpClose>();
  constructor(readonly labels: Labels) {}

  get readBytes(): number {
    let n = this.closedRead;
    for (const s of this.live) n += s.bytesRead;
    return n;
  }

  get writtenBytes(): number {
    let n = this.closedWritten;
    for (const s of this.live) n += s.bytesWritten;
    return n;
  }

  closed(errno: string, durationMs: number): void {
    let c = this.closes.get(errno);
    if (!c) this.closes.set(errno, c = new TcpClose({ ...this.labels, classification: errno === '' ? 'success' : 'failure', errno }));
    c.count++;
    c.duration.observe(durationMs);
  }
}

export class TcpMetrics {
  readonly scopes = new Map<string, TcpScope>();
  private overflow: TcpScope | null = null;

  scope(labels: Labels): TcpScope {
    const key = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join('\u0000');
    let s = this.scopes.get(key);
    if (s) return s;
    if (this.scopes.size >= MAX_SCOPES) return this.overflow ??= new TcpScope({ direction: labels.direction ?? '', peer: labels.peer ?? '', overflow: 'true' });
    this.scopes.set(key, s = new TcpScope(labels));
    return s;
  }

  all(): TcpScope[] {
    return this.overflow ? [...this.scopes.values(), this.overflow] : [...this.scopes.values()];
  }

  /** Counts `socket` under `scope` until it closes (with the error code that closed it, if any). */
  track(socket: net.Socket, scope: TcpScope): void {
    if (socket.destroyed) {
      scope.opened++;
      scope.closed('', 0);
      return;
    }
    const start = performance.now();
    let errno = '';
    scope.opened++;
    scope.live.add(socket);
    socket.on('error', (err: NodeJS.ErrnoException) => { if (errno === '') errno = err.code ?? 'EIO'; });
    socket.once('close', () => {
      scope.live.delete(socket);
      scope.closedRead += socket.bytesRead;
      scope.closedWritten += socket.bytesWritten;
      scope.closed(errno, performance.now() - start);
    });
  }
}

// TCP golden metrics, Linkerd's families: tcp_open_total, tcp_close_total (classification, errno),
// tcp_open_connections, tcp_read_bytes_total, tcp_write_bytes_total and tcp_connection_duration_ms.
// A connection is tracked from the moment its labels are known (for accepted connections: once
// protocol detection and any mesh TLS handshake have said who the peer is). Bytes of open
// connections are read from their sockets at scrape time, so the data path adds nothing per read.
import type net from 'node:net';
import { Histogram, DURATION_BUCKETS_MS } from './histogram.js';
import type { Labels } from './http-metrics.js';
import { LabelSets, type Retained } from './label-sets.js';

export class TcpClose {
  count = 0;
  readonly duration = new Histogram(DURATION_BUCKETS_MS);
  constructor(readonly labels: Labels) {}
}

export class TcpScope implements Retained<TcpScope> {
  opened = 0;
  /** performance.now() of the last close (or of the set's creation). */
  lastActive = performance.now();
  evicted = false;
  replacedBy: TcpScope | null = null;
  /** Bytes of the connections already closed (open ones are read from their sockets). */
  closedRead = 0;
  closedWritten = 0;
  readonly live = new Set<net.Socket>();
  readonly closes = new Map<string, TcpClose>();
  constructor(readonly labels: Labels) {}

  idleFor(now: number): number { return this.live.size > 0 ? 0 : now - this.lastActive; }

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
  private readonly sets = new LabelSets<TcpScope>(
    (labels) => new TcpScope(labels),
    (labels) => ({ direction: labels.direction ?? '', peer: labels.peer ?? '', overflow: 'true' }));

  scope(labels: Labels): TcpScope { return this.sets.get(labels); }

  /** Forgets label sets with no open connection and none closed for longer than `idleMs`. */
  evictIdle(now: number, idleMs: number): number { return this.sets.evictIdle(now, idleMs); }

  all(): TcpScope[] { return this.sets.all(); }

  /** Counts `socket` under `scope` until it closes (with the error code that closed it, if any). */
  track(socket: net.Socket, scope: TcpScope): void {
    if (scope.evicted) scope = this.sets.revive(scope);
    if (socket.destroyed) {
      scope.opened++;
      scope.lastActive = performance.now();
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
      const end = performance.now();
      scope.lastActive = end;
      scope.closed(errno, end - start);
    });
  }
}

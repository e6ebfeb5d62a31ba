// Requests waiting for a pooled upstream connection with room: an HTTP/1.1 connection that is idle,
// or an HTTP/2 connection under the peer's SETTINGS_MAX_CONCURRENT_STREAMS. At a pool's limit a
// request waits here, in arrival order, instead of failing; it leaves when it is given a
// connection, when its exchange ends first (client gone, timeout), or — when the queue is full
// (`limit`, a documented bound) — at once, refused with 503.
import { Histogram, LATENCY_BUCKETS_MS } from '../metrics/histogram.js';
import { ConnectError } from './connect.js';

const WAIT_BUCKETS_S = LATENCY_BUCKETS_MS.map((ms) => ms / 1000);

/** What a pool's queue reports to metrics (one per endpoint and direction; shared by its pools). */
export class QueueStats {
  /** Requests waiting now. */
  depth = 0;
  /** Requests that had to wait, ever. */
  queued = 0;
  /** Requests refused because the queue was full. */
  rejected = 0;
  /** How long waiting requests waited, in seconds (Linkerd's latency buckets). */
  readonly wait = new Histogram(WAIT_BUCKETS_S);
}

/** A request waiting in a pool's queue. */
export interface PoolWaiter<C> {
  /** Given a connection with room (called once). */
  granted(conn: C): void;
  /** No connection can be had (called once): e.g. the endpoint refuses connections. */
  failed(err: Error): void;
  /** True once the request no longer wants a connection; the queue skips it. */
  readonly abandoned: boolean;
  /** performance.now() when it started waiting (set by the queue). */
  queuedAt: number;
  /** The queue it waits in, so that abandoning it can say so (set by the queue). */
  queue: PoolQueue<C> | null;
}

export class PoolQueue<C> {
  private items: (PoolWaiter<C> | null)[] = [];
  private head = 0;
  /** Waiters not yet given anything nor abandoned. */
  private live = 0;

  constructor(readonly limit: number, readonly stats: QueueStats) {}

  get length(): number { return this.live; }

  /** Adds a waiter; false (and counted as rejected) when `limit` are already waiting. */
  push(w: PoolWaiter<C>): boolean {
    if (this.live >= this.limit) {
      this.stats.rejected++;
      return false;
    }
    w.queuedAt = performance.now();
    w.queue = this;
    this.items.push(w);
    this.live++;
    this.stats.depth++;
    this.stats.queued++;
    return true;
  }

  /** The oldest waiter that still wants a connection (taken off the queue), or null. */
  shift(): PoolWaiter<C> | null {
    const items = this.items;
    while (this.head < items.length) {
      const w = items[this.head];
      items[this.head++] = null;
      if (w === null || w.queue !== this) continue; // abandoned (already uncounted)
      w.queue = null;
      this.live--;
      this.stats.depth--;
      if (w.abandoned) continue; // gave up without saying so: never hand it a connection
      this.stats.wait.observe((performance.now() - w.queuedAt) / 1000);
      this.compact();
      return w;
    }
    this.compact();
    return null;
  }

  /** A waiter gave up (its exchange ended): it stops counting; shift() skips it. */
  abandon(w: PoolWaiter<C>): void {
    if (w.queue !== this) return;
    w.queue = null;
    this.live--;
    this.stats.depth--;
  }

  /**
   * A pool's first word to a new waiter: false (and the waiter failed) when the pool is closed or
   * the queue is full; true when the pool should serve it (give it `ready`, or queue it: see queued).
   */
  admit(w: PoolWaiter<C>, closed: boolean, ready: C | null, where: string): 'granted' | 'queued' | 'failed' {
    if (closed) {
      w.failed(new ConnectError('pool closed', 'ECLOSED'));
      return 'failed';
    }
    if (ready !== null) {
      w.granted(ready);
      return 'granted';
    }
    if (!this.push(w)) {
      w.failed(new ConnectError(`${this.limit} requests already wait for a connection to ${where}`, 'EQUEUEFULL'));
      return 'failed';
    }
    return 'queued';
  }

  /** Fails every waiter (the pool is closing, or its endpoint cannot be reached). */
  failAll(err: Error): void {
    for (let w = this.shift(); w !== null; w = this.shift()) w.failed(err);
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

// Starts an exchange's upstream request on a pool of either protocol: at once when a connection has
// room (the common case, no promise or closure), else queued in the pool until one has; turns
// connection failures into proxy errors. The exchange remembers where it was sent, so a request the
// upstream refused unprocessed can be sent again the same way.
import type { FieldList } from '../core/fields.js';
import { H2Pool, type ConnectError } from '../transport/h2-pool.js';
import type { H2Session } from '../transport/h2-session.js';
import type { H1Pool, H1ClientConnection } from '../transport/h1-client.js';
import type { PoolQueue, PoolWaiter } from '../transport/pool-queue.js';
import type { Exchange } from './exchange.js';
import { ProxyErrorKind } from './proxy-error.js';

export type Upstream = H2Pool | H1Pool;

/** A full queue is the proxy's own overload (503); a connection that timed out a gateway timeout; anything else a bad gateway. */
function connectFailed(exchange: Exchange, what: string, err: ConnectError): void {
  // nothing of the request was sent: its observer may send it elsewhere (another endpoint)
  if (err.code !== 'EQUEUEFULL' && !exchange.isDone && !exchange.down.closed && exchange.observer?.connectFailed?.(exchange, err)) return;
  const kind = err.code === 'EQUEUEFULL' ? ProxyErrorKind.UNAVAILABLE : err.code === 'ETIMEDOUT' ? ProxyErrorKind.TIMEOUT : ProxyErrorKind.BAD_GATEWAY;
  exchange.fail(kind, `${what}: ${err.message}`);
}

function startH1(exchange: Exchange, conn: H1ClientConnection, fields: FieldList, pool: H1Pool): void {
  if (exchange.down.closed || exchange.isDone) {
    pool.release(conn);
    return;
  }
  exchange.attach(conn.request(fields, exchange.headOnly, exchange.upgrade));
}

/** One exchange waiting in a pool's queue for a connection with room. */
class QueuedRequest implements PoolWaiter<H2Session | H1ClientConnection> {
  queuedAt = 0;
  queue: PoolQueue<H2Session | H1ClientConnection> | null = null;
  constructor(readonly exchange: Exchange, readonly pool: Upstream, readonly fields: FieldList, readonly what: string) {}

  get abandoned(): boolean { return this.exchange.isDone || this.exchange.down.closed; }

  granted(conn: H2Session | H1ClientConnection): void {
    const x = this.exchange;
    if (x.waiting === this) x.waiting = null;
    if (this.pool instanceof H2Pool) x.start(conn as H2Session, this.fields);
    else startH1(x, conn as H1ClientConnection, this.fields, this.pool);
  }

  failed(err: Error): void {
    const x = this.exchange;
    if (x.waiting === this) x.waiting = null;
    connectFailed(x, this.what, err as ConnectError);
  }

  /** The exchange ended while waiting: leave the queue. */
  cancel(): void { this.queue?.abandon(this); }
}

/** Sends `fields` (an HTTP/2-shaped request head) upstream through `pool`; `what` names it in errors. */
export function startUpstream(exchange: Exchange, pool: Upstream, fields: FieldList, what: string): void {
  exchange.sentTo = pool;
  exchange.sentFields = fields;
  exchange.sentWhat = what;
  if (pool instanceof H2Pool) {
    exchange.upIsH2 = true;
    const session = pool.ready();
    if (session) {
      exchange.start(session, fields);
      return;
    }
  } else {
    exchange.upIsH2 = false;
    const conn = pool.ready();
    if (conn) {
      startH1(exchange, conn, fields, pool);
      return;
    }
  }
  const w = new QueuedRequest(exchange, pool, fields, what);
  exchange.waiting = w;
  (pool as { wait(w: PoolWaiter<unknown>): void }).wait(w);
}

/** Sends a request again where it was sent before (it was refused unprocessed); false when it never was. */
export function restartUpstream(exchange: Exchange): boolean {
  const pool = exchange.sentTo as Upstream | null;
  if (pool === null || exchange.sentFields === null) return false;
  startUpstream(exchange, pool, exchange.sentFields, exchange.sentWhat);
  return true;
}

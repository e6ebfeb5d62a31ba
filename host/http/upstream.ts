// Starts an exchange's upstream request on a pool of either protocol, without a promise when a
// connection is ready (the common case), and turns connection failures into proxy errors.
import type { FieldList } from '../core/fields.js';
import { H2Pool, type ConnectError } from '../transport/h2-pool.js';
import type { H1Pool, H1ClientConnection } from '../transport/h1-client.js';
import type { Exchange } from './exchange.js';
import { ProxyErrorKind } from './proxy-error.js';

export type Upstream = H2Pool | H1Pool;

/** A connection that timed out is a gateway timeout; anything else (refused, reset, unreachable) a bad gateway. */
function connectFailed(exchange: Exchange, what: string, err: ConnectError): void {
  exchange.fail(err.code === 'ETIMEDOUT' ? ProxyErrorKind.TIMEOUT : ProxyErrorKind.BAD_GATEWAY, `${what}: ${err.message}`);
}

function startH1(exchange: Exchange, conn: H1ClientConnection, fields: FieldList, pool: H1Pool): void {
  if (exchange.down.closed) {
    pool.release(conn);
    return;
  }
  exchange.attach(conn.request(fields, exchange.headOnly, exchange.upgrade));
}

/** Sends `fields` (an HTTP/2-shaped request head) upstream through `pool`; `what` names it in errors. */
export function startUpstream(exchange: Exchange, pool: Upstream, fields: FieldList, what: string): void {
  if (pool instanceof H2Pool) {
    exchange.upIsH2 = true;
    const session = pool.ready();
    if (session) {
      exchange.start(session, fields);
      return;
    }
    pool.acquire().then(
      (s) => exchange.start(s, fields),
      (err: ConnectError) => connectFailed(exchange, what, err),
    );
    return;
  }
  exchange.upIsH2 = false;
  const conn = pool.ready();
  if (conn) {
    startH1(exchange, conn, fields, pool);
    return;
  }
  pool.acquire().then(
    (c) => startH1(exchange, c, fields, pool),
    (err: ConnectError) => connectFailed(exchange, what, err),
  );
}

// HTTP/2 client connections to one address, reused and multiplexed. A request goes on the first
// connection with room under the peer's SETTINGS_MAX_CONCURRENT_STREAMS (before the peer's
// SETTINGS arrive, at most DEFAULT_PEER_STREAMS, as common clients assume); when every connection
// is full another is opened, up to maxConnections; beyond that the request waits in the pool's
// queue until a stream closes (RFC 9113 §5.1.2: never more streams than the peer allows). A
// connection that fails or receives GOAWAY takes no new streams.
import net from 'node:net';
import { H2Session, type H2SessionOptions } from './h2-session.js';
import { PoolQueue, QueueStats, type PoolWaiter } from './pool-queue.js';
import { ConnectError, whenConnected } from './connect.js';

export { ConnectError };

export interface H2PoolOptions {
  /** Connections to keep at most (default 4). */
  maxConnections?: number;
  /** Requests that may wait for room at most (default 100,000); beyond, they are refused. */
  maxPending?: number;
  /** Give up connecting after this long (default 5 s). */
  connectTimeoutMs?: number;
  session?: H2SessionOptions;
  /** Makes the socket (e.g. a TLS connection); default plain TCP. */
  connect?: (host: string, port: number) => net.Socket;
  /** Told of each connection once it is established (metrics). */
  track?: (socket: net.Socket) => void;
  /** Where the queue's depth, waits and refusals are counted (metrics). */
  queueStats?: QueueStats;
}

const MAX_CONCURRENT_STREAMS = 3;
/** Streams opened on a connection before the peer's SETTINGS say how many it allows. */
export const DEFAULT_PEER_STREAMS = 100;
export const DEFAULT_MAX_PENDING = 100_000;

export class H2Pool {
  readonly host: string;
  readonly port: number;
  private sessions: H2Session[] = [];
  private connecting = 0;
  private options: H2PoolOptions;
  private closed = false;
  private queue: PoolQueue<H2Session>;
  private grantScheduled = false;
  private readonly maxConnections: number;

  constructor(host: string, port: number, options: H2PoolOptions = {}) {
    this.host = host;
    this.port = port;
    this.options = options;
    this.maxConnections = options.maxConnections ?? 4;
    this.queue = new PoolQueue(options.maxPending ?? DEFAULT_MAX_PENDING, options.queueStats ?? new QueueStats());
  }

  /** Streams `s` may open now under the peer's limit (0 when it takes no new streams). */
  private room(s: H2Session): number {
    if (!s.canRequest) return 0;
    let limit = s.conn.remoteSetting(MAX_CONCURRENT_STREAMS);
    if (!s.peerSettingsReceived && limit > DEFAULT_PEER_STREAMS) limit = DEFAULT_PEER_STREAMS;
    return limit - s.streamCount;
  }

  /** A connected session with room for one more stream, without waiting; null when none. */
  ready(): H2Session | null {
    if (this.queue.length > 0) return null; // first come, first served
    return this.withRoom();
  }

  private withRoom(): H2Session | null {
    const list = this.sessions;
    for (let i = 0; i < list.length; i++) if (this.room(list[i]) > 0) return list[i];
    return null;
  }

  /**
   * Waits for a session with room: given at once when one has it, else queued (opening another
   * connection when the pool may). Fails the waiter when the queue is full or the pool is closed.
   */
  wait(w: PoolWaiter<H2Session>): void {
    if (this.queue.admit(w, this.closed, this.closed ? null : this.ready(), `${this.host}:${this.port}`) === 'queued') this.grant();
  }

  /** Gives queued requests the room there is, and opens a connection when they need more. */
  private grant(): void {
    this.grantScheduled = false;
    while (this.queue.length > 0) {
      const s = this.withRoom();
      if (!s) break;
      const w = this.queue.shift();
      if (w === null) break;
      w.granted(s);
    }
    this.prune();
    if (this.queue.length > 0 && this.connecting === 0 && this.sessions.length < this.maxConnections && !this.closed) this.open();
  }

  /** Room may have appeared (a stream closed, the peer's SETTINGS came): serve the queue soon. */
  private roomChanged = (): void => {
    if (this.queue.length === 0 || this.grantScheduled) return;
    this.grantScheduled = true;
    queueMicrotask(() => this.grant());
  };

  private prune(): void {
    if (this.sessions.some((s) => !s.canRequest)) this.sessions = this.sessions.filter((s) => s.canRequest);
  }

  private open(): void {
    let socket: net.Socket;
    try {
      socket = this.options.connect ? this.options.connect(this.host, this.port) : net.connect(this.port, this.host);
    } catch (err) {
      // e.g. mesh TLS without a certificate yet: the waiters learn why now (later ones try again)
      if (this.sessions.length === 0) this.queue.failAll(new ConnectError(`connect to ${this.host}:${this.port}: ${(err as Error).message}`, 'ECONNECT'));
      return;
    }
    this.connecting++;
    whenConnected(socket, `${this.host}:${this.port}`, this.options.connectTimeoutMs ?? 5000, () => {
      this.connecting--;
      if (this.closed) {
        socket.destroy();
        return;
      }
      this.options.track?.(socket);
      const session = new H2Session(socket, 'client', this.options.session, {
        onClose: () => {
          this.sessions = this.sessions.filter((x) => x !== session);
          this.roomChanged();
        },
        onGoaway: this.roomChanged,
        onRoom: this.roomChanged,
      });
      this.sessions.push(session);
      this.grant();
    }, (err) => {
      this.connecting--;
      // waiters can still be served by live connections; with none, the endpoint is unreachable
      this.prune();
      if (this.sessions.length === 0) this.queue.failAll(err);
      else this.grant();
    });
  }

  get size(): number { return this.sessions.length; }
  /** Requests waiting for room now. */
  get pending(): number { return this.queue.length; }

  /** Stops new streams; open ones finish, then the connections close. Waiting requests fail. */
  close(): void {
    this.closed = true;
    for (const s of this.sessions) s.shutdown();
    this.queue.failAll(new ConnectError('pool closed', 'ECLOSED'));
  }

  destroy(): void {
    this.closed = true;
    for (const s of this.sessions) s.socket.destroy();
    this.sessions = [];
    this.queue.failAll(new ConnectError('pool closed', 'ECLOSED'));
  }
}

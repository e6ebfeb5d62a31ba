// HTTP/2 client connections to one address, reused and multiplexed: a request goes on the first
// connection with room under the peer's SETTINGS_MAX_CONCURRENT_STREAMS; another connection is
// opened only when all are full. A connection that fails or receives GOAWAY takes no new streams.
import net from 'node:net';
import { H2Session, type H2SessionOptions } from './h2-session.js';

export interface H2PoolOptions {
  /** Connections to keep at most (default 4). */
  maxConnections?: number;
  /** Give up connecting after this long (default 5 s). */
  connectTimeoutMs?: number;
  session?: H2SessionOptions;
  /** Makes the socket (e.g. a TLS connection); default plain TCP. */
  connect?: (host: string, port: number) => net.Socket;
  /** Told of each connection once it is established (metrics). */
  track?: (socket: net.Socket) => void;
}

export class ConnectError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
  override get name(): string { return 'ConnectError'; }
}

const MAX_CONCURRENT_STREAMS = 3;

export class H2Pool {
  readonly host: string;
  readonly port: number;
  private sessions: H2Session[] = [];
  private connecting: Promise<H2Session> | null = null;
  private options: H2PoolOptions;
  private closed = false;

  constructor(host: string, port: number, options: H2PoolOptions = {}) {
    this.host = host;
    this.port = port;
    this.options = options;
  }

  /** A connected session with room for one more stream, without waiting; null when none. */
  ready(): H2Session | null {
    const list = this.sessions;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (!s.canRequest) continue;
      if (s.streamCount < s.conn.remoteSetting(MAX_CONCURRENT_STREAMS)) return s;
    }
    return null;
  }

  /** A session with room, connecting a new one if needed. */
  acquire(): Promise<H2Session> {
    const s = this.ready();
    if (s) return Promise.resolve(s);
    if (this.closed) return Promise.reject(new ConnectError('pool closed', 'ECLOSED'));
    this.prune();
    if (this.connecting) return this.connecting.then(() => this.acquire());
    if (this.sessions.length >= (this.options.maxConnections ?? 4)) {
      // all full: queue on the least loaded (the core refuses past the limit; callers retry)
      let best = this.sessions[0];
      for (const x of this.sessions) if (x.streamCount < best.streamCount) best = x;
      return Promise.resolve(best);
    }
    this.connecting = this.open().finally(() => { this.connecting = null; });
    return this.connecting;
  }

  private prune(): void {
    this.sessions = this.sessions.filter((s) => s.canRequest);
  }

  private open(): Promise<H2Session> {
    return new Promise((resolve, reject) => {
      const socket = this.options.connect ? this.options.connect(this.host, this.port) : net.connect(this.port, this.host);
      const timeout = setTimeout(() => {
        socket.destroy();
        reject(new ConnectError(`connect to ${this.host}:${this.port} timed out`, 'ETIMEDOUT'));
      }, this.options.connectTimeoutMs ?? 5000);
      const onError = (err: NodeJS.ErrnoException): void => {
        clearTimeout(timeout);
        reject(new ConnectError(`connect to ${this.host}:${this.port}: ${err.code ?? err.message}`, err.code ?? 'ECONNECT'));
      };
      socket.once('error', onError);
      const onConnect = (): void => {
        clearTimeout(timeout);
        socket.off('error', onError);
        this.options.track?.(socket);
        const session = new H2Session(socket, 'client', this.options.session, {
          onClose: () => { this.sessions = this.sessions.filter((x) => x !== session); },
        });
        this.sessions.push(session);
        resolve(session);
      };
      if ((socket as net.Socket & { encrypted?: boolean }).encrypted) socket.once('secureConnect', onConnect);
      else socket.once('connect', onConnect);
    });
  }

  get size(): number { return this.sessions.length; }

  /** Stops new streams; open ones finish, then the connections close. */
  close(): void {
    this.closed = true;
    for (const s of this.sessions) s.shutdown();
  }

  destroy(): void {
    this.closed = true;
    for (const s of this.sessions) s.socket.destroy();
    this.sessions = [];
  }
}

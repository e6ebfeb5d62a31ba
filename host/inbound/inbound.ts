// The inbound side: connections from the mesh (or any client) to this workload, forwarded to the
// local application. HTTP/2 is kept HTTP/2 to an application that speaks it; other traffic is
// relayed opaquely for now.
import net from 'node:net';
import { detectProtocol } from '../transport/detect.js';
import { H2Session, type H2SessionOptions, type H2Stream } from '../transport/h2-session.js';
import { H2Pool, ConnectError } from '../transport/h2-pool.js';
import { tunnelTcp } from '../transport/opaque.js';
import { Exchange } from '../http/exchange.js';
import { forwardFields, VIA_H2 } from '../http/headers.js';
import { ProxyErrorKind } from '../http/proxy-error.js';
import type { HostPort } from '../config/address.js';

export interface InboundOptions {
  app: HostPort;
  detectTimeoutMs: number;
  session: H2SessionOptions;
}

export class Inbound {
  private appH2: H2Pool;
  private sessions = new Set<H2Session>();
  private options: InboundOptions;
  private onStreamBound = (s: H2Stream): void => this.onStream(s);

  constructor(options: InboundOptions) {
    this.options = options;
    this.appH2 = new H2Pool(options.app.host, options.app.port, { session: options.session });
  }

  /** Takes an accepted connection. */
  accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    detectProtocol(socket, this.options.detectTimeoutMs, (proto, initial) => {
      if (proto === 'h2') {
        const session = new H2Session(socket, 'server', this.options.session, {
          onStream: this.onStreamBound,
          onClose: () => this.sessions.delete(session),
        }, initial);
        this.sessions.add(session);
        socket.resume();
      } else {
        tunnelTcp(socket, initial, this.options.app.host, this.options.app.port);
      }
    });
  }

  private onStream(down: H2Stream): void {
    const exchange = new Exchange(down);
    const fields = forwardFields(down.headers!, VIA_H2, true);
    const session = this.appH2.ready();
    if (session) {
      exchange.start(session, fields);
      return;
    }
    this.appH2.acquire().then(
      (s) => exchange.start(s, fields),
      (err: ConnectError) => exchange.fail(ProxyErrorKind.BAD_GATEWAY, `application at ${this.options.app.host}:${this.options.app.port}: ${err.message}`),
    );
  }

  /** Graceful: GOAWAY to every client session; they close once their streams finish. */
  drain(): void {
    for (const s of this.sessions) s.shutdown();
  }

  get openSessions(): number { return this.sessions.size; }

  destroy(): void {
    for (const s of this.sessions) s.socket.destroy();
    this.appH2.destroy();
  }
}

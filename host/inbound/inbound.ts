// The inbound side: connections from the mesh (or any client) to this workload, forwarded to the
// local application in the protocol the request was first made in: HTTP/2 stays HTTP/2; HTTP/1.1
// — whether it arrived as HTTP/1.1 or inside the mesh's HTTP/2 marked `skiff-orig-proto` — goes to
// the application as HTTP/1.1. Other traffic is relayed as opaque TCP.
import type net from 'node:net';
import { H2Pool } from '../transport/h2-pool.js';
import { H1Pool } from '../transport/h1-client.js';
import { tunnelTcp } from '../transport/opaque.js';
import { TcpStream } from '../transport/tcp-stream.js';
import { HttpListener, type ListenerOptions } from '../transport/listener.js';
import type { Exchange } from '../http/exchange.js';
import type { FieldList } from '../core/fields.js';
import { forwardFields, getField, VIA_H1, VIA_H2, ORIG_PROTO, ORIG_PROTO_HOP } from '../http/headers.js';
import { fromExtendedConnect } from '../http/h1-message.js';
import { startUpstream } from '../http/upstream.js';
import type { HttpStream } from '../http/stream.js';
import type { HostPort } from '../config/address.js';

export interface InboundOptions extends ListenerOptions {
  app: HostPort;
  /** The application port is opaque: connections are relayed at once, with no protocol detection. */
  opaque?: boolean;
}

export class Inbound extends HttpListener {
  private appH2: H2Pool;
  private appH1: H1Pool;
  private app: HostPort;
  private appLabel: string;
  private opaque: boolean;

  constructor(options: InboundOptions) {
    // RFC 8441: WebSockets from other sidecars arrive as extended CONNECT
    super({ ...options, session: { ...options.session, enableConnectProtocol: true } });
    this.app = options.app;
    this.opaque = options.opaque ?? false;
    this.appLabel = `application at ${options.app.host}:${options.app.port}`;
    this.appH2 = new H2Pool(options.app.host, options.app.port, { session: options.session });
    this.appH1 = new H1Pool(options.app.host, options.app.port);
  }

  protected route(exchange: Exchange, fields: FieldList, down: HttpStream, isH2: boolean): void {
    const appIsH1 = !isH2 || getField(fields, ORIG_PROTO) !== undefined;
    exchange.responseVia = appIsH1 ? VIA_H1 : VIA_H2;
    exchange.upgrade = (down as { upgrade?: string | null }).upgrade ?? null;
    if (isH2 && appIsH1 && getField(fields, ':protocol') !== undefined) {
      // a WebSocket that crossed the mesh as extended CONNECT: an HTTP/1.1 Upgrade again for the app
      const g = fromExtendedConnect(fields);
      fields = g.fields;
      exchange.upgrade = g.protocol;
    }
    if (getField(fields, ':method') === 'CONNECT' && getField(fields, ':protocol') === undefined) {
      // a TCP tunnel (opaque traffic across the mesh): its bytes go to the application as they are
      exchange.upIsH2 = false;
      exchange.attach(new TcpStream(this.app.host, this.app.port));
      return;
    }
    const next = forwardFields(fields, isH2 ? VIA_H2 : VIA_H1, !appIsH1, ORIG_PROTO_HOP);
    startUpstream(exchange, appIsH1 ? this.appH1 : this.appH2, next, this.appLabel);
  }

  override accept(socket: net.Socket): void {
    // server-speaks-first protocols (MySQL, SMTP, …) would wait out detection: skip it
    if (this.opaque) tunnelTcp(socket, Buffer.alloc(0), this.app.host, this.app.port);
    else super.accept(socket);
  }

  protected onOpaque(socket: net.Socket, initial: Buffer): void {
    tunnelTcp(socket, initial, this.app.host, this.app.port);
  }

  destroy(): void {
    this.destroyConnections();
    this.appH2.destroy();
    this.appH1.destroy();
  }
}

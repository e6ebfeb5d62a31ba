// `skiff control`'s listener: TLS 1.3 with the identity service's certificate, HTTP/2 (and HTTP/1.1
// for simple clients of the identity service) on one port:
//   POST /v1/certify   the identity service (identity-service.ts): a token and a CSR → a certificate
//   POST /v1/config    the configuration stream (config-server.ts): a workload certificate → its config
// Client certificates are asked for but not required (a proxy has none until /v1/certify gives it
// one); /v1/config refuses callers without one that chains to the trust anchors.
import http2 from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse, Http2Session } from 'node:http2';
import { CERTIFY_PATH, handleCertify, loadIssuer, type IdentityServiceOptions } from './identity-service.js';
import { CONFIG_PATH } from './config-protocol.js';
import type { ConfigServer } from './config-server.js';

export interface ControlServerOptions extends IdentityServiceOptions {
  /** The configuration streams (absent: /v1/config answers 404). */
  config?: ConfigServer;
}

export type ControlServer = http2.Http2SecureServer & {
  /** Ends every connection now (close() alone waits for streams that may last for ever). */
  closeAllConnections(): void;
};

export async function createControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { issuer, key, cert, anchors } = await loadIssuer(options);
  const log = options.log ?? (() => {});
  const sessions = new Set<Http2Session>();
  const server = http2.createSecureServer({
    key, cert, ca: anchors, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3', allowHTTP1: true,
    // a config stream carries a whole namespace's objects at its start: room for it to flow; a proxy
    // opens one stream, an identity client one at a time: 100 is plenty, and bounds what a peer may hold
    settings: { initialWindowSize: 1 << 20, maxConcurrentStreams: 100 },
  }, (req: Http2ServerRequest, res: Http2ServerResponse) => {
    const path = req.url.split('?')[0];
    if (path === CERTIFY_PATH) { void handleCertify(issuer, req, res, log); return; }
    if (path === CONFIG_PATH && options.config && req.httpVersionMajor === 2) { options.config.handle(req, res); return; }
    const text = `${JSON.stringify({ reason: 'not-found', message: `skiff control answers POST ${CERTIFY_PATH}${options.config ? ` and POST ${CONFIG_PATH} (HTTP/2)` : ''}` })}\n`;
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }) as ControlServer;
  server.on('session', (s: Http2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  // HTTP/1.1 connections (identity requests) are sockets, not sessions
  const sockets = new Set<import('node:net').Socket>();
  server.on('secureConnection', (sock) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
  });
  server.closeAllConnections = () => {
    options.config?.close();
    for (const s of sessions) s.destroy();
    for (const s of sockets) s.destroy();
  };
  return server;
}

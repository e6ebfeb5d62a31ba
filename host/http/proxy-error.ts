// Errors the proxy itself answers with. Plain HTTP callers get a status and a `skiff-proxy-error`
// header saying why; gRPC callers get a trailers-only response with the matching grpc-status
// (gRPC clients read grpc-status, not the HTTP status).
import type { HttpStream } from './stream.js';

export enum ProxyErrorKind {
  /** The request cannot be forwarded as it is. */
  BAD_REQUEST,
  /** No such service or route. */
  NOT_FOUND,
  /** No endpoint could take the request (none ready, all refused, connection refused/reset). */
  UNAVAILABLE,
  /** The upstream failed after accepting the request, or answered with garbage. */
  BAD_GATEWAY,
  /** The upstream did not answer in time. */
  TIMEOUT,
  /** Denied by policy. */
  FORBIDDEN,
  /** A Server with inbound routes, none of which the request matches (gRPC: NOT_FOUND, as Linkerd). */
  NO_INBOUND_ROUTE,
  /** The configuration cannot serve the request (a route rule with no usable backend). */
  INTERNAL,
}

const STATUS: Record<ProxyErrorKind, number> = {
  [ProxyErrorKind.BAD_REQUEST]: 400,
  [ProxyErrorKind.NOT_FOUND]: 404,
  [ProxyErrorKind.UNAVAILABLE]: 503,
  [ProxyErrorKind.BAD_GATEWAY]: 502,
  [ProxyErrorKind.TIMEOUT]: 504,
  [ProxyErrorKind.FORBIDDEN]: 403,
  [ProxyErrorKind.NO_INBOUND_ROUTE]: 404,
  [ProxyErrorKind.INTERNAL]: 500,
};
// https://grpc.github.io/grpc/core/md_doc_statuscodes.html
const GRPC: Record<ProxyErrorKind, number> = {
  [ProxyErrorKind.BAD_REQUEST]: 13, // INTERNAL
  [ProxyErrorKind.NOT_FOUND]: 12, // UNIMPLEMENTED
  [ProxyErrorKind.UNAVAILABLE]: 14,
  [ProxyErrorKind.BAD_GATEWAY]: 14,
  [ProxyErrorKind.TIMEOUT]: 4, // DEADLINE_EXCEEDED
  [ProxyErrorKind.FORBIDDEN]: 7, // PERMISSION_DENIED
  [ProxyErrorKind.NO_INBOUND_ROUTE]: 5, // NOT_FOUND
  [ProxyErrorKind.INTERNAL]: 13, // INTERNAL
};

/** The status (gRPC: the grpc-status) a proxy error answers with. */
export function proxyErrorStatus(kind: ProxyErrorKind, grpc: boolean): number {
  return grpc ? GRPC[kind] : STATUS[kind];
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec). */
export function grpcMessage(msg: string): string {
  return msg.replace(/[^\x20-\x24\x26-\x7e]/g, (c) => encodeURIComponent(c));
}

/** Header-safe text: the message goes into a field value. */
export function headerSafe(msg: string): string {
  return msg.replace(/[^\x20-\x7e]/g, ' ').trim().slice(0, 300);
}

export function respondProxyError(down: HttpStream, kind: ProxyErrorKind, message: string, grpc: boolean): void {
  const why = headerSafe(message);
  if (grpc) {
    down.respond([':status', '200', 'content-type', 'application/grpc', 'grpc-status', String(GRPC[kind]),
      'grpc-message', grpcMessage(why), 'skiff-proxy-error', why], true);
    return;
  }
  const body = Buffer.from(`${why}\n`);
  down.respond([':status', String(STATUS[kind]), 'content-type', 'text/plain; charset=utf-8',
    'content-length', String(body.length), 'skiff-proxy-error', why], false);
  down.end(body);
}

// What one side of a proxied exchange looks like, whatever the protocol under it: an HTTP/2 stream,
// an HTTP/1.1 request on a server connection, or an HTTP/1.1 request on a client connection.
// The Exchange (exchange.ts) moves heads, bodies, trailers and resets between two of these.
import type { FieldList } from '../core/fields.js';

export class StreamResetError extends Error {
  constructor(readonly code: number, message: string, readonly refused = false) {
    super(message);
  }
  override get name(): string { return 'StreamResetError'; }
}

/**
 * One object receiving a stream's events, instead of a closure per event: what a proxy's exchange
 * implements for both of its streams (it tells them apart by the `stream` argument).
 */
export interface StreamHandler {
  onResponse(stream: HttpStream, fields: FieldList, status: number, endStream: boolean): void;
  onInformational(stream: HttpStream, fields: FieldList, status: number): void;
  onData(stream: HttpStream, data: Buffer, endStream: boolean): void;
  onTrailers(stream: HttpStream, fields: FieldList): void;
  onEnd(stream: HttpStream): void;
  onReset(stream: HttpStream, error: StreamResetError): void;
  onDrain(stream: HttpStream): void;
}

export interface HttpStream {
  /** The request head (server side) or the final response head (client side), pseudo-fields first. */
  headers: FieldList | null;
  trailers: FieldList | null;
  remoteEnded: boolean;
  localEnded: boolean;
  closed: boolean;
  handler: StreamHandler | null;
  /** When true received body bytes are credited at once; the Exchange sets false and calls consume(). */
  autoConsume: boolean;
  /** Server side: the response head. */
  respond(fields: FieldList, endStream?: boolean): void;
  /** Server side: a 1xx head. */
  informational(fields: FieldList): void;
  /** Queues body bytes; false when over the high-water mark (wait for onDrain). */
  write(data: Uint8Array): boolean;
  end(data?: Uint8Array, trailers?: FieldList): void;
  /** Received body bytes the consumer has taken: lets the peer send more. */
  consume(n: number): void;
  /** Aborts (RST_STREAM on HTTP/2; closing the connection on HTTP/1.1). */
  reset(code?: number): void;
  readonly bufferedAmount: number;
}

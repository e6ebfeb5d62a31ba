// A typed handle on an HTTP/1.1 parser in the core. Feed it socket reads; it calls the handler with
// heads (as [name, value…] lists, pseudo-fields first, like HTTP/2), body slices (zero-copy when
// they lie in the chunk given), ends with trailers, and errors with the status to answer.
import { core, mem, payloadOf } from './wasm.js';
import { readFields, type FieldList } from './fields.js';

export const H1Flags = {
  KEEP_ALIVE: 1,
  CHUNKED: 2,
  HAS_BODY: 4,
  UPGRADE: 8,
  CONNECT: 16,
  EXPECT_CONTINUE: 32,
  UNTIL_CLOSE: 64,
  LENGTH: 128,
} as const;

export interface H1Handler {
  /** flags: H1Flags; status: responses only; minor: 0 or 1 (HTTP/1.x). */
  onHead(fields: FieldList, flags: number, status: number, minor: number): void;
  onBody(data: Buffer): void;
  /** The message is complete (trailers only after a chunked body that had some). */
  onEnd(trailers: FieldList | null): void;
  /** The input is not valid HTTP/1.1: answer `status` (400, 413, 414, 431, 501, 505; 502 for responses) and close. */
  onError(status: number, reason: number): void;
}

export interface H1ParserOptions {
  /** Largest request/status line plus fields (default 64 KiB; over it: 431, or 414 for the line). */
  maxHeadSize?: number;
  maxFields?: number;
}

const EVENT_BYTES = 32;

export class H1Parser {
  private id: number;
  constructor(readonly kind: 'request' | 'response', private handler: H1Handler, options: H1ParserOptions = {}) {
    this.id = core.h1_new(kind === 'request' ? 1 : 0, options.maxHeadSize ?? 65536, options.maxFields ?? 200);
  }

  /** Parses a chunk read from the socket. */
  execute(chunk: Uint8Array): void {
    const at = core.h1_input(this.id, chunk.length) >>> 0;
    mem().u8.set(chunk, at);
    let more = core.h1_parse(this.id, chunk.length, 0);
    this.dispatch(chunk, at);
    while (more) {
      more = core.h1_parse(this.id, 0, 0);
      this.dispatch(chunk, at);
    }
  }

  /** The peer closed its side: ends a body delimited by close, or reports a truncated message. */
  finish(): void {
    core.h1_input(this.id, 0);
    core.h1_parse(this.id, 0, 1);
    this.dispatch(new Uint8Array(0), 0);
  }

  /** The next response answers a HEAD request: no body whatever its fields say. */
  expectNoBody(): void { core.h1_expect_no_body(this.id); }
  /** The next response answers CONNECT: a 2xx makes the connection a tunnel. */
  expectConnect(): void { core.h1_expect_connect(this.id); }
  /** After an Upgrade/CONNECT request: true when it was accepted (bytes are tunnel data now). */
  setTunnel(on: boolean): void { core.h1_set_tunnel(this.id, on ? 1 : 0); }
  /** Bytes already read past the head of an accepted upgrade: the tunnel's first data. */
  tunnelBytes(): Buffer {
    const p = core.h1_tunnel_ptr(this.id) >>> 0;
    const n = core.h1_tunnel_len(this.id);
    return Buffer.from(mem().buf.subarray(p, p + n));
  }
  /** Content-Length of the last head (-1 when absent). */
  get contentLength(): number { return core.h1_content_length(this.id); }

  private dispatch(chunk: Uint8Array, at: number): void {
    const count = core.event_count();
    const h = this.handler;
    let p = core.events_ptr() >>> 0;
    for (let i = 0; i < count; i++, p += EVENT_BYTES) {
      const dv = mem().dv;
      const kind = dv.getInt32(p, true);
      const flags = dv.getInt32(p + 8, true);
      const a = dv.getInt32(p + 12, true);
      const b = dv.getInt32(p + 16, true);
      switch (kind) {
        case 20: h.onHead(readFields(a, b), flags, dv.getInt32(p + 20, true), dv.getInt32(p + 24, true)); break;
        case 21: h.onBody(payloadOf(chunk, at, a >>> 0, b)); break;
        case 22: h.onEnd(b > 0 ? readFields(a, b) : null); break;
        case 23: h.onError(a, b); break;
      }
    }
  }

  destroy(): void {
    if (this.id >= 0) core.h1_free(this.id);
    this.id = -1;
  }
}

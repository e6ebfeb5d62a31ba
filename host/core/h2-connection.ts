// A typed handle on one HTTP/2 connection in the core. It knows nothing of sockets: feed it what the
// socket read (`receive`), write what `output()` returns. Events are delivered to a handler object
// (no per-event closures or objects beyond the header arrays and DATA slices themselves).
import { core, mem, payloadOf } from './wasm.js';
import { readFields, writeFields, type FieldList } from './fields.js';
import { errorCodeName, reasonMessage } from './reasons.js';

export type Role = 'client' | 'server';

export interface H2Options {
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce (default 100). */
  maxConcurrentStreams?: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE we announce: per-stream receive window (default 1 MiB). */
  initialWindowSize?: number;
  /** Connection receive window (default 4 MiB): bounds what a peer can make us buffer. */
  connectionWindowSize?: number;
  /** SETTINGS_MAX_FRAME_SIZE we announce (default 16384). */
  maxFrameSize?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE we announce and enforce (default 64 KiB). */
  maxHeaderListSize?: number;
  /** SETTINGS_HEADER_TABLE_SIZE for our decoder (default 4096). */
  headerTableSize?: number;
  /** RFC 8441 extended CONNECT (servers only). */
  enableConnectProtocol?: boolean;
  /** Compressed field block bound (default 2 × maxHeaderListSize). */
  maxHeaderBlockSize?: number;
  /** Rapid-reset guard: resets allowed in a burst, and refilled per second (default 1000, 33). */
  resetBurst?: number;
  resetRate?: number;
}

export const MessageKind = { REQUEST: 1, RESPONSE: 2, INFORMATIONAL: 3, TRAILERS: 4 } as const;

export interface H2Handler {
  /** A request, response (final or 1xx) or trailers. `fields` is [name, value, …], pseudo-headers first. */
  onHeaders(sid: number, fields: FieldList, endStream: boolean, kind: number, status: number): void;
  /** DATA payload: a slice of the chunk given to receive() when it lies there, else a copy. Call consume() once done with it. */
  onData(sid: number, data: Buffer, endStream: boolean, flowLength: number): void;
  /** The peer reset the stream (refused: it was never processed, after the peer's GOAWAY). */
  onRstStream(sid: number, code: number, refused: boolean): void;
  onGoaway(lastSid: number, code: number, debug: Buffer): void;
  onPingAck?(payload: Buffer): void;
  /** Send windows grew (sid 0: the connection's, or after a SETTINGS change). */
  onWindowUpdate?(sid: number): void;
  onSettings?(): void;
  onSettingsAck?(): void;
  /** We reset the stream for a protocol reason (code 0: the request's header list was too large; answer 431). */
  onStreamError(sid: number, code: number, reason: number, detail: number): void;
  /** We sent GOAWAY with this code and will read nothing more. */
  onConnectionError(code: number, reason: number, detail: number): void;
}

export class H2Error extends Error {
  constructor(message: string, readonly code: number, readonly reason: number) {
    super(message);
  }
  override get name(): string { return 'H2Error'; }
}

export function describeError(code: number, reason: number): string {
  return `${errorCodeName(code)}: ${reasonMessage(reason)}`;
}

const EVENT_BYTES = 32;

/** Submit results (negative) from the core. */
export const SubmitError = { NO_STREAM: -1, GOAWAY: -2, TOO_MANY: -3, IDS_EXHAUSTED: -4, CLOSED: -5 } as const;

export class H2Connection {
  readonly role: Role;
  private id: number;
  // DATA payloads queued by reference, and where each goes: after the first marks[i] bytes of the
  // core's output (the frame header the core wrote for it). output() interleaves the two.
  private marks: number[] = [];
  private payloads: Buffer[] = [];
  private payloadBytes = 0;
  private handler: H2Handler;

  constructor(role: Role, handler: H2Handler, options: H2Options = {}) {
    this.role = role;
    this.handler = handler;
    const maxHeaderList = options.maxHeaderListSize ?? 65536;
    this.id = core.h2_new(
      role === 'client' ? 0 : 1,
      options.maxConcurrentStreams ?? 100,
      options.initialWindowSize ?? 1 << 20,
      options.connectionWindowSize ?? 4 << 20,
      options.maxFrameSize ?? 16384,
      maxHeaderList,
      options.headerTableSize ?? 4096,
      options.enableConnectProtocol ? 1 : 0,
      options.resetBurst ?? 1000,
      options.resetRate ?? 33,
      options.maxHeaderBlockSize ?? 0,
    );
  }

  /** Feeds bytes read from the peer. Events are delivered before this returns. */
  receive(chunk: Uint8Array, now: number = performance.now()): void {
    const id = this.id;
    let off = 0;
    // very large reads go in pieces so the input region stays modest
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, 1 << 20);
      const piece = off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n);
      const at = core.h2_input(id, n) >>> 0;
      mem().u8.set(piece, at);
      let more = core.h2_receive(id, n, now);
      this.dispatch(piece, at);
      while (more) {
        more = core.h2_receive(id, 0, now);
        this.dispatch(piece, at);
      }
      off += n;
    }
  }

  private dispatch(chunk: Uint8Array, at: number): void {
    const count = core.event_count();
    if (count === 0) return;
    const h = this.handler;
    let p = core.events_ptr() >>> 0;
    for (let i = 0; i < count; i++, p += EVENT_BYTES) {
      const dv = mem().dv; // handlers may call into the core, which may grow memory
      const kind = dv.getInt32(p, true);
      const sid = dv.getUint32(p + 4, true);
      const flags = dv.getInt32(p + 8, true);
      const a = dv.getInt32(p + 12, true);
      const b = dv.getInt32(p + 16, true);
      const c = dv.getInt32(p + 20, true);
      const d = dv.getInt32(p + 24, true);
      switch (kind) {
        case 1: h.onHeaders(sid, readFields(a, b), (flags & 1) !== 0, c, d); break;
        case 2: h.onData(sid, payloadOf(chunk, at, a >>> 0, b), (flags & 1) !== 0, c); break;
        case 3: h.onRstStream(sid, a >>> 0, b === 1); break;
        case 4: h.onGoaway(a >>> 0, b >>> 0, Buffer.from(mem().buf.subarray(c >>> 0, (c >>> 0) + d))); break;
        case 5: h.onPingAck?.(Buffer.from(mem().buf.subarray(a >>> 0, (a >>> 0) + 8))); break;
        case 6: h.onWindowUpdate?.(sid); break;
        case 7: h.onSettings?.(); h.onWindowUpdate?.(0); break;
        case 8: h.onSettingsAck?.(); break;
        case 9: h.onStreamError(sid, a >>> 0, b, c); break;
        case 10: h.onConnectionError(a >>> 0, b, c); break;
      }
    }
  }

  /**
   * Bytes to write to the peer, in order (null when there are none). Up to 32 KiB come as one Buffer
   * (core bytes and payloads each copied once, so the socket gets one write); more as pieces, the
   * payloads by reference.
   */
  output(): Buffer[] | null {
    const id = this.id;
    const coreLen = core.h2_output_len(id);
    const np = this.payloads.length;
    if (coreLen === 0 && np === 0) return null;
    const ptr = core.h2_output_ptr(id) >>> 0;
    const { buf } = mem();
    const marks = this.marks, payloads = this.payloads;
    let out: Buffer[];
    const total = coreLen + this.payloadBytes;
    if (np === 0) {
      const b = Buffer.allocUnsafe(coreLen);
      buf.copy(b, 0, ptr, ptr + coreLen);
      out = [b];
    } else if (total <= 32768) {
      const b = Buffer.allocUnsafe(total);
      let o = 0, c = 0;
      for (let i = 0; i < np; i++) {
        const m = marks[i];
        if (m > c) { buf.copy(b, o, ptr + c, ptr + m); o += m - c; c = m; }
        const d = payloads[i];
        b.set(d, o);
        o += d.length;
      }
      if (coreLen > c) buf.copy(b, o, ptr + c, ptr + coreLen);
      out = [b];
    } else {
      out = [];
      let c = 0;
      for (let i = 0; i < np; i++) {
        const m = marks[i];
        if (m > c) { const b = Buffer.allocUnsafe(m - c); buf.copy(b, 0, ptr + c, ptr + m); out.push(b); c = m; }
        out.push(payloads[i]);
      }
      if (coreLen > c) { const b = Buffer.allocUnsafe(coreLen - c); buf.copy(b, 0, ptr + c, ptr + coreLen); out.push(b); }
    }
    core.h2_output_clear(id);
    if (np > 0) {
      this.marks = [];
      this.payloads = [];
      this.payloadBytes = 0;
    }
    return out;
  }

  /** Bytes queued by submitData and control replies, not yet taken by output(). */
  get pendingOutput(): number {
    return this.payloadBytes + core.h2_output_len(this.id);
  }

  /**
   * Sends a field block. Client: sid 0 opens a new stream (returns its id). Server: a response on
   * the request's stream. On an open stream with endStream: trailers. Throws H2Error when it cannot.
   */
  submitHeaders(sid: number, fields: FieldList, endStream: boolean, sensitive?: ReadonlySet<string>): number {
    const count = writeFields(fields, sensitive);
    const r = core.h2_submit_headers(this.id, sid, count, endStream ? 1 : 0);
    if (r < 0) throw submitError(r);
    return r;
  }

  /**
   * Sends as much of `data` as flow control allows now, as one DATA frame; returns the bytes taken
   * (maybe 0: wait for onWindowUpdate). endStream is only set when all of `data` went.
   * The payload itself is queued by reference, never copied into the core.
   */
  submitData(sid: number, data: Uint8Array, endStream: boolean): number {
    const n = core.h2_submit_data(this.id, sid, data.length, endStream ? 1 : 0);
    if (n < 0) throw submitError(n);
    if (n === 0 && (data.length > 0 || !endStream)) return 0;
    if (n > 0) {
      const piece = n === data.length ? data : data.subarray(0, n);
      this.marks.push(core.h2_output_len(this.id));
      this.payloads.push(piece as Buffer);
      this.payloadBytes += n;
    }
    return n;
  }

  /** Bytes of DATA the stream may send now (-1: no such stream). */
  sendable(sid: number): number {
    return core.h2_sendable(this.id, sid);
  }

  /** Returns flow-control credit for n bytes of received DATA the application has taken. */
  consume(sid: number, n: number): void {
    if (n > 0) core.h2_consume(this.id, sid, n);
  }

  resetStream(sid: number, code: number): void {
    core.h2_submit_rst(this.id, sid, code);
  }

  ping(payload: Uint8Array): void {
    const p = core.scratch(8);
    mem().u8.set(payload.subarray(0, 8), p);
    core.h2_submit_ping(this.id);
  }

  /** GOAWAY. lastSid -1: the last stream the peer opened. A non-zero code ends the connection. */
  goaway(code = 0, lastSid = -1): void {
    core.h2_submit_goaway(this.id, code, lastSid);
  }

  get streamCount(): number { return core.h2_stream_count(this.id); }
  get failed(): boolean { return core.h2_failed(this.id) !== 0; }
  get lastPeerStreamId(): number { return core.h2_last_peer_stream(this.id); }
  /** The peer's SETTINGS value (RFC 9113 §6.5.2 identifier). */
  remoteSetting(id: number): number { return core.h2_remote_setting(this.id, id) >>> 0; }

  /** Frees the connection's memory in the core. The handle must not be used after. */
  destroy(): void {
    if (this.id >= 0) core.h2_free(this.id);
    this.id = -1;
  }
}

function submitError(r: number): H2Error {
  switch (r) {
    case SubmitError.NO_STREAM: return new H2Error('no such stream, or it has ended', r, 0);
    case SubmitError.GOAWAY: return new H2Error('the connection is going away: no new streams', r, 0);
    case SubmitError.TOO_MANY: return new H2Error("the peer's concurrent stream limit is reached", r, 0);
    case SubmitError.IDS_EXHAUSTED: return new H2Error('stream ids exhausted', r, 0);
    default: return new H2Error('the connection has failed', r, 0);
  }
}

// Loads the WebAssembly core once per process (or worker) and exposes its exports with types, plus
// views over its memory that are re-taken whenever memory grows (a grown memory detaches old views).
import { readFileSync } from 'node:fs';
import { distFile } from '../dist-files.js';

export interface CoreExports {
  memory: WebAssembly.Memory;
  scratch(n: number): number;
  events_ptr(): number;
  event_count(): number;
  field_records_ptr(): number;
  field_arena_ptr(): number;
  field_count(): number;
  h2_new(role: number, maxStreams: number, initialWindow: number, connWindow: number, maxFrame: number,
    maxHeaderList: number, tableSize: number, flags: number, resetBurst: number, resetRate: number,
    maxHeaderBlock: number): number;
  h2_free(id: number): void;
  h2_input(id: number, n: number): number;
  h2_receive(id: number, n: number, now: number): number;
  h2_output_ptr(id: number): number;
  h2_output_len(id: number): number;
  h2_output_clear(id: number): void;
  h2_submit_headers(id: number, sid: number, count: number, endStream: number): number;
  h2_submit_data(id: number, sid: number, len: number, endStream: number): number;
  h2_consume(id: number, sid: number, n: number): void;
  h2_submit_rst(id: number, sid: number, code: number): void;
  h2_submit_ping(id: number): void;
  h2_submit_goaway(id: number, code: number, lastSid: number): void;
  h2_sendable(id: number, sid: number): number;
  h2_stream_count(id: number): number;
  h2_failed(id: number): number;
  h2_last_peer_stream(id: number): number;
  h2_remote_setting(id: number, which: number): number;
  hpack_decoder_new(tableSize: number): number;
  hpack_decoder_free(id: number): void;
  hpack_decode(id: number, n: number, listLimit: number): number;
  hpack_error(id: number): number;
  hpack_decoder_table_size(id: number): number;
  hpack_decoder_set_limit(id: number, n: number): void;
  hpack_encoder_new(limit: number): number;
  hpack_encoder_free(id: number): void;
  hpack_encoder_set_peer_max(id: number, n: number): void;
  hpack_encode(id: number, count: number): number;
  hpack_encoder_output(): number;
  hpack_encoder_table_size(id: number): number;
  h1_new(isRequest: number, maxHeadSize: number, maxFields: number): number;
  h1_free(id: number): void;
  h1_input(id: number, n: number): number;
  h1_parse(id: number, n: number, eof: number): number;
  h1_content_length(id: number): number;
  h1_expect_no_body(id: number): void;
  h1_expect_connect(id: number): void;
  h1_set_tunnel(id: number, on: number): void;
  h1_tunnel_ptr(id: number): number;
  h1_tunnel_len(id: number): number;
  route_table_new(n: number): number;
  route_table_error(what: number): number;
  route_table_free(id: number): void;
  route_select(id: number, count: number): number;
  regex_new(n: number): number;
  regex_error_pos(): number;
  regex_match(id: number, n: number): number;
  regex_free(id: number): void;
  static_count(): number;
  static_name_ptr(i: number): number;
  static_name_len(i: number): number;
  static_value_ptr(i: number): number;
  static_value_len(i: number): number;
}

/** The core hit an internal assertion: a bug in Skiff, never the peer's doing. */
export class CoreAbort extends Error {
  override name = 'CoreAbort';
}

let instance: WebAssembly.Instance;

function readAsString(ptr: number): string {
  if (!ptr) return '';
  const mem = (instance.exports.memory as WebAssembly.Memory).buffer;
  const len = new Uint32Array(mem, ptr - 4, 1)[0];
  return Buffer.from(mem, ptr, len).toString('utf16le');
}

const wasmPath = distFile('core.wasm');
const wasmModule = new WebAssembly.Module(readFileSync(wasmPath));
instance = new WebAssembly.Instance(wasmModule, {
  env: {
    abort(msg: number, file: number, line: number, col: number): never {
      throw new CoreAbort(`${readAsString(msg)} at ${readAsString(file)}:${line}:${col}`);
    },
  },
});

export const core = instance.exports as unknown as CoreExports;

/** Views over linear memory. Call `mem()` after any core call that may have grown memory. */
export interface MemViews {
  buffer: ArrayBuffer;
  u8: Uint8Array;
  dv: DataView;
  /** A Buffer over all of memory, for latin1 slices without a copy through an intermediate. */
  buf: Buffer;
}
let views: MemViews = makeViews();
function makeViews(): MemViews {
  const buffer = core.memory.buffer;
  return { buffer, u8: new Uint8Array(buffer), dv: new DataView(buffer), buf: Buffer.from(buffer) };
}
export function mem(): MemViews {
  // Growing memory detaches the old ArrayBuffer (its byteLength becomes 0): a cheaper test than
  // fetching memory.buffer on every call.
  if (views.buffer.byteLength === 0) views = makeViews();
  return views;
}

type Latin1Slicer = (this: Buffer, start: number, end: number) => string;
const latin1Slice: Latin1Slicer | undefined = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slicer }).latin1Slice;

/** Bytes of linear memory as a latin1 string: lossless for any header byte, so values round-trip. */
export function latin1(ptr: number, len: number): string {
  const b = mem().buf;
  return latin1Slice ? latin1Slice.call(b, ptr, ptr + len) : b.toString('latin1', ptr, ptr + len);
}

/** RFC 7541 static table names, index 1..61, as strings the host reuses for every decoded field. */
export const STATIC_NAMES: string[] = [''];
export const STATIC_VALUES: string[] = [''];
for (let i = 1, n = core.static_count(); i <= n; i++) {
  STATIC_NAMES.push(latin1(core.static_name_ptr(i), core.static_name_len(i)));
  STATIC_VALUES.push(latin1(core.static_value_ptr(i), core.static_value_len(i)));
}

/**
 * A payload the core points at (`ptr`, `len`), as a Buffer: a view of the caller's own `chunk` when
 * the payload lies in the part of linear memory that chunk was copied to at `at` (no copy, undici's
 * trick), else a copy out of linear memory (a payload that straddled two reads).
 */
export function payloadOf(chunk: Uint8Array, at: number, ptr: number, len: number): Buffer {
  if (ptr >= at && ptr + len <= at + chunk.length) return Buffer.from(chunk.buffer, chunk.byteOffset + (ptr - at), len);
  const data = Buffer.allocUnsafe(len);
  mem().buf.copy(data, 0, ptr, ptr + len);
  return data;
}

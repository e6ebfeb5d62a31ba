// The core's ABI: the only functions the host calls (host/core/wasm.ts binds them).
// Connections and HPACK contexts are handles (small integers). Each h2_receive consumes a whole
// socket read and leaves event records (events.ts) and field records (hpack/field-list.ts) for the
// host to read before its next call; reply bytes accumulate in the connection's output.
import { Bytes } from './bytes';
import { Handles } from './handles';
import { Connection, Config } from './h2/connection';
import { events, eventCount, fields, resetEvents } from './events';
import { HpackDecoder } from './hpack/decoder';
import { HpackEncoder } from './hpack/encoder';
import { H1Parser } from './h1/parser';
import { Regex, RegexCompiler } from './route/regex';
import { RouteTable } from './route/table';
import { selectRoute } from './route/select';
import { STATIC_COUNT, staticNamePtr, staticNameLen, staticValuePtr, staticValueLen } from './hpack/static-table';

const scratchBuf = new Bytes();

/** Room for n bytes the host writes before a submit call (header fields, PING payloads, HPACK input). */
export function scratch(n: i32): usize {
  scratchBuf.len = 0;
  scratchBuf.reserve(n);
  return scratchBuf.ptr;
}

export function events_ptr(): usize { return events.ptr; }
export function event_count(): i32 { return eventCount; }
export function field_records_ptr(): usize { return fields.recs.ptr; }
export function field_arena_ptr(): usize { return fields.arena.ptr; }
export function field_count(): i32 { return fields.count; }

// ---- HTTP/2 connections ------------------------------------------------------------------------

const conns = new Handles<Connection>();
@inline function conn(id: i32): Connection { return conns.get(id); }

export const CFG_CONNECT_PROTOCOL: u32 = 1;

export function h2_new(role: u8, maxStreams: u32, initialWindow: u32, connWindow: u32, maxFrame: u32,
  maxHeaderList: u32, tableSize: u32, flags: u32, resetBurst: f64, resetRate: f64, maxHeaderBlock: i32): i32 {
  const cfg = new Config();
  cfg.role = role;
  cfg.maxConcurrentStreams = maxStreams;
  cfg.initialWindowSize = initialWindow > 0x7fffffff ? 0x7fffffff : initialWindow;
  cfg.connectionWindowSize = connWindow > 0x7fffffff ? 0x7fffffff : connWindow;
  cfg.maxFrameSize = maxFrame < 16384 ? 16384 : maxFrame > 16777215 ? 16777215 : maxFrame;
  cfg.maxHeaderListSize = maxHeaderList;
  cfg.headerTableSize = tableSize;
  cfg.enableConnectProtocol = (flags & CFG_CONNECT_PROTOCOL) != 0;
  cfg.resetBurst = resetBurst;
  cfg.resetRate = resetRate;
  cfg.maxHeaderBlock = maxHeaderBlock;
  return conns.add(new Connection(cfg));
}

export function h2_free(id: i32): void {
  conn(id).dispose();
  conns.remove(id);
}

/** Where the host writes the next n bytes read from the socket. */
export function h2_input(id: i32, n: i32): usize { return conn(id).inputPtr(n); }

/** Processes them; returns 1 when it stopped early to bound memory (call again with n = 0). */
export function h2_receive(id: i32, n: i32, now: f64): i32 {
  resetEvents();
  const c = conn(id);
  c.receive(n, now);
  return c.more ? 1 : 0;
}

export function h2_output_ptr(id: i32): usize { return conn(id).out.ptr; }
export function h2_output_len(id: i32): i32 { return conn(id).out.len; }
export function h2_output_clear(id: i32): void {
  const out = conn(id).out;
  out.len = 0;
  out.shrinkIfIdle(1 << 20);
}

export function h2_submit_headers(id: i32, sid: u32, count: i32, endStream: bool): i32 {
  return conn(id).submitHeaders(sid, scratchBuf.ptr, count, endStream);
}
export function h2_submit_data(id: i32, sid: u32, len: i32, endStream: bool): i32 {
  return conn(id).submitData(sid, len, endStream);
}
export function h2_consume(id: i32, sid: u32, n: i32): void { conn(id).consume(sid, n); }
export function h2_submit_rst(id: i32, sid: u32, code: u32): void { conn(id).submitRst(sid, code); }
export function h2_submit_ping(id: i32): void { conn(id).submitPing(scratchBuf.ptr); }
export function h2_submit_goaway(id: i32, code: u32, lastSid: i32): void { conn(id).submitGoaway(code, lastSid); }
export function h2_sendable(id: i32, sid: u32): i32 { return conn(id).sendable(sid); }
export function h2_stream_count(id: i32): i32 { return conn(id).streamCount(); }
export function h2_failed(id: i32): bool { return conn(id).failed; }
export function h2_last_peer_stream(id: i32): u32 { return conn(id).lastPeerSid; }
export function h2_remote_setting(id: i32, which: i32): u32 {
  const r = conn(id).remote;
  switch (which) {
    case 1: return r.headerTableSize;
    case 2: return r.enablePush;
    case 3: return r.maxConcurrentStreams;
    case 4: return r.initialWindowSize;
    case 5: return r.maxFrameSize;
    case 6: return r.maxHeaderListSize;
    case 8: return r.enableConnectProtocol;
  }
  return 0;
}

// ---- HPACK on its own (tests, benchmarks, and hosts that frame HTTP/2 themselves) --------------

const decoders = new Handles<HpackDecoder>();
const encoders = new Handles<HpackEncoder>();
const encoderOut = new Bytes();

export function hpack_decoder_new(tableSize: i32): i32 { return decoders.add(new HpackDecoder(tableSize)); }
export function hpack_decoder_free(id: i32): void {
  decoders.get(id).dispose();
  decoders.remove(id);
}
/** Decodes n bytes at scratch into the field records: 0 ok, 1 over listLimit, -1 error (see hpack_error). */
export function hpack_decode(id: i32, n: i32, listLimit: i32): i32 {
  resetEvents();
  return decoders.get(id).decode(scratchBuf.ptr, n, fields, listLimit);
}
export function hpack_error(id: i32): i32 { return decoders.get(id).error; }
export function hpack_decoder_table_size(id: i32): i32 { return decoders.get(id).table.size; }
export function hpack_decoder_set_limit(id: i32, n: i32): void { decoders.get(id).setLimit(n); }

export function hpack_encoder_new(limit: i32): i32 { return encoders.add(new HpackEncoder(limit)); }
export function hpack_encoder_free(id: i32): void {
  encoders.get(id).dispose();
  encoders.remove(id);
}
export function hpack_encoder_set_peer_max(id: i32, n: i32): void { encoders.get(id).setPeerMax(n); }
/** Encodes `count` field records at scratch (the h2_submit_headers layout); returns the block length. */
export function hpack_encode(id: i32, count: i32): i32 {
  encoderOut.len = 0;
  encoders.get(id).encodeRecords(encoderOut, scratchBuf.ptr, count);
  return encoderOut.len;
}
export function hpack_encoder_output(): usize { return encoderOut.ptr; }
export function hpack_encoder_table_size(id: i32): i32 { return encoders.get(id).table.size; }

export function static_count(): i32 { return STATIC_COUNT; }
export function static_name_ptr(i: i32): usize { return staticNamePtr(i); }
export function static_name_len(i: i32): i32 { return staticNameLen(i); }
export function static_value_ptr(i: i32): usize { return staticValuePtr(i); }
export function static_value_len(i: i32): i32 { return staticValueLen(i); }

// ---- HTTP/1.1 parsers ----------------------------------------------------------------------------

const parsers = new Handles<H1Parser>();
@inline function parser(id: i32): H1Parser { return parsers.get(id); }

/** A parser for requests (isRequest) or responses; heads over maxHeadSize bytes are refused. */
export function h1_new(isRequest: bool, maxHeadSize: i32, maxFields: i32): i32 {
  return parsers.add(new H1Parser(isRequest, maxHeadSize, maxFields));
}
export function h1_free(id: i32): void {
  parser(id).dispose();
  parsers.remove(id);
}
export function h1_input(id: i32, n: i32): usize { return parser(id).inputPtr(n); }
/** Parses n new bytes (eof: the peer closed); returns 1 when it stopped early (call again with 0). */
export function h1_parse(id: i32, n: i32, eof: bool): i32 {
  resetEvents();
  const p = parser(id);
  p.parse(n, eof);
  return p.more ? 1 : 0;
}
export function h1_content_length(id: i32): f64 { return <f64>parser(id).length; }
export function h1_expect_no_body(id: i32): void { parser(id).noBodyNext = true; }
export function h1_expect_connect(id: i32): void { parser(id).connectNext = true; }
export function h1_set_tunnel(id: i32, on: bool): void { parser(id).setTunnel(on); }
export function h1_tunnel_ptr(id: i32): usize { return parser(id).tunnelStart(); }
export function h1_tunnel_len(id: i32): i32 { return parser(id).tunnelLength(); }

// ---- routes ------------------------------------------------------------------------------------

const tables = new Handles<RouteTable>();
let tableError: RouteTable | null = null;

/** Loads the n-byte route table blob (route/table.ts) the host wrote to scratch; -1 when refused. */
export function route_table_new(n: i32): i32 {
  const t = new RouteTable();
  if (!t.load(scratchBuf.ptr, n)) {
    t.dispose();
    tableError = t;
    return -1;
  }
  tableError = null;
  return tables.add(t);
}
/** Why the last route_table_new was refused: 0 error, 1 entry, 2 part, 3 regex error, 4 position. */
export function route_table_error(what: i32): i32 {
  const t = tableError;
  if (t === null) return 0;
  switch (what) {
    case 0: return t.error;
    case 1: return t.errorEntry;
    case 2: return t.errorPart;
    case 3: return t.errorCode;
    default: return t.errorPos;
  }
}
export function route_table_free(id: i32): void {
  tables.get(id).dispose();
  tables.remove(id);
}
/** The result of the entry the request (count field records in scratch) selects, or -1. */
export function route_select(id: i32, count: i32): i32 {
  return selectRoute(tables.get(id), scratchBuf.ptr, count);
}

const regexes = new Handles<Regex>();
const regexCompiler = new RegexCompiler();

/** Compiles the n-byte pattern in scratch: a handle, or -(error) (route/regex.ts RE_*). */
export function regex_new(n: i32): i32 {
  const re = regexCompiler.compile(scratchBuf.ptr, n);
  if (re === null) return -regexCompiler.error;
  return regexes.add(re);
}
/** Where in the pattern the last regex_new failed. */
export function regex_error_pos(): i32 { return regexCompiler.errorPos; }
/** Whether the n bytes in scratch match the whole pattern. */
export function regex_match(id: i32, n: i32): bool { return regexes.get(id).matches(scratchBuf.ptr, n); }
export function regex_free(id: i32): void { regexes.remove(id); }

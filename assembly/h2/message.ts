// RFC 9113 §8.1–8.3: what makes a received header section well-formed. A malformed message is a
// stream error of type PROTOCOL_ERROR (§8.1.1). Checking here, on the bytes, means the host never
// builds strings for a request it must refuse, and an HTTP/1.1 hop behind us can never be handed a
// field that would split into a second message (CR, LF or NUL; transfer-encoding; a bad content-length).
import { FieldList } from '../hpack/field-list';
import * as E from './errors';

const S_AUTHORITY = 1, S_METHOD = 2, S_PATH = 4, S_SCHEME = 6, S_STATUS = 8, S_CONTENT_LENGTH = 28,
  S_HOST = 38, S_TRANSFER_ENCODING = 57;

/** Length of an authority without an explicit default port (":80" or ":443"). */
function withoutDefaultPort(p: usize, n: i32): i32 {
  if (n > 3 && load<u8>(p + <usize>(n - 3)) == 0x3a && load<u8>(p + <usize>(n - 2)) == 0x38 && load<u8>(p + <usize>(n - 1)) == 0x30) return n - 3;
  if (n > 4 && load<u8>(p + <usize>(n - 4)) == 0x3a && load<u8>(p + <usize>(n - 3)) == 0x34 &&
      load<u8>(p + <usize>(n - 2)) == 0x34 && load<u8>(p + <usize>(n - 1)) == 0x33) return n - 4;
  return n;
}

/** Whether two authorities name the same entity: ASCII case-insensitive, default ports aside. */
function sameAuthority(a: usize, an: i32, b: usize, bn: i32): bool {
  an = withoutDefaultPort(a, an);
  bn = withoutDefaultPort(b, bn);
  if (an != bn) return false;
  for (let i = 0; i < an; i++) {
    let x = <i32>load<u8>(a + <usize>i), y = <i32>load<u8>(b + <usize>i);
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x != y) return false;
  }
  return true;
}

// Message kinds the connection passes in and gets back.
export const MSG_REQUEST: u8 = 1;
export const MSG_RESPONSE: u8 = 2;        // a final response head
export const MSG_INFORMATIONAL: u8 = 3;   // a 1xx response head
export const MSG_TRAILERS: u8 = 4;

// results besides the reason
export let msgKind: u8 = 0;
export let msgContentLength: i64 = -1;
export let msgStatus: i32 = 0;
export let msgMethodHead: bool = false;
export let msgMethodConnect: bool = false;

// RFC 9110 tchar, lowercase only (field names in HTTP/2 must be lowercase)
const NAME_CHAR = new StaticArray<bool>(256);
const TOKEN_CHAR = new StaticArray<bool>(256);
function initChars(): void {
  const extra = "!#$%&'*+-.^_`|~";
  for (let i = 0; i < extra.length; i++) {
    unchecked((NAME_CHAR[extra.charCodeAt(i)] = true));
    unchecked((TOKEN_CHAR[extra.charCodeAt(i)] = true));
  }
  for (let c = 0x30; c <= 0x39; c++) { unchecked((NAME_CHAR[c] = true)); unchecked((TOKEN_CHAR[c] = true)); }
  for (let c = 0x61; c <= 0x7a; c++) { unchecked((NAME_CHAR[c] = true)); unchecked((TOKEN_CHAR[c] = true)); }
  for (let c = 0x41; c <= 0x5a; c++) unchecked((TOKEN_CHAR[c] = true));
}
initChars();

class Lit {
  ptr: usize;
  len: i32;
  constructor(s: string) {
    const buf = String.UTF8.encode(s);
    this.ptr = changetype<usize>(buf);
    this.len = buf.byteLength;
    keep.push(buf);
  }
  @inline is(p: usize, n: i32): bool {
    return n == this.len && memory.compare(p, this.ptr, <usize>n) == 0;
  }
}
const keep: ArrayBuffer[] = [];
const L_PROTOCOL = new Lit(':protocol');
const L_CONNECTION = new Lit('connection');
const L_KEEP_ALIVE = new Lit('keep-alive');
const L_PROXY_CONNECTION = new Lit('proxy-connection');
const L_UPGRADE = new Lit('upgrade');
const L_TE = new Lit('te');
const L_TRAILERS = new Lit('trailers');
const L_HEAD = new Lit('HEAD');
const L_CONNECT = new Lit('CONNECT');
const L_OPTIONS = new Lit('OPTIONS');
const L_HTTP = new Lit('http');
const L_HTTPS = new Lit('https');

function validValue(p: usize, n: i32): bool {
  if (n > 0) {
    const first = load<u8>(p);
    const last = load<u8>(p + <usize>(n - 1));
    if (first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09) return false;
  }
  for (let i = 0; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    if (c == 0 || c == 0x0a || c == 0x0d) return false;
  }
  return true;
}

function validToken(p: usize, n: i32): bool {
  if (n == 0) return false;
  for (let i = 0; i < n; i++) if (!unchecked(TOKEN_CHAR[load<u8>(p + <usize>i)])) return false;
  return true;
}

/** A decimal content-length, or -1. */
function parseLength(p: usize, n: i32): i64 {
  if (n == 0 || n > 18) return -1;
  let v: i64 = 0;
  for (let i = 0; i < n; i++) {
    const c = <i32>load<u8>(p + <usize>i) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Checks fields [start, start + count) of a received header section. `kind` is MSG_REQUEST for a
 * server, MSG_RESPONSE for a client (1xx comes back as MSG_INFORMATIONAL) or MSG_TRAILERS.
 * Returns 0 or a reason from errors.ts; results are left in the msg* globals.
 */
export function validateMessage(fl: FieldList, start: i32, count: i32, kind: u8, connectProtocol: bool): i32 {
  msgKind = kind;
  msgContentLength = -1;
  msgStatus = 0;
  msgMethodHead = false;
  msgMethodConnect = false;
  let seenRegular = false;
  let method: i32 = -1, scheme: i32 = -1, path: i32 = -1, authority: i32 = -1, protocol: i32 = -1, status: i32 = -1;
  let host: i32 = -1;
  const end = start + count;
  for (let i = start; i < end; i++) {
    const np = fl.namePtr(i);
    const nl = fl.nameLen(i);
    const vp = fl.valuePtr(i);
    const vl = fl.valueLen(i);
    const sidx = <i32>(fl.meta(i) & 0xff);
    if (nl == 0) return E.R_BAD_FIELD_NAME;
    if (!validValue(vp, vl)) return E.R_BAD_FIELD_VALUE;
    if (load<u8>(np) == 0x3a) {
      // pseudo-header: only before regular fields, never in trailers, each at most once (§8.3)
      if (kind == MSG_TRAILERS || seenRegular) return E.R_BAD_PSEUDO;
      if (kind == MSG_REQUEST) {
        if (sidx == S_METHOD) { if (method >= 0) return E.R_BAD_PSEUDO; method = i; }
        else if (sidx == S_SCHEME) { if (scheme >= 0) return E.R_BAD_PSEUDO; scheme = i; }
        else if (sidx == S_PATH) { if (path >= 0) return E.R_BAD_PSEUDO; path = i; }
        else if (sidx == S_AUTHORITY) { if (authority >= 0) return E.R_BAD_PSEUDO; authority = i; }
        else if (connectProtocol && L_PROTOCOL.is(np, nl)) { if (protocol >= 0) return E.R_BAD_PSEUDO; protocol = i; }
        else return E.R_BAD_PSEUDO;
      } else {
        if (sidx != S_STATUS || status >= 0) return E.R_BAD_PSEUDO;
        status = i;
      }
      continue;
    }
    seenRegular = true;
    for (let k = 0; k < nl; k++) if (!unchecked(NAME_CHAR[load<u8>(np + <usize>k)])) return E.R_BAD_FIELD_NAME;
    if (sidx == S_TRANSFER_ENCODING || L_CONNECTION.is(np, nl) || L_KEEP_ALIVE.is(np, nl) ||
        L_PROXY_CONNECTION.is(np, nl) || L_UPGRADE.is(np, nl)) return E.R_CONNECTION_HEADER;
    if (sidx == S_HOST && kind == MSG_REQUEST) {
      if (host >= 0) return E.R_HOST_MISMATCH; // two Host fields: which one is meant?
      host = i;
    } else if (L_TE.is(np, nl)) {
      if (!L_TRAILERS.is(vp, vl)) return E.R_BAD_TE;
    } else if (sidx == S_CONTENT_LENGTH && kind != MSG_TRAILERS) {
      const v = parseLength(vp, vl);
      if (v < 0 || (msgContentLength >= 0 && v != msgContentLength)) return E.R_BAD_CONTENT_LENGTH;
      msgContentLength = v;
    }
  }
  if (kind == MSG_REQUEST) {
    if (method < 0) return E.R_MISSING_PSEUDO;
    // §8.3.1: a Host naming another entity than :authority is malformed — a proxy routing by one
    // while the application reads the other is how requests get routed where they should not
    if (host >= 0 && authority >= 0 &&
        !sameAuthority(fl.valuePtr(host), fl.valueLen(host), fl.valuePtr(authority), fl.valueLen(authority))) return E.R_HOST_MISMATCH;
    const mp = fl.valuePtr(method), ml = fl.valueLen(method);
    if (!validToken(mp, ml)) return E.R_BAD_PSEUDO;
    msgMethodHead = L_HEAD.is(mp, ml);
    msgMethodConnect = L_CONNECT.is(mp, ml);
    if (msgMethodConnect && protocol < 0) {
      // §8.5 CONNECT: :authority only
      if (scheme >= 0 || path >= 0) return E.R_BAD_PSEUDO;
      if (authority < 0 || fl.valueLen(authority) == 0) return E.R_MISSING_PSEUDO;
      return 0;
    }
    if (protocol >= 0 && !msgMethodConnect) return E.R_BAD_PSEUDO; // RFC 8441 §4
    if (scheme < 0 || path < 0) return E.R_MISSING_PSEUDO;
    const pp = fl.valuePtr(path), pl = fl.valueLen(path);
    if (pl == 0) return E.R_BAD_PATH;
    for (let k = 0; k < pl; k++) {
      const c = load<u8>(pp + <usize>k);
      if (c <= 0x20 || c == 0x7f) return E.R_BAD_PATH;
    }
    const sp = fl.valuePtr(scheme), sl = fl.valueLen(scheme);
    if (sl == 0) return E.R_BAD_PSEUDO;
    if (L_HTTP.is(sp, sl) || L_HTTPS.is(sp, sl)) {
      const c0 = load<u8>(pp);
      if (c0 != 0x2f && !(pl == 1 && c0 == 0x2a && L_OPTIONS.is(mp, ml))) return E.R_BAD_PATH;
    }
    return 0;
  }
  if (kind == MSG_RESPONSE) {
    if (status < 0) return E.R_MISSING_PSEUDO;
    const sp = fl.valuePtr(status);
    if (fl.valueLen(status) != 3) return E.R_BAD_STATUS;
    let code = 0;
    for (let k = 0; k < 3; k++) {
      const c = <i32>load<u8>(sp + <usize>k) - 0x30;
      if (c < 0 || c > 9) return E.R_BAD_STATUS;
      code = code * 10 + c;
    }
    if (code < 100 || code == 101) return E.R_BAD_STATUS; // no 101 in HTTP/2 (§8.6)
    msgStatus = code;
    if (code < 200) msgKind = MSG_INFORMATIONAL;
  }
  return 0;
}

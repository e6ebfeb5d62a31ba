// RFC 9112 HTTP/1.1 message parsing for either direction: request heads (server side) and response
// heads (client side), then the body as its framing says — content-length, chunked (with
// extensions and trailers), read-until-close, or a tunnel after Upgrade/CONNECT.
// Strict where leniency lets two parsers disagree about where a message ends (request smuggling):
// CRLF only, no obs-fold, no whitespace before a colon, Transfer-Encoding with Content-Length
// refused, duplicate or malformed lengths refused, exactly one Host in HTTP/1.1 requests.
// Heads come out as field records (hpack/field-list.ts) with lowercase names, pseudo-fields first:
// ":method" and ":path" (the request-target as sent) for requests, ":status" for responses — the
// same shape as an HTTP/2 head, so the host translates between the two without re-parsing.
import { Bytes } from '../bytes';
import { findStaticName } from '../hpack/static-table';
import { hashBytes, HASH_SEED } from '../hpack/hash';
import { fields, emit } from '../events';
import * as R from './reasons';

export const EV_H1_HEAD: i32 = 20;   // flags: H1F_*; a: first field, b: field count, c: status (responses), d: minor version
export const EV_H1_BODY: i32 = 21;   // a: pointer, b: length
export const EV_H1_END: i32 = 22;    // a: first trailer field, b: trailer count
export const EV_H1_ERROR: i32 = 23;  // a: HTTP status to answer with, b: reason (h1/reasons.ts)

export const H1F_KEEP_ALIVE: i32 = 1;
export const H1F_CHUNKED: i32 = 2;
export const H1F_HAS_BODY: i32 = 4;       // a body follows (length > 0, chunked, or until close)
export const H1F_UPGRADE: i32 = 8;        // Connection: upgrade with an Upgrade field (requests)
export const H1F_CONNECT: i32 = 16;       // CONNECT request: the rest is a tunnel once answered
export const H1F_EXPECT_CONTINUE: i32 = 32;
export const H1F_UNTIL_CLOSE: i32 = 64;   // response body delimited by the connection closing
export const H1F_LENGTH: i32 = 128;       // a content-length was given (value in the length getter)

const S_HEAD: u8 = 0;
const S_BODY_LENGTH: u8 = 1;
const S_CHUNK_SIZE: u8 = 2;
const S_CHUNK_DATA: u8 = 3;
const S_CHUNK_CRLF: u8 = 4;
const S_TRAILERS: u8 = 5;
const S_UNTIL_CLOSE: u8 = 6;
const S_TUNNEL: u8 = 7;   // after Upgrade/CONNECT: bytes are not ours to parse
const S_DEAD: u8 = 8;

const CR: u8 = 13;
const LF: u8 = 10;

// RFC 9110 tchar
const TCHAR = new StaticArray<bool>(256);
function initTchar(): void {
  const extra = "!#$%&'*+-.^_`|~";
  for (let i = 0; i < extra.length; i++) unchecked((TCHAR[extra.charCodeAt(i)] = true));
  for (let c = 0x30; c <= 0x39; c++) unchecked((TCHAR[c] = true));
  for (let c = 0x41; c <= 0x5a; c++) unchecked((TCHAR[c] = true));
  for (let c = 0x61; c <= 0x7a; c++) unchecked((TCHAR[c] = true));
}
initTchar();

/** Case-insensitive compare of bytes with a lowercase ASCII literal. */
function ieq(p: usize, n: i32, lit: string): bool {
  if (n != lit.length) return false;
  for (let i = 0; i < n; i++) {
    let c = <i32>load<u8>(p + <usize>i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c != lit.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether a comma-separated list (case-insensitive) contains token `lit`. */
function listHas(p: usize, n: i32, lit: string): bool {
  let i = 0;
  while (i < n) {
    while (i < n && (load<u8>(p + <usize>i) == 0x20 || load<u8>(p + <usize>i) == 0x09 || load<u8>(p + <usize>i) == 0x2c)) i++;
    const s = i;
    while (i < n && load<u8>(p + <usize>i) != 0x2c) i++;
    let e = i;
    while (e > s && (load<u8>(p + <usize>(e - 1)) == 0x20 || load<u8>(p + <usize>(e - 1)) == 0x09)) e--;
    if (ieq(p + <usize>s, e - s, lit)) return true;
  }
  return false;
}

export class H1Parser {
  isRequest: bool;
  input: Bytes = new Bytes();
  inStart: i32 = 0;
  state: u8 = S_HEAD;
  scanFrom: i32 = 0;        // where the search for the end of the head resumes
  remaining: i64 = 0;       // body or chunk bytes left
  length: i64 = -1;         // content-length of the last head
  maxHeadSize: i32;
  maxFields: i32;
  /** Responses: the request was HEAD (or the host otherwise knows there is no body). */
  noBodyNext: bool = false;
  /** Responses: the request was CONNECT, so a 2xx turns the connection into a tunnel. */
  connectNext: bool = false;
  more: bool = false;

  constructor(isRequest: bool, maxHeadSize: i32, maxFields: i32) {
    this.isRequest = isRequest;
    this.maxHeadSize = maxHeadSize;
    this.maxFields = maxFields;
  }

  inputPtr(n: i32): usize {
    this.input.shift(this.inStart);
    this.scanFrom -= this.inStart;
    if (this.scanFrom < 0) this.scanFrom = 0;
    this.inStart = 0;
    this.input.reserve(n);
    return this.input.end();
  }

  private fail(status: i32, reason: i32): void {
    this.state = S_DEAD;
    emit(EV_H1_ERROR, 0, 0, status, reason, 0, 0);
  }

  /** Processes n new bytes. `eof`: the peer closed its side (ends read-until-close bodies). */
  parse(n: i32, eof: bool): void {
    const input = this.input;
    input.len += n;
    this.more = false;
    let pos = this.inStart;
    const base = input.ptr;
    while (true) {
      const avail = input.len - pos;
      const st = this.state;
      if (st == S_DEAD || st == S_TUNNEL) break;
      if (st == S_HEAD) {
        if (avail == 0) break;
        if (fields.arena.len > 256 * 1024) { this.more = true; break; }
        const used = this.head(base + <usize>pos, avail);
        if (used <= 0) {
          if (used == 0 && eof && avail > 0) this.fail(400, R.TRUNCATED);
          break;
        }
        pos += used;
        continue;
      }
      if (st == S_BODY_LENGTH || st == S_CHUNK_DATA) {
        if (avail == 0) break;
        const take = <i64>avail < this.remaining ? avail : <i32>this.remaining;
        emit(EV_H1_BODY, 0, 0, <i32>(base + <usize>pos), take, 0, 0);
        pos += take;
        this.remaining -= take;
        if (this.remaining == 0) {
          if (st == S_BODY_LENGTH) { emit(EV_H1_END, 0, 0, fields.count, 0, 0, 0); this.state = S_HEAD; }
          else this.state = S_CHUNK_CRLF;
        }
        continue;
      }
      if (st == S_CHUNK_CRLF) {
        if (avail < 2) break;
        if (load<u8>(base + <usize>pos) != CR || load<u8>(base + <usize>pos + 1) != LF) { this.fail(400, R.BAD_CHUNK); break; }
        pos += 2;
        this.state = S_CHUNK_SIZE;
        continue;
      }
      if (st == S_CHUNK_SIZE) {
        const used = this.chunkSize(base + <usize>pos, avail);
        if (used <= 0) break;
        pos += used;
        continue;
      }
      if (st == S_TRAILERS) {
        const used = this.trailers(base + <usize>pos, avail);
        if (used <= 0) break;
        pos += used;
        continue;
      }
      if (st == S_UNTIL_CLOSE) {
        if (avail > 0) emit(EV_H1_BODY, 0, 0, <i32>(base + <usize>pos), avail, 0, 0);
        pos += avail;
        if (eof) { emit(EV_H1_END, 0, 0, fields.count, 0, 0, 0); this.state = S_DEAD; }
        break;
      }
    }
    if (eof && !this.more && this.state != S_HEAD && this.state != S_DEAD && this.state != S_TUNNEL) this.fail(400, R.TRUNCATED);
    this.inStart = pos;
  }

  /** Bytes after the head of an upgraded/CONNECT message: where the tunnel's data starts. */
  tunnelStart(): usize { return this.input.ptr + <usize>this.inStart; }
  tunnelLength(): i32 { return this.input.len - this.inStart; }

  /** After an Upgrade/CONNECT head the host decides: 1 = it is a tunnel now, 0 = carry on parsing. */
  setTunnel(on: bool): void {
    if (on) this.state = S_TUNNEL;
    else if (this.state == S_TUNNEL) this.state = S_HEAD;
  }

  /**
   * Parses a head if a complete one is present. Returns bytes used, 0 when more are needed, -1 on
   * error (already reported).
   */
  private head(p: usize, avail: i32): i32 {
    // RFC 9112 §2.2: ignore empty lines before a request-line
    let skip = 0;
    if (this.isRequest) {
      while (skip + 1 < avail && skip < 8 && load<u8>(p + <usize>skip) == CR && load<u8>(p + <usize>skip + 1) == LF) skip += 2;
    }
    // find CRLFCRLF, resuming where the last call left off; a LF without its CR is refused at once
    let i = this.scanFrom > skip ? this.scanFrom : skip;
    let end = -1;
    const limit = avail < this.maxHeadSize + skip ? avail : this.maxHeadSize + skip;
    while (i < limit) {
      if (load<u8>(p + <usize>i) == LF) {
        if (i == 0 || load<u8>(p + <usize>(i - 1)) != CR) { this.fail(this.isRequest ? 400 : 502, R.BARE_CR_LF); return -1; }
        if (i >= 3 && load<u8>(p + <usize>(i - 2)) == LF && load<u8>(p + <usize>(i - 3)) == CR && i - 3 >= skip) { end = i - 3; break; }
      }
      i++;
    }
    if (end < 0) {
      if (avail >= this.maxHeadSize + skip) {
        // is the start line itself too long?
        let lineEnd = skip;
        while (lineEnd < avail && load<u8>(p + <usize>lineEnd) != LF) lineEnd++;
        if (this.isRequest && lineEnd >= this.maxHeadSize + skip) this.fail(414, R.URI_TOO_LONG);
        else this.fail(431, R.HEAD_TOO_LARGE);
        return -1;
      }
      // resume a few bytes back so a CRLFCRLF split across reads is still seen
      this.scanFrom = i > 3 ? i - 3 : 0;
      return 0;
    }
    this.scanFrom = 0;
    const headEnd = end + 4;
    const r = this.isRequest ? this.requestHead(p + <usize>skip, end - skip + 2) : this.responseHead(p + <usize>skip, end - skip + 2);
    if (r < 0) return -1;
    return headEnd;
  }

  /** Reads field lines from q (each ending CRLF) up to `end`; returns the count or -1. */
  private fieldLines(q: usize, end: usize): i32 {
    let count = 0;
    while (q < end) {
      const c0 = load<u8>(q);
      if (c0 == 0x20 || c0 == 0x09) { this.fail(400, R.OBS_FOLD); return -1; }
      // name
      let k = q;
      while (k < end && unchecked(TCHAR[load<u8>(k)])) k++;
      if (k == q) { this.fail(400, R.BAD_FIELD_NAME); return -1; }
      if (k >= end || load<u8>(k) != 0x3a) {
        // RFC 9112 §5.1: no whitespace between name and colon
        this.fail(400, k < end && (load<u8>(k) == 0x20 || load<u8>(k) == 0x09) ? R.SPACE_BEFORE_COLON : R.BAD_FIELD_NAME);
        return -1;
      }
      const nl = <i32>(k - q);
      k++;
      while (k < end && (load<u8>(k) == 0x20 || load<u8>(k) == 0x09)) k++;
      const vs = k;
      while (k < end) {
        const c = load<u8>(k);
        if (c == CR) break;
        if ((c < 0x20 && c != 0x09) || c == 0x7f) { this.fail(400, R.BAD_FIELD_VALUE); return -1; }
        k++;
      }
      if (k + 2 > end || load<u8>(k) != CR || load<u8>(k + 1) != LF) { this.fail(this.isRequest ? 400 : 502, R.BARE_CR_LF); return -1; }
      let ve = k;
      while (ve > vs && (load<u8>(ve - 1) == 0x20 || load<u8>(ve - 1) == 0x09)) ve--;
      if (++count > this.maxFields) { this.fail(431, R.TOO_MANY_FIELDS); return -1; }
      // names go out lowercase, as in HTTP/2
      const nameOff = fields.arena.len;
      fields.arena.reserve(nl);
      const dst = fields.arena.end();
      for (let j = 0; j < nl; j++) {
        let c = load<u8>(q + <usize>j);
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        store<u8>(dst + <usize>j, c);
      }
      fields.arena.len += nl;
      // a name the HPACK static table has: the host reuses its cached string instead of decoding
      const sname = findStaticName(dst, nl, hashBytes(HASH_SEED, dst, nl));
      const valueOff = fields.put(vs, <i32>(ve - vs));
      fields.pushRecord(nameOff, nl, valueOff, <i32>(ve - vs), <u32>sname);
      q = k + 2;
    }
    return count;
  }

  private pseudo(name: string, p: usize, n: i32): void {
    const buf = String.UTF8.encode(name);
    const no = fields.put(changetype<usize>(buf), buf.byteLength);
    const vo = fields.put(p, n);
    fields.pushRecord(no, buf.byteLength, vo, n, 0);
  }

  /** Returns the HTTP minor version (0 or 1) at p ("HTTP/1.x"), or -1. */
  private version(p: usize): i32 {
    // "HTTP/1." as bytes 48 54 54 50 2f 31 2e
    if (load<u8>(p) != 0x48 || load<u8>(p + 1) != 0x54 || load<u8>(p + 2) != 0x54 || load<u8>(p + 3) != 0x50 ||
        load<u8>(p + 4) != 0x2f || load<u8>(p + 5) != 0x31 || load<u8>(p + 6) != 0x2e) return -1;
    const d = <i32>load<u8>(p + 7) - 0x30;
    return d == 0 || d == 1 ? d : -1;
  }

  private requestHead(p: usize, n: i32): i32 {
    const end = p + <usize>n;
    const first = fields.count;
    // method SP request-target SP HTTP-version CRLF
    let k = p;
    while (k < end && unchecked(TCHAR[load<u8>(k)])) k++;
    if (k == p || k >= end || load<u8>(k) != 0x20) { this.fail(400, R.BAD_REQUEST_LINE); return -1; }
    const mp = p, ml = <i32>(k - p);
    k++;
    const tp = k;
    while (k < end) {
      const c = load<u8>(k);
      if (c <= 0x20 || c == 0x7f) break;
      k++;
    }
    const tl = <i32>(k - tp);
    if (tl == 0 || k + 11 > end || load<u8>(k) != 0x20) { this.fail(400, R.BAD_REQUEST_LINE); return -1; }
    k++;
    const minor = this.version(k);
    if (minor < 0) {
      this.fail(load<u8>(k) == 0x48 ? 505 : 400, load<u8>(k) == 0x48 ? R.BAD_VERSION : R.BAD_REQUEST_LINE);
      return -1;
    }
    k += 8;
    if (load<u8>(k) != CR || load<u8>(k + 1) != LF) { this.fail(400, R.BAD_REQUEST_LINE); return -1; }
    k += 2;
    this.pseudo(':method', mp, ml);
    this.pseudo(':path', tp, tl);
    const count = this.fieldLines(k, end);
    if (count < 0) return -1;
    // "CONNECT", compared exactly: methods are case-sensitive
    const isConnect = ml == 7 && (load<u64>(mp) & 0xffffffffffffff) == 0x5443454e4e4f43;
    return this.framing(first, fields.count - first, minor, 0, isConnect);
  }

  private responseHead(p: usize, n: i32): i32 {
    const end = p + <usize>n;
    const first = fields.count;
    if (n < 14) { this.fail(502, R.BAD_STATUS_LINE); return -1; }
    const minor = this.version(p);
    if (minor < 0 || load<u8>(p + 8) != 0x20) { this.fail(502, R.BAD_STATUS_LINE); return -1; }
    let status = 0;
    for (let i = 9; i < 12; i++) {
      const d = <i32>load<u8>(p + <usize>i) - 0x30;
      if (d < 0 || d > 9) { this.fail(502, R.BAD_STATUS_LINE); return -1; }
      status = status * 10 + d;
    }
    if (status < 100 || (load<u8>(p + 12) != 0x20 && load<u8>(p + 12) != CR)) { this.fail(502, R.BAD_STATUS_LINE); return -1; }
    // reason phrase: anything printable up to CRLF (a missing SP before an empty reason is tolerated)
    let k = p + 12;
    while (k < end && load<u8>(k) != CR) {
      const c = load<u8>(k);
      if ((c < 0x20 && c != 0x09) || c == 0x7f) { this.fail(502, R.BAD_STATUS_LINE); return -1; }
      k++;
    }
    if (k + 1 >= end || load<u8>(k + 1) != LF) { this.fail(502, R.BARE_CR_LF); return -1; }
    this.pseudo(':status', p + 9, 3);
    const count = this.fieldLines(k + 2, end);
    if (count < 0) return -1;
    return this.framing(first, fields.count - first, minor, status, false);
  }

  /** RFC 9112 §6: decides how the body is delimited, and the connection's fate. */
  private framing(first: i32, count: i32, minor: i32, status: i32, isConnect: bool): i32 {
    const req = this.isRequest;
    const bad: i32 = req ? 400 : 502;
    let length: i64 = -1;
    let te = false, teFields = 0, teChunkedLast = false, close = false, keepAlive = false;
    let upgradeToken = false, upgradeField = false, expectContinue = false;
    let hosts = 0;
    for (let i = first; i < first + count; i++) {
      const np = fields.namePtr(i), nl = fields.nameLen(i), vp = fields.valuePtr(i), vl = fields.valueLen(i);
      if (load<u8>(np) == 0x3a) continue;
      if (nl == 14 && ieq(np, nl, 'content-length')) {
        // one value, or a list of one repeated value (RFC 9110 §8.6); anything else is fatal
        let j = 0;
        while (j < vl) {
          while (j < vl && (load<u8>(vp + <usize>j) == 0x20 || load<u8>(vp + <usize>j) == 0x2c)) j++;
          if (j >= vl) break;
          let v: i64 = 0;
          let digits = 0;
          while (j < vl) {
            const d = <i32>load<u8>(vp + <usize>j) - 0x30;
            if (d < 0 || d > 9) break;
            v = v * 10 + d;
            if (++digits > 15) { this.fail(bad, R.BAD_CONTENT_LENGTH); return -1; }
            j++;
          }
          while (j < vl && load<u8>(vp + <usize>j) == 0x20) j++;
          if (digits == 0 || (j < vl && load<u8>(vp + <usize>j) != 0x2c)) { this.fail(bad, R.BAD_CONTENT_LENGTH); return -1; }
          if (length >= 0 && v != length) { this.fail(bad, R.BAD_CONTENT_LENGTH); return -1; }
          length = v;
        }
        if (length < 0) { this.fail(bad, R.BAD_CONTENT_LENGTH); return -1; }
      } else if (nl == 17 && ieq(np, nl, 'transfer-encoding')) {
        te = true;
        // two fields: codings split over lines, a smuggling shape (and chunked twice, when both say it)
        if (++teFields > 1) { this.fail(req ? 400 : 502, R.UNSUPPORTED_TRANSFER_CODING); return -1; }
        // the last coding decides; any coding we do not decode (gzip, …) before it stays in the body
        let e = vl;
        while (e > 0 && (load<u8>(vp + <usize>(e - 1)) == 0x20 || load<u8>(vp + <usize>(e - 1)) == 0x09)) e--;
        let s = e;
        while (s > 0 && load<u8>(vp + <usize>(s - 1)) != 0x2c) s--;
        while (s < e && (load<u8>(vp + <usize>s) == 0x20 || load<u8>(vp + <usize>s) == 0x09)) s++;
        teChunkedLast = ieq(vp + <usize>s, e - s, 'chunked') && (s == 0 || !listHas(vp, s, 'chunked'));
        // RFC 9112 §6.1: a request whose final coding is not chunked has no reliable length: 400; a
        // coding before chunked that we do not implement (gzip, chunked): 501
        if (req && !teChunkedLast) { this.fail(400, R.UNSUPPORTED_TRANSFER_CODING); return -1; }
        if (req && s != 0) { this.fail(501, R.UNSUPPORTED_TRANSFER_CODING); return -1; }
      } else if (nl == 10 && ieq(np, nl, 'connection')) {
        if (listHas(vp, vl, 'close')) close = true;
        if (listHas(vp, vl, 'keep-alive')) keepAlive = true;
        if (listHas(vp, vl, 'upgrade')) upgradeToken = true;
      } else if (nl == 7 && ieq(np, nl, 'upgrade')) {
        upgradeField = true;
      } else if (nl == 4 && ieq(np, nl, 'host')) {
        hosts++;
      } else if (nl == 6 && ieq(np, nl, 'expect')) {
        if (ieq(vp, vl, '100-continue')) expectContinue = true;
      }
    }
    if (te && length >= 0) { this.fail(bad, R.TE_AND_CONTENT_LENGTH); return -1; }
    if (te && minor == 0) { this.fail(bad, R.TE_IN_HTTP10); return -1; }
    if (req && minor == 1 && hosts != 1) { this.fail(400, hosts == 0 ? R.MISSING_HOST : R.MULTIPLE_HOST); return -1; }
    if (req && hosts > 1) { this.fail(400, R.MULTIPLE_HOST); return -1; }
    let flags = 0;
    if (minor == 1 ? !close : keepAlive && !close) flags |= H1F_KEEP_ALIVE;
    if (expectContinue && req && minor == 1) flags |= H1F_EXPECT_CONTINUE;
    if (req && upgradeToken && upgradeField) flags |= H1F_UPGRADE;
    if (isConnect) flags |= H1F_CONNECT;
    this.length = length;
    if (length >= 0) flags |= H1F_LENGTH;

    let body = false;
    const noBody = !req && (this.noBodyNext || status < 200 || status == 204 || status == 304);
    const tunnel = !req && (status == 101 || (this.connectNext && status >= 200 && status < 300));
    if (!req && status >= 200) { this.noBodyNext = false; this.connectNext = false; }
    if (tunnel) {
      this.state = S_TUNNEL;
    } else if (noBody) {
      this.state = S_HEAD;
    } else if (te && teChunkedLast) {
      flags |= H1F_CHUNKED;
      body = true;
      this.state = S_CHUNK_SIZE;
    } else if (te) {
      // response with a final coding other than chunked: delimited by close (RFC 9112 §6.3)
      flags |= H1F_UNTIL_CLOSE;
      flags &= ~H1F_KEEP_ALIVE;
      body = true;
      this.state = S_UNTIL_CLOSE;
    } else if (length > 0) {
      body = true;
      this.remaining = length;
      this.state = S_BODY_LENGTH;
    } else if (length < 0 && !req) {
      flags |= H1F_UNTIL_CLOSE;
      flags &= ~H1F_KEEP_ALIVE;
      body = true;
      this.state = S_UNTIL_CLOSE;
    } else {
      this.state = S_HEAD;
    }
    if (body) flags |= H1F_HAS_BODY;
    // CONNECT and upgrades: the host decides, after the answer, whether the rest is a tunnel
    if (req && (isConnect || (flags & H1F_UPGRADE) != 0) && !body) this.state = S_TUNNEL;
    emit(EV_H1_HEAD, 0, flags, first, count, status, minor);
    // a 1xx is an interim head: the message it belongs to has not ended
    if (!body && (req || status >= 200)) emit(EV_H1_END, 0, 0, fields.count, 0, 0, 0);
    return 0;
  }

  private chunkSize(p: usize, avail: i32): i32 {
    // chunk-size [ chunk-ext ] CRLF, chunk-size = 1*HEXDIG
    let k = 0;
    let size: i64 = 0;
    let digits = 0;
    while (k < avail) {
      const c = <i32>load<u8>(p + <usize>k);
      let d: i32 = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      if (d < 0) break;
      size = (size << 4) | d;
      if (++digits > 15) { this.fail(400, R.BAD_CHUNK); return -1; }
      k++;
    }
    if (k >= avail) {
      if (avail > 1024) { this.fail(400, R.BAD_CHUNK); return -1; }
      return 0;
    }
    if (digits == 0) { this.fail(400, R.BAD_CHUNK); return -1; }
    // extensions: BWS ";" … up to CRLF; only printable bytes, bounded
    const extStart = k;
    while (k < avail && load<u8>(p + <usize>k) != CR) {
      const c = load<u8>(p + <usize>k);
      if ((c < 0x20 && c != 0x09) || c == 0x7f || c == LF) { this.fail(400, R.BAD_CHUNK); return -1; }
      k++;
    }
    if (k > extStart) {
      let j = extStart;
      while (j < k && (load<u8>(p + <usize>j) == 0x20 || load<u8>(p + <usize>j) == 0x09)) j++;
      if (j >= k || load<u8>(p + <usize>j) != 0x3b) { this.fail(400, R.BAD_CHUNK); return -1; }
    }
    if (k - extStart > 4096) { this.fail(400, R.BAD_CHUNK); return -1; }
    if (k + 1 >= avail) return 0;
    if (load<u8>(p + <usize>k + 1) != LF) { this.fail(400, R.BARE_CR_LF); return -1; }
    k += 2;
    if (size == 0) this.state = S_TRAILERS;
    else {
      this.remaining = size;
      this.state = S_CHUNK_DATA;
    }
    return k;
  }

  private trailers(p: usize, avail: i32): i32 {
    // trailer-section: field lines, then CRLF
    if (avail >= 2 && load<u8>(p) == CR && load<u8>(p + 1) == LF) {
      emit(EV_H1_END, 0, 0, fields.count, 0, 0, 0);
      this.state = S_HEAD;
      return 2;
    }
    let i = 0;
    let end = -1;
    const limit = avail < this.maxHeadSize ? avail : this.maxHeadSize;
    while (i + 3 < limit) {
      if (load<u8>(p + <usize>i) == CR && load<u8>(p + <usize>i + 1) == LF && load<u8>(p + <usize>i + 2) == CR && load<u8>(p + <usize>i + 3) == LF) { end = i; break; }
      i++;
    }
    if (end < 0) {
      if (avail >= this.maxHeadSize) { this.fail(431, R.HEAD_TOO_LARGE); return -1; }
      return 0;
    }
    const first = fields.count;
    const count = this.fieldLines(p, p + <usize>(end + 2));
    if (count < 0) return -1;
    emit(EV_H1_END, 0, 0, first, count, 0, 0);
    this.state = S_HEAD;
    return end + 4;
  }

  dispose(): void {
    this.input.free();
  }
}

// RFC 9113 connection state for either role: the preface, frame dispatch, stream lifecycle, flow
// control, SETTINGS, PING, GOAWAY, and the limits that keep a hostile peer from making us spend
// without bound. Bytes in (`receive`), event records and reply bytes out; no sockets, no clocks
// (the host passes the time in).
import { Bytes, read24, read32 } from '../bytes';
import { HpackDecoder, HPACK_ERROR, HPACK_TOO_LARGE } from '../hpack/decoder';
import { HpackEncoder } from '../hpack/encoder';
import { fields, events, emit, EV_HEADERS, EV_DATA, EV_RST_STREAM, EV_GOAWAY, EV_PING_ACK,
  EV_WINDOW_UPDATE, EV_SETTINGS, EV_SETTINGS_ACK, EV_STREAM_ERROR, EV_CONN_ERROR } from '../events';
import * as F from './frame';
import * as S from './settings';
import * as E from './errors';
import { Stream, ClosedStreams, OPEN, HALF_CLOSED_LOCAL, HALF_CLOSED_REMOTE, RX_NONE, RX_INFORMATIONAL,
  RX_HEADERS, CLOSED_NORMALLY, CLOSED_BY_PEER_RST, CLOSED_BY_OUR_RST } from './stream';
import { validateMessage, MSG_REQUEST, MSG_RESPONSE, MSG_INFORMATIONAL, MSG_TRAILERS, msgKind,
  msgContentLength, msgStatus } from './message';

export const ROLE_CLIENT: u8 = 0;
export const ROLE_SERVER: u8 = 1;

// Results of submit calls (negative; the host maps them to errors)
export const SUBMIT_NO_STREAM: i32 = -1;     // no such stream, or it cannot send any more
export const SUBMIT_GOAWAY: i32 = -2;        // the peer sent GOAWAY: no new streams
export const SUBMIT_TOO_MANY: i32 = -3;      // the peer's MAX_CONCURRENT_STREAMS is reached
export const SUBMIT_IDS_EXHAUSTED: i32 = -4;
export const SUBMIT_CLOSED: i32 = -5;        // the connection failed or was shut down

/** What the host configures per connection. */
export class Config {
  role: u8 = ROLE_SERVER;
  maxConcurrentStreams: u32 = 100;
  initialWindowSize: u32 = 1 << 20;
  connectionWindowSize: u32 = 4 << 20;
  maxFrameSize: u32 = 16384;
  maxHeaderListSize: u32 = 65536;
  headerTableSize: u32 = 4096;
  enableConnectProtocol: bool = false;
  /** Compressed header block (HEADERS + CONTINUATION) bound: beyond it the peer is flooding. */
  maxHeaderBlock: i32 = 0;
  /** Rapid-reset bucket: how many resets at once, and refilled per second. */
  resetBurst: f64 = 1000;
  resetRate: f64 = 33;
  /** Consecutive frames that carry nothing (empty DATA/CONTINUATION without END flags). */
  maxEmptyFrames: i32 = 100;
}

/** Budget per call: past these the call returns with more to do, so memory per call stays bounded. */
const SOFT_EVENTS_BYTES: i32 = 256 * 1024;
const SOFT_FIELD_BYTES: i32 = 1 << 20;

/** Whether host field records carry ":method: HEAD" (pseudo-headers come first, so stop at the first regular field). */
function isHeadRequest(src: usize, count: i32): bool {
  let q = src;
  for (let i = 0; i < count; i++) {
    const nl = <i32>load<u32>(q);
    const vl = <i32>load<u32>(q, 4);
    const np = q + 12;
    if (nl == 0 || load<u8>(np) != 0x3a) return false;
    // ":method" and "HEAD", compared as little-endian words
    if (nl == 7 && vl == 4 && (load<u64>(np) & 0xffffffffffffff) == 0x646f6874656d3a && load<u32>(np + 7) == 0x44414548) return true;
    q = np + <usize>(nl + vl);
  }
  return false;
}

export class Connection {
  cfg: Config;
  role: u8;
  input: Bytes = new Bytes();
  inStart: i32 = 0;
  out: Bytes = new Bytes();
  block: Bytes = new Bytes();
  headerOut: Bytes = new Bytes();
  contSid: u32 = 0;
  contFlags: u8 = 0;
  contSelfDep: bool = false;
  dec: HpackDecoder;
  enc: HpackEncoder;
  streams: Map<u32, Stream> = new Map();
  closed: ClosedStreams = new ClosedStreams();
  remote: S.Settings = new S.Settings();
  localWindow: i64;
  settingsUnacked: i32 = 1;
  prefaceLeft: i32;
  gotSettings: bool = false;
  lastPeerSid: u32 = 0;
  nextLocalSid: u32;
  peerStreams: i32 = 0;
  localStreams: i32 = 0;
  connSendWindow: i64 = S.DEFAULT_WINDOW;
  connRecvWindow: i64 = S.DEFAULT_WINDOW;
  connUnacked: i64 = 0;
  goawaySent: bool = false;
  goawayLastSid: u32 = 0x7fffffff;
  goawayReceived: bool = false;
  peerGoawayLastSid: u32 = 0x7fffffff;
  failed: bool = false;
  more: bool = false;
  now: f64 = 0;
  resetTokens: f64;
  resetStamp: f64 = 0;
  emptyFrames: i32 = 0;

  constructor(cfg: Config) {
    this.cfg = cfg;
    this.role = cfg.role;
    if (cfg.maxHeaderBlock <= 0) cfg.maxHeaderBlock = <i32>(cfg.maxHeaderListSize < 16384 ? 32768 : cfg.maxHeaderListSize * 2);
    this.dec = new HpackDecoder(4096);
    this.enc = new HpackEncoder(4096);
    // Until our SETTINGS are acknowledged the peer may assume the default window (§6.9.2).
    this.localWindow = <i64>cfg.initialWindowSize > S.DEFAULT_WINDOW ? <i64>cfg.initialWindowSize : S.DEFAULT_WINDOW;
    this.prefaceLeft = cfg.role == ROLE_SERVER ? F.PREFACE_LEN : 0;
    this.nextLocalSid = cfg.role == ROLE_CLIENT ? 1 : 2;
    this.resetTokens = cfg.resetBurst;
    const out = this.out;
    if (cfg.role == ROLE_CLIENT) out.append(F.PREFACE, F.PREFACE_LEN);
    const at = out.len;
    F.writeFrameHeader(out, 0, F.SETTINGS, 0, 0);
    if (cfg.headerTableSize != 4096) F.writeSetting(out, S.HEADER_TABLE_SIZE, cfg.headerTableSize);
    if (cfg.role == ROLE_CLIENT) F.writeSetting(out, S.ENABLE_PUSH, 0);
    F.writeSetting(out, S.MAX_CONCURRENT_STREAMS, cfg.maxConcurrentStreams);
    F.writeSetting(out, S.INITIAL_WINDOW_SIZE, cfg.initialWindowSize);
    if (cfg.maxFrameSize != 16384) F.writeSetting(out, S.MAX_FRAME_SIZE, cfg.maxFrameSize);
    F.writeSetting(out, S.MAX_HEADER_LIST_SIZE, cfg.maxHeaderListSize);
    if (cfg.role == ROLE_SERVER && cfg.enableConnectProtocol) F.writeSetting(out, S.ENABLE_CONNECT_PROTOCOL, 1);
    F.patchLength(out, at, out.len - at - F.FRAME_HEADER);
    if (cfg.connectionWindowSize > <u32>S.DEFAULT_WINDOW) {
      F.writeWindowUpdate(out, 0, cfg.connectionWindowSize - <u32>S.DEFAULT_WINDOW);
      this.connRecvWindow = cfg.connectionWindowSize;
    }
  }

  // ---- input ---------------------------------------------------------------------------------

  /** Makes room for n more input bytes and returns where the host writes them. */
  inputPtr(n: i32): usize {
    const input = this.input;
    input.shift(this.inStart);
    this.inStart = 0;
    input.reserve(n);
    return input.end();
  }

  /** Processes the n bytes the host just wrote (0: continue where the last call stopped). */
  receive(n: i32, now: f64): void {
    this.now = now;
    this.more = false;
    const input = this.input;
    input.len += n;
    if (this.failed) { this.inStart = input.len; return; }
    let pos = this.inStart;
    const base = input.ptr;
    if (this.prefaceLeft > 0) {
      const off = F.PREFACE_LEN - this.prefaceLeft;
      const avail = input.len - pos;
      const k = avail < this.prefaceLeft ? avail : this.prefaceLeft;
      if (memory.compare(base + <usize>pos, F.PREFACE + <usize>off, <usize>k) != 0) {
        this.connError(E.PROTOCOL_ERROR, E.R_BAD_PREFACE, 0);
        this.inStart = input.len;
        return;
      }
      pos += k;
      this.prefaceLeft -= k;
      if (this.prefaceLeft > 0) { this.inStart = pos; return; }
    }
    while (!this.failed) {
      const avail = input.len - pos;
      if (avail < F.FRAME_HEADER) break;
      const p = base + <usize>pos;
      const length = <i32>read24(p);
      if (<u32>length > this.cfg.maxFrameSize) {
        this.connError(E.FRAME_SIZE_ERROR, E.R_FRAME_TOO_LARGE, length);
        break;
      }
      if (avail < F.FRAME_HEADER + length) break;
      if (events.len > SOFT_EVENTS_BYTES || fields.arena.len > SOFT_FIELD_BYTES) {
        this.more = true;
        break;
      }
      const type = load<u8>(p, 3);
      const flags = load<u8>(p, 4);
      const sid = read32(p + 5) & 0x7fffffff;
      pos += F.FRAME_HEADER + length;
      this.frame(type, flags, sid, p + F.FRAME_HEADER, length);
    }
    this.inStart = this.failed ? input.len : pos;
  }

  private frame(type: u8, flags: u8, sid: u32, p: usize, length: i32): void {
    if (!this.gotSettings) {
      // §3.4: the peer's preface ends with a SETTINGS frame, which must be the first frame
      if (type != F.SETTINGS || (flags & F.FLAG_ACK) != 0) {
        this.connError(E.PROTOCOL_ERROR, E.R_FIRST_NOT_SETTINGS, type);
        return;
      }
      this.gotSettings = true;
    }
    if (this.contSid != 0 && (type != F.CONTINUATION || sid != this.contSid)) {
      // §6.10: a field block is contiguous
      this.connError(E.PROTOCOL_ERROR, E.R_EXPECTED_CONTINUATION, type);
      return;
    }
    switch (type) {
      case F.DATA: this.onData(flags, sid, p, length); break;
      case F.HEADERS: this.onHeaders(flags, sid, p, length); break;
      case F.PRIORITY: this.onPriority(sid, p, length); break;
      case F.RST_STREAM: this.onRstStream(sid, p, length); break;
      case F.SETTINGS: this.onSettings(flags, sid, p, length); break;
      case F.PUSH_PROMISE:
        // clients announce ENABLE_PUSH 0 and servers never accept pushes (§8.4)
        if (sid == 0) this.connError(E.PROTOCOL_ERROR, E.R_STREAM_ZERO, type);
        else this.connError(E.PROTOCOL_ERROR, E.R_PUSH_PROMISE, 0);
        break;
      case F.PING: this.onPing(flags, sid, p, length); break;
      case F.GOAWAY: this.onGoaway(sid, p, length); break;
      case F.WINDOW_UPDATE: this.onWindowUpdate(sid, p, length); break;
      case F.CONTINUATION: this.onContinuation(flags, sid, p, length); break;
      default: break; // §5.5: unknown frame types are ignored
    }
  }

  // ---- stream bookkeeping ----------------------------------------------------------------------

  @inline private peerInitiated(sid: u32): bool {
    return this.role == ROLE_SERVER ? (sid & 1) == 1 : (sid & 1) == 0;
  }

  /** §5.1: a stream id not yet used by the side that would open it. */
  private isIdle(sid: u32): bool {
    return this.peerInitiated(sid) ? sid > this.lastPeerSid : sid >= this.nextLocalSid;
  }

  private closeStream(s: Stream, how: u8): void {
    // data the host never consumed would otherwise shrink the connection window for good
    if (s.outstanding > 0) {
      this.creditConn(s.outstanding);
      s.outstanding = 0;
    }
    this.streams.delete(s.id);
    this.closed.add(s.id, how);
    if (this.peerInitiated(s.id)) this.peerStreams--;
    else this.localStreams--;
  }

  private recvEnd(s: Stream): void {
    if (s.state == OPEN) s.state = HALF_CLOSED_REMOTE;
    else this.closeStream(s, CLOSED_NORMALLY);
  }

  private sentEnd(s: Stream): void {
    if (s.state == OPEN) s.state = HALF_CLOSED_LOCAL;
    else this.closeStream(s, CLOSED_NORMALLY);
  }

  /** Rapid reset (CVE-2023-44487) and provoked resets (CVE-2025-8671) share one token bucket. */
  private spendResetToken(): bool {
    const cfg = this.cfg;
    const elapsed = this.now - this.resetStamp;
    this.resetStamp = this.now;
    if (elapsed > 0) {
      this.resetTokens += elapsed * cfg.resetRate / 1000;
      if (this.resetTokens > cfg.resetBurst) this.resetTokens = cfg.resetBurst;
    }
    this.resetTokens -= 1;
    if (this.resetTokens < 0) {
      this.connError(E.ENHANCE_YOUR_CALM, E.R_RESET_FLOOD, 0);
      return false;
    }
    return true;
  }

  /** §5.4.2: RST_STREAM for a stream (open or not), then tell the host. */
  private resetStream(sid: u32, code: u32, reason: i32, detail: i32): void {
    F.writeRstStream(this.out, sid, code);
    if (this.streams.has(sid)) this.closeStream(this.streams.get(sid), CLOSED_BY_OUR_RST);
    else this.closed.add(sid, CLOSED_BY_OUR_RST);
    emit(EV_STREAM_ERROR, sid, 0, <i32>code, reason, detail, 0);
    this.spendResetToken();
  }

  /** §5.4.1: GOAWAY with the last peer stream we processed; nothing more is read. */
  connError(code: u32, reason: i32, detail: i32): void {
    if (this.failed) return;
    F.writeGoaway(this.out, this.lastPeerSid, code, 0, 0);
    this.failed = true;
    this.goawaySent = true;
    emit(EV_CONN_ERROR, 0, 0, <i32>code, reason, detail, <i32>this.lastPeerSid);
  }

  private creditConn(n: i64): void {
    if (n <= 0) return;
    this.connUnacked += n;
    if (this.connUnacked >= <i64>(this.cfg.connectionWindowSize >> 2) || this.connRecvWindow < 16384) {
      F.writeWindowUpdate(this.out, 0, <u32>this.connUnacked);
      this.connRecvWindow += this.connUnacked;
      this.connUnacked = 0;
    }
  }

  private creditStream(s: Stream, n: i32): void {
    if (n <= 0 || s.state == HALF_CLOSED_REMOTE) return;
    s.unacked += n;
    if (<i64>s.unacked >= (this.localWindow >> 1) || s.recvWindow < 16384) {
      F.writeWindowUpdate(this.out, s.id, <u32>s.unacked);
      s.recvWindow += s.unacked;
      s.unacked = 0;
    }
  }

  private countEmpty(): bool {
    if (++this.emptyFrames > this.cfg.maxEmptyFrames) {
      this.connError(E.ENHANCE_YOUR_CALM, E.R_EMPTY_FRAME_FLOOD, 0);
      return false;
    }
    return true;
  }

  // ---- frames ----------------------------------------------------------------------------------

  private onData(flags: u8, sid: u32, p: usize, length: i32): void {
    if (sid == 0) { this.connError(E.PROTOCOL_ERROR, E.R_STREAM_ZERO, F.DATA); return; }
    let dp = p;
    let dl = length;
    if (flags & F.FLAG_PADDED) {
      if (length < 1) { this.connError(E.FRAME_SIZE_ERROR, E.R_BAD_FRAME_LENGTH, F.DATA); return; }
      const pad = <i32>load<u8>(p);
      if (pad >= length) { this.connError(E.PROTOCOL_ERROR, E.R_BAD_PADDING, F.DATA); return; }
      dp = p + 1;
      dl = length - 1 - pad;
    }
    if (<i64>length > this.connRecvWindow) { this.connError(E.FLOW_CONTROL_ERROR, E.R_FLOW_CONTROL, 0); return; }
    this.connRecvWindow -= length;
    if (!this.streams.has(sid)) {
      this.creditConn(length);
      if (this.isIdle(sid)) { this.connError(E.PROTOCOL_ERROR, E.R_IDLE_STREAM, F.DATA); return; }
      const how = this.closed.find(sid);
      if (how == CLOSED_BY_OUR_RST) return; // in flight when we reset it
      if (how == CLOSED_BY_PEER_RST) { this.resetStream(sid, E.STREAM_CLOSED, E.R_CLOSED_STREAM, F.DATA); return; }
      this.connError(E.STREAM_CLOSED, E.R_CLOSED_STREAM, F.DATA);
      return;
    }
    const s = this.streams.get(sid);
    if (s.state == HALF_CLOSED_REMOTE) {
      this.creditConn(length);
      this.resetStream(sid, E.STREAM_CLOSED, E.R_HALF_CLOSED, F.DATA);
      return;
    }
    if (s.rx != RX_HEADERS) {
      this.creditConn(length);
      this.resetStream(sid, E.PROTOCOL_ERROR, E.R_MALFORMED, F.DATA);
      return;
    }
    if (<i64>length > s.recvWindow) {
      this.creditConn(length);
      this.resetStream(sid, E.FLOW_CONTROL_ERROR, E.R_FLOW_CONTROL, 0);
      return;
    }
    s.recvWindow -= length;
    const end = (flags & F.FLAG_END_STREAM) != 0;
    s.received += dl;
    if (s.contentLength >= 0 && (s.received > s.contentLength || (end && s.received != s.contentLength))) {
      this.creditConn(length);
      this.resetStream(sid, E.PROTOCOL_ERROR, E.R_CONTENT_LENGTH, 0);
      return;
    }
    if (length > dl) {
      this.creditConn(length - dl);
      this.creditStream(s, length - dl);
    }
    if (dl == 0 && !end) {
      if (!this.countEmpty()) return;
    } else {
      this.emptyFrames = 0;
    }
    s.outstanding += dl;
    emit(EV_DATA, sid, end ? 1 : 0, <i32>dp, dl, length, 0);
    if (end) this.recvEnd(s);
  }

  private onHeaders(flags: u8, sid: u32, p: usize, length: i32): void {
    if (sid == 0) { this.connError(E.PROTOCOL_ERROR, E.R_STREAM_ZERO, F.HEADERS); return; }
    let q = p;
    let n = length;
    let pad = 0;
    if (flags & F.FLAG_PADDED) {
      if (n < 1) { this.connError(E.FRAME_SIZE_ERROR, E.R_BAD_FRAME_LENGTH, F.HEADERS); return; }
      pad = <i32>load<u8>(q);
      q++;
      n--;
    }
    let selfDep = false;
    if (flags & F.FLAG_PRIORITY) {
      if (n < 5) { this.connError(E.FRAME_SIZE_ERROR, E.R_BAD_FRAME_LENGTH, F.HEADERS); return; }
      selfDep = (read32(q) & 0x7fffffff) == sid;
      q += 5;
      n -= 5;
    }
    if (pad > n) { this.connError(E.PROTOCOL_ERROR, E.R_BAD_PADDING, F.HEADERS); return; }
    n -= pad;
    if (n > this.cfg.maxHeaderBlock) { this.connError(E.ENHANCE_YOUR_CALM, E.R_HEADER_BLOCK_TOO_LARGE, n); return; }
    if (flags & F.FLAG_END_HEADERS) {
      this.headerBlock(sid, flags, q, n, selfDep);
      return;
    }
    if (n == 0 && !this.countEmpty()) return;
    this.block.len = 0;
    this.block.append(q, n);
    this.contSid = sid;
    this.contFlags = flags;
    this.contSelfDep = selfDep;
  }

  private onContinuation(flags: u8, sid: u32, p: usize, length: i32): void {
    if (this.contSid == 0) {
      this.connError(E.PROTOCOL_ERROR, sid == 0 ? E.R_STREAM_ZERO : E.R_UNEXPECTED_CONTINUATION, F.CONTINUATION);
      return;
    }
    const block = this.block;
    if (block.len + length > this.cfg.maxHeaderBlock) {
      this.connError(E.ENHANCE_YOUR_CALM, E.R_HEADER_BLOCK_TOO_LARGE, block.len + length);
      return;
    }
    block.append(p, length);
    if ((flags & F.FLAG_END_HEADERS) == 0) {
      if (length == 0) this.countEmpty();
      return;
    }
    this.contSid = 0;
    this.headerBlock(sid, this.contFlags, block.ptr, block.len, this.contSelfDep);
    block.len = 0;
    block.shrinkIfIdle(65536);
  }

  /** A complete field block on `sid`: decode it (always, to keep HPACK in step), then judge it. */
  private headerBlock(sid: u32, flags: u8, p: usize, n: i32, selfDep: bool): void {
    const endStream = (flags & F.FLAG_END_STREAM) != 0;
    const has = this.streams.has(sid);
    if (!has) {
      // clients open odd streams; a client refuses server-opened (pushed) streams, having disabled push
      if (this.role == ROLE_SERVER) {
        if ((sid & 1) == 0) { this.connError(E.PROTOCOL_ERROR, E.R_STREAM_ID_PARITY, <i32>sid); return; }
      } else if ((sid & 1) == 0) {
        this.connError(E.PROTOCOL_ERROR, E.R_PUSH_PROMISE, <i32>sid); return;
      } else if (sid >= this.nextLocalSid) {
        this.connError(E.PROTOCOL_ERROR, E.R_IDLE_STREAM, F.HEADERS); return;
      }
    }
    const mark = fields.count;
    const arenaMark = fields.arena.len;
    const status = this.dec.decode(p, n, fields, <i32>this.cfg.maxHeaderListSize);
    if (status == HPACK_ERROR) { this.connError(E.COMPRESSION_ERROR, E.R_HPACK, this.dec.error); return; }
    const count = fields.count - mark;

    if (!has) {
      if (!this.isIdle(sid)) {
        fields.truncate(mark, arenaMark);
        const how = this.closed.find(sid);
        if (how == CLOSED_BY_OUR_RST) return;
        if (how == CLOSED_BY_PEER_RST) { this.resetStream(sid, E.STREAM_CLOSED, E.R_CLOSED_STREAM, F.HEADERS); return; }
        if (how == CLOSED_NORMALLY) { this.connError(E.STREAM_CLOSED, E.R_CLOSED_STREAM, F.HEADERS); return; }
        this.connError(E.PROTOCOL_ERROR, E.R_STREAM_ID_REUSED, sid);
        return;
      }
      // a new stream from the peer (only servers get here: clients refused pushes above)
      this.lastPeerSid = sid;
      if (this.goawaySent && sid > this.goawayLastSid) {
        fields.truncate(mark, arenaMark); // §6.8: ignored after our GOAWAY
        return;
      }
      if (selfDep) { fields.truncate(mark, arenaMark); this.resetStream(sid, E.PROTOCOL_ERROR, E.R_SELF_DEPENDENCY, 0); return; }
      if (<u32>this.peerStreams >= this.cfg.maxConcurrentStreams) {
        fields.truncate(mark, arenaMark);
        this.resetStream(sid, E.REFUSED_STREAM, E.R_TOO_MANY_STREAMS, 0);
        return;
      }
      const s = new Stream(sid, <i64>this.remote.initialWindowSize, this.localWindow);
      this.streams.set(sid, s);
      this.peerStreams++;
      s.rx = RX_HEADERS;
      if (status == HPACK_TOO_LARGE) {
        // §10.5.1: the host answers 431; no fields are passed on
        fields.truncate(mark, arenaMark);
        if (endStream) s.state = HALF_CLOSED_REMOTE;
        emit(EV_STREAM_ERROR, sid, endStream ? 1 : 0, 0, E.R_HEADER_LIST_TOO_LARGE, this.dec.listSize, 0);
        return;
      }
      const r = validateMessage(fields, mark, count, MSG_REQUEST, this.cfg.enableConnectProtocol);
      if (r != 0) { fields.truncate(mark, arenaMark); this.resetStream(sid, E.PROTOCOL_ERROR, E.R_MALFORMED, r); return; }
      s.contentLength = msgContentLength;
      if (endStream && s.contentLength > 0) {
        fields.truncate(mark, arenaMark);
        this.resetStream(sid, E.PROTOCOL_ERROR, E.R_CONTENT_LENGTH, 0);
        return;
      }
      emit(EV_HEADERS, sid, endStream ? 1 : 0, mark, count, MSG_REQUEST, 0);
      if (endStream) s.state = HALF_CLOSED_REMOTE;
      return;
    }

    const s = this.streams.get(sid);
    if (selfDep) { fields.truncate(mark, arenaMark); this.resetStream(sid, E.PROTOCOL_ERROR, E.R_SELF_DEPENDENCY, 0); return; }
    if (s.state == HALF_CLOSED_REMOTE) {
      fields.truncate(mark, arenaMark);
      this.resetStream(sid, E.STREAM_CLOSED, E.R_HALF_CLOSED, F.HEADERS);
      return;
    }
    if (status == HPACK_TOO_LARGE) {
      fields.truncate(mark, arenaMark);
      this.resetStream(sid, E.CANCEL, E.R_HEADER_LIST_TOO_LARGE, this.dec.listSize);
      return;
    }
    const kind: u8 = s.rx == RX_HEADERS ? MSG_TRAILERS : MSG_RESPONSE;
    if (kind == MSG_RESPONSE && this.role == ROLE_SERVER) {
      // cannot happen: server streams are opened by requests. Defensive.
      fields.truncate(mark, arenaMark);
      this.resetStream(sid, E.PROTOCOL_ERROR, E.R_MALFORMED, 0);
      return;
    }
    if (kind == MSG_TRAILERS && !endStream) {
      fields.truncate(mark, arenaMark);
      this.resetStream(sid, E.PROTOCOL_ERROR, E.R_TRAILERS_WITHOUT_END, 0);
      return;
    }
    const r = validateMessage(fields, mark, count, kind, false);
    if (r != 0) { fields.truncate(mark, arenaMark); this.resetStream(sid, E.PROTOCOL_ERROR, E.R_MALFORMED, r); return; }
    const got = msgKind;
    if (got == MSG_INFORMATIONAL) {
      if (endStream) { fields.truncate(mark, arenaMark); this.resetStream(sid, E.PROTOCOL_ERROR, E.R_MALFORMED, E.R_BAD_STATUS); return; }
      s.rx = RX_INFORMATIONAL;
    } else if (got == MSG_RESPONSE) {
      s.rx = RX_HEADERS;
      // §8.1.1: HEAD responses, 204 and 304 carry no content whatever content-length says
      s.contentLength = s.headRequest || msgStatus == 204 || msgStatus == 304 ? -1 : msgContentLength;
    }
    if (endStream && s.contentLength >= 0 && s.received != s.contentLength) {
      fields.truncate(mark, arenaMark);
      this.resetStream(sid, E.PROTOCOL_ERROR, E.R_CONTENT_LENGTH, 0);
      return;
    }
    emit(EV_HEADERS, sid, endStream ? 1 : 0, mark, count, got, msgStatus);
    if (endStream) this.recvEnd(s);
  }

  private onPriority(sid: u32, p: usize, length: i32): void {
    if (sid == 0) { this.connError(E.PROTOCOL_ERROR, E.R_STREAM_ZERO, F.PRIORITY); return; }
    if (length != 5) { this.resetStream(sid, E.FRAME_SIZE_ERROR, E.R_BAD_FRAME_LENGTH, F.PRIORITY); return; }
    if ((read32(p) & 0x7fffffff) == sid) this.resetStream(sid, E.PROTOCOL_ERROR, E.R_SELF_DEPENDENCY, 0);
    // otherwise ignored: RFC 9113 deprecates the priority tree
  }

  private onRstStream(sid: u32, p: usize, length: i32): void {
    if (sid == 0) { this.connError(E.PROTOCOL_ERROR, E.R_STREAM_ZERO, F.RST_STREAM); return; }
    if (length != 4) { this.connError(E.FRAME_SIZE_ERROR, E.R_BAD_FRAME_LENGTH, F.RST_STREAM); return; }
    if (!this.streams.has(sid)) {
      if (this.isIdle(sid)) this.connError(E.PROTOCOL_ERROR, E.R_IDLE_STREAM, F.RST_STREAM);
      return; // already closed: nothing to do (§5.4.2: never answer RST_STREAM with RST_STREAM)
    }
    const s = this.streams.get(sid);
    this.closeStream(s, CLOSED_BY_PEER_RST);
    emit(EV_RST_STREAM, sid, 0, <i32>read32(p), 0, 0, 0);
    this.spendResetToken();
  }

  private onSettings(flags: u8, sid: u32, p: usize, length: i32): void {
    if (sid != 0) { this.connError(E.PROTOCOL_ERROR, E.R_STREAM_NONZERO, F.SETTINGS); return; }
    if (flags & F.FLAG_ACK) {
      if (length != 0) { this.connError(E.FRAME_SIZE_ERROR, E.R_BAD_FRAME_LENGTH, F.SETTINGS); return; }
      if (this.settingsUnacked > 0) {
        this.settingsUnacked--;
        // our settings are now in force
        this.localWindow = <i64>this.cfg.initialWindowSize;
        if (this.cfg.headerTableSize != <u32>this.dec.maxAllowed) this.dec.setLimit(<i32>this.cfg.headerTableSize);
      }
      emit(EV_SETTINGS_ACK, 0, 0, 0, 0, 0, 0);
      return;
    }
    if (length % 6 != 0) { this.connError(E.FRAME_SIZE_ERROR, E.R_BAD_FRAME_LENGTH, F.SETTINGS); return; }
    const remote = this.remote;
    for (let i = 0; i < length; i += 6) {
      const q = p + <usize>i;
      const id = (<u32>load<u8>(q) << 8) | <u32>load<u8>(q + 1);
      const v = read32(q + 2);
      if (id == S.HEADER_TABLE_SIZE) {
        remote.headerTableSize = v;
        this.enc.setPeerMax(v > 0x7fffffff ? 0x7fffffff : <i32>v);
      } else if (id == S.ENABLE_PUSH) {
        // §6.5.2: 0 or 1, and a server never announces 1
        if (v > 1 || (v == 1 && this.role == ROLE_CLIENT)) { this.connError(E.PROTOCOL_ERROR, E.R_BAD_SETTING, <i32>id); return; }
        remote.enablePush = v;
      } else if (id == S.MAX_CONCURRENT_STREAMS) {
        remote.maxConcurrentStreams = v;
      } else if (id == S.INITIAL_WINDOW_SIZE) {
        if (<i64>v > S.MAX_WINDOW) { this.connError(E.FLOW_CONTROL_ERROR, E.R_BAD_SETTING, <i32>id); return; }
        const delta = <i64>v - <i64>remote.initialWindowSize;
        remote.initialWindowSize = v;
        if (delta != 0) {
          // §6.9.2: adjust every stream's send window by the difference
          const all = this.streams.values();
          for (let k = 0; k < all.length; k++) {
            const s = unchecked(all[k]);
            s.sendWindow += delta;
            if (s.sendWindow > S.MAX_WINDOW) { this.connError(E.FLOW_CONTROL_ERROR, E.R_WINDOW_OVERFLOW, <i32>s.id); return; }
          }
        }
      } else if (id == S.MAX_FRAME_SIZE) {
        if (v < S.MIN_MAX_FRAME_SIZE || v > S.MAX_MAX_FRAME_SIZE) { this.connError(E.PROTOCOL_ERROR, E.R_BAD_SETTING, <i32>id); return; }
        remote.maxFrameSize = v;
      } else if (id == S.MAX_HEADER_LIST_SIZE) {
        remote.maxHeaderListSize = v;
      } else if (id == S.ENABLE_CONNECT_PROTOCOL) {
        // RFC 8441 §3: 0 or 1, and once 1 it stays 1
        if (v > 1 || (v == 0 && remote.enableConnectProtocol == 1)) { this.connError(E.PROTOCOL_ERROR, E.R_BAD_SETTING, <i32>id); return; }
        remote.enableConnectProtocol = v;
      }
      // §6.5.2: unknown settings are ignored
    }
    F.writeFrameHeader(this.out, 0, F.SETTINGS, F.FLAG_ACK, 0);
    emit(EV_SETTINGS, 0, 0, 0, 0, 0, 0);
  }

  private onPing(flags: u8, sid: u32, p: usize, length: i32): void {
    if (sid != 0) { this.connError(E.PROTOCOL_ERROR, E.R_STREAM_NONZERO, F.PING); return; }
    if (length != 8) { this.connError(E.FRAME_SIZE_ERROR, E.R_BAD_FRAME_LENGTH, F.PING); return; }
    if (flags & F.FLAG_ACK) emit(EV_PING_ACK, 0, 0, <i32>p, 0, 0, 0);
    else F.writePing(this.out, true, p);
  }

  private onGoaway(sid: u32, p: usize, length: i32): void {
    if (sid != 0) { this.connError(E.PROTOCOL_ERROR, E.R_STREAM_NONZERO, F.GOAWAY); return; }
    if (length < 8) { this.connError(E.FRAME_SIZE_ERROR, E.R_BAD_FRAME_LENGTH, F.GOAWAY); return; }
    const last = read32(p) & 0x7fffffff;
    const code = read32(p + 4);
    this.goawayReceived = true;
    if (last < this.peerGoawayLastSid) this.peerGoawayLastSid = last;
    emit(EV_GOAWAY, 0, 0, <i32>last, <i32>code, <i32>(p + 8), length - 8);
    // §6.8: our streams above `last` were never processed: the host may retry them elsewhere
    const all = this.streams.values();
    for (let k = 0; k < all.length; k++) {
      const s = unchecked(all[k]);
      if (!this.peerInitiated(s.id) && s.id > last) {
        this.closeStream(s, CLOSED_BY_PEER_RST);
        emit(EV_RST_STREAM, s.id, 0, <i32>E.REFUSED_STREAM, 1, 0, 0);
      }
    }
  }

  private onWindowUpdate(sid: u32, p: usize, length: i32): void {
    if (length != 4) { this.connError(E.FRAME_SIZE_ERROR, E.R_BAD_FRAME_LENGTH, F.WINDOW_UPDATE); return; }
    const inc = <i64>(read32(p) & 0x7fffffff);
    if (sid == 0) {
      if (inc == 0) { this.connError(E.PROTOCOL_ERROR, E.R_ZERO_WINDOW_INCREMENT, 0); return; }
      this.connSendWindow += inc;
      if (this.connSendWindow > S.MAX_WINDOW) { this.connError(E.FLOW_CONTROL_ERROR, E.R_WINDOW_OVERFLOW, 0); return; }
      emit(EV_WINDOW_UPDATE, 0, 0, 0, 0, 0, 0);
      return;
    }
    if (!this.streams.has(sid)) {
      if (this.isIdle(sid)) this.connError(E.PROTOCOL_ERROR, E.R_IDLE_STREAM, F.WINDOW_UPDATE);
      return; // closed: may have been in flight
    }
    const s = this.streams.get(sid);
    if (inc == 0) { this.resetStream(sid, E.PROTOCOL_ERROR, E.R_ZERO_WINDOW_INCREMENT, 0); return; }
    s.sendWindow += inc;
    if (s.sendWindow > S.MAX_WINDOW) { this.resetStream(sid, E.FLOW_CONTROL_ERROR, E.R_WINDOW_OVERFLOW, 0); return; }
    emit(EV_WINDOW_UPDATE, sid, 0, 0, 0, 0, 0);
  }

  // ---- what the host sends ---------------------------------------------------------------------

  /**
   * Sends a field block: a request (client, sid 0: opens the next stream), a response, or trailers
   * (endStream). Fields are `count` records at `src`: u32 name length, u32 value length, u32 flags,
   * name bytes, value bytes. Returns the stream id or a SUBMIT_* error.
   */
  submitHeaders(sid: u32, src: usize, count: i32, endStream: bool): i32 {
    if (this.failed) return SUBMIT_CLOSED;
    let s: Stream;
    if (sid == 0) {
      if (this.role != ROLE_CLIENT) return SUBMIT_NO_STREAM;
      if (this.goawayReceived || this.goawaySent) return SUBMIT_GOAWAY;
      if (<u32>this.localStreams >= this.remote.maxConcurrentStreams) return SUBMIT_TOO_MANY;
      if (this.nextLocalSid > 0x7fffffff) return SUBMIT_IDS_EXHAUSTED;
      sid = this.nextLocalSid;
      this.nextLocalSid += 2;
      s = new Stream(sid, <i64>this.remote.initialWindowSize, this.localWindow);
      this.streams.set(sid, s);
      this.localStreams++;
    } else {
      if (!this.streams.has(sid)) return SUBMIT_NO_STREAM;
      s = this.streams.get(sid);
      if (s.state == HALF_CLOSED_LOCAL) return SUBMIT_NO_STREAM;
    }
    if (this.role == ROLE_CLIENT && isHeadRequest(src, count)) s.headRequest = true;
    const block = this.headerOut;
    block.len = 0;
    this.enc.encodeRecords(block, src, count);
    // HEADERS then CONTINUATION frames of at most the peer's max frame size (§4.2, §6.10)
    const max = <i32>this.remote.maxFrameSize;
    const out = this.out;
    let off = 0;
    const total = block.len;
    let first = true;
    do {
      const chunk = total - off < max ? total - off : max;
      const last = off + chunk == total;
      let fflags: u8 = last ? F.FLAG_END_HEADERS : 0;
      if (first && endStream) fflags |= F.FLAG_END_STREAM;
      F.writeFrameHeader(out, chunk, first ? F.HEADERS : F.CONTINUATION, fflags, sid);
      out.append(block.ptr + <usize>off, chunk);
      off += chunk;
      first = false;
    } while (off < total);
    block.shrinkIfIdle(65536);
    if (endStream) this.sentEnd(s);
    return <i32>sid;
  }

  /**
   * Flow control for `len` bytes of DATA on `sid`: writes one DATA frame header for as many bytes
   * as the windows and the peer's frame size allow, and returns that count. The host writes the
   * payload itself right after the output, so bodies never pass through linear memory.
   */
  submitData(sid: u32, len: i32, endStream: bool): i32 {
    if (this.failed) return SUBMIT_CLOSED;
    if (!this.streams.has(sid)) return SUBMIT_NO_STREAM;
    const s = this.streams.get(sid);
    if (s.state == HALF_CLOSED_LOCAL) return SUBMIT_NO_STREAM;
    let n: i64 = len;
    if (n > s.sendWindow) n = s.sendWindow;
    if (n > this.connSendWindow) n = this.connSendWindow;
    if (n > <i64>this.remote.maxFrameSize) n = this.remote.maxFrameSize;
    if (n < 0) n = 0;
    if (n == 0 && len > 0) return 0;
    const end = endStream && n == <i64>len;
    s.sendWindow -= n;
    this.connSendWindow -= n;
    // closing the stream may write frames (a WINDOW_UPDATE for unconsumed data): they must go
    // before the DATA header, because the host appends the payload right after whatever we write last
    if (end) this.sentEnd(s);
    F.writeFrameHeader(this.out, <i32>n, F.DATA, end ? F.FLAG_END_STREAM : 0, sid);
    return <i32>n;
  }

  /** How many bytes of DATA `sid` could send now. */
  sendable(sid: u32): i32 {
    if (!this.streams.has(sid)) return -1;
    const s = this.streams.get(sid);
    let n = s.sendWindow < this.connSendWindow ? s.sendWindow : this.connSendWindow;
    return n < 0 ? 0 : <i32>n;
  }

  /** The host has consumed n bytes of DATA received on sid: credit them back to the peer. */
  consume(sid: u32, n: i32): void {
    // a closed stream's outstanding bytes were credited when it closed
    if (this.failed || !this.streams.has(sid)) return;
    const s = this.streams.get(sid);
    let k: i64 = n;
    if (k > s.outstanding) k = s.outstanding;
    if (k <= 0) return;
    s.outstanding -= k;
    this.creditConn(k);
    this.creditStream(s, <i32>k);
  }

  submitRst(sid: u32, code: u32): void {
    if (this.failed || !this.streams.has(sid)) return;
    F.writeRstStream(this.out, sid, code);
    this.closeStream(this.streams.get(sid), CLOSED_BY_OUR_RST);
  }

  submitPing(payload: usize): void {
    if (!this.failed) F.writePing(this.out, false, payload);
  }

  /** GOAWAY; lastSid < 0 means the last stream the peer opened. Sending it twice lowers the id. */
  submitGoaway(code: u32, lastSid: i32): void {
    if (this.failed) return;
    const last: u32 = lastSid < 0 ? this.lastPeerSid : <u32>lastSid;
    if (last < this.goawayLastSid) this.goawayLastSid = last;
    this.goawaySent = true;
    F.writeGoaway(this.out, this.goawayLastSid, code, 0, 0);
    if (code != E.NO_ERROR) this.failed = true;
  }

  streamCount(): i32 {
    return this.streams.size;
  }

  dispose(): void {
    this.input.free();
    this.out.free();
    this.block.free();
    this.headerOut.free();
    this.dec.dispose();
    this.enc.dispose();
    this.streams.clear();
  }
}

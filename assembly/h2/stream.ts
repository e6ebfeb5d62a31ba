// RFC 9113 §5.1 stream state, per-stream flow-control windows (§6.9), and what the core must
// remember of a message to check it (§8.1.1: content-length against DATA; header/trailer order).
export const OPEN: u8 = 1;
export const HALF_CLOSED_LOCAL: u8 = 2;   // we sent END_STREAM
export const HALF_CLOSED_REMOTE: u8 = 3;  // the peer sent END_STREAM
// (idle and closed streams have no Stream object: closed ones are kept in ClosedStreams)

// what we have received on the stream
export const RX_NONE: u8 = 0;
export const RX_INFORMATIONAL: u8 = 1;    // client: only 1xx responses so far
export const RX_HEADERS: u8 = 2;          // the request or the final response head

export class Stream {
  id: u32;
  state: u8 = OPEN;
  rx: u8 = RX_NONE;
  /** Client role: the request was HEAD, so the response has no content whatever content-length says. */
  headRequest: bool = false;
  sendWindow: i64;
  recvWindow: i64;
  /** Received bytes the host has consumed and we have not yet credited back with WINDOW_UPDATE. */
  unacked: i32 = 0;
  /** DATA bytes handed to the host and not yet consumed: credited to the connection if the stream closes first. */
  outstanding: i64 = 0;
  /** Declared content-length of the message being received, -1 when absent. */
  contentLength: i64 = -1;
  received: i64 = 0;

  constructor(id: u32, sendWindow: i64, recvWindow: i64) {
    this.id = id;
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }
}

// How a stream closed, which decides what a late frame on it means (§5.1, §5.4.2).
export const CLOSED_NORMALLY: u8 = 1;     // END_STREAM both ways
export const CLOSED_BY_PEER_RST: u8 = 2;
export const CLOSED_BY_OUR_RST: u8 = 3;

const RECENT: i32 = 256;

/** The most recently closed streams, so late frames on them can be told from protocol errors. */
export class ClosedStreams {
  ids: StaticArray<u32> = new StaticArray<u32>(RECENT);
  how: StaticArray<u8> = new StaticArray<u8>(RECENT);
  next: i32 = 0;

  add(id: u32, how: u8): void {
    unchecked((this.ids[this.next] = id));
    unchecked((this.how[this.next] = how));
    this.next = (this.next + 1) & (RECENT - 1);
  }

  /** How stream `id` closed, or 0 if it is not among the recent ones. */
  find(id: u32): u8 {
    for (let i = 0; i < RECENT; i++) if (unchecked(this.ids[i]) == id) return unchecked(this.how[i]);
    return 0;
  }
}

// What a TLS ClientHello says before any TLS is done (RFC 8446 §4.1.2, RFC 6066 §3 server_name,
// RFC 7301 ALPN): the inbound uses it to tell mesh TLS (a peer sidecar offering the mesh's ALPN
// protocol) from an application's own TLS, which passes through untouched. Reads the handshake
// across as many TLS records as it spans; never throws on what a client sends.

export interface ClientHello {
  /** server_name (host_name), if sent. */
  serverName?: string;
  /** ALPN protocol names offered, in the client's order. */
  alpn: string[];
}

/** 'more': not all of the ClientHello has arrived yet; 'invalid': not a ClientHello. */
export type ClientHelloResult = ClientHello | 'more' | 'invalid';

const MAX_HELLO = 64 * 1024;

/** Parses the ClientHello at the start of `data` (the first bytes a client sent). */
export function parseClientHello(data: Uint8Array): ClientHelloResult {
  // reassemble the handshake message from handshake records
  const hs: number[] = [];
  let off = 0;
  let need = -1; // handshake message length once known
  while (need < 0 || hs.length < need + 4) {
    if (off + 5 > data.length) return 'more';
    const type = data[off];
    const major = data[off + 1];
    const len = (data[off + 3] << 8) | data[off + 4];
    if (type !== 22 || major !== 3 || len === 0 || len > 16384 + 2048) return 'invalid';
    if (off + 5 + len > data.length) {
      // take what there is: the header may be complete enough to know it is a ClientHello
      for (let i = off + 5; i < data.length; i++) hs.push(data[i]);
      if (hs.length >= 1 && hs[0] !== 1) return 'invalid';
      return 'more';
    }
    for (let i = off + 5; i < off + 5 + len; i++) hs.push(data[i]);
    off += 5 + len;
    if (need < 0 && hs.length >= 4) {
      if (hs[0] !== 1) return 'invalid'; // not client_hello
      need = (hs[1] << 16) | (hs[2] << 8) | hs[3];
      if (need > MAX_HELLO) return 'invalid';
    }
  }
  return parseBody(Uint8Array.from(hs.slice(4, 4 + need)));
}

function parseBody(b: Uint8Array): ClientHelloResult {
  let p = 0;
  const has = (n: number): boolean => p + n <= b.length;
  const u8 = (): number => b[p++];
  const u16 = (): number => { const v = (b[p] << 8) | b[p + 1]; p += 2; return v; };
  // legacy_version, random
  if (!has(2 + 32)) return 'invalid';
  p += 34;
  // legacy_session_id
  if (!has(1)) return 'invalid';
  const sid = u8();
  if (sid > 32 || !has(sid)) return 'invalid';
  p += sid;
  // cipher_suites
  if (!has(2)) return 'invalid';
  const cs = u16();
  if (cs < 2 || cs % 2 !== 0 || !has(cs)) return 'invalid';
  p += cs;
  // legacy_compression_methods
  if (!has(1)) return 'invalid';
  const cm = u8();
  if (cm < 1 || !has(cm)) return 'invalid';
  p += cm;
  const hello: ClientHello = { alpn: [] };
  if (p === b.length) return hello; // no extensions (pre-TLS-1.2 style)
  if (!has(2)) return 'invalid';
  const extEnd = p + 2 + ((b[p] << 8) | b[p + 1]);
  p += 2;
  if (extEnd > b.length) return 'invalid';
  while (p < extEnd) {
    if (p + 4 > extEnd) return 'invalid';
    const type = u16();
    const len = u16();
    const end = p + len;
    if (end > extEnd) return 'invalid';
    if (type === 0) {
      // server_name: list of (type, name); host_name is type 0
      if (len < 2) return 'invalid';
      let q = p + 2;
      const listEnd = p + 2 + ((b[p] << 8) | b[p + 1]);
      if (listEnd > end) return 'invalid';
      while (q + 3 <= listEnd) {
        const nameType = b[q];
        const nl = (b[q + 1] << 8) | b[q + 2];
        if (q + 3 + nl > listEnd) return 'invalid';
        if (nameType === 0 && hello.serverName === undefined) hello.serverName = Buffer.from(b.subarray(q + 3, q + 3 + nl)).toString('latin1');
        q += 3 + nl;
      }
    } else if (type === 16) {
      // ALPN: list of length-prefixed protocol names
      if (len < 2) return 'invalid';
      let q = p + 2;
      const listEnd = p + 2 + ((b[p] << 8) | b[p + 1]);
      if (listEnd > end) return 'invalid';
      while (q < listEnd) {
        const nl = b[q];
        if (nl === 0 || q + 1 + nl > listEnd) return 'invalid';
        hello.alpn.push(Buffer.from(b.subarray(q + 1, q + 1 + nl)).toString('latin1'));
        q += 1 + nl;
      }
    }
    p = end;
  }
  return hello;
}

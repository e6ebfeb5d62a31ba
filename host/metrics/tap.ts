// Live tap: a summary of each request as it ends (method, authority, path, status, latency,
// identities), streamed to whoever listens on the admin server's /tap, filtered per listener.
// Costs nothing while nobody listens (the data path checks `active` before building a summary);
// a listener that cannot keep up misses summaries instead of growing the proxy's memory.

export interface RequestSummary {
  /** ISO 8601 time the request ended. */
  time: string;
  direction: string;
  method: string;
  authority: string;
  path: string;
  /** The response status (0: none was sent). */
  status: number;
  grpc_status?: number;
  /** Request head to the response's first byte, ms. */
  latency_ms: number;
  /** Request head to the end of the exchange, ms. */
  duration_ms: number;
  client_id?: string;
  server_id?: string;
  target_addr?: string;
  route?: string;
  error?: string;
  /** The client's address (inbound). */
  client_addr?: string;
  /** The inbound policy's decision when it was not a plain allow: 'deny', or 'audit' (a would-be denial let through). */
  authz?: string;
}

/** Most listeners at once: each costs every request a filter match and a JSON line. */
export const MAX_TAPS = 16;

export interface TapFilter {
  direction?: string;
  method?: string;
  /** Exact authority. */
  authority?: string;
  /** Path prefix. */
  path?: string;
  /** A status (503) or a class (5xx). */
  status?: string;
  /** client_id or server_id equal to this. */
  identity?: string;
}

/** Parses a tap filter from query parameters; a string says what is wrong. */
export function parseTapFilter(params: URLSearchParams): TapFilter | string {
  const f: TapFilter = {};
  for (const [k, v] of params) {
    if (k === 'direction') {
      if (v !== 'inbound' && v !== 'outbound') return `direction: expected inbound or outbound, got '${v}'`;
      f.direction = v;
    } else if (k === 'method') f.method = v.toUpperCase();
    else if (k === 'authority') f.authority = v;
    else if (k === 'path') f.path = v;
    else if (k === 'status') {
      if (!/^[1-5](\d\d|xx)$/.test(v)) return `status: expected a status (503) or a class (5xx), got '${v}'`;
      f.status = v;
    } else if (k === 'identity') f.identity = v;
    else if (k !== 'limit') return `unknown filter '${k}' (direction, method, authority, path, status, identity, limit)`;
  }
  return f;
}

export function matchesTap(f: TapFilter, s: RequestSummary): boolean {
  if (f.direction !== undefined && s.direction !== f.direction) return false;
  if (f.method !== undefined && s.method !== f.method) return false;
  if (f.authority !== undefined && s.authority !== f.authority) return false;
  if (f.path !== undefined && !s.path.startsWith(f.path)) return false;
  if (f.status !== undefined) {
    const st = String(s.status);
    if (f.status.endsWith('xx') ? st[0] !== f.status[0] || st.length !== 3 : st !== f.status) return false;
  }
  if (f.identity !== undefined && s.client_id !== f.identity && s.server_id !== f.identity) return false;
  return true;
}

export interface TapListener {
  filter: TapFilter;
  /** false: the listener is behind; the summary was not taken. */
  send(s: RequestSummary): boolean;
}

export class Tap {
  private listeners = new Set<TapListener>();
  /** Summaries a slow listener missed. */
  dropped = 0;

  get active(): boolean { return this.listeners.size > 0; }

  /** Registers a listener; returns what removes it. */
  listen(l: TapListener): () => void {
    if (this.listeners.size >= MAX_TAPS) throw new Error(`${MAX_TAPS} taps are listening already; try again when one ends`);
    this.listeners.add(l);
    return () => { this.listeners.delete(l); };
  }

  publish(s: RequestSummary): void {
    for (const l of this.listeners) if (matchesTap(l.filter, s) && !l.send(s)) this.dropped++;
  }
}

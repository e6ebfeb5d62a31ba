// The proxy's configuration from `skiff control` (config-protocol.ts): one long-lived HTTP/2
// stream over mTLS with the workload certificate, an initial state and then changes, validated here
// with the same code as the directory source, so both make the same Snapshot. On a disconnect the
// last configuration keeps serving while the source reconnects with backoff; the first message of a
// new stream replaces what was held (what was deleted meanwhile goes).
//
// The proxy asks for the Services its application calls as it calls them (discover()): a request for
// a name not yet known waits for the control plane's answer (bounded), as Linkerd's proxy waits for
// a destination lookup, instead of every proxy receiving the whole cluster.
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { parseObject, type KnownObject } from './objects.js';
import { Snapshot } from './snapshot.js';
import type { ConfigError } from './checker.js';
import type { HostPort } from './address.js';
import type { WorkloadIdentity } from '../identity/workload.js';
import { CONFIG_PATH, MAX_LINE, MAX_SUBSCRIPTIONS, WORKLOAD_HEADER, rawKey, type ControlMessage } from '../control/config-protocol.js';

export interface ControlSourceOptions {
  /** skiff control's address. */
  addr: HostPort;
  /** The Pod this proxy serves, "namespace/name". */
  workload: string;
  trustDomain: string;
  trustAnchorsFile: string;
  /** The workload certificate the stream is opened with. */
  identity: WorkloadIdentity;
  onUpdate(snapshot: Snapshot): void;
  /** Objects the control plane sent that this proxy refuses (their last valid version stays). */
  onInvalid?(errors: ConfigError[]): void;
  /** Connection events, for the log. */
  onEvent?(level: 'info' | 'warn', message: string, fields?: Record<string, unknown>): void;
  /** How long a request for an unknown Service waits for the control plane (default 3 s). */
  discoveryTimeoutMs?: number;
  /** First reconnect delay (default 500 ms, doubling with jitter to 30 s). */
  retryMs?: number;
  /** PING interval that tells a dead control plane from a quiet one (default 10 s). */
  keepaliveMs?: number;
}

interface Held {
  resourceVersion: string;
  parsed: KnownObject;
}

export class ControlSource {
  private objects = new Map<string, Held>();
  private subscribed = new Set<string>();
  private resolved = new Set<string>();
  private waiters = new Map<string, (() => void)[]>();
  private session: http2.ClientHttp2Session | null = null;
  private stream: http2.ClientHttp2Stream | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  /** A full state has arrived on the current stream. */
  connected = false;
  /** How many states have been applied (the first one makes the proxy ready). */
  generation = 0;
  snapshot = Snapshot.empty();
  lastError = '';

  constructor(private options: ControlSourceOptions) {}

  start(): void {
    const id = this.options.identity;
    if (id.current) this.connect();
    else id.onChange(() => { if (this.session === null && this.retryTimer === null && !this.closed) this.connect(); });
  }

  /**
   * Asks for a Service the application calls. null: nothing to wait for (already asked and
   * answered); otherwise a promise that settles true once the control plane has answered (the
   * snapshot then has the Service, or it does not exist), false when it did not answer in time.
   */
  discover(namespace: string, name: string): Promise<boolean> | null {
    const key = `${namespace}/${name}`;
    if (this.resolved.has(key)) return null;
    if (!this.subscribed.has(key)) {
      if (this.subscribed.size >= MAX_SUBSCRIPTIONS) return null;
      this.subscribed.add(key);
      this.send({ subscribe: [key] });
    }
    return new Promise((resolve) => {
      let done = false;
      const finish = (ok: boolean): void => { if (!done) { done = true; clearTimeout(timer); resolve(ok); } };
      const timer = setTimeout(() => finish(false), this.options.discoveryTimeoutMs ?? 3000);
      const list = this.waiters.get(key);
      if (list) list.push(() => finish(true));
      else this.waiters.set(key, [() => finish(true)]);
    });
  }

  private send(msg: { subscribe: string[] }): void {
    const s = this.stream;
    if (s && !s.destroyed && s.writable) s.write(`${JSON.stringify(msg)}\n`);
  }

  private connect(): void {
    this.retryTimer = null;
    if (this.closed) return;
    const o = this.options;
    const cert = o.identity.current;
    if (!cert) { this.retry('no workload certificate yet'); return; }
    let session: http2.ClientHttp2Session;
    try {
      session = http2.connect(`https://${o.addr.host.includes(':') ? `[${o.addr.host}]` : o.addr.host}:${o.addr.port}`, {
        ca: readFileSync(o.trustAnchorsFile, 'utf8'), key: cert.keyPem, cert: cert.chainPem,
        servername: `identity.skiff.${o.trustDomain}`, minVersion: 'TLSv1.3',
        settings: { initialWindowSize: 1 << 20 },
      });
    } catch (err) {
      this.retry((err as Error).message);
      return;
    }
    this.session = session;
    let why = '';
    session.on('error', (err) => { why ||= err.message; });
    session.on('goaway', () => { why ||= 'the control plane is going away'; });
    session.once('close', () => {
      if (this.session === session) this.session = null;
      if (this.keepalive) { clearInterval(this.keepalive); this.keepalive = null; }
      const was = this.connected;
      this.connected = false;
      this.stream = null;
      if (this.closed) return;
      if (was) o.onEvent?.('warn', 'control plane stream ended; serving the last configuration while reconnecting', { reason: why || 'closed' });
      this.retry(why || 'closed');
    });
    // a dead control plane (or path) is found by PING, not left to TCP
    this.keepalive = setInterval(() => {
      if (session.destroyed) return;
      const t = setTimeout(() => { why ||= 'no answer to PING'; session.destroy(); }, o.keepaliveMs ?? 10_000);
      session.ping((err) => { clearTimeout(t); if (err) { why ||= err.message; session.destroy(); } });
    }, o.keepaliveMs ?? 10_000);
    this.keepalive.unref();
    const stream = session.request({ ':method': 'POST', ':path': CONFIG_PATH, [WORKLOAD_HEADER]: o.workload, 'content-type': 'application/x-ndjson' });
    this.stream = stream;
    stream.write(`${JSON.stringify({ subscribe: [...this.subscribed] })}\n`);
    stream.setEncoding('utf8');
    let status = 0;
    let buffered = '';
    stream.on('response', (h) => { status = Number(h[':status']); });
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      if (status !== 200) { if (buffered.length > 4096) buffered = buffered.slice(0, 4096); return; }
      if (buffered.length > MAX_LINE) { why = 'a message longer than the limit'; session.destroy(); return; }
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === '') continue;
        let msg: ControlMessage;
        try { msg = JSON.parse(line); } catch { why = 'a message that is not JSON'; session.destroy(); return; }
        this.apply(msg);
      }
    });
    stream.on('error', (err) => { why ||= err.message; });
    stream.on('close', () => {
      if (status !== 200 && status !== 0) why = `the control plane refused the stream (${status}): ${buffered.trim().slice(0, 300)}`;
      session.close();
    });
  }

  private retry(why: string): void {
    if (this.closed || this.retryTimer) return;
    this.lastError = why;
    this.failures++;
    const base = Math.min(30_000, (this.options.retryMs ?? 500) * 2 ** Math.min(this.failures - 1, 10));
    const delay = base / 2 + Math.random() * base / 2;
    if (this.failures === 1 || this.failures % 10 === 0) this.options.onEvent?.('warn', 'cannot reach the control plane', { reason: why, retryInMs: Math.round(delay), attempts: this.failures });
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.retryTimer.unref();
  }

  private apply(msg: ControlMessage): void {
    const errors: ConfigError[] = [];
    const upserts = Array.isArray(msg.upsert) ? msg.upsert : [];
    const fresh = new Set<string>();
    for (const raw of upserts) {
      const key = rawKey(raw);
      if (key === null) continue;
      fresh.add(key);
      const meta = raw.metadata as { resourceVersion?: unknown };
      const rv = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
      const held = this.objects.get(key);
      if (held && rv !== '' && held.resourceVersion === rv) continue;
      const r = parseObject(raw, `${key} (control plane)`, 0);
      if (r.object) this.objects.set(key, { resourceVersion: rv, parsed: r.object });
      else errors.push(...r.errors); // the last valid version, if any, stays
    }
    if (msg.full) {
      for (const key of [...this.objects.keys()]) if (!fresh.has(key)) this.objects.delete(key);
      if (!this.connected) {
        this.connected = true;
        this.failures = 0;
        this.lastError = '';
        this.options.onEvent?.('info', 'control plane stream open', { objects: this.objects.size });
      }
    }
    if (Array.isArray(msg.delete)) for (const key of msg.delete) this.objects.delete(key);
    if (errors.length) this.options.onInvalid?.(errors);
    this.snapshot = new Snapshot([...this.objects.values()].map((h) => h.parsed));
    this.generation++;
    this.options.onUpdate(this.snapshot);
    // after the snapshot: a waiting request sees what its answer brought
    for (const key of Array.isArray(msg.resolved) ? msg.resolved : []) {
      this.resolved.add(key);
      const list = this.waiters.get(key);
      this.waiters.delete(key);
      if (list) for (const fn of list) fn();
    }
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.keepalive) clearInterval(this.keepalive);
    this.session?.destroy();
    this.session = null;
  }
}

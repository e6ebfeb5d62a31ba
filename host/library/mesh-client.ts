// The mesh as an undici Dispatcher, in-process: no sidecar, no loopback hop.
//
//   const mesh = await MeshClient.create({ config: './mesh', workload: 'default/gateway' });
//   const res = await fetch('http://books.default/api/books', { dispatcher: mesh });
//   await mesh.close();
//
// Each request goes through the same outbound a sidecar runs — Service resolution, HTTPRoutes
// (matches, filters, weights, timeouts, retries), the balancer (peak EWMA, circuit breaking,
// fail-fast), mTLS with the workload's identity to meshed endpoints, golden metrics — entered
// through an in-memory stream instead of a socket. The request travels the mesh as an HTTP/1.1
// request would (the receiving sidecar gives it to its app as HTTP/1.1), as most Node apps expect.
import { Dispatcher } from 'undici';
import type { FieldList } from '../core/fields.js';
import type { HttpStream, StreamHandler } from '../http/stream.js';
import { StreamResetError } from '../http/stream.js';
import { Outbound } from '../outbound/outbound.js';
import { startMeshCore, type MeshCore } from '../mesh-core.js';
import { Telemetry } from '../metrics/telemetry.js';
import { Logger } from '../log/logger.js';
import type { ProxyOptions } from '../proxy.js';
import { ErrorCode } from '../core/reasons.js';

/** A request failed in the mesh client itself (not an HTTP error response): `code` says how. */
export class MeshClientError extends Error {
  constructor(readonly code: 'SKIFF_MESH_RESET' | 'SKIFF_MESH_CLOSED' | 'SKIFF_MESH_ABORTED' | 'SKIFF_MESH_BAD_REQUEST', message: string) {
    super(message);
  }
  override get name(): string { return 'MeshClientError'; }
}

export interface MeshClientOptions {
  /** Kubernetes YAML directory (watched), as `skiff proxy --config`. */
  config?: string;
  /** The control plane (skiff control), as `skiff proxy --control`; needs `identity`. */
  control?: string;
  /** Who the gateway speaks for, NAMESPACE/NAME (default default/default). */
  workload?: string;
  clusterDomain?: string;
  /** Workload identity from skiff control: mTLS to meshed endpoints. */
  identity?: ProxyOptions['identity'];
  /** 504 when no response head arrives in this long (default: none; routes' timeouts apply). */
  responseTimeoutMs?: number;
  failFastTimeoutMs?: number;
  pools?: ProxyOptions['pools'];
  /** Record golden metrics (default true): `telemetry` then holds them. */
  metrics?: boolean;
  logger?: Logger;
  /** How long close() waits for requests in flight (default 30 s). */
  shutdownGraceMs?: number;
}

// ---- undici handlers: the legacy shape (onConnect/onHeaders/…) and the controller shape (onRequestStart/…) ----

interface LegacyHandler {
  onConnect?(abort: (err?: Error) => void, context?: object): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(rawTrailers: Buffer[] | null): void;
  onError?(err: Error): void;
  onResponseStarted?(): void;
}
interface ControllerHandler {
  onRequestStart?(controller: Controller, context: object): void;
  onResponseStart?(controller: Controller, statusCode: number, headers: Record<string, string | string[]>, statusMessage?: string): void;
  onResponseData?(controller: Controller, chunk: Buffer): void;
  onResponseEnd?(controller: Controller, trailers: Record<string, string | string[]>): void;
  onResponseError?(controller: Controller, err: Error): void;
}
class Controller {
  paused = false;
  aborted = false;
  reason: Error | null = null;
  constructor(private abortFn: (err?: Error) => void, private resumeFn: () => void) {}
  pause(): void { this.paused = true; }
  resume(): void { if (this.paused) { this.paused = false; this.resumeFn(); } }
  abort(reason?: Error): void { if (!this.aborted) { this.aborted = true; this.reason = reason ?? null; this.abortFn(reason); } }
}

/** One request's client side: what the Exchange answers into, and where its body comes from. */
class DispatchStream implements HttpStream {
  trailers: FieldList | null = null;
  remoteEnded = false;
  localEnded = false;
  closed = false;
  handler: StreamHandler | null = null;
  autoConsume = true;
  bufferedAmount = 0;
  private paused = false;
  private responded = false;
  /** Body bytes given to the exchange and not yet consumed (credited). */
  private outstanding = 0;
  private body: AsyncIterator<unknown> | null = null;
  private pulling = false;
  private controller: Controller | null = null;

  constructor(public headers: FieldList, private h: LegacyHandler & ControllerHandler, body: unknown, private done: () => void) {
    if (body === undefined || body === null) this.remoteEnded = true;
    else if (typeof body === 'string' || body instanceof Uint8Array) {
      const buf = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      if (buf.length === 0) this.remoteEnded = true;
      else this.body = [buf][Symbol.iterator]() as unknown as AsyncIterator<unknown>;
    } else if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      this.body = (body as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    } else if (typeof (body as Iterable<unknown>)[Symbol.iterator] === 'function') {
      this.body = (body as Iterable<unknown>)[Symbol.iterator]() as unknown as AsyncIterator<unknown>;
    } else {
      throw new MeshClientError('SKIFF_MESH_BAD_REQUEST', 'the request body must be a string, a Uint8Array, or an (async) iterable of them');
    }
  }

  /** undici's start: the request is on its way; abort() cancels it. */
  start(): void {
    const abort = (err?: Error): void => this.abortWith(err ?? new MeshClientError('SKIFF_MESH_ABORTED', 'the request was aborted'));
    if (this.h.onRequestStart) {
      this.controller = new Controller(abort, () => this.resume());
      this.h.onRequestStart(this.controller, {});
    } else this.h.onConnect?.(abort, {});
  }

  /** Feeds the request body as the exchange takes it (at most 64 KiB ahead). */
  pump(): void {
    if (this.pulling || this.body === null || this.closed || this.remoteEnded) return;
    if (this.outstanding >= 64 * 1024) return;
    this.pulling = true;
    void Promise.resolve(this.body.next()).then((r) => {
      this.pulling = false;
      if (this.closed) return;
      if (r.done) {
        this.remoteEnded = true;
        this.handler?.onEnd(this);
        return;
      }
      const v = r.value;
      const chunk = typeof v === 'string' ? Buffer.from(v) : v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : null;
      if (chunk === null) { this.abortWith(new MeshClientError('SKIFF_MESH_BAD_REQUEST', 'request body chunks must be strings or Uint8Arrays')); return; }
      if (chunk.length > 0) {
        this.outstanding += chunk.length;
        this.handler?.onData(this, chunk, false);
      }
      this.pump();
    }, (err: Error) => { this.pulling = false; this.abortWith(err); });
  }

  /** The caller aborted, or its body failed: the exchange is reset upstream, the caller told why. */
  private abortWith(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    void this.body?.return?.();
    this.handler?.onReset(this, new StreamResetError(ErrorCode.CANCEL, err.message));
    this.fail(err);
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.handler?.onDrain(this);
  }

  // ---- HttpStream: the exchange answers here ----

  respond(fields: FieldList, endStream = false): void {
    if (this.closed || this.responded) return;
    this.responded = true;
    let status = 0;
    const raw: Buffer[] = [];
    const obj: Record<string, string | string[]> = {};
    for (let i = 0; i < fields.length; i += 2) {
      const n = fields[i], v = fields[i + 1];
      if (n === ':status') { status = Number(v); continue; }
      if (n.charCodeAt(0) === 58) continue;
      raw.push(Buffer.from(n), Buffer.from(v));
      const had = obj[n];
      obj[n] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
    }
    if (this.controller) {
      this.h.onResponseStart?.(this.controller, status, obj, '');
      if (this.controller.paused) this.paused = true;
    } else {
      this.h.onResponseStarted?.();
      if (this.h.onHeaders?.(status, raw, () => this.resume(), '') === false) this.paused = true;
    }
    if (endStream) this.finish(null);
  }

  informational(_fields: FieldList): void {}

  write(data: Uint8Array): boolean {
    if (this.closed) return false;
    const chunk = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.controller) {
      this.h.onResponseData?.(this.controller, chunk);
      if (this.controller.paused) this.paused = true;
    } else if (this.h.onData?.(chunk) === false) this.paused = true;
    return !this.paused;
  }

  end(data?: Uint8Array, trailers?: FieldList): void {
    if (data && data.length) this.write(data);
    this.finish(trailers ?? null);
  }

  private finish(trailers: FieldList | null): void {
    if (this.closed) return;
    this.closed = true;
    this.localEnded = true;
    const raw: Buffer[] = [];
    const obj: Record<string, string> = {};
    if (trailers) for (let i = 0; i < trailers.length; i += 2) { raw.push(Buffer.from(trailers[i]), Buffer.from(trailers[i + 1])); obj[trailers[i]] = trailers[i + 1]; }
    if (this.controller) this.h.onResponseEnd?.(this.controller, obj);
    else this.h.onComplete?.(raw);
    void this.body?.return?.();
    this.done();
  }

  consume(n: number): void {
    this.outstanding -= n;
    this.pump();
  }

  reset(code = ErrorCode.CANCEL): void {
    if (this.closed) return;
    this.closed = true;
    void this.body?.return?.();
    this.fail(new MeshClientError('SKIFF_MESH_RESET', `the mesh reset the request (HTTP/2 error ${code}) after its response began`));
  }

  private fail(err: Error): void {
    if (this.controller) this.h.onResponseError?.(this.controller, err);
    else this.h.onError?.(err);
    this.done();
  }
}

/** Request headers as undici gives them (object, flat array, array of pairs, iterable) → [name, value] pairs. */
function headerPairs(h: unknown): [string, string][] {
  const out: [string, string][] = [];
  if (h === null || h === undefined) return out;
  if (Array.isArray(h)) {
    if (h.length > 0 && Array.isArray(h[0])) for (const [k, v] of h as [string, string][]) out.push([String(k), String(v)]);
    else for (let i = 0; i + 1 < h.length; i += 2) out.push([String(h[i]), String(h[i + 1])]);
    return out;
  }
  if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [k, v] of h as Iterable<[string, string]>) out.push([String(k), String(v)]);
    return out;
  }
  for (const [k, v] of Object.entries(h as Record<string, unknown>)) {
    if (v === undefined || v === null) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, String(one)]);
  }
  return out;
}

export class MeshClient extends Dispatcher {
  private inFlight = 0;
  private closing: Promise<void> | null = null;
  private idle: (() => void) | null = null;

  private constructor(private core: MeshCore, private outbound: Outbound, readonly telemetry: Telemetry | null, private options: MeshClientOptions) {
    super();
  }

  /** A mesh client for `workload`: reads its configuration (and gets its identity) before resolving. */
  static async create(options: MeshClientOptions = {}): Promise<MeshClient> {
    const logger = options.logger ?? Logger.lines(() => {});
    const telemetry = options.metrics === false ? null : new Telemetry({});
    const core = await startMeshCore({ ...options, workload: options.workload }, logger, telemetry);
    const outbound = new Outbound({
      responseTimeoutMs: options.responseTimeoutMs ?? 0, resolver: core.resolver, meshTls: core.meshTls, snapshot: core.snapshot,
      detectTimeoutMs: 10_000, session: {}, pools: options.pools, telemetry: telemetry ?? undefined, failFastTimeoutMs: options.failFastTimeoutMs,
      discover: core.control ? (ns, name) => core.control!.discover(ns, name) : undefined,
    });
    const client = new MeshClient(core, outbound, telemetry, options);
    // ready as a sidecar is: identity certified, first configuration from the control plane
    for (let i = 0; i < 600 && !core.ready(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!core.ready()) {
      core.close();
      throw new Error(`the mesh client is not ready after 30 s: ${core.readyDetails().join('; ')}`);
    }
    return client;
  }

  /** How many configurations have been applied. */
  get configGeneration(): number { return this.core.generation; }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const h = handler as unknown as LegacyHandler & ControllerHandler;
    const error = (err: Error): boolean => {
      if (h.onResponseError) h.onResponseError(new Controller(() => {}, () => {}), err);
      else if (h.onError) h.onError(err);
      else throw err;
      return false;
    };
    if (this.closing) return error(new MeshClientError('SKIFF_MESH_CLOSED', 'the mesh client is closed'));
    let authority: string;
    try {
      const origin = typeof opts.origin === 'string' ? new URL(opts.origin) : opts.origin;
      if (!origin) throw new Error('no origin');
      authority = origin.host;
    } catch {
      return error(new MeshClientError('SKIFF_MESH_BAD_REQUEST', `the origin '${String(opts.origin)}' is not a URL (http://name.namespace[:port])`));
    }
    const method = (opts.method ?? 'GET').toUpperCase();
    if (opts.upgrade || method === 'CONNECT') {
      return error(new MeshClientError('SKIFF_MESH_BAD_REQUEST', 'upgrades and CONNECT are not supported by the mesh client (use a sidecar\'s outbound for WebSockets and tunnels)'));
    }
    const fields: FieldList = [':method', method, ':path', opts.path || '/', 'host', authority];
    for (const [k, v] of headerPairs(opts.headers)) {
      const n = k.toLowerCase();
      if (n === 'host') { fields[5] = v; continue; }
      fields.push(n, v);
    }
    let down: DispatchStream;
    try {
      down = new DispatchStream(fields, h, opts.body, () => this.finished());
    } catch (err) {
      return error(err as Error);
    }
    this.inFlight++;
    down.start();
    if (down.closed) return true; // aborted in onRequestStart/onConnect
    // an HTTP/1.1 request head in, HTTP/2-shaped fields out (no connection-level headers for undici)
    this.outbound.handleRequest(down, false, true);
    down.pump();
    return true;
  }

  private finished(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.idle) this.idle();
  }

  /** Stops taking requests, waits for those in flight (up to the grace period), then releases everything. */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    this.closing ??= (async () => {
      const grace = this.options.shutdownGraceMs ?? 30_000;
      if (this.inFlight > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, grace);
          this.idle = () => { clearTimeout(t); resolve(); };
        });
      }
      this.shutdown();
    })();
    if (callback) { void this.closing.then(callback); return; }
    return this.closing;
  }

  /** Ends everything now: requests in flight fail. */
  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: unknown, b?: unknown): Promise<void> | void {
    const callback = typeof a === 'function' ? a as () => void : typeof b === 'function' ? b as () => void : undefined;
    this.closing ??= Promise.resolve();
    this.shutdown();
    if (callback) { callback(); return; }
    return Promise.resolve();
  }

  private shut = false;
  private shutdown(): void {
    if (this.shut) return;
    this.shut = true;
    this.outbound.destroy();
    this.core.close();
    this.telemetry?.close();
  }
}

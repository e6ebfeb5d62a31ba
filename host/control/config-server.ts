// The control plane's side of the configuration streams (config-protocol.ts): one subscriber per
// proxy stream, each sent what its proxy needs out of the cluster view and nothing else —
//   its own Pod and Namespace, the policy resources of its namespace (and routes on its Servers);
//   the Services whose EndpointSlices list its Pod, with their producer routes (the inbound's part);
//   every Service it subscribed to, with its EndpointSlices, the Pods behind them (trimmed to the
//   ServiceAccount: the endpoint's identity), the routes attached to it from its own or the
//   caller's namespace, and, the same way, every Service those routes send to or mirror to.
// A change to the view is sent only to the subscribers it can concern (indexed by Service,
// namespace and Pod), as a diff against what each was sent (by resourceVersion). A subscriber that
// does not read is not queued for: once its stream is full it is marked stale and gets one diff of
// the latest state when it drains.
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { KnownObject } from '../config/objects.js';
import { jsonOf, parsedKey, type ClusterView, type StoredObject } from './cluster-view.js';
import { MAX_SUBSCRIPTIONS, SERVICE_NAME, WORKLOAD_HEADER, objectKey } from './config-protocol.js';

const WORKLOAD = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;
/** Longest subscription line a proxy may send (a full stream of names is well under it). */
const MAX_REQUEST_LINE = 1024 * 1024;
/** How long a new stream may take to send its first line (its subscriptions). */
const HELLO_TIMEOUT_MS = 10_000;
/** Most Services one subscriber's closure may reach (subscriptions plus route backends). */
const MAX_CLOSURE = MAX_SUBSCRIPTIONS * 2;

export interface ConfigServerOptions {
  view: ClusterView;
  trustDomain: string;
  /** Whether the view is whole yet (until then streams are refused with 503 and proxies retry). */
  ready?: () => boolean;
  log?: (line: string) => void;
}

class Subscriber {
  /** Services asked for ("namespace/name"). */
  readonly requested = new Set<string>();
  /** Subscriptions to acknowledge in the next message. */
  resolved: string[] = [];
  /** What this stream was sent: key → resourceVersion. */
  readonly sent = new Map<string, string>();
  /** The Services its last computed closure reached (index keys in ConfigServer.byService). */
  services = new Set<string>();
  blocked = false;
  stale = false;
  closed = false;
  started = false;
  constructor(readonly namespace: string, readonly pod: string, readonly identity: string, readonly res: Http2ServerResponse) {}
  get podKey(): string { return `${this.namespace}/${this.pod}`; }
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, s = new Set());
  s.add(v);
}
function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

/** A Pod as an endpoint's, as JSON: only what says who it runs as (made once per version). */
const trimmed = new WeakMap<StoredObject, string>();
function trimmedPodJson(o: StoredObject): string {
  let json = trimmed.get(o);
  if (json === undefined) {
    const raw = o.raw;
    const meta = raw.metadata as Record<string, unknown>;
    const spec = (raw.spec ?? {}) as Record<string, unknown>;
    json = JSON.stringify({
      apiVersion: raw.apiVersion, kind: 'Pod',
      metadata: { name: meta.name, namespace: meta.namespace, resourceVersion: meta.resourceVersion },
      spec: { serviceAccountName: spec.serviceAccountName ?? 'default', containers: [] },
    });
    trimmed.set(o, json);
  }
  return json;
}

/** Whether a change can change what a subscriber needs (not only the content of what it holds). */
function structural(before: StoredObject | null, now: StoredObject | undefined): boolean {
  if (!before || !now) return true; // created or deleted
  const a = before.parsed;
  const b = now.parsed;
  if (a.kind === 'HTTPRoute' || a.kind === 'GRPCRoute') return true; // parents and backends
  if (a.kind === 'EndpointSlice' && b.kind === 'EndpointSlice') {
    if (a.serviceName !== b.serviceName) return true;
    const pods = (x: typeof a): string => x.endpoints.map((e) => (e.pod ? `${e.pod.namespace}/${e.pod.name}` : '')).join(',');
    return pods(a) !== pods(b);
  }
  return false;
}

export class ConfigServer {
  private subscribers = new Set<Subscriber>();
  private byService = new Map<string, Set<Subscriber>>();
  private byNamespace = new Map<string, Set<Subscriber>>();
  private byPod = new Map<string, Set<Subscriber>>();
  /** Messages and objects sent, for the bench and /metrics. */
  messages = 0;
  objectsSent = 0;
  refused = 0;

  constructor(private options: ConfigServerOptions) {}

  get streams(): number { return this.subscribers.size; }

  /** POST /v1/config: authenticate the caller's certificate, then serve its stream until either side ends it. */
  handle(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const log = this.options.log ?? (() => {});
    const refuse = (status: number, message: string): void => {
      this.refused++;
      log(`config: refused a stream (${status}): ${message}`);
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`${message}\n`);
    };
    if (req.method !== 'POST') return refuse(405, 'the config stream is POST');
    if (this.options.ready && !this.options.ready()) return refuse(503, 'the control plane has not listed the cluster yet');
    const socket = req.stream.session?.socket as TLSSocket | undefined;
    if (!socket || !socket.authorized) return refuse(401, 'the config stream needs a workload certificate from this mesh (mTLS)');
    const cert = socket.getPeerCertificate();
    const uris = (cert.subjectaltname ?? '').split(', ').filter((n) => n.startsWith('URI:')).map((n) => n.slice(4));
    const td = this.options.trustDomain;
    const m = uris.length === 1 ? new RegExp(`^spiffe://${td.replace(/\./g, '\\.')}/ns/([^/]+)/sa/([^/]+)$`).exec(uris[0]) : null;
    if (!m) return refuse(403, `the client certificate names no workload identity of trust domain ${td}`);
    const [, certNs, certSa] = m;
    const workload = String(req.headers[WORKLOAD_HEADER] ?? '');
    const w = WORKLOAD.exec(workload);
    if (!w) return refuse(400, `the ${WORKLOAD_HEADER} header must be NAMESPACE/POD, got '${workload}'`);
    if (w[1] !== certNs) return refuse(403, `${uris[0]} may not ask for the configuration of a Pod in namespace ${w[1]}`);
    const sub = new Subscriber(w[1], w[3], uris[0], res);
    const wrongAccount = this.wrongAccount(sub, certSa);
    if (wrongAccount) return refuse(403, wrongAccount);

    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    let buffered = '';
    const hello = setTimeout(() => { if (!sub.started) { log(`config: ${workload} sent no subscriptions in time`); res.stream.close(); } }, HELLO_TIMEOUT_MS);
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_REQUEST_LINE) { log(`config: ${workload} sent a line over ${MAX_REQUEST_LINE} bytes`); res.stream.close(); return; }
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim() !== '') this.onLine(sub, line);
      }
    });
    // a certificate that expires ends the stream: the proxy comes back with its renewed one
    const until = Date.parse(cert.valid_to) - Date.now();
    const expiry = setTimeout(() => res.stream.close(), Math.max(0, Math.min(until, 2 ** 31 - 1)));
    expiry.unref();
    const end = (): void => {
      clearTimeout(hello);
      clearTimeout(expiry);
      this.remove(sub);
    };
    res.on('close', end);
    req.on('error', end);
    res.on('drain', () => {
      sub.blocked = false;
      if (sub.stale) { sub.stale = false; this.update(sub, false); }
    });
  }

  /** Why the certificate's ServiceAccount may not speak for the Pod, or null when it may. */
  private wrongAccount(sub: Subscriber, sa: string): string | null {
    const pod = this.options.view.objects.get(objectKey('Pod', sub.namespace, sub.pod))?.parsed;
    if (pod && pod.kind === 'Pod' && pod.serviceAccount !== sa) {
      return `${sub.identity} may not ask for the configuration of Pod ${sub.podKey}, which runs as ServiceAccount ${pod.serviceAccount}`;
    }
    return null;
  }

  private onLine(sub: Subscriber, line: string): void {
    let msg: { subscribe?: unknown };
    try { msg = JSON.parse(line); } catch { msg = {}; }
    const names = Array.isArray(msg.subscribe) ? msg.subscribe : [];
    for (const n of names) {
      if (typeof n !== 'string' || !SERVICE_NAME.test(n)) continue;
      if (!sub.requested.has(n) && sub.requested.size >= MAX_SUBSCRIPTIONS) continue;
      sub.requested.add(n);
      sub.resolved.push(n);
    }
    if (!sub.started) {
      sub.started = true;
      this.subscribers.add(sub);
      addTo(this.byNamespace, sub.namespace, sub);
      addTo(this.byPod, sub.podKey, sub);
      this.update(sub, true);
    } else if (sub.resolved.length) {
      this.update(sub, false);
    }
  }

  private remove(sub: Subscriber): void {
    if (sub.closed) return;
    sub.closed = true;
    this.subscribers.delete(sub);
    removeFrom(this.byNamespace, sub.namespace, sub);
    removeFrom(this.byPod, sub.podKey, sub);
    for (const s of sub.services) removeFrom(this.byService, s, sub);
  }

  /** After a commit of the view: a diff to every subscriber the changes can concern. */
  changed(changes: Map<string, StoredObject | null>): void {
    const view = this.options.view;
    const affected = new Set<Subscriber>();
    const add = (set: Set<Subscriber> | undefined): void => { if (set) for (const s of set) affected.add(s); };
    const concern = (o: KnownObject): void => {
      switch (o.kind) {
        case 'Service': add(this.byService.get(`${o.namespace}/${o.name}`)); break;
        case 'EndpointSlice':
          add(this.byService.get(`${o.namespace}/${o.serviceName}`));
          for (const e of o.endpoints) if (e.pod) add(this.byPod.get(`${e.pod.namespace}/${e.pod.name}`));
          break;
        case 'Pod': {
          const podKey = `${o.namespace}/${o.name}`;
          add(this.byPod.get(podKey));
          for (const s of view.servicesOfPod.get(podKey)?.keys() ?? []) add(this.byService.get(s));
          break;
        }
        case 'Namespace': add(this.byNamespace.get(o.name)); break;
        case 'HTTPRoute': case 'GRPCRoute':
          add(this.byNamespace.get(o.namespace));
          for (const p of o.parentRefs) if (p.kind === 'Service') add(this.byService.get(`${p.namespace}/${p.name}`));
          break;
        default: add(this.byNamespace.get(o.namespace));
      }
    };
    let reshaped = false;
    for (const [key, before] of changes) {
      if (before) concern(before.parsed);
      const now = view.objects.get(key);
      if (now) concern(now.parsed);
      reshaped ||= structural(before, now);
    }
    for (const sub of affected) {
      if (sub.closed) continue;
      // a Pod that changed ServiceAccount: its old identity no longer speaks for it
      const pod = view.objects.get(objectKey('Pod', sub.namespace, sub.pod))?.parsed;
      if (pod && pod.kind === 'Pod' && !sub.identity.endsWith(`/sa/${pod.serviceAccount}`)) {
        sub.res.stream.close();
        continue;
      }
      // only contents changed: what each holds of them is what it gets, without working out its needs again
      this.update(sub, false, reshaped ? undefined : changes.keys());
    }
  }

  /** The keys a subscriber needs now, and the Services its closure reached. */
  private need(sub: Subscriber): { keys: Set<string>; services: Set<string> } {
    const view = this.options.view;
    const objects = view.objects;
    const keys = new Set<string>();
    const has = (k: string): void => { if (objects.has(k)) keys.add(k); };
    has(objectKey('Pod', sub.namespace, sub.pod));
    has(objectKey('Namespace', '', sub.namespace));
    for (const k of view.namespaceKeys.get(sub.namespace) ?? []) keys.add(k);
    const services = new Set<string>();
    // the inbound's Services: those whose slices list this Pod, with their producer routes
    for (const s of view.servicesOfPod.get(sub.podKey)?.keys() ?? []) {
      services.add(s);
      const [ns, name] = s.split('/');
      has(objectKey('Service', ns, name));
      for (const r of view.routing.routesOf(ns, name)) if (r.namespace === ns) keys.add(parsedKey(r));
    }
    // the outbound's: each subscription, and what its routes send to
    const queue = [...sub.requested];
    const seen = new Set<string>();
    while (queue.length > 0 && seen.size < MAX_CLOSURE) {
      const s = queue.pop()!;
      if (seen.has(s)) continue;
      seen.add(s);
      services.add(s);
      const [ns, name] = s.split('/');
      has(objectKey('Service', ns, name));
      for (const k of view.sliceKeys.get(s) ?? []) {
        keys.add(k);
        const slice = objects.get(k)!.parsed;
        if (slice.kind !== 'EndpointSlice') continue;
        for (const e of slice.endpoints) if (e.pod) has(objectKey('Pod', e.pod.namespace, e.pod.name));
      }
      for (const r of view.routing.routesOf(ns, name)) {
        if (r.namespace !== sub.namespace && r.namespace !== ns) continue;
        keys.add(parsedKey(r));
        for (const rule of r.rules) {
          for (const b of rule.backendRefs) if (b.group === '' && b.kind === 'Service') queue.push(`${b.namespace}/${b.name}`);
          for (const f of rule.filters) if (f.type === 'RequestMirror' && f.backend.group === '' && f.backend.kind === 'Service') queue.push(`${f.backend.namespace}/${f.backend.name}`);
        }
      }
    }
    return { keys, services };
  }

  /**
   * Sends the subscriber what changed for it since the last message (everything, on a full one).
   * `only`: the changes touched these keys and nothing that decides what it needs — just those it
   * holds are looked at.
   */
  private update(sub: Subscriber, full: boolean, only?: Iterable<string>): void {
    if (sub.closed) return;
    if (sub.blocked) { sub.stale = true; return; }
    const objects = this.options.view.objects;
    const ownPod = objectKey('Pod', sub.namespace, sub.pod);
    const upsert: string[] = [];
    const deleted: string[] = [];
    const send = (k: string, o: StoredObject): void => {
      sub.sent.set(k, o.resourceVersion);
      upsert.push(o.parsed.kind === 'Pod' && k !== ownPod ? trimmedPodJson(o) : jsonOf(o));
    };
    if (only !== undefined && !sub.stale) {
      for (const k of only) {
        const had = sub.sent.get(k);
        const o = objects.get(k);
        if (had === undefined || !o || (had === o.resourceVersion && had !== '')) continue;
        send(k, o);
      }
    } else {
      const { keys, services } = this.need(sub);
      for (const s of sub.services) if (!services.has(s)) removeFrom(this.byService, s, sub);
      for (const s of services) if (!sub.services.has(s)) addTo(this.byService, s, sub);
      sub.services = services;
      for (const k of keys) {
        const o = objects.get(k)!;
        if (!full && sub.sent.get(k) === o.resourceVersion && o.resourceVersion !== '') continue;
        send(k, o);
      }
      for (const k of sub.sent.keys()) {
        if (keys.has(k)) continue;
        sub.sent.delete(k);
        if (!full) deleted.push(k);
      }
    }
    const resolved = sub.resolved;
    sub.resolved = [];
    if (!full && upsert.length === 0 && deleted.length === 0 && resolved.length === 0) return;
    this.messages++;
    this.objectsSent += upsert.length;
    // the objects' JSON is made once, whatever the number of streams they go to
    const line = `{${full ? '"full":true,' : ''}"upsert":[${upsert.join(',')}],"delete":${JSON.stringify(deleted)},"resolved":${JSON.stringify(resolved)}}\n`;
    if (!sub.res.write(line)) sub.blocked = true;
  }

  /** Ends every stream (the control plane is stopping: proxies keep their config and reconnect). */
  close(): void {
    for (const sub of [...this.subscribers]) {
      this.remove(sub);
      sub.res.stream.close();
    }
  }
}

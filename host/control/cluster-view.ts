// The control plane's view of the cluster: every object the API served, as it was served and as
// Skiff validated it, kept by key and updated one object at a time (a watch event costs one parse,
// not a re-read of the cluster). An object that fails validation is reported and its last valid
// version keeps serving — one bad object never holds back the rest of the cluster.
//
// commit() publishes the changes since the last one. EndpointSlices and Pods — tens of thousands
// of objects, and nearly all of the churn — are indexed incrementally and kept out of `routing`,
// the Snapshot of Services, routes, policy and Namespaces (what route status and the streams'
// route closures read), which is rebuilt only when one of those changes. So an endpoint change
// costs the control plane the same whatever the size of the cluster.
import { parseObject, type KnownObject } from '../config/objects.js';
import { Snapshot } from '../config/snapshot.js';
import type { ConfigError } from '../config/checker.js';
import { objectKey, rawKey } from './config-protocol.js';

export interface StoredObject {
  key: string;
  /** As the API served it (metadata.managedFields removed), kind and apiVersion filled in. */
  raw: Record<string, unknown>;
  parsed: KnownObject;
  resourceVersion: string;
  /** `raw` as JSON, made once for however many streams it is sent to. */
  json?: string;
}

const POLICY = new Set(['Server', 'AuthorizationPolicy', 'MeshTLSAuthentication', 'NetworkAuthentication']);

/** The key of a validated object (the same as its raw form's). */
export function parsedKey(o: KnownObject): string {
  return objectKey(o.kind, o.kind === 'Namespace' ? '' : o.namespace, o.name);
}

/** The JSON of a stored object (cached on it). */
export function jsonOf(o: StoredObject): string {
  return o.json ??= JSON.stringify(o.raw);
}

/** What every proxy of a namespace needs: policy objects, and routes with a Server parent. */
function namespaceWide(o: KnownObject): boolean {
  return POLICY.has(o.kind) || ((o.kind === 'HTTPRoute' || o.kind === 'GRPCRoute') && o.parentRefs.some((p) => p.kind === 'Server'));
}

function podsOf(o: KnownObject | undefined): string[] {
  if (!o || o.kind !== 'EndpointSlice') return [];
  const out: string[] = [];
  for (const e of o.endpoints) if (e.pod) out.push(`${e.pod.namespace}/${e.pod.name}`);
  return out;
}

export class ClusterView {
  /** Valid objects by key. */
  readonly objects = new Map<string, StoredObject>();
  /** Services, routes, policy and Namespaces (no EndpointSlices or Pods): rebuilt when one of them changes. */
  routing = Snapshot.empty();
  /** Policy objects and routes with a Server parent, by namespace: what every proxy of the namespace needs. */
  readonly namespaceKeys = new Map<string, Set<string>>();
  /** "namespace/service" → its EndpointSlices' keys. */
  readonly sliceKeys = new Map<string, Set<string>>();
  /** "namespace/pod" → the Services ("namespace/name") whose slices list the Pod, with how many endpoints do. */
  readonly servicesOfPod = new Map<string, Map<string, number>>();
  /** Objects the API served that are not valid now: key → errors (the last valid version, if any, stays). */
  readonly invalid = new Map<string, ConfigError[]>();
  /** Keys changed since the last commit, with the version they had then (null: none). */
  private changed = new Map<string, StoredObject | null>();
  /** What `routing` is made of, kept as it changes. */
  private routingObjects = new Map<string, KnownObject>();
  private routingStale = false;

  /** An object the API served (added or changed); returns its validation errors. */
  set(raw: Record<string, unknown>, source: string): ConfigError[] {
    const key = rawKey(raw);
    if (key === null) return [];
    const meta = raw.metadata as Record<string, unknown>;
    const rv = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
    const prev = this.objects.get(key);
    if (prev && rv !== '' && prev.resourceVersion === rv) return [];
    if (meta.managedFields !== undefined) {
      const { managedFields: _m, ...rest } = meta;
      raw = { ...raw, metadata: rest };
    }
    const r = parseObject(raw, source, 0);
    if (!r.object) {
      if (r.errors.length) this.invalid.set(key, r.errors);
      return r.errors;
    }
    this.invalid.delete(key);
    const now: StoredObject = { key, raw, parsed: r.object, resourceVersion: rv };
    this.reindex(key, prev?.parsed, now.parsed);
    if (!this.changed.has(key)) this.changed.set(key, prev ?? null);
    this.objects.set(key, now);
    return [];
  }

  delete(key: string): void {
    this.invalid.delete(key);
    const prev = this.objects.get(key);
    if (!prev) return;
    this.reindex(key, prev.parsed, undefined);
    if (!this.changed.has(key)) this.changed.set(key, prev);
    this.objects.delete(key);
  }

  private reindex(key: string, before: KnownObject | undefined, after: KnownObject | undefined): void {
    const kind = (after ?? before)!.kind;
    if (kind === 'EndpointSlice') {
      if (before && before.kind === 'EndpointSlice') {
        const svc = `${before.namespace}/${before.serviceName}`;
        const set = this.sliceKeys.get(svc);
        set?.delete(key);
        if (set?.size === 0) this.sliceKeys.delete(svc);
        for (const pod of podsOf(before)) {
          const m = this.servicesOfPod.get(pod);
          const n = (m?.get(svc) ?? 0) - 1;
          if (n > 0) m!.set(svc, n);
          else { m?.delete(svc); if (m?.size === 0) this.servicesOfPod.delete(pod); }
        }
      }
      if (after && after.kind === 'EndpointSlice') {
        const svc = `${after.namespace}/${after.serviceName}`;
        let set = this.sliceKeys.get(svc);
        if (!set) this.sliceKeys.set(svc, set = new Set());
        set.add(key);
        for (const pod of podsOf(after)) {
          let m = this.servicesOfPod.get(pod);
          if (!m) this.servicesOfPod.set(pod, m = new Map());
          m.set(svc, (m.get(svc) ?? 0) + 1);
        }
      }
      return;
    }
    if (kind === 'Pod') return;
    this.routingStale = true;
    if (after) this.routingObjects.set(key, after);
    else this.routingObjects.delete(key);
    if (before && namespaceWide(before)) {
      const set = this.namespaceKeys.get(before.namespace);
      set?.delete(key);
      if (set?.size === 0) this.namespaceKeys.delete(before.namespace);
    }
    if (after && namespaceWide(after)) {
      let set = this.namespaceKeys.get(after.namespace);
      if (!set) this.namespaceKeys.set(after.namespace, set = new Set());
      set.add(key);
    }
  }

  /** Keys whose object changed or left since the last commit. */
  get pending(): number { return this.changed.size; }

  /**
   * Publishes the changes since the last commit (rebuilding `routing` if they touch it); returns
   * each changed key with the version it had at the last commit (null: it is new). The current
   * version is in `objects`.
   */
  commit(): Map<string, StoredObject | null> {
    const changed = this.changed;
    this.changed = new Map();
    if (this.routingStale) {
      this.routingStale = false;
      this.routing = new Snapshot([...this.routingObjects.values()]);
    }
    return changed;
  }

  /** Every valid object as one Snapshot, as a proxy reading the whole cluster would have it (O(cluster): for tools and tests). */
  fullSnapshot(): Snapshot {
    return new Snapshot([...this.objects.values()].map((o) => o.parsed));
  }
}

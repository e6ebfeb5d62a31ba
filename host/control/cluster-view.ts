// The control plane's view of the cluster: every object the API served, as it was served and as
// Skiff validated it, kept by key and updated one object at a time (a watch event costs one parse,
// not a re-read of the cluster). An object that fails validation is reported and its last valid
// version keeps serving — one bad object never holds back the rest of the cluster. commit() turns
// the changes since the last commit into a new Snapshot and says which keys changed, which is what
// the config streams and the status writer work from.
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
}

const POLICY = new Set(['Server', 'AuthorizationPolicy', 'MeshTLSAuthentication', 'NetworkAuthentication']);

/** The key of a validated object (the same as its raw form's). */
export function parsedKey(o: KnownObject): string {
  return objectKey(o.kind, o.kind === 'Namespace' ? '' : o.namespace, o.name);
}

export class ClusterView {
  /** Valid objects by key. */
  readonly objects = new Map<string, StoredObject>();
  snapshot = Snapshot.empty();
  /** Policy objects and routes with a Server parent, by namespace: what every proxy of the namespace needs. */
  readonly namespaceKeys = new Map<string, Set<string>>();
  /** "namespace/service" → the Services' EndpointSlice keys. */
  readonly sliceKeys = new Map<string, string[]>();
  /** "namespace/pod" → the Services ("namespace/name") whose slices list the Pod. */
  readonly servicesOfPod = new Map<string, Set<string>>();
  /** Keys changed since the last commit, with the version they had then (null: none). */
  private changed = new Map<string, StoredObject | null>();
  /** Objects the API served that are not valid now: key → errors (the last valid version, if any, stays). */
  readonly invalid = new Map<string, ConfigError[]>();

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
    if (!this.changed.has(key)) this.changed.set(key, prev ?? null);
    this.objects.set(key, { key, raw, parsed: r.object, resourceVersion: rv });
    return [];
  }

  delete(key: string): void {
    this.invalid.delete(key);
    const prev = this.objects.get(key);
    if (!prev) return;
    if (!this.changed.has(key)) this.changed.set(key, prev);
    this.objects.delete(key);
  }

  /** Keys whose object changed or left since the last commit (none: nothing to do). */
  get pending(): number { return this.changed.size; }

  /**
   * A new snapshot and indexes from the current objects; returns what changed: each key with the
   * version it had at the last commit (null: it is new). The current version is in `objects`.
   */
  commit(): Map<string, StoredObject | null> {
    const changed = this.changed;
    this.changed = new Map();
    const parsed: KnownObject[] = [];
    for (const o of this.objects.values()) parsed.push(o.parsed);
    this.snapshot = new Snapshot(parsed);
    this.namespaceKeys.clear();
    this.sliceKeys.clear();
    this.servicesOfPod.clear();
    for (const o of parsed) {
      if (POLICY.has(o.kind) || ((o.kind === 'HTTPRoute' || o.kind === 'GRPCRoute') && o.parentRefs.some((p) => p.kind === 'Server'))) {
        let s = this.namespaceKeys.get(o.namespace);
        if (!s) this.namespaceKeys.set(o.namespace, s = new Set());
        s.add(parsedKey(o));
      } else if (o.kind === 'EndpointSlice') {
        const svc = `${o.namespace}/${o.serviceName}`;
        const list = this.sliceKeys.get(svc);
        if (list) list.push(parsedKey(o));
        else this.sliceKeys.set(svc, [parsedKey(o)]);
        for (const e of o.endpoints) {
          if (!e.pod) continue;
          const pod = `${e.pod.namespace}/${e.pod.name}`;
          let s = this.servicesOfPod.get(pod);
          if (!s) this.servicesOfPod.set(pod, s = new Set());
          s.add(svc);
        }
      }
    }
    return changed;
  }
}

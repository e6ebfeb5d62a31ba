// One consistent view of the configuration: every object that validated, indexed for lookups.
// Snapshots are immutable; a change produces a new one, swapped in whole.
import { ConfigError, type EndpointSlice, type KnownObject, type Pod, type Service } from './objects.js';
import { routeKey, type Route } from '../route/model.js';
import type { AuthorizationPolicy, MeshTLSAuthentication, Namespace, NetworkAuthentication, Server } from '../policy/model.js';

export class Snapshot {
  readonly services = new Map<string, Service>();
  /** EndpointSlices by the "namespace/name" of their Service. */
  readonly slices = new Map<string, EndpointSlice[]>();
  readonly routes: Route[] = [];
  /** Pods by "namespace/name" (for the ServiceAccount behind an endpoint). */
  readonly pods = new Map<string, Pod>();
  /** Routes by the "namespace/name" of each Service a parentRef names. */
  readonly routesByService = new Map<string, Route[]>();
  /** Policy resources (policy.linkerd.io), by "namespace/name"; Namespaces by name. */
  readonly servers = new Map<string, Server>();
  readonly authorizationPolicies = new Map<string, AuthorizationPolicy>();
  readonly meshTLSAuthentications = new Map<string, MeshTLSAuthentication>();
  readonly networkAuthentications = new Map<string, NetworkAuthentication>();
  readonly namespaces = new Map<string, Namespace>();
  readonly objectCount: number;

  constructor(objects: KnownObject[]) {
    for (const o of objects) {
      if (o.kind === 'Service') this.services.set(`${o.namespace}/${o.name}`, o);
      else if (o.kind === 'EndpointSlice') push(this.slices, `${o.namespace}/${o.serviceName}`, o);
      else if (o.kind === 'Pod') this.pods.set(`${o.namespace}/${o.name}`, o);
      else if (o.kind === 'Server') this.servers.set(`${o.namespace}/${o.name}`, o);
      else if (o.kind === 'AuthorizationPolicy') this.authorizationPolicies.set(`${o.namespace}/${o.name}`, o);
      else if (o.kind === 'MeshTLSAuthentication') this.meshTLSAuthentications.set(`${o.namespace}/${o.name}`, o);
      else if (o.kind === 'NetworkAuthentication') this.networkAuthentications.set(`${o.namespace}/${o.name}`, o);
      else if (o.kind === 'Namespace') this.namespaces.set(o.name, o);
      else {
        this.routes.push(o);
        const seen = new Set<string>();
        for (const p of o.parentRefs) {
          if (p.group !== '' || p.kind !== 'Service') continue;
          const key = `${p.namespace}/${p.name}`;
          if (!seen.has(key)) push(this.routesByService, key, o);
          seen.add(key);
        }
      }
    }
    this.objectCount = objects.length;
  }

  service(namespace: string, name: string): Service | undefined {
    return this.services.get(`${namespace}/${name}`);
  }

  slicesOf(namespace: string, name: string): EndpointSlice[] {
    return this.slices.get(`${namespace}/${name}`) ?? [];
  }

  /** Every route with a parentRef naming the Service. */
  routesOf(namespace: string, name: string): Route[] {
    return this.routesByService.get(`${namespace}/${name}`) ?? [];
  }

  static empty(): Snapshot {
    return new Snapshot([]);
  }
}

function push<T>(m: Map<string, T[]>, key: string, v: T): void {
  const list = m.get(key);
  if (list) list.push(v);
  else m.set(key, [v]);
}

/** Two objects of the same kind, namespace and name are an error naming both places. */
export function findDuplicates(objects: KnownObject[]): ConfigError[] {
  const seen = new Map<string, KnownObject>();
  const errors: ConfigError[] = [];
  for (const o of objects) {
    const key = o.kind === 'HTTPRoute' || o.kind === 'GRPCRoute' ? routeKey(o) : `${o.kind} ${o.namespace}/${o.name}`;
    const prev = seen.get(key);
    if (prev) errors.push(new ConfigError(o.source, 0, key, 'metadata.name', `is also defined in ${prev.source}`));
    else seen.set(key, o);
  }
  return errors;
}

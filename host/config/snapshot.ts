// One consistent view of the configuration: every object that validated, indexed for lookups.
// Snapshots are immutable; a change produces a new one, swapped in whole.
import { ConfigError, type EndpointSlice, type KnownObject, type Service } from './objects.js';

export class Snapshot {
  readonly services = new Map<string, Service>();
  /** EndpointSlices by the "namespace/name" of their Service. */
  readonly slices = new Map<string, EndpointSlice[]>();
  readonly objectCount: number;

  constructor(objects: KnownObject[]) {
    for (const o of objects) {
      if (o.kind === 'Service') this.services.set(`${o.namespace}/${o.name}`, o);
      else {
        const key = `${o.namespace}/${o.serviceName}`;
        const list = this.slices.get(key);
        if (list) list.push(o);
        else this.slices.set(key, [o]);
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

  static empty(): Snapshot {
    return new Snapshot([]);
  }
}

/** Two objects of the same kind, namespace and name are an error naming both places. */
export function findDuplicates(objects: KnownObject[]): ConfigError[] {
  const seen = new Map<string, KnownObject>();
  const errors: ConfigError[] = [];
  for (const o of objects) {
    const key = `${o.kind} ${o.namespace}/${o.name}`;
    const prev = seen.get(key);
    if (prev) errors.push(new ConfigError(o.source, 0, key, 'metadata.name', `is also defined in ${prev.source}`));
    else seen.set(key, o);
  }
  return errors;
}

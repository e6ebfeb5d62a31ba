// The route table on its own, for any gateway: HTTPRoute and GRPCRoute objects (YAML text or plain
// objects, as Kubernetes serves them) validated as the sidecar validates them, attached to Services
// as GAMMA says (consumer over producer routes, GRPCRoutes over HTTPRoutes), and a request matched by
// the same WebAssembly matcher the sidecar uses — rule, backends and filters back, no proxying.
//
//   const table = RouteTable.fromYaml(readFileSync('routes.yaml', 'utf8'));
//   const m = table.match({ namespace: 'default', name: 'books', port: 80 },
//                         { method: 'GET', path: '/api/v2/books?x=1', headers: { 'x-canary': '1' } });
//   if (m) console.log(m.route.name, m.ruleIndex, m.pickBackend().name);
//   table.close();
import { parseObject, type KnownObject } from '../config/objects.js';
import { Snapshot, findDuplicates } from '../config/snapshot.js';
import { ConfigError } from '../config/checker.js';
import { yamlObjects } from '../config/directory.js';
import { routesFor } from '../route/attach.js';
import { Router } from '../route/router.js';
import type { BackendRef, Route, RouteFilter, RouteRule } from '../route/model.js';

/** The objects could not all be read: every problem, each naming file, object and field. */
export class RouteTableError extends Error {
  readonly code = 'SKIFF_ROUTE_CONFIG';
  constructor(readonly errors: ConfigError[]) {
    super(`invalid route configuration:\n  ${errors.map(String).join('\n  ')}`);
  }
  override get name(): string { return 'RouteTableError'; }
}

/** A Service port routes attach to. */
export interface RouteParent {
  namespace: string;
  name: string;
  port: number;
}

/** A request as a gateway sees it. */
export interface RouteRequest {
  method?: string;
  /** The path with its query, as sent ("/a/b?x=1"). */
  path: string;
  /** Header names in any case; repeated values as an array. */
  headers?: Record<string, string | string[] | undefined>;
  /** :authority / Host (default: the parent's name.namespace). */
  authority?: string;
}

export interface RouteMatch {
  route: { kind: 'HTTPRoute' | 'GRPCRoute'; namespace: string; name: string };
  ruleIndex: number;
  ruleName?: string;
  rule: RouteRule;
  /** The PathPrefix the request matched, if any (what ReplacePrefixMatch replaces). */
  matchedPrefix?: string;
  filters: RouteFilter[];
  backendRefs: BackendRef[];
  /** One backendRef chosen by weight (null when every weight is 0 or there are none). */
  pickBackend(random?: number): BackendRef | null;
}

export class RouteTable {
  private snapshot: Snapshot;
  private routers = new Map<string, Router | null>();
  private closed = false;

  private constructor(objects: KnownObject[]) {
    this.snapshot = new Snapshot(objects);
  }

  /**
   * Routes (and the Services they attach to, for sectionName) from plain objects. Kinds other than
   * Service, HTTPRoute and GRPCRoute are ignored; any invalid object throws RouteTableError.
   */
  static fromObjects(objects: readonly unknown[], source = 'objects'): RouteTable {
    return RouteTable.build(objects.map((value, i) => ({ value, line: i + 1 })), [], source);
  }

  /** Routes from YAML (several documents, `kind: List` too), as `kubectl apply -f` takes them. */
  static fromYaml(text: string, file = 'routes.yaml'): RouteTable {
    const read = yamlObjects(text, file);
    return RouteTable.build(read.items, read.errors, file);
  }

  private static build(items: { value: unknown; line: number }[], errors: ConfigError[], source: string): RouteTable {
    const kept: KnownObject[] = [];
    for (const { value, line } of items) {
      const r = parseObject(value, source, line);
      errors.push(...r.errors);
      if (r.object && (r.object.kind === 'HTTPRoute' || r.object.kind === 'GRPCRoute' || r.object.kind === 'Service')) kept.push(r.object);
    }
    errors.push(...findDuplicates(kept));
    if (errors.length) throw new RouteTableError(errors);
    return new RouteTable(kept);
  }

  /** Every route read, as kind namespace/name. */
  get routes(): readonly { kind: string; namespace: string; name: string }[] {
    return this.snapshot.routes.map((r) => ({ kind: r.kind, namespace: r.namespace, name: r.name }));
  }

  /**
   * The rule a request to `parent` selects, from a caller in `callerNamespace` (default: the
   * parent's own, so producer routes apply), or null: no route attaches, or none matches (a
   * sidecar answers 404 then; `attached()` tells the two apart).
   */
  match(parent: RouteParent, request: RouteRequest, callerNamespace = parent.namespace): RouteMatch | null {
    const router = this.router(parent, callerNamespace);
    if (router === null) return null;
    const fields: string[] = [':method', (request.method ?? 'GET').toUpperCase(), ':scheme', 'http',
      ':authority', request.authority ?? `${parent.name}.${parent.namespace}`, ':path', request.path];
    for (const [name, v] of Object.entries(request.headers ?? {})) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) fields.push(name.toLowerCase(), one);
    }
    const ref = router.select(fields);
    if (ref === null) return null;
    const rule = ref.rule;
    return {
      route: { kind: ref.route.kind, namespace: ref.route.namespace, name: ref.route.name },
      ruleIndex: ref.ruleIndex, ruleName: rule.name, rule, matchedPrefix: ref.prefix,
      filters: rule.filters, backendRefs: rule.backendRefs,
      pickBackend(random = Math.random()): BackendRef | null {
        let total = 0;
        for (const b of rule.backendRefs) total += b.weight;
        if (total === 0) return null;
        let pick = random * total;
        for (const b of rule.backendRefs) {
          if (b.weight === 0) continue;
          if (pick < b.weight) return b;
          pick -= b.weight;
        }
        return rule.backendRefs.filter((b) => b.weight > 0).at(-1) ?? null;
      },
    };
  }

  /** The routes that decide requests to `parent` from `callerNamespace` (empty: none attaches). */
  attached(parent: RouteParent, callerNamespace = parent.namespace): readonly Route[] {
    return routesFor(this.snapshot, callerNamespace, parent.namespace, parent.name, parent.port);
  }

  private router(parent: RouteParent, callerNamespace: string): Router | null {
    if (this.closed) throw new Error('this RouteTable is closed');
    const key = `${callerNamespace}|${parent.namespace}/${parent.name}:${parent.port}`;
    let r = this.routers.get(key);
    if (r === undefined) {
      const routes = this.attached(parent, callerNamespace);
      r = routes.length ? new Router(routes) : null;
      if (this.routers.size >= 10_000) this.close(false);
      this.routers.set(key, r);
    }
    return r;
  }

  /** Frees the matcher memory in the WebAssembly core. The table may not be used afterwards. */
  close(final = true): void {
    for (const r of this.routers.values()) r?.free();
    this.routers.clear();
    if (final) this.closed = true;
  }
}

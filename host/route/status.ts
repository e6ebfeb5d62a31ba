// Route status as a Gateway API controller would write it (RouteParentStatus conditions), for
// `skiff check` and the admin server's config dump: for each Service parentRef, Accepted (does the
// route attach: the Service and port exist, no GRPCRoute overrides this HTTPRoute) and ResolvedRefs
// (does every backendRef name an existing Service port).
import type { Snapshot } from '../config/snapshot.js';
import type { BackendRef, ParentRef, Route } from './model.js';

export interface Condition {
  type: 'Accepted' | 'ResolvedRefs';
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface ParentStatus {
  parentRef: ParentRef;
  conditions: Condition[];
}

export interface RouteStatus {
  route: Route;
  parents: ParentStatus[];
}

function sameParentPort(a: ParentRef, b: ParentRef): boolean {
  return (a.port === undefined || b.port === undefined || a.port === b.port) &&
    (a.sectionName === undefined || b.sectionName === undefined || a.sectionName === b.sectionName);
}

/** How a parentRef names its Service port, for messages: ":80", " port named admin", or "". */
function portText(p: ParentRef): string {
  return `${p.port !== undefined ? `:${p.port}` : ''}${p.sectionName !== undefined ? ` port named ${p.sectionName}` : ''}`;
}

function backendProblem(snapshot: Snapshot, b: BackendRef): Condition | null {
  if (b.group !== '' || b.kind !== 'Service') {
    return { type: 'ResolvedRefs', status: 'False', reason: 'InvalidKind', message: `backendRef ${b.group ? `${b.group}/` : ''}${b.kind} ${b.namespace}/${b.name}: only core Services are supported` };
  }
  const svc = snapshot.service(b.namespace, b.name);
  if (!svc) return { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', message: `backendRef Service ${b.namespace}/${b.name} does not exist` };
  if (b.port !== undefined && !svc.ports.some((p) => p.port === b.port && p.protocol === 'TCP')) {
    return { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', message: `backendRef Service ${b.namespace}/${b.name} has no TCP port ${b.port}` };
  }
  return null;
}

/** The status of every route's Service parents. */
export function routeStatuses(snapshot: Snapshot): RouteStatus[] {
  const out: RouteStatus[] = [];
  for (const route of snapshot.routes) {
    const parents: ParentStatus[] = [];
    for (const p of route.parentRefs) {
      if (p.group === 'policy.linkerd.io' && p.kind === 'Server') {
        // an inbound route of a Server (policy): attached when the Server exists; backends do not apply
        const ok = snapshot.servers.has(`${p.namespace}/${p.name}`);
        parents.push({ parentRef: p, conditions: [ok
          ? { type: 'Accepted', status: 'True', reason: 'Accepted', message: `inbound route of Server ${p.namespace}/${p.name}` }
          : { type: 'Accepted', status: 'False', reason: 'NoMatchingParent', message: `Server ${p.namespace}/${p.name} does not exist` }] });
        continue;
      }
      if (p.group !== '' || p.kind !== 'Service') continue; // a Gateway's, not the mesh's
      let accepted: Condition = { type: 'Accepted', status: 'True', reason: 'Accepted', message: `attached to Service ${p.namespace}/${p.name}${portText(p)}` };
      const svc = snapshot.service(p.namespace, p.name);
      if (!svc) accepted = { type: 'Accepted', status: 'False', reason: 'NoMatchingParent', message: `Service ${p.namespace}/${p.name} does not exist` };
      else if (p.port !== undefined && !svc.ports.some((sp) => sp.port === p.port)) {
        accepted = { type: 'Accepted', status: 'False', reason: 'NoMatchingParent', message: `Service ${p.namespace}/${p.name} has no port ${p.port}` };
      } else if (p.sectionName !== undefined && !svc.ports.some((sp) => sp.name === p.sectionName && (p.port === undefined || sp.port === p.port))) {
        accepted = { type: 'Accepted', status: 'False', reason: 'NoMatchingParent', message: `Service ${p.namespace}/${p.name} has no port named ${p.sectionName}${p.port !== undefined ? ` with number ${p.port}` : ''}` };
      } else if (route.kind === 'HTTPRoute') {
        // GEP-1426: a GRPCRoute on the same parent wins; the HTTPRoute is not accepted there
        const grpc = snapshot.routesOf(p.namespace, p.name).find((r) => r.kind === 'GRPCRoute' && r.namespace === route.namespace &&
          r.parentRefs.some((q) => q.group === '' && q.kind === 'Service' && q.namespace === p.namespace && q.name === p.name && sameParentPort(p, q)));
        if (grpc) accepted = { type: 'Accepted', status: 'False', reason: 'Conflicted', message: `GRPCRoute ${grpc.namespace}/${grpc.name} is attached to the same Service and takes precedence` };
      }
      let resolved: Condition = { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'every backendRef resolves' };
      for (const rule of route.rules) {
        const refs = [...rule.backendRefs, ...rule.filters.flatMap((f) => (f.type === 'RequestMirror' ? [f.backend] : []))];
        for (const b of refs) {
          const problem = backendProblem(snapshot, b);
          if (problem) { resolved = problem; break; }
        }
        if (resolved.status === 'False') break;
      }
      parents.push({ parentRef: p, conditions: [accepted, resolved] });
    }
    out.push({ route, parents });
  }
  return out;
}

/** One line per route parent, for people: "HTTPRoute ns/name → Service ns/svc:80: Accepted, ResolvedRefs". */
export function describeStatus(s: RouteStatus): { line: string; ok: boolean }[] {
  const r = s.route;
  if (s.parents.length === 0) return [{ line: `${r.kind} ${r.namespace}/${r.name}: no Service or Server parentRef (not a mesh route; ignored)`, ok: true }];
  return s.parents.map((p) => {
    const bad = p.conditions.filter((c) => c.status === 'False');
    const target = p.parentRef.kind === 'Server' ? `Server ${p.parentRef.namespace}/${p.parentRef.name}` : `Service ${p.parentRef.namespace}/${p.parentRef.name}${portText(p.parentRef)}`;
    const state = bad.length === 0 ? p.conditions.map((c) => c.type).join(', ') : bad.map((c) => `${c.type}=False (${c.reason}: ${c.message})`).join('; ');
    return { line: `${r.kind} ${r.namespace}/${r.name} → ${target}: ${state}`, ok: bad.length === 0 };
  });
}

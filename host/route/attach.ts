// Which routes apply to a request for a Service port, as GAMMA (GEP-1426) says: routes attach to a
// Service through a parentRef (kind Service, core group; with a port, only that port). A route in
// the caller's own namespace is a consumer route and applies to that namespace's callers only; a
// route in the Service's namespace is a producer route and applies to every caller that has no
// consumer route for the Service. If GRPCRoutes and HTTPRoutes both attach, the GRPCRoutes win and
// the HTTPRoutes are not accepted (reason Conflicted).
import type { Snapshot } from '../config/snapshot.js';
import type { Route } from './model.js';

function attachesTo(route: Route, namespace: string, name: string, port: number): boolean {
  return route.parentRefs.some((p) => p.group === '' && p.kind === 'Service' && p.namespace === namespace && p.name === name && (p.port === undefined || p.port === port));
}

/** The routes of one kind that decide requests from `callerNamespace` to the Service port (may be none). */
export function routesFor(snapshot: Snapshot, callerNamespace: string, namespace: string, name: string, port: number): Route[] {
  const all = snapshot.routesOf(namespace, name).filter((r) => attachesTo(r, namespace, name, port));
  if (all.length === 0) return all;
  let chosen = callerNamespace !== namespace ? all.filter((r) => r.namespace === callerNamespace) : [];
  if (chosen.length === 0) chosen = all.filter((r) => r.namespace === namespace);
  return chosen.some((r) => r.kind === 'GRPCRoute') ? chosen.filter((r) => r.kind === 'GRPCRoute') : chosen;
}

// Which routes apply to a request for a Service port, as GAMMA (GEP-1426) says: routes attach to a
// Service through a parentRef (kind Service, core group; with a port, or a sectionName naming a
// Service port, only that port). A route in
// the caller's own namespace is a consumer route and applies to that namespace's callers only; a
// route in the Service's namespace is a producer route and applies to every caller that has no
// consumer route for the Service. If GRPCRoutes and HTTPRoutes both attach, the GRPCRoutes win and
// the HTTPRoutes are not accepted (reason Conflicted).
import type { Snapshot } from '../config/snapshot.js';
import type { Route } from './model.js';

/** Whether `route` attaches to the Service port `port` (named `portName`): by port number, by sectionName (the port's name), or the whole Service. */
function attachesTo(route: Route, namespace: string, name: string, port: number, portName: string | undefined): boolean {
  return route.parentRefs.some((p) => p.group === '' && p.kind === 'Service' && p.namespace === namespace && p.name === name &&
    (p.port === undefined || p.port === port) && (p.sectionName === undefined || p.sectionName === portName));
}

/** The routes of one kind that decide requests from `callerNamespace` to the Service port (may be none). */
export function routesFor(snapshot: Snapshot, callerNamespace: string, namespace: string, name: string, port: number): Route[] {
  const portName = snapshot.service(namespace, name)?.ports.find((p) => p.port === port)?.name;
  const all = snapshot.routesOf(namespace, name).filter((r) => attachesTo(r, namespace, name, port, portName));
  if (all.length === 0) return all;
  let chosen = callerNamespace !== namespace ? all.filter((r) => r.namespace === callerNamespace) : [];
  if (chosen.length === 0) chosen = all.filter((r) => r.namespace === namespace);
  return chosen.some((r) => r.kind === 'GRPCRoute') ? chosen.filter((r) => r.kind === 'GRPCRoute') : chosen;
}

// Inbound policy as people read it: for `skiff check`, every Server with the policies that apply to
// it and every problem (a policy that grants nothing, a target that does not exist, Servers that
// select the same Pod port, a default-policy annotation that is not a policy); for `skiff authz`,
// the effective table of one workload's ports; for `skiff authz replay`, recorded traffic judged
// by a proposed policy.
import type { Snapshot } from '../config/snapshot.js';
import { compileAuthorization, compilePortPolicy, decide, selects, serverRoutes, type InboundPolicyConfig, type PortPolicy } from './inbound-policy.js';
import { DEFAULT_POLICIES, DEFAULT_POLICY_ANNOTATION, POLICY_GROUP } from './model.js';

/** Every Server with what applies to it, and every problem of the policy objects in `snapshot`. */
export function policyReport(snapshot: Snapshot, trustDomain = 'cluster.local'): { lines: string[]; problems: string[] } {
  const lines: string[] = [];
  const problems: string[] = [];
  const at = (o: { source: string; line: number }): string => `${o.source}:${o.line}`;
  for (const s of [...snapshot.servers.values()].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`))) {
    const applying = [...snapshot.authorizationPolicies.values()].filter((p) => p.namespace === s.namespace &&
      ((p.targetRef.kind === 'Server' && p.targetRef.group === POLICY_GROUP && p.targetRef.name === s.name) || (p.targetRef.kind === 'Namespace' && p.targetRef.name === s.namespace)));
    const grants = applying.flatMap((p) => {
      const a = compileAuthorization(snapshot, p, trustDomain);
      return typeof a === 'string' ? [] : [`AuthorizationPolicy ${p.name}: ${a.who}`];
    });
    const routes = serverRoutes(snapshot, s).map((r) => {
      const own = [...snapshot.authorizationPolicies.values()].filter((p) => p.namespace === r.namespace && p.targetRef.kind === r.kind && p.targetRef.name === r.name);
      const g = own.flatMap((p) => { const a = compileAuthorization(snapshot, p, trustDomain); return typeof a === 'string' ? [] : [`AuthorizationPolicy ${p.name}: ${a.who}`]; });
      return `${r.kind} ${r.name} (${g.length ? g.join('; ') : 'no AuthorizationPolicy of its own'})`;
    });
    lines.push(`Server ${s.namespace}/${s.name} (port ${s.port}, proxyProtocol ${s.proxyProtocol}): ${grants.length ? grants.join('; ') : 'no AuthorizationPolicy on the Server'}` +
      `${routes.length ? `; inbound routes (a request must match one): ${routes.join(', ')}` : ''}; anyone else: ${s.accessPolicy}`);
  }
  for (const p of snapshot.authorizationPolicies.values()) {
    const t = p.targetRef;
    if (t.kind === 'Server' && !snapshot.servers.has(`${p.namespace}/${t.name}`)) problems.push(`${at(p)}: AuthorizationPolicy ${p.namespace}/${p.name}: targetRef Server ${t.name} does not exist (the policy applies to nothing)`);
    if ((t.kind === 'HTTPRoute' || t.kind === 'GRPCRoute') && !snapshot.routes.some((r) => r.kind === t.kind && r.namespace === p.namespace && r.name === t.name)) {
      problems.push(`${at(p)}: AuthorizationPolicy ${p.namespace}/${p.name}: targetRef ${t.kind} ${t.name} does not exist (the policy applies to nothing)`);
    }
    const a = compileAuthorization(snapshot, p, trustDomain);
    if (typeof a === 'string') problems.push(`${at(p)}: AuthorizationPolicy ${p.namespace}/${p.name} grants nothing: ${a}`);
  }
  for (const pod of snapshot.pods.values()) {
    const v = pod.annotations[DEFAULT_POLICY_ANNOTATION];
    if (v !== undefined && !(DEFAULT_POLICIES as readonly string[]).includes(v)) problems.push(`${pod.source}: Pod ${pod.namespace}/${pod.name}: annotation ${DEFAULT_POLICY_ANNOTATION} '${v}' is not one of ${DEFAULT_POLICIES.join(', ')}`);
    // Servers that select the same port of one Pod: only the oldest applies
    const byPort = new Map<number | string, string[]>();
    for (const s of snapshot.servers.values()) {
      if (s.namespace !== pod.namespace || !selects(s.podSelector, pod.labels)) continue;
      const port = typeof s.port === 'number' ? s.port : pod.ports.get(s.port) ?? s.port;
      byPort.set(port, [...(byPort.get(port) ?? []), s.name]);
    }
    for (const [port, names] of byPort) if (names.length > 1) problems.push(`${pod.source}: Pod ${pod.namespace}/${pod.name}: Servers ${names.join(', ')} all select port ${port}; only the oldest applies`);
  }
  for (const ns of snapshot.namespaces.values()) {
    const v = ns.annotations[DEFAULT_POLICY_ANNOTATION];
    if (v !== undefined && !(DEFAULT_POLICIES as readonly string[]).includes(v)) problems.push(`${ns.source}: Namespace ${ns.name}: annotation ${DEFAULT_POLICY_ANNOTATION} '${v}' is not one of ${DEFAULT_POLICIES.join(', ')}`);
  }
  return { lines, problems };
}

/** The effective table of one port: who is admitted, by what, in the order decisions are made. */
export function authzTable(pp: PortPolicy): string[][] {
  const srv = pp.server ? `Server ${pp.server.name}` : `default ${pp.srvName}`;
  const rows: string[][] = [];
  const port = String(pp.config.port);
  if (pp.config.trustLoopback) rows.push([port, srv, pp.proxyProtocol, 'default localhost', pp.loopbackAuthz.who]);
  if (pp.routes.length === 0) for (const a of pp.authorizations) rows.push([port, srv, pp.proxyProtocol, `AuthorizationPolicy ${a.name}`, a.who]);
  // with inbound routes a request must match one, and is admitted by the policies of the Server and of that route
  for (const [route, r] of pp.perRoute) {
    const label = `${route.kind} ${route.name}`;
    if (r.authorizations.length === 0) rows.push([port, srv, pp.proxyProtocol, `${label}: no AuthorizationPolicy`, '(the fallback below)']);
    for (const a of r.authorizations) rows.push([port, srv, pp.proxyProtocol, `${label}: AuthorizationPolicy ${a.name}`, a.who]);
  }
  if (pp.routes.length > 0) rows.push([port, srv, pp.proxyProtocol, 'no route matches', 'nobody (404; gRPC NOT_FOUND)']);
  if (pp.probePaths.size && pp.routes.length === 0) rows.push([port, srv, pp.proxyProtocol, 'default probe', pp.probeAuthz.who]);
  if (pp.routes.length > 0 && pp.authorizations.length > 0) for (const a of pp.authorizations) rows.push([port, srv, pp.proxyProtocol, `TCP: AuthorizationPolicy ${a.name}`, a.who]);
  if (pp.fallbackAuthz) rows.push([port, srv, pp.proxyProtocol, `default ${pp.fallback}`, pp.fallbackAuthz.who]);
  else rows.push([port, srv, pp.proxyProtocol, `default ${pp.fallback}`, pp.fallback === 'audit' ? pp.auditAuthz.who : 'nobody else (denied)']);
  return rows;
}

/** One access-log line as replay reads it. */
export interface RecordedRequest {
  direction?: string;
  method?: string;
  path?: string;
  client_id?: string;
  client_addr?: string;
}

/** Recorded inbound requests the policy would deny, grouped by client and request (method, path), most first. */
export function replay(pp: PortPolicy, requests: Iterable<RecordedRequest>): { total: number; denied: number; groups: { client: string; request: string; count: number }[] } {
  let total = 0, denied = 0;
  const groups = new Map<string, { client: string; request: string; count: number }>();
  for (const r of requests) {
    if (r.direction !== 'inbound') continue;
    total++;
    const path = (r.path ?? '').split('?')[0];
    const d = decide(pp, r.client_id ?? null, r.client_addr ?? '', r.method === 'GET' ? path : null);
    if (d.allowed && !d.audit) continue;
    denied++;
    const client = r.client_id ?? `unauthenticated ${r.client_addr ?? '(address not recorded)'}`;
    const request = `${r.method ?? '?'} ${path}`;
    const key = `${client}\u0000${request}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { client, request, count: 1 });
  }
  return { total, denied, groups: [...groups.values()].sort((a, b) => b.count - a.count || a.client.localeCompare(b.client)) };
}

export type { InboundPolicyConfig };
export { compilePortPolicy };

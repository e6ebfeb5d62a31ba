// The inbound side's authorization: for the port traffic is for, which Server (if any) selects this
// proxy's Pod there, which AuthorizationPolicies apply to it (targeting the Server or its
// Namespace), and what clients no policy admits get (the Server's accessPolicy, or the default
// policy). Compiled once per configuration into a PortPolicy; a decision per request or connection
// is then a walk over that port's few authorizations (no scan of every policy).
import type { Snapshot } from '../config/snapshot.js';
import type { Pod } from '../config/objects.js';
import type { AuthzCell, AuthzMetrics } from '../metrics/authz-metrics.js';
import type { Labels } from '../metrics/http-metrics.js';
import type { Route } from '../route/model.js';
import { IdentityMatcher, NetworkMatcher, isLoopback, linkerdName } from './authn.js';
import {
  DEFAULT_POLICIES, DEFAULT_POLICY_ANNOTATION, POLICY_GROUP, type AuthorizationPolicy, type DefaultPolicy, type LabelSelector,
  type ProxyProtocol, type Server,
} from './model.js';

export interface InboundPolicyConfig {
  /** This proxy's Pod, NAMESPACE/NAME. */
  namespace: string;
  name: string;
  /** The port traffic is for: the original destination port in a pod, the --app port on one machine. */
  port: number;
  /** --default-inbound-policy (all-unauthenticated unless set). */
  defaultPolicy: DefaultPolicy;
  /** --cluster-networks: what "cluster" means to the cluster-* policies. */
  clusterNetworks: NetworkMatcher;
  /** Whether connections from the loopback are trusted (a pod's own; never on a shared machine). */
  trustLoopback: boolean;
  trustDomain: string;
}

/** One way to be admitted: an AuthorizationPolicy, or a default policy. */
export interface Authorization {
  kind: 'authorizationpolicy' | 'default';
  name: string;
  /** Needs a mesh identity matching this (null: any client, identified or not). */
  identity: IdentityMatcher | null;
  /** Needs a source address in these networks (null: from anywhere). */
  network: NetworkMatcher | null;
  /** Who it admits, for people (skiff authz, skiff check). */
  who: string;
  httpAllow: AuthzCell | null;
  tcpAllow: AuthzCell | null;
}

export interface PortPolicy {
  config: InboundPolicyConfig;
  server: Server | null;
  /** Linkerd's labels: srv_kind server (a Server) or default (a default policy), srv_name. */
  srvKind: 'server' | 'default';
  srvName: string;
  /** The AuthorizationPolicies that apply (valid ones), in name order, for requests on no route (TCP, or a Server without routes). */
  authorizations: Authorization[];
  /** The Server's inbound HTTPRoutes/GRPCRoutes (parentRef the Server): with any, a request must match one. */
  routes: Route[];
  /** Per inbound route: the Server's authorizations and the route's own, labelled with the route. */
  perRoute: Map<Route, { authorizations: Authorization[]; httpDeny: AuthzCell | null }>;
  /** Requests a Server with routes found no route for (inbound_http_route_not_found_total). */
  routeNotFound: AuthzCell | null;
  /** What clients no AuthorizationPolicy admits get: a Server's accessPolicy, or the default policy. */
  fallback: DefaultPolicy;
  fallbackAuthz: Authorization | null;
  /** GET paths of this port's HTTP probes (admitted as Linkerd admits them). */
  probePaths: Set<string>;
  probeAuthz: Authorization;
  loopbackAuthz: Authorization;
  /** Counted when audit lets in a client it would have refused. */
  auditAuthz: Authorization;
  proxyProtocol: ProxyProtocol;
  /** What is wrong with the policy objects that concern this port (each grants nothing): for logs and skiff check. */
  problems: string[];
  httpDeny: AuthzCell | null;
  tcpDeny: AuthzCell | null;
  tcpTerminate: AuthzCell | null;
}

export interface Decision {
  allowed: boolean;
  /** On a denial: the counter it goes to. */
  deny: AuthzCell | null;
  /** Allowed only because the policy is audit: recorded as a would-be denial. */
  audit: boolean;
  authz: Authorization | null;
}

export function selects(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
  }
  return true;
}

/** Whether a Server's port (number or container port name) is `port` on `pod`. */
function portIs(p: number | string, port: number, pod: Pod | undefined): boolean {
  return typeof p === 'number' ? p === port : pod?.ports.get(p) === port;
}

const isDefaultPolicy = (v: string | undefined): v is DefaultPolicy => v !== undefined && (DEFAULT_POLICIES as readonly string[]).includes(v);

/** The Servers in this Pod's namespace that select it on `port`, oldest first. */
export function serversFor(snapshot: Snapshot, namespace: string, pod: Pod | undefined, port: number): Server[] {
  const labels = pod?.labels ?? {};
  return [...snapshot.servers.values()]
    .filter((s) => s.namespace === namespace && selects(s.podSelector, labels) && portIs(s.port, port, pod))
    .sort((a, b) => a.created - b.created || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Builds an AuthorizationPolicy's requirement; a string says why it grants nothing. */
export function compileAuthorization(snapshot: Snapshot, p: AuthorizationPolicy, td: string): Omit<Authorization, 'httpAllow' | 'tcpAllow'> | string {
  let identity: IdentityMatcher | null = null;
  let network: NetworkMatcher | null = null;
  let identitySources = 0, networkSources = 0;
  const who: string[] = [];
  for (const r of p.requiredAuthenticationRefs) {
    if (r.kind === 'MeshTLSAuthentication') {
      const m = snapshot.meshTLSAuthentications.get(`${r.namespace}/${r.name}`);
      if (!m) return `requiredAuthenticationRefs names MeshTLSAuthentication ${r.namespace}/${r.name}, which does not exist`;
      identitySources++;
      who.push(`mesh identity ${[...m.identities, ...m.identityRefs.map((x) => `${x.kind} ${x.namespace}/${x.name}`)].join(' or ')} (MeshTLSAuthentication ${m.name})`);
      identity = new IdentityMatcher();
      for (const id of m.identities) identity.add(id);
      for (const ref of m.identityRefs) {
        if (ref.kind === 'ServiceAccount') identity.addServiceAccount(ref.namespace, ref.name, td);
        else identity.addNamespace(ref.name, td);
      }
    } else if (r.kind === 'NetworkAuthentication') {
      const n = snapshot.networkAuthentications.get(`${r.namespace}/${r.name}`);
      if (!n) return `requiredAuthenticationRefs names NetworkAuthentication ${r.namespace}/${r.name}, which does not exist`;
      networkSources++;
      network = new NetworkMatcher(n.networks);
      who.push(`from ${n.networks.map((x) => `${x.cidr}${x.except.length ? ` except ${x.except.join(', ')}` : ''}`).join(' or ')} (NetworkAuthentication ${n.name})`);
    } else {
      identitySources++;
      who.push(`ServiceAccount ${r.namespace}/${r.name}`);
      identity = new IdentityMatcher();
      identity.addServiceAccount(r.namespace, r.name, td);
    }
  }
  if (identitySources > 1) return 'requiredAuthenticationRefs names more than one identity source (MeshTLSAuthentication or ServiceAccount)';
  if (networkSources > 1) return 'requiredAuthenticationRefs names more than one NetworkAuthentication';
  return { kind: 'authorizationpolicy', name: p.name, identity, network, who: who.length ? who.join(', ') : 'every client' };
}

/** What a default policy requires, as an Authorization (null for deny: nothing is admitted). */
function defaultAuthorization(policy: DefaultPolicy, cluster: NetworkMatcher): Omit<Authorization, 'httpAllow' | 'tcpAllow'> | null {
  const any = new IdentityMatcher();
  any.add('*');
  switch (policy) {
    case 'all-unauthenticated': return { kind: 'default', name: policy, identity: null, network: null, who: 'every client' };
    case 'all-authenticated': return { kind: 'default', name: policy, identity: any, network: null, who: 'any mesh identity' };
    case 'cluster-unauthenticated': return { kind: 'default', name: policy, identity: null, network: cluster, who: 'every client from the cluster networks' };
    case 'cluster-authenticated': return { kind: 'default', name: policy, identity: any, network: cluster, who: 'any mesh identity from the cluster networks' };
    case 'deny': case 'audit': return null;
  }
}

/** The default policy of a Pod: its annotation, else its Namespace's, else the flag. */
export function defaultPolicyOf(snapshot: Snapshot, config: InboundPolicyConfig, pod: Pod | undefined, problems: string[]): DefaultPolicy {
  const fromPod = pod?.annotations[DEFAULT_POLICY_ANNOTATION];
  if (fromPod !== undefined) {
    if (isDefaultPolicy(fromPod)) return fromPod;
    problems.push(`Pod ${config.namespace}/${config.name}: ${DEFAULT_POLICY_ANNOTATION} '${fromPod}' is not one of ${DEFAULT_POLICIES.join(', ')}`);
  }
  const fromNs = snapshot.namespaces.get(config.namespace)?.annotations[DEFAULT_POLICY_ANNOTATION];
  if (fromNs !== undefined) {
    if (isDefaultPolicy(fromNs)) return fromNs;
    problems.push(`Namespace ${config.namespace}: ${DEFAULT_POLICY_ANNOTATION} '${fromNs}' is not one of ${DEFAULT_POLICIES.join(', ')}`);
  }
  return config.defaultPolicy;
}

/** Compiles the policy of the configured port under `snapshot`; metric cells from `metrics` (null: none). */
export function compilePortPolicy(snapshot: Snapshot, config: InboundPolicyConfig, metrics: AuthzMetrics | null): PortPolicy {
  const problems: string[] = [];
  const pod = snapshot.pods.get(`${config.namespace}/${config.name}`);
  const servers = serversFor(snapshot, config.namespace, pod, config.port);
  const server = servers[0] ?? null;
  if (servers.length > 1) {
    problems.push(`Servers ${servers.map((s) => `${s.namespace}/${s.name}`).join(', ')} all select port ${config.port} of Pod ${config.namespace}/${config.name}; the oldest, ${server!.name}, applies`);
  }
  const defaultPolicy = defaultPolicyOf(snapshot, config, pod, problems);
  const srvKind = server ? 'server' : 'default';
  const srvName = server ? server.name : defaultPolicy;
  const target = `0.0.0.0:${config.port}`;
  const base: Labels = { target_addr: target, srv_group: server ? POLICY_GROUP : '', srv_kind: srvKind, srv_name: srvName };
  const httpBase: Labels = { ...base, route_group: '', route_kind: 'default', route_name: 'default' };
  const cells = (a: Omit<Authorization, 'httpAllow' | 'tcpAllow'>): Authorization => ({
    ...a,
    httpAllow: metrics?.cell('inbound_http_authz_allow_total', { ...httpBase, authz_group: a.kind === 'default' ? '' : POLICY_GROUP, authz_kind: a.kind, authz_name: a.name }) ?? null,
    tcpAllow: metrics?.cell('inbound_tcp_authz_allow_total', { ...base, authz_group: a.kind === 'default' ? '' : POLICY_GROUP, authz_kind: a.kind, authz_name: a.name }) ?? null,
  });
  const authorizations: Authorization[] = [];
  const serverLevel: Omit<Authorization, 'httpAllow' | 'tcpAllow'>[] = [];
  const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const routes = server ? serverRoutes(snapshot, server) : [];
  const perRoute = new Map<Route, { authorizations: Authorization[]; httpDeny: AuthzCell | null }>();
  if (server) {
    const applying = [...snapshot.authorizationPolicies.values()].filter((p) => p.namespace === server.namespace &&
      ((p.targetRef.kind === 'Server' && p.targetRef.group === POLICY_GROUP && p.targetRef.name === server.name) ||
        (p.targetRef.kind === 'Namespace' && p.targetRef.name === server.namespace)))
      .sort(byName);
    for (const p of applying) {
      const a = compileAuthorization(snapshot, p, config.trustDomain);
      if (typeof a === 'string') problems.push(`AuthorizationPolicy ${p.namespace}/${p.name} grants nothing: ${a}`);
      else { serverLevel.push(a); authorizations.push(cells(a)); }
    }
    for (const route of routes) {
      // the route's labels; the Server's policies and the route's own admit requests on it
      const routeHttp: Labels = { ...base, route_group: route.group, route_kind: route.kind, route_name: route.name };
      const own = [...snapshot.authorizationPolicies.values()].filter((p) => p.namespace === route.namespace &&
        p.targetRef.kind === route.kind && p.targetRef.name === route.name && (p.targetRef.group === route.group || p.targetRef.group === POLICY_GROUP || p.targetRef.group === 'gateway.networking.k8s.io'))
        .sort(byName);
      const list: Authorization[] = [];
      for (const a of serverLevel) list.push(routeCells(a, routeHttp));
      for (const p of own) {
        const a = compileAuthorization(snapshot, p, config.trustDomain);
        if (typeof a === 'string') problems.push(`AuthorizationPolicy ${p.namespace}/${p.name} grants nothing: ${a}`);
        else list.push(routeCells(a, routeHttp));
      }
      perRoute.set(route, { authorizations: list, httpDeny: metrics?.cell('inbound_http_authz_deny_total', routeHttp) ?? null });
    }
  }
  function routeCells(a: Omit<Authorization, 'httpAllow' | 'tcpAllow'>, l: Labels): Authorization {
    return { ...a, httpAllow: metrics?.cell('inbound_http_authz_allow_total', { ...l, authz_group: a.kind === 'default' ? '' : POLICY_GROUP, authz_kind: a.kind, authz_name: a.name }) ?? null, tcpAllow: null };
  }
  const fallback = server ? server.accessPolicy : defaultPolicy;
  const f = defaultAuthorization(fallback, config.clusterNetworks);
  const probePaths = new Set<string>();
  for (const pr of pod?.probes ?? []) if (portIs(pr.port, config.port, pod)) probePaths.add(pr.path);
  return {
    config, server, srvKind, srvName, authorizations, routes, perRoute,
    routeNotFound: server && routes.length ? metrics?.cell('inbound_http_route_not_found_total', base) ?? null : null,
    fallback,
    fallbackAuthz: f ? cells(f) : null,
    probePaths,
    probeAuthz: cells({ kind: 'default', name: 'probe', identity: null, network: null, who: `every client, for GET ${[...probePaths].join(', ') || '(no probes)'}` }),
    loopbackAuthz: cells({ kind: 'default', name: 'localhost', identity: null, network: null, who: 'every client on the loopback (--trust-loopback on)' }),
    auditAuthz: cells({ kind: 'default', name: 'audit', identity: null, network: null, who: 'everyone else, recorded as would-be denials' }),
    proxyProtocol: server?.proxyProtocol ?? 'unknown',
    problems,
    httpDeny: metrics?.cell('inbound_http_authz_deny_total', httpBase) ?? null,
    tcpDeny: metrics?.cell('inbound_tcp_authz_deny_total', base) ?? null,
    tcpTerminate: metrics?.cell('inbound_tcp_authz_terminate_total', base) ?? null,
  };
}

function admits(a: Authorization, id: string | null, name: string | undefined, address: string): boolean {
  if (a.identity !== null && (id === null || !a.identity.matches(id, name))) return false;
  if (a.network !== null && !a.network.matches(address)) return false;
  return true;
}

/**
 * Who may pass: a client with mesh identity `id` (null: none proven) from `address`. `probePath`
 * is the path of a GET that may be one of the Pod's probes (null for anything else).
 */
export function decide(pp: PortPolicy, id: string | null, address: string, probePath: string | null, route: Route | null = null, tcp = false): Decision {
  if (pp.config.trustLoopback && isLoopback(address)) return { allowed: true, deny: null, audit: false, authz: pp.loopbackAuthz };
  const name = id === null ? undefined : linkerdName(id);
  const onRoute = route === null ? undefined : pp.perRoute.get(route);
  const list = onRoute?.authorizations ?? pp.authorizations;
  for (const a of list) if (admits(a, id, name, address)) return { allowed: true, deny: null, audit: false, authz: a };
  // probes are admitted on a Server without routes, as Linkerd does (with routes, they need one)
  if (probePath !== null && pp.routes.length === 0 && pp.probePaths.has(probePath)) return { allowed: true, deny: null, audit: false, authz: pp.probeAuthz };
  const f = pp.fallbackAuthz;
  if (f !== null && admits(f, id, name, address)) return { allowed: true, deny: null, audit: false, authz: f };
  if (pp.fallback === 'audit') return { allowed: true, deny: null, audit: true, authz: pp.auditAuthz };
  return { allowed: false, deny: tcp ? pp.tcpDeny : onRoute?.httpDeny ?? pp.httpDeny, audit: false, authz: null };
}

/** The HTTPRoutes/GRPCRoutes whose parentRef is `server` (GRPCRoutes win when both attach, as for Services). */
export function serverRoutes(snapshot: Snapshot, server: Server): Route[] {
  const all = snapshot.routes.filter((r) => r.namespace === server.namespace &&
    r.parentRefs.some((p) => p.group === POLICY_GROUP && p.kind === 'Server' && p.name === server.name && p.namespace === server.namespace));
  return all.some((r) => r.kind === 'GRPCRoute') ? all.filter((r) => r.kind === 'GRPCRoute') : all;
}

/** Why a client was refused, for skiff-proxy-error and logs. */
export function denialReason(pp: PortPolicy, id: string | null, address: string): string {
  const who = id === null ? `an unauthenticated client at ${address}` : `${id} at ${address}`;
  const what = pp.server ? `Server ${pp.server.namespace}/${pp.server.name}` : `the default policy ${pp.srvName}`;
  return `${who} is not authorized by ${what} on port ${pp.config.port}`;
}

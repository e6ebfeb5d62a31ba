// Gateway API routes as Skiff uses them (gateway.networking.k8s.io/v1 HTTPRoute and GRPCRoute, the
// fields of the standard and experimental channels that a mesh data plane acts on), validated and
// with defaults applied (host/config/routes.ts builds these from YAML).

export interface PathMatch {
  type: 'Exact' | 'PathPrefix' | 'RegularExpression';
  value: string;
}

/** A header (name case-insensitive) or query parameter (name exact) condition. */
export interface ValueMatch {
  type: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface HttpRouteMatch {
  /** Defaults to PathPrefix "/". */
  path: PathMatch;
  method?: string;
  headers: ValueMatch[];
  queryParams: ValueMatch[];
}

export interface GrpcMethodMatch {
  type: 'Exact' | 'RegularExpression';
  service?: string;
  method?: string;
}

export interface GrpcRouteMatch {
  method?: GrpcMethodMatch;
  headers: ValueMatch[];
}

export interface HeaderModifier {
  set: { name: string; value: string }[];
  add: { name: string; value: string }[];
  remove: string[];
}

export type PathModifier = { type: 'ReplaceFullPath'; value: string } | { type: 'ReplacePrefixMatch'; value: string };

export type RouteFilter =
  | { type: 'RequestHeaderModifier'; modifier: HeaderModifier }
  | { type: 'ResponseHeaderModifier'; modifier: HeaderModifier }
  | { type: 'RequestRedirect'; scheme?: string; hostname?: string; port?: number; path?: PathModifier; statusCode: number }
  | { type: 'URLRewrite'; hostname?: string; path?: PathModifier }
  | { type: 'RequestMirror'; backend: BackendRef; percent: number };

export interface BackendRef {
  group: string;
  kind: string;
  name: string;
  namespace: string;
  port?: number;
  /** Defaults to 1. */
  weight: number;
  filters: RouteFilter[];
}

export interface RouteRetry {
  /** HTTP status codes that are retried (HTTPRoute); gRPC codes for GRPCRoute are not in the API yet. */
  codes: number[];
  /** Tries after the first. */
  attempts: number;
  backoffMs: number;
}

export interface RouteRule {
  name?: string;
  /** At least one; an HTTPRoute rule without matches matches PathPrefix "/". */
  matches: HttpRouteMatch[] | GrpcRouteMatch[];
  filters: RouteFilter[];
  backendRefs: BackendRef[];
  /** HTTPRoute timeouts, in ms (0: none). */
  requestTimeoutMs: number;
  backendRequestTimeoutMs: number;
  retry?: RouteRetry;
}

export interface ParentRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  port?: number;
  /** For a Service parent: the name of the Service port the route attaches to (Gateway API core). */
  sectionName?: string;
}

export interface Route {
  kind: 'HTTPRoute' | 'GRPCRoute';
  /** The API group: gateway.networking.k8s.io, or policy.linkerd.io for Linkerd's own HTTPRoute. */
  group: string;
  namespace: string;
  name: string;
  /** metadata.creationTimestamp in ms since the epoch; absent in hand-written YAML. */
  created?: number;
  parentRefs: ParentRef[];
  rules: RouteRule[];
  source: string;
  line: number;
  /**
   * Failover (linkerd-failover's labels, applied in the proxy): requests go to the backendRef naming
   * the primary Service while it has an endpoint that can take them, else to the other backendRefs,
   * balanced among themselves.
   */
  failover?: { primary: string };
}

/** What tells two routes apart: kind and group, namespace and name. */
export function routeKey(r: { kind: string; group: string; namespace: string; name: string }): string {
  return `${r.kind}.${r.group} ${r.namespace}/${r.name}`;
}

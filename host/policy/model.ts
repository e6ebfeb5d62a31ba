// Linkerd's policy resources as Skiff uses them (group policy.linkerd.io), validated and with their
// defaults applied: Server (which pods and port, how to detect, what to do by default),
// AuthorizationPolicy (who may reach a Server, a route or every Server of a Namespace), and the
// authentications it requires: MeshTLSAuthentication (mesh identities) and NetworkAuthentication
// (client networks). A v1 Namespace is read for its default-policy annotation.

export const POLICY_GROUP = 'policy.linkerd.io';

/** The default policies (Linkerd's names), for ports no Server selects and a Server's accessPolicy. */
export const DEFAULT_POLICIES = ['all-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'cluster-unauthenticated', 'deny', 'audit'] as const;
export type DefaultPolicy = typeof DEFAULT_POLICIES[number];

/** The annotation (on a Pod or its Namespace) that sets the default inbound policy, as Linkerd's. */
export const DEFAULT_POLICY_ANNOTATION = 'config.linkerd.io/default-inbound-policy';

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: LabelSelectorRequirement[];
}

export type ProxyProtocol = 'unknown' | 'HTTP/1' | 'HTTP/2' | 'gRPC' | 'opaque' | 'TLS';
export const PROXY_PROTOCOLS: readonly ProxyProtocol[] = ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS'];

export interface Server {
  kind: 'Server';
  namespace: string;
  name: string;
  podSelector: LabelSelector;
  /** A port number, or the name of a container port of the selected Pods. */
  port: number | string;
  proxyProtocol: ProxyProtocol;
  /** What requests no AuthorizationPolicy admits get (default deny). */
  accessPolicy: DefaultPolicy;
  created: number;
  source: string;
  line: number;
}

export interface PolicyRef {
  group: string;
  kind: string;
  name: string;
  namespace: string;
}

export interface AuthorizationPolicy {
  kind: 'AuthorizationPolicy';
  namespace: string;
  name: string;
  /** A Server, an HTTPRoute/GRPCRoute, or a Namespace (every Server in it). */
  targetRef: PolicyRef;
  /** All must hold; none: every client is authorized. */
  requiredAuthenticationRefs: PolicyRef[];
  source: string;
  line: number;
}

export interface MeshTLSAuthentication {
  kind: 'MeshTLSAuthentication';
  namespace: string;
  name: string;
  /** Identity names: exact, '*', or '*.suffix' on whole labels (Linkerd's DNS-like form or SPIFFE IDs). */
  identities: string[];
  /** ServiceAccounts (one identity each) and Namespaces (every ServiceAccount in them). */
  identityRefs: PolicyRef[];
  source: string;
  line: number;
}

export interface Network {
  cidr: string;
  except: string[];
}

export interface NetworkAuthentication {
  kind: 'NetworkAuthentication';
  namespace: string;
  name: string;
  networks: Network[];
  source: string;
  line: number;
}

export interface Namespace {
  kind: 'Namespace';
  name: string;
  /** Namespaces are cluster-scoped; kept for the snapshot's uniform keys. */
  namespace: string;
  annotations: Record<string, string>;
  source: string;
}

export type PolicyObject = Server | AuthorizationPolicy | MeshTLSAuthentication | NetworkAuthentication | Namespace;

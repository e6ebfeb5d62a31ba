// Inbound authorization policy as data: Linkerd's resources read and validated, identities and
// networks matched as Linkerd matches them, the Server that selects a Pod's port, which
// AuthorizationPolicies apply, and every default policy's decision for every kind of client.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadFiles } from '../helpers/mesh.mjs';
import { IdentityMatcher, NetworkMatcher, linkerdName, DEFAULT_CLUSTER_NETWORKS } from '../../dist/host/policy/authn.js';
import { compilePortPolicy, decide } from '../../dist/host/policy/inbound-policy.js';
import { AuthzMetrics } from '../../dist/host/metrics/authz-metrics.js';

const A = 'spiffe://cluster.local/ns/default/sa/alice';
const B = 'spiffe://cluster.local/ns/default/sa/bob';
const OTHER_NS = 'spiffe://cluster.local/ns/shop/sa/cart';

const pod = (labels = 'app: web', annotations = '') => `apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: default
  labels: {${labels}}
  annotations: {${annotations}}
spec:
  serviceAccountName: web
  containers:
    - name: app
      image: app
      ports: [{name: http, containerPort: 8080}, {name: admin, containerPort: 9990}]
      livenessProbe: {httpGet: {path: /healthz, port: http}}
      readinessProbe: {httpGet: {path: /ready, port: 8080}}
---
`;
const server = (name, port, extra = '', version = 'v1beta3') => `apiVersion: policy.linkerd.io/${version}
kind: Server
metadata: {name: ${name}, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  port: ${port}
${extra}---
`;
const authz = (name, target, refs) => `apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: default}
spec:
  targetRef: ${target}
  requiredAuthenticationRefs: ${refs}
---
`;
const mtls = (name, spec) => `apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: ${name}, namespace: default}
spec: ${spec}
---
`;
const netauth = (name, networks) => `apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: {name: ${name}, namespace: default}
spec:
  networks: ${networks}
---
`;
const SERVER_REF = (name) => `{group: policy.linkerd.io, kind: Server, name: ${name}}`;

const config = (over = {}) => ({
  namespace: 'default', name: 'web-1', port: 8080, defaultPolicy: 'all-unauthenticated',
  clusterNetworks: new NetworkMatcher(DEFAULT_CLUSTER_NETWORKS.map((cidr) => ({ cidr, except: [] }))), trustLoopback: false, trustDomain: 'cluster.local', ...over,
});
function policyOf(yaml, over) {
  const r = loadFiles({ 'p.yaml': yaml });
  assert.equal(r.errors.map(String), []);
  return compilePortPolicy(r.snapshot, config(over), new AuthzMetrics());
}
const verdict = (pp, id, addr, probe = null) => {
  const d = decide(pp, id, addr, probe);
  return d.allowed ? `${d.audit ? 'audit' : 'allow'}:${d.authz.kind}/${d.authz.name}` : 'deny';
};

test('identities: Linkerd\'s DNS-like names, * and *.suffix on whole labels, SPIFFE IDs, ServiceAccount and Namespace refs', () => {
  assert.is(linkerdName(A), 'alice.default.serviceaccount.identity.linkerd.cluster.local');
  const m = new IdentityMatcher();
  m.add('alice.default.serviceaccount.identity.linkerd.cluster.local');
  const match = (id) => m.matches(id, linkerdName(id));
  assert.ok(match(A));
  assert.not.ok(match(B));
  const s = new IdentityMatcher();
  s.add('*.default.serviceaccount.identity.linkerd.cluster.local');
  assert.ok(s.matches(A, linkerdName(A)));
  assert.not.ok(s.matches(OTHER_NS, linkerdName(OTHER_NS)));
  const partial = new IdentityMatcher();
  partial.add('*.fault.serviceaccount.identity.linkerd.cluster.local');
  assert.not.ok(partial.matches(A, linkerdName(A)), 'a suffix matches whole labels only');
  const spiffe = new IdentityMatcher();
  spiffe.add(B);
  assert.ok(spiffe.matches(B, linkerdName(B)));
  const refs = new IdentityMatcher();
  refs.addServiceAccount('shop', 'cart', 'cluster.local');
  assert.ok(refs.matches(OTHER_NS, linkerdName(OTHER_NS)));
  assert.not.ok(refs.matches(A, linkerdName(A)));
  const ns = new IdentityMatcher();
  ns.addNamespace('default', 'cluster.local');
  assert.ok(ns.matches(A, linkerdName(A)) && ns.matches(B, linkerdName(B)));
  assert.not.ok(ns.matches(OTHER_NS, linkerdName(OTHER_NS)));
  const other = new IdentityMatcher();
  other.addServiceAccount('default', 'alice', 'example.org');
  assert.not.ok(other.matches(A, linkerdName(A)), 'another trust domain is another identity');
});

test('networks: CIDRs with exceptions, IPv4, IPv6 and IPv4-mapped addresses', () => {
  const n = new NetworkMatcher([{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2.3.4'] }, { cidr: 'fd00::/8', except: [] }]);
  assert.ok(n.matches('10.9.9.9'));
  assert.ok(n.matches('::ffff:10.9.9.9'));
  assert.not.ok(n.matches('10.1.2.3'));
  assert.not.ok(n.matches('10.2.3.4'));
  assert.ok(n.matches('10.2.3.5'));
  assert.not.ok(n.matches('192.168.1.1'));
  assert.ok(n.matches('fd12::1'));
  assert.not.ok(n.matches('fe80::1'));
  assert.not.ok(n.matches('not an address'));
});

test('resources: invalid objects are refused with file, object and field', () => {
  const r = loadFiles({
    'bad.yaml': `apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: s, namespace: default}
spec:
  podSelector: {matchExpressions: [{key: app, operator: Maybe}]}
  port: 0
  proxyProtocol: HTTP/3
  accessPolicy: sometimes
---
apiVersion: policy.linkerd.io/v1beta1
kind: Server
metadata: {name: old, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  port: http
  accessPolicy: deny
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: a, namespace: default}
spec:
  targetRef: {group: apps, kind: Deployment, name: web}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: Secret, name: x}]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: m, namespace: default}
spec: {identities: ["*.a"], identityRefs: [{kind: ServiceAccount, name: x}]}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: {name: n, namespace: default}
spec:
  networks: [{cidr: 10.0.0.0/33}, {cidr: 10.0.0.0/8, except: ["fd00::/8"]}]
`,
  });
  const text = r.errors.map(String).join('\n');
  for (const want of [
    /bad\.yaml:1: Server default\/s: spec\.podSelector\.matchExpressions\[0\]\.operator: must be In, NotIn, Exists or DoesNotExist/,
    /Server default\/s: spec\.port: must be a port number 1-65535, got 0/,
    /Server default\/s: spec\.proxyProtocol: must be one of unknown, HTTP\/1, HTTP\/2, gRPC, opaque, TLS, got "HTTP\/3"/,
    /Server default\/s: spec\.accessPolicy: must be one of all-unauthenticated, .*, got "sometimes"/,
    /Server default\/old: spec\.accessPolicy: is a field of policy\.linkerd\.io\/v1beta3 Servers, not policy\.linkerd\.io\/v1beta1/,
    /AuthorizationPolicy default\/a: spec\.targetRef: must be a policy\.linkerd\.io Server, an HTTPRoute or GRPCRoute, or a Namespace; got apps Deployment/,
    /AuthorizationPolicy default\/a: spec\.requiredAuthenticationRefs\[0\]: must be a MeshTLSAuthentication or NetworkAuthentication/,
    /MeshTLSAuthentication default\/m: spec: exactly one of identities and identityRefs must be set/,
    /NetworkAuthentication default\/n: spec\.networks\[0\]\.cidr: '10\.0\.0\.0\/33' is not a CIDR: the prefix length must be 0-32/,
    /NetworkAuthentication default\/n: spec\.networks\[1\]\.except\[0\]: 'fd00::\/8' is not of the same address family as 10\.0\.0\.0\/8/,
  ]) assert.match(text, want);
});

test('the Server that selects the Pod on the port: labels, expressions, named ports; the oldest of several', () => {
  const p = policyOf(pod() + server('by-name', 'http').replace('metadata: {name: by-name, namespace: default}', 'metadata: {name: by-name, namespace: default, creationTimestamp: "2021-01-01T00:00:00Z"}') + server('by-number', 8080).replace('metadata: {name: by-number, namespace: default}', 'metadata: {name: by-number, namespace: default, creationTimestamp: "2020-01-01T00:00:00Z"}') +
    server('admin', 'admin') + server('other-app', 8080).replace('{app: web}', '{app: api}'));
  assert.is(p.server.name, 'by-number', 'the oldest');
  assert.match(p.problems.join('\n'), /Servers default\/by-number, default\/by-name all select port 8080/);
  const q = policyOf(pod('app: web, tier: front') + server('expr', 8080).replace('{matchLabels: {app: web}}', '{matchExpressions: [{key: tier, operator: In, values: [front, back]}, {key: legacy, operator: DoesNotExist}]}'));
  assert.is(q.server.name, 'expr');
  const none = policyOf(pod('app: web, legacy: "yes"') + server('expr', 8080).replace('{matchLabels: {app: web}}', '{matchExpressions: [{key: legacy, operator: DoesNotExist}]}'));
  assert.is(none.server, null);
  assert.is(none.srvName, 'all-unauthenticated');
});

test('AuthorizationPolicy on a Server: MeshTLS by identity, by wildcard, by ServiceAccount ref; network with except; all must hold', () => {
  const p = policyOf(pod() + server('web', 8080) +
    mtls('alice', '{identities: ["alice.default.serviceaccount.identity.linkerd.cluster.local"]}') +
    mtls('shop', '{identityRefs: [{kind: Namespace, name: shop}]}') +
    netauth('office', '[{cidr: 10.0.0.0/8, except: [10.0.66.0/24]}]') +
    authz('alice-only', SERVER_REF('web'), '[{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: alice}]') +
    authz('shop-from-office', SERVER_REF('web'), '[{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: shop}, {group: policy.linkerd.io, kind: NetworkAuthentication, name: office}]') +
    authz('bob-sa', SERVER_REF('web'), '[{kind: ServiceAccount, name: bob}]'));
  assert.is(verdict(p, A, '192.168.0.9'), 'allow:authorizationpolicy/alice-only');
  assert.is(verdict(p, B, '192.168.0.9'), 'allow:authorizationpolicy/bob-sa');
  assert.is(verdict(p, OTHER_NS, '10.0.1.1'), 'allow:authorizationpolicy/shop-from-office');
  assert.is(verdict(p, OTHER_NS, '10.0.66.1'), 'deny', 'the network exception');
  assert.is(verdict(p, OTHER_NS, '192.168.0.9'), 'deny', 'both must hold');
  assert.is(verdict(p, null, '10.0.1.1'), 'deny', 'no identity');
  assert.is(verdict(p, null, '10.0.1.1', '/healthz'), 'allow:default/probe', 'probes are admitted');
  assert.is(verdict(p, null, '10.0.1.1', '/ready'), 'allow:default/probe');
  assert.is(verdict(p, null, '10.0.1.1', '/other'), 'deny');
});

test('policies that grant nothing: missing references, two identity sources, two networks; Namespace targets', () => {
  const p = policyOf(pod() + server('web', 8080) + mtls('alice', '{identities: ["*"]}') + netauth('n1', '[{cidr: 0.0.0.0/0}]') + netauth('n2', '[{cidr: 0.0.0.0/0}]') +
    authz('missing', SERVER_REF('web'), '[{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: nobody}]') +
    authz('two-ids', SERVER_REF('web'), '[{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: alice}, {kind: ServiceAccount, name: bob}]') +
    authz('two-nets', SERVER_REF('web'), '[{group: policy.linkerd.io, kind: NetworkAuthentication, name: n1}, {group: policy.linkerd.io, kind: NetworkAuthentication, name: n2}]'));
  assert.equal(p.authorizations, []);
  const problems = p.problems.join('\n');
  assert.match(problems, /AuthorizationPolicy default\/missing grants nothing: requiredAuthenticationRefs names MeshTLSAuthentication default\/nobody, which does not exist/);
  assert.match(problems, /default\/two-ids grants nothing: .*more than one identity source/);
  assert.match(problems, /default\/two-nets grants nothing: .*more than one NetworkAuthentication/);
  assert.is(verdict(p, A, '10.0.0.1'), 'deny');
  const ns = policyOf(pod() + server('web', 8080) + authz('everyone', '{kind: Namespace, name: default}', '[]'));
  assert.is(verdict(ns, null, '203.0.113.7'), 'allow:authorizationpolicy/everyone', 'a Namespace target covers its Servers; no refs: every client');
});

test('default policies for every kind of client; accessPolicy on a Server; annotations over the flag', () => {
  const clients = [[A, '10.0.0.5'], [A, '203.0.113.7'], [null, '10.0.0.5'], [null, '203.0.113.7'], [null, '127.0.0.1']];
  const table = {
    'all-unauthenticated': ['allow', 'allow', 'allow', 'allow', 'allow'],
    'all-authenticated': ['allow', 'allow', 'deny', 'deny', 'deny'],
    'cluster-unauthenticated': ['allow', 'deny', 'allow', 'deny', 'allow'],
    'cluster-authenticated': ['allow', 'deny', 'deny', 'deny', 'deny'],
    deny: ['deny', 'deny', 'deny', 'deny', 'deny'],
    audit: ['audit', 'audit', 'audit', 'audit', 'audit'],
  };
  for (const [policy, want] of Object.entries(table)) {
    const p = policyOf(pod(), { defaultPolicy: policy });
    assert.equal(clients.map(([id, a]) => verdict(p, id, a).split(':')[0]), want, policy);
    const s = policyOf(pod() + server('web', 8080, `  accessPolicy: ${policy}\n`));
    assert.equal(clients.map(([id, a]) => verdict(s, id, a).split(':')[0]), want, `accessPolicy ${policy}`);
  }
  assert.is(policyOf(pod() + server('web', 8080)).fallback, 'deny', 'a Server denies by default');
  // the Pod's annotation, else its Namespace's, else the flag
  const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: default, annotations: {config.linkerd.io/default-inbound-policy: all-authenticated}}\n---\n';
  assert.is(policyOf(ns + pod(), { defaultPolicy: 'deny' }).fallback, 'all-authenticated');
  assert.is(policyOf(ns + pod('app: web', 'config.linkerd.io/default-inbound-policy: cluster-unauthenticated'), { defaultPolicy: 'deny' }).fallback, 'cluster-unauthenticated');
  const bad = policyOf(pod('app: web', 'config.linkerd.io/default-inbound-policy: open-sesame'), { defaultPolicy: 'deny' });
  assert.is(bad.fallback, 'deny');
  assert.match(bad.problems.join('\n'), /'open-sesame' is not one of/);
  // the loopback is trusted only when configured so (a pod's own loopback)
  assert.is(verdict(policyOf(pod(), { defaultPolicy: 'deny', trustLoopback: true }), null, '127.0.0.1'), 'allow:default/localhost');
  assert.is(verdict(policyOf(pod(), { defaultPolicy: 'deny', trustLoopback: true }), null, '::ffff:127.0.0.1'), 'allow:default/localhost');
  assert.is(verdict(policyOf(pod(), { defaultPolicy: 'deny' }), null, '127.0.0.1'), 'deny');
});

test.run();

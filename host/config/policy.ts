// Linkerd's policy resources from YAML (Server, AuthorizationPolicy, MeshTLSAuthentication,
// NetworkAuthentication) and v1 Namespace: the checks their CRD schemas make when applied to a
// cluster, each error naming the field, with defaults filled in as the API server would.
import net from 'node:net';
import type { Checker, Json } from './checker.js';
import { isObj } from './checker.js';
import {
  DEFAULT_POLICIES, POLICY_GROUP, PROXY_PROTOCOLS, type AuthorizationPolicy, type DefaultPolicy, type LabelSelector, type MeshTLSAuthentication,
  type Namespace, type Network, type NetworkAuthentication, type PolicyObject, type PolicyRef, type ProxyProtocol, type Server,
} from '../policy/model.js';

export const POLICY_KINDS = [
  'policy.linkerd.io/v1beta1/Server', 'policy.linkerd.io/v1beta2/Server', 'policy.linkerd.io/v1beta3/Server',
  'policy.linkerd.io/v1alpha1/AuthorizationPolicy', 'policy.linkerd.io/v1alpha1/MeshTLSAuthentication',
  'policy.linkerd.io/v1alpha1/NetworkAuthentication', 'v1/Namespace',
];

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IDENTITY = /^(\*|(\*\.)?[a-z0-9]([-a-z0-9_]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9_]*[a-z0-9])?)*|spiffe:\/\/[^\s]+)$/;

export interface PolicyMeta {
  namespace: string;
  name: string;
  annotations: Record<string, string>;
  created?: number;
  source: string;
  line: number;
}

/** A CIDR (`10.0.0.0/8`, `fd00::/8`, or a bare address); undefined with a message when malformed. */
export function parseCidr(s: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | string {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined) return `'${s}' is not a CIDR`;
  const v = net.isIP(addr);
  if (v === 0) return `'${s}' is not a CIDR: '${addr}' is not an IP address`;
  const max = v === 4 ? 32 : 128;
  if (bits === undefined) return { address: addr, prefix: max, family: v === 4 ? 'ipv4' : 'ipv6' };
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `'${s}' is not a CIDR: the prefix length must be 0-${max}`;
  return { address: addr, prefix: Number(bits), family: v === 4 ? 'ipv4' : 'ipv6' };
}

function ref(c: Checker, v: unknown, f: string, namespace: string): PolicyRef | undefined {
  if (!isObj(v)) { c.fail(f, 'must be a map'); return undefined; }
  const kind = c.string(v.kind, `${f}.kind`);
  const name = c.string(v.name, `${f}.name`);
  const group = v.group === undefined || v.group === null ? '' : c.string(v.group, `${f}.group`) ?? '';
  const ns = v.namespace === undefined || v.namespace === null ? namespace : c.string(v.namespace, `${f}.namespace`) ?? namespace;
  if (ns !== namespace && ns !== '' && !DNS_LABEL.test(ns)) c.fail(`${f}.namespace`, `'${ns}' is not a valid namespace name`);
  if (kind === undefined || name === undefined) return undefined;
  return { group: group === 'core' ? '' : group, kind, name, namespace: ns };
}

function selector(c: Checker, v: unknown, f: string): LabelSelector {
  const out: LabelSelector = { matchLabels: {}, matchExpressions: [] };
  if (v === undefined || v === null) { c.fail(f, 'is required'); return out; }
  if (!isObj(v)) { c.fail(f, 'must be a map'); return out; }
  out.matchLabels = c.stringMap(v.matchLabels, `${f}.matchLabels`);
  for (const [k, val] of Object.entries(out.matchLabels)) {
    if (!LABEL_KEY.test(k)) c.fail(`${f}.matchLabels`, `'${k}' is not a valid label key`);
    if (!LABEL_VALUE.test(val)) c.fail(`${f}.matchLabels.${k}`, `'${val}' is not a valid label value`);
  }
  c.array(v.matchExpressions, `${f}.matchExpressions`).forEach((e, i) => {
    const g = `${f}.matchExpressions[${i}]`;
    if (!isObj(e)) { c.fail(g, 'must be a map'); return; }
    const key = c.string(e.key, `${g}.key`);
    const op = e.operator;
    if (op !== 'In' && op !== 'NotIn' && op !== 'Exists' && op !== 'DoesNotExist') { c.fail(`${g}.operator`, `must be In, NotIn, Exists or DoesNotExist, got ${JSON.stringify(op)}`); return; }
    const values = c.array(e.values, `${g}.values`).map((x, j) => c.string(x, `${g}.values[${j}]`) ?? '');
    // the API server's rules: In/NotIn need values, Exists/DoesNotExist must have none
    if ((op === 'In' || op === 'NotIn') && values.length === 0) c.fail(`${g}.values`, `must not be empty for operator ${op}`);
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) c.fail(`${g}.values`, `must be empty for operator ${op}`);
    if (key !== undefined) out.matchExpressions.push({ key, operator: op, values });
  });
  return out;
}

function defaultPolicy(c: Checker, v: unknown, f: string): DefaultPolicy | undefined {
  if (typeof v !== 'string' || !(DEFAULT_POLICIES as readonly string[]).includes(v)) {
    c.fail(f, `must be one of ${DEFAULT_POLICIES.join(', ')}, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return v as DefaultPolicy;
}

/** Validates a policy object's spec; undefined when it has errors (they are in `c`). */
export function parsePolicy(apiVersion: string, kind: string, spec: unknown, c: Checker, meta: PolicyMeta): PolicyObject | undefined {
  const { namespace, name, source, line } = meta;
  if (kind === 'Namespace') return { kind, name, namespace: name, annotations: meta.annotations, source };
  if (!isObj(spec)) { c.fail('spec', 'is required'); return undefined; }
  const s = spec as Json;
  switch (kind) {
    case 'Server': {
      const podSelector = selector(c, s.podSelector, 'spec.podSelector');
      if (s.externalWorkloadSelector !== undefined) c.fail('spec.externalWorkloadSelector', 'external workloads are not supported (use podSelector)');
      let port: number | string | undefined;
      if (typeof s.port === 'number') port = c.port(s.port, 'spec.port');
      else if (typeof s.port === 'string') {
        if (PORT_NAME.test(s.port) && s.port.length <= 15) port = s.port;
        else c.fail('spec.port', `'${s.port}' is not a container port name (IANA_SVC_NAME)`);
      } else c.fail('spec.port', 'is required: a port number or a container port name');
      let proxyProtocol: ProxyProtocol = 'unknown';
      if (s.proxyProtocol !== undefined) {
        if (typeof s.proxyProtocol === 'string' && (PROXY_PROTOCOLS as readonly string[]).includes(s.proxyProtocol)) proxyProtocol = s.proxyProtocol as ProxyProtocol;
        else c.fail('spec.proxyProtocol', `must be one of ${PROXY_PROTOCOLS.join(', ')}, got ${JSON.stringify(s.proxyProtocol)}`);
      }
      let accessPolicy: DefaultPolicy = 'deny';
      if (s.accessPolicy !== undefined) {
        if (!apiVersion.endsWith('/v1beta3')) c.fail('spec.accessPolicy', `is a field of policy.linkerd.io/v1beta3 Servers, not ${apiVersion}`);
        else accessPolicy = defaultPolicy(c, s.accessPolicy, 'spec.accessPolicy') ?? 'deny';
      }
      if (c.errors.length || port === undefined) return undefined;
      return { kind, namespace, name, podSelector, port, proxyProtocol, accessPolicy, created: meta.created ?? 0, source, line } satisfies Server;
    }
    case 'AuthorizationPolicy': {
      const targetRef = ref(c, s.targetRef, 'spec.targetRef', namespace);
      if (targetRef) {
        const t = targetRef;
        const ok = (t.group === POLICY_GROUP && t.kind === 'Server') || (t.group === '' && t.kind === 'Namespace') ||
          ((t.group === POLICY_GROUP || t.group === 'gateway.networking.k8s.io') && (t.kind === 'HTTPRoute' || t.kind === 'GRPCRoute'));
        if (!ok) c.fail('spec.targetRef', `must be a ${POLICY_GROUP} Server, an HTTPRoute or GRPCRoute, or a Namespace; got ${t.group ? `${t.group} ` : ''}${t.kind}`);
        if (t.kind === 'Namespace' && t.name !== namespace) c.fail('spec.targetRef.name', `a Namespace target must be the policy's own namespace (${namespace})`);
        if (t.namespace !== namespace && t.kind !== 'Namespace') c.fail('spec.targetRef.namespace', 'must be the policy\'s own namespace');
      }
      if (s.requiredAuthenticationRefs === undefined) c.fail('spec.requiredAuthenticationRefs', 'is required (an empty list authorizes every client)');
      const required: PolicyRef[] = [];
      c.array(s.requiredAuthenticationRefs, 'spec.requiredAuthenticationRefs').forEach((r, i) => {
        const f = `spec.requiredAuthenticationRefs[${i}]`;
        const x = ref(c, r, f, namespace);
        if (!x) return;
        const known = (x.group === POLICY_GROUP && (x.kind === 'MeshTLSAuthentication' || x.kind === 'NetworkAuthentication')) || (x.group === '' && x.kind === 'ServiceAccount');
        if (!known) c.fail(f, `must be a MeshTLSAuthentication or NetworkAuthentication (${POLICY_GROUP}) or a ServiceAccount; got ${x.group ? `${x.group} ` : ''}${x.kind}`);
        required.push(x);
      });
      if (c.errors.length || !targetRef) return undefined;
      return { kind, namespace, name, targetRef, requiredAuthenticationRefs: required, source, line } satisfies AuthorizationPolicy;
    }
    case 'MeshTLSAuthentication': {
      const hasIds = s.identities !== undefined && s.identities !== null;
      const hasRefs = s.identityRefs !== undefined && s.identityRefs !== null;
      if (hasIds === hasRefs) c.fail('spec', 'exactly one of identities and identityRefs must be set');
      const identities = c.array(s.identities, 'spec.identities').map((v, i) => {
        const id = c.string(v, `spec.identities[${i}]`) ?? '';
        if (id && !IDENTITY.test(id)) c.fail(`spec.identities[${i}]`, `'${id}' is not an identity: a DNS-like name, '*', '*.suffix', or a spiffe:// ID`);
        return id;
      });
      if (hasIds && identities.length === 0) c.fail('spec.identities', 'must not be empty');
      const identityRefs: PolicyRef[] = [];
      c.array(s.identityRefs, 'spec.identityRefs').forEach((r, i) => {
        const f = `spec.identityRefs[${i}]`;
        const x = ref(c, r, f, namespace);
        if (!x) return;
        if (x.group !== '' || (x.kind !== 'ServiceAccount' && x.kind !== 'Namespace')) c.fail(f, `must be a ServiceAccount or a Namespace, got ${x.kind}`);
        identityRefs.push(x);
      });
      if (hasRefs && identityRefs.length === 0 && Array.isArray(s.identityRefs)) c.fail('spec.identityRefs', 'must not be empty');
      if (c.errors.length) return undefined;
      return { kind, namespace, name, identities, identityRefs, source, line } satisfies MeshTLSAuthentication;
    }
    case 'NetworkAuthentication': {
      const networks: Network[] = [];
      const list = c.array(s.networks, 'spec.networks', true);
      if (Array.isArray(s.networks) && list.length === 0) c.fail('spec.networks', 'must not be empty');
      list.forEach((n, i) => {
        const f = `spec.networks[${i}]`;
        if (!isObj(n)) { c.fail(f, 'must be a map'); return; }
        const cidr = c.string(n.cidr, `${f}.cidr`);
        const base = cidr === undefined ? undefined : parseCidr(cidr);
        if (typeof base === 'string') c.fail(`${f}.cidr`, base);
        const except = c.array(n.except, `${f}.except`).map((e, j) => {
          const x = c.string(e, `${f}.except[${j}]`) ?? '';
          const p = parseCidr(x);
          if (typeof p === 'string') c.fail(`${f}.except[${j}]`, p);
          else if (typeof base === 'object' && base && p.family !== base.family) c.fail(`${f}.except[${j}]`, `'${x}' is not of the same address family as ${cidr}`);
          return x;
        });
        if (cidr !== undefined) networks.push({ cidr, except });
      });
      if (c.errors.length) return undefined;
      return { kind, namespace, name, networks, source, line } satisfies NetworkAuthentication;
    }
  }
  c.fail('kind', `${kind} is not a policy kind`);
  return undefined;
}

export type { Namespace };

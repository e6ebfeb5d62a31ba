// The Kubernetes objects Skiff reads, as their real kinds and apiVersions, and their validation.
// Only the fields Skiff uses are typed; everything a field check finds wrong is reported with the
// file, the object (kind namespace/name) and the field path, so a user can find it at once.
import { routeKey, type Route } from '../route/model.js';
import { Checker, ConfigError, isObj } from './checker.js';

export { ConfigError } from './checker.js';
import { ROUTE_KINDS, parseRoute } from './routes.js';
import { POLICY_KINDS, parsePolicy } from './policy.js';
import type { PolicyObject } from '../policy/model.js';

export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

export interface ServicePort {
  name: string;
  port: number;
  /** Port number or named container port. */
  targetPort: number | string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

export interface Service {
  kind: 'Service';
  namespace: string;
  name: string;
  annotations: Record<string, string>;
  ports: ServicePort[];
  /** Where the object came from, for messages. */
  source: string;
}

export interface EndpointPort {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

export interface Endpoint {
  addresses: string[];
  /** The Pod behind the endpoint (targetRef kind Pod), whose ServiceAccount is its mesh identity. */
  pod?: { namespace: string; name: string };
  /** conditions.ready; Kubernetes says an unset value means ready. */
  ready: boolean;
  /** conditions.terminating: draining endpoints take no new requests. */
  terminating: boolean;
  hostname?: string;
  zone?: string;
}

export interface EndpointSlice {
  kind: 'EndpointSlice';
  namespace: string;
  name: string;
  serviceName: string;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  annotations: Record<string, string>;
  endpoints: Endpoint[];
  ports: EndpointPort[];
  source: string;
}

/** An HTTP probe of a Pod's container (liveness, readiness, startup): admitted by inbound policy as Linkerd does. */
export interface ProbePath {
  port: number | string;
  path: string;
}

/**
 * A Pod, for what the mesh needs of it: the ServiceAccount it runs as (its identity), its labels
 * (which Servers select it) and annotations (its default inbound policy), its containers' named
 * ports (a Server's port may be a name) and HTTP probes.
 */
export interface Pod {
  kind: 'Pod';
  namespace: string;
  name: string;
  serviceAccount: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Container ports by name. */
  ports: Map<string, number>;
  probes: ProbePath[];
  source: string;
}

export type KnownObject = Service | EndpointSlice | Route | Pod | PolicyObject;

/** Objects of these kinds are understood; the key is `${apiVersion}/${kind}`. */
export const KNOWN_KINDS = new Set(['v1/Service', 'v1/Pod', 'discovery.k8s.io/v1/EndpointSlice', ...ROUTE_KINDS, ...POLICY_KINDS]);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface ParsedObject {
  object?: KnownObject;
  errors: ConfigError[];
  /** Set for kinds Skiff does not read: a warning, not an error. */
  ignored?: string;
  /**
   * "kind namespace/name" of an invalid HTTPRoute or GRPCRoute: such a route is rejected on its own
   * (as a controller would not accept it) and the rest of the configuration still applies.
   */
  rejectedRoute?: string;
}

/** Validates one decoded document. `line` is where it starts in `file`. */
export function parseObject(raw: unknown, file: string, line: number): ParsedObject {
  if (!isObj(raw)) return { errors: [new ConfigError(file, line, 'document', '', 'is not a Kubernetes object (a map with apiVersion and kind)')] };
  const apiVersion = raw.apiVersion;
  const kind = raw.kind;
  const meta = isObj(raw.metadata) ? raw.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : 'default';
  const label = `${typeof kind === 'string' ? kind : 'object'} ${namespace}/${name || '?'}`;
  const c = new Checker(file, line, label);
  if (typeof apiVersion !== 'string') c.fail('apiVersion', 'is required');
  if (typeof kind !== 'string') c.fail('kind', 'is required');
  if (c.errors.length) return { errors: c.errors };
  if (!KNOWN_KINDS.has(`${apiVersion}/${kind}`)) return { errors: [], ignored: `${apiVersion} ${kind} ${namespace}/${name || '?'}` };
  if (!isObj(raw.metadata)) c.fail('metadata', 'is required');
  if (!name) c.fail('metadata.name', 'is required');
  else if (!DNS_LABEL.test(name) && !((kind === 'EndpointSlice' || kind === 'HTTPRoute' || kind === 'GRPCRoute') && DNS_SUBDOMAIN.test(name))) c.fail('metadata.name', `'${name}' is not a valid DNS name`);
  if (!DNS_LABEL.test(namespace)) c.fail('metadata.namespace', `'${namespace}' is not a valid namespace name`);
  const annotations = c.stringMap(meta.annotations, 'metadata.annotations');
  const labels = c.stringMap(meta.labels, 'metadata.labels');
  const spec = raw.spec;

  if ((POLICY_KINDS as readonly string[]).includes(`${apiVersion}/${kind}`)) {
    const created = typeof meta.creationTimestamp === 'string' ? Date.parse(meta.creationTimestamp) : undefined;
    if (meta.creationTimestamp !== undefined && (created === undefined || Number.isNaN(created))) c.fail('metadata.creationTimestamp', 'must be an RFC 3339 time');
    const policy = parsePolicy(apiVersion as string, kind as string, spec, c, { namespace, name, annotations, created, source: file, line });
    if (c.errors.length || !policy) return { errors: c.errors };
    return { object: policy, errors: [] };
  }

  if (kind === 'HTTPRoute' || kind === 'GRPCRoute') {
    const created = typeof meta.creationTimestamp === 'string' ? Date.parse(meta.creationTimestamp) : undefined;
    if (meta.creationTimestamp !== undefined && (created === undefined || Number.isNaN(created))) c.fail('metadata.creationTimestamp', 'must be an RFC 3339 time');
    const group = (apiVersion as string).split('/')[0];
    const route = parseRoute(kind, spec, c, { group, namespace, name, created, labels, annotations, source: file, line });
    if (c.errors.length || !route) return { errors: c.errors, rejectedRoute: routeKey({ kind, group, namespace, name }) };
    return { object: route, errors: [] };
  }

  if (kind === 'Pod') {
    const podSpec = isObj(spec) ? spec : {};
    const sa = podSpec.serviceAccountName === undefined ? 'default' : c.string(podSpec.serviceAccountName, 'spec.serviceAccountName');
    if (sa !== undefined && !/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(sa)) c.fail('spec.serviceAccountName', `'${sa}' is not a ServiceAccount name`);
    const ports = new Map<string, number>();
    const probes: ProbePath[] = [];
    c.array(podSpec.containers, 'spec.containers').forEach((ct, i) => {
      const f = `spec.containers[${i}]`;
      if (!isObj(ct)) { c.fail(f, 'must be a map'); return; }
      c.array(ct.ports, `${f}.ports`).forEach((p, j) => {
        if (!isObj(p)) { c.fail(`${f}.ports[${j}]`, 'must be a map'); return; }
        const n = c.port(p.containerPort, `${f}.ports[${j}].containerPort`);
        if (typeof p.name === 'string' && n !== undefined) ports.set(p.name, n);
      });
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const get = isObj(ct[probe]) ? (ct[probe] as Record<string, unknown>).httpGet : undefined;
        if (!isObj(get)) continue;
        const port = typeof get.port === 'number' || typeof get.port === 'string' ? get.port : undefined;
        if (port === undefined) { c.fail(`${f}.${probe}.httpGet.port`, 'is required'); continue; }
        probes.push({ port, path: typeof get.path === 'string' && get.path !== '' ? get.path : '/' });
      }
    });
    if (c.errors.length || sa === undefined) return { errors: c.errors };
    return { object: { kind: 'Pod', namespace, name, serviceAccount: sa, labels, annotations, ports, probes, source: file }, errors: [] };
  }

  if (kind === 'Service') {
    if (!isObj(spec)) { c.fail('spec', 'is required'); return { errors: c.errors }; }
    const ports: ServicePort[] = [];
    const rawPorts = c.array(spec.ports, 'spec.ports');
    const names = new Set<string>();
    rawPorts.forEach((p, i) => {
      const f = `spec.ports[${i}]`;
      if (!isObj(p)) { c.fail(f, 'must be a map'); return; }
      const port = c.port(p.port, `${f}.port`);
      const pname = c.string(p.name, `${f}.name`, rawPorts.length > 1) ?? '';
      if (pname && !PORT_NAME.test(pname)) c.fail(`${f}.name`, `'${pname}' is not a valid port name`);
      if (pname && names.has(pname)) c.fail(`${f}.name`, `'${pname}' is used by another port`);
      names.add(pname);
      let targetPort: number | string | undefined = port;
      if (p.targetPort !== undefined) {
        if (typeof p.targetPort === 'number') targetPort = c.port(p.targetPort, `${f}.targetPort`);
        else if (typeof p.targetPort === 'string' && PORT_NAME.test(p.targetPort)) targetPort = p.targetPort;
        else c.fail(`${f}.targetPort`, `must be a port number or name, got ${JSON.stringify(p.targetPort)}`);
      }
      const protocol = c.protocol(p.protocol, `${f}.protocol`);
      const appProtocol = c.string(p.appProtocol, `${f}.appProtocol`, false);
      if (port !== undefined && targetPort !== undefined) ports.push({ name: pname, port, targetPort, protocol, appProtocol });
    });
    const opaque = annotations['skiff.io/opaque-ports'];
    if (opaque !== undefined && !/^\s*\d{1,5}(-\d{1,5})?(\s*,\s*\d{1,5}(-\d{1,5})?)*\s*$/.test(opaque)) {
      c.fail('metadata.annotations.skiff.io/opaque-ports', `'${opaque}' is not a list of ports or port ranges`);
    }
    if (c.errors.length) return { errors: c.errors };
    return { object: { kind: 'Service', namespace, name, annotations, ports, source: file }, errors: [] };
  }

  // EndpointSlice
  const serviceName = labels['kubernetes.io/service-name'];
  if (!serviceName) c.fail('metadata.labels.kubernetes.io/service-name', 'is required: it names the Service these endpoints belong to');
  const addressType = raw.addressType;
  if (addressType !== 'IPv4' && addressType !== 'IPv6' && addressType !== 'FQDN') {
    c.fail('addressType', `must be IPv4, IPv6 or FQDN, got ${JSON.stringify(addressType)}`);
  }
  const endpoints: Endpoint[] = [];
  c.array(raw.endpoints, 'endpoints').forEach((e, i) => {
    const f = `endpoints[${i}]`;
    if (!isObj(e)) { c.fail(f, 'must be a map'); return; }
    const addrs = c.array(e.addresses, `${f}.addresses`, true);
    if (addrs.length === 0 && Array.isArray(e.addresses)) c.fail(`${f}.addresses`, 'must list at least one address');
    const addresses: string[] = [];
    addrs.forEach((a, j) => {
      const s = c.string(a, `${f}.addresses[${j}]`);
      if (s === undefined) return;
      if (addressType === 'IPv4' && !/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) c.fail(`${f}.addresses[${j}]`, `'${s}' is not an IPv4 address`);
      else if (addressType === 'IPv6' && !s.includes(':')) c.fail(`${f}.addresses[${j}]`, `'${s}' is not an IPv6 address`);
      addresses.push(s);
    });
    const cond = isObj(e.conditions) ? e.conditions : {};
    for (const k of ['ready', 'serving', 'terminating']) {
      if (cond[k] !== undefined && cond[k] !== null && typeof cond[k] !== 'boolean') c.fail(`${f}.conditions.${k}`, 'must be true or false');
    }
    endpoints.push({
      addresses,
      ready: cond.ready !== false,
      terminating: cond.terminating === true,
      hostname: typeof e.hostname === 'string' ? e.hostname : undefined,
      zone: typeof e.zone === 'string' ? e.zone : undefined,
      pod: isObj(e.targetRef) && e.targetRef.kind === 'Pod' && typeof e.targetRef.name === 'string'
        ? { namespace: typeof e.targetRef.namespace === 'string' ? e.targetRef.namespace : namespace, name: e.targetRef.name } : undefined,
    });
  });
  const ports: EndpointPort[] = [];
  c.array(raw.ports, 'ports').forEach((p, i) => {
    const f = `ports[${i}]`;
    if (!isObj(p)) { c.fail(f, 'must be a map'); return; }
    const port = c.port(p.port, `${f}.port`);
    const pname = c.string(p.name, `${f}.name`, false) ?? '';
    const protocol = c.protocol(p.protocol, `${f}.protocol`);
    const appProtocol = c.string(p.appProtocol, `${f}.appProtocol`, false);
    if (port !== undefined) ports.push({ name: pname, port, protocol, appProtocol });
  });
  if (c.errors.length) return { errors: c.errors };
  return {
    object: { kind: 'EndpointSlice', namespace, name, serviceName: serviceName!, addressType: addressType as EndpointSlice['addressType'], annotations, endpoints, ports, source: file },
    errors: [],
  };
}

// Names as applications use them (Kubernetes DNS: name.namespace.svc.cluster.local, name.namespace.svc,
// name.namespace, or a bare name in the proxy's own namespace; optional :port, 80 by default) →
// a Service port → the ready endpoints of its EndpointSlices.
import type { Snapshot } from '../config/snapshot.js';
import type { Service, ServicePort } from '../config/objects.js';

export interface ServiceName {
  name: string;
  namespace: string;
  port: number;
}

export interface Destination {
  service: Service;
  port: ServicePort;
  /** The service port is listed in skiff.io/opaque-ports: its traffic is TCP, never HTTP. */
  opaque: boolean;
  /** "name.namespace:port", for messages and metrics. */
  label: string;
}

export interface EndpointAddress {
  host: string;
  port: number;
  /** The endpoint is a Skiff inbound proxy: talk HTTP/2 to it, whatever the application speaks. */
  meshed: boolean;
  /** The SPIFFE identity the endpoint's sidecar must prove (skiff.io/identity on its slice), if known. */
  identity?: string;
  /** The endpoint's Pod's ServiceAccount, "namespace/name", when its targetRef names a known Pod. */
  serviceAccount?: string;
  /** The application speaks HTTP/2 without TLS (appProtocol kubernetes.io/h2c, h2c or grpc). */
  h2c: boolean;
  zone?: string;
}

export const MESHED_ANNOTATION = 'skiff.io/meshed';
export const IDENTITY_ANNOTATION = 'skiff.io/identity';
export const OPAQUE_PORTS_ANNOTATION = 'skiff.io/opaque-ports';

/** "3306,5432" or "4000-4010" lists (as Linkerd's opaque-ports annotation takes them). */
export function parsePortList(value: string): Set<number> | string {
  const ports = new Set<number>();
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m && m[2] ? Number(m[2]) : lo;
    if (!m || lo < 1 || hi > 65535 || hi < lo || hi - lo > 65535) return `'${part}' is not a port or port range`;
    for (let p = lo; p <= hi; p++) ports.add(p);
  }
  return ports;
}

/** Splits an authority into host and port (null when it is not host[:port]). */
export function splitAuthority(authority: string, defaultPort = 80): { host: string; port: number } | null {
  const m = /^(\[[^\]]+\]|[^:@/\s]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return null;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1].toLowerCase().replace(/\.$/, ''), port };
}

export class Resolver {
  constructor(readonly namespace: string, readonly clusterDomain: string) {}

  /** The Service a name means, or null when it is not a service name in this cluster. */
  parse(authority: string): ServiceName | null {
    const a = splitAuthority(authority);
    if (!a || a.host.startsWith('[')) return null;
    const parts = a.host.split('.');
    const domain = this.clusterDomain.split('.');
    let rest: string[];
    if (parts.length === 3 + domain.length && parts[2] === 'svc' && parts.slice(3).join('.') === this.clusterDomain) rest = parts.slice(0, 2);
    else if (parts.length === 3 && parts[2] === 'svc') rest = parts.slice(0, 2);
    else if (parts.length === 2) rest = parts;
    else if (parts.length === 1) rest = [parts[0], this.namespace];
    else return null;
    if (rest.some((p) => !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p))) return null;
    return { name: rest[0], namespace: rest[1], port: a.port };
  }

  resolve(snapshot: Snapshot, authority: string): Destination | string {
    const n = this.parse(authority);
    if (!n) return `'${authority}' is not a service name (name.namespace.svc.${this.clusterDomain}[:port])`;
    const service = snapshot.service(n.namespace, n.name);
    if (!service) return `no Service ${n.namespace}/${n.name}`;
    const port = service.ports.find((p) => p.port === n.port && p.protocol === 'TCP');
    if (!port) return `Service ${n.namespace}/${n.name} has no TCP port ${n.port}`;
    const list = service.annotations[OPAQUE_PORTS_ANNOTATION];
    const opaquePorts = list === undefined ? null : parsePortList(list);
    const opaque = opaquePorts instanceof Set && opaquePorts.has(port.port);
    return { service, port, opaque, label: `${n.name}.${n.namespace}:${n.port}` };
  }
}

const H2C = new Set(['kubernetes.io/h2c', 'h2c', 'grpc', 'http2']);

/** Ready, non-terminating endpoints for a destination, from every slice of its Service. */
export function endpointsOf(snapshot: Snapshot, dest: Destination): EndpointAddress[] {
  const out: EndpointAddress[] = [];
  const svcH2c = dest.port.appProtocol !== undefined && H2C.has(dest.port.appProtocol);
  for (const slice of snapshot.slicesOf(dest.service.namespace, dest.service.name)) {
    if (slice.addressType === 'FQDN') continue;
    // kube-proxy's rule: the slice port with the service port's name
    const sp = slice.ports.find((p) => p.name === dest.port.name && p.protocol === 'TCP');
    if (!sp) continue;
    const meshed = slice.annotations[MESHED_ANNOTATION] === 'true';
    const h2c = svcH2c || (sp.appProtocol !== undefined && H2C.has(sp.appProtocol));
    for (const e of slice.endpoints) {
      if (!e.ready || e.terminating) continue;
      const identity = slice.annotations[IDENTITY_ANNOTATION];
      const pod = e.pod ? snapshot.pods.get(`${e.pod.namespace}/${e.pod.name}`) : undefined;
      const serviceAccount = pod ? `${pod.namespace}/${pod.serviceAccount}` : undefined;
      for (const host of e.addresses) out.push({ host, port: sp.port, meshed, h2c, zone: e.zone, identity, serviceAccount });
    }
  }
  return out;
}

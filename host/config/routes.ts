// HTTPRoute and GRPCRoute (gateway.networking.k8s.io) from YAML: the checks the Gateway API's CRD
// schema and CEL rules make when such an object is applied to a cluster, plus the regular
// expressions compiled by the core that will run them, each error naming the field. Defaults are
// filled in as the API server would (path PathPrefix "/", match types Exact, weights 1, ...).
import { checkRegex } from '../core/regex.js';
import type { Checker, Json } from './checker.js';
import { isObj } from './checker.js';
import type {
  BackendRef, GrpcRouteMatch, HeaderModifier, HttpRouteMatch, ParentRef, PathModifier, Route, RouteFilter, RouteRetry, RouteRule, ValueMatch,
} from '../route/model.js';

export const ROUTE_KINDS = [
  'gateway.networking.k8s.io/v1/HTTPRoute', 'gateway.networking.k8s.io/v1beta1/HTTPRoute',
  'gateway.networking.k8s.io/v1/GRPCRoute', 'gateway.networking.k8s.io/v1alpha2/GRPCRoute',
  // Linkerd's own HTTPRoute: the same schema (v1beta3 has timeouts too), so Linkerd users' YAML works
  'policy.linkerd.io/v1beta1/HTTPRoute', 'policy.linkerd.io/v1beta2/HTTPRoute', 'policy.linkerd.io/v1beta3/HTTPRoute',
];

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PRECISE_HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// Gateway API Duration (GEP-2257): up to four number+unit parts
const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const GRPC_SERVICE = /^(?:[A-Za-z_][A-Za-z_0-9]*\.)*[A-Za-z_][A-Za-z_0-9]*$/;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;
const FILTERS_HTTP = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror', 'ExtensionRef']);
const FILTER_FIELD: Record<string, string> = {
  RequestHeaderModifier: 'requestHeaderModifier', ResponseHeaderModifier: 'responseHeaderModifier', RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite', RequestMirror: 'requestMirror', ExtensionRef: 'extensionRef',
};
const FILTERS_GRPC = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'ExtensionRef']);

export interface RouteMeta {
  group: string;
  namespace: string;
  name: string;
  created?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  source: string;
  line: number;
}

/** Milliseconds of a Gateway API duration ("1h30m", "500ms", "10s"); undefined when malformed. */
export function gatewayDuration(s: string): number | undefined {
  if (!GATEWAY_DURATION.test(s)) return undefined;
  let ms = 0;
  for (const [, n, unit] of s.matchAll(/([0-9]+)(ms|h|m|s)/g)) {
    ms += Number(n) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
  }
  return ms;
}

/** The CRD's SectionName: a DNS subdomain (RFC 1123), at most 253 characters. */
const SECTION_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A path of a PathPrefix/Exact match or a path modifier: the CRD's rules. null when valid. */
function pathProblem(v: string): string | null {
  if (!v.startsWith('/')) return 'must be an absolute path (start with /)';
  if (v.includes('//')) return 'must not contain //';
  if (/%2f/i.test(v)) return 'must not contain %2f or %2F';
  if (v.includes('#')) return 'must not contain #';
  if (/\/\.\.?(\/|$)/.test(v)) return 'must not contain /./ or /../ segments';
  if (v.length > 1024) return 'must be at most 1024 characters';
  return null;
}

class RouteParser {
  constructor(private c: Checker, private kind: 'HTTPRoute' | 'GRPCRoute', private meta: RouteMeta) {}

  list(v: unknown, field: string, max: number): unknown[] {
    const l = this.c.array(v, field);
    if (l.length > max) this.c.fail(field, `must have at most ${max} entries`);
    return l;
  }

  enumValue<T extends string>(v: unknown, field: string, allowed: readonly T[], dflt?: T): T | undefined {
    if (v === undefined || v === null) {
      if (dflt === undefined) this.c.fail(field, 'is required');
      return dflt;
    }
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.c.fail(field, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v as T;
  }

  regex(value: string, field: string): void {
    const problem = checkRegex(value);
    if (problem) this.c.fail(field, problem);
  }

  parentRefs(v: unknown): ParentRef[] {
    const out: ParentRef[] = [];
    this.list(v, 'spec.parentRefs', 32).forEach((p, i) => {
      const f = `spec.parentRefs[${i}]`;
      if (!isObj(p)) { this.c.fail(f, 'must be a map'); return; }
      const name = this.c.string(p.name, `${f}.name`);
      const group = p.group === undefined ? GATEWAY_GROUP : this.c.string(p.group, `${f}.group`) ?? '';
      const kind = p.kind === undefined ? 'Gateway' : this.c.string(p.kind, `${f}.kind`) ?? '';
      const namespace = p.namespace === undefined ? this.meta.namespace : this.c.string(p.namespace, `${f}.namespace`) ?? '';
      if (!DNS_LABEL.test(namespace)) this.c.fail(`${f}.namespace`, `'${namespace}' is not a valid namespace name`);
      let port: number | undefined;
      if (p.port !== undefined) port = this.c.port(p.port, `${f}.port`);
      let sectionName: string | undefined;
      if (p.sectionName !== undefined) {
        sectionName = this.c.string(p.sectionName, `${f}.sectionName`);
        if (sectionName !== undefined && !SECTION_NAME.test(sectionName)) this.c.fail(`${f}.sectionName`, `'${sectionName}' is not a valid section name (a DNS subdomain of at most 253 characters)`);
      }
      if (name !== undefined) out.push({ group: group === 'core' ? '' : group, kind, namespace, name, port, ...(sectionName !== undefined ? { sectionName } : {}) });
    });
    return out;
  }

  valueMatches(v: unknown, field: string, header: boolean): ValueMatch[] {
    const out: ValueMatch[] = [];
    const names = new Set<string>();
    this.list(v, field, 16).forEach((h, i) => {
      const f = `${field}[${i}]`;
      if (!isObj(h)) { this.c.fail(f, 'must be a map'); return; }
      const type = this.enumValue(h.type, `${f}.type`, ['Exact', 'RegularExpression'] as const, 'Exact');
      const name = this.c.string(h.name, `${f}.name`);
      const value = this.c.string(h.value, `${f}.value`);
      if (name !== undefined) {
        if (header ? !HEADER_NAME.test(name) : name.length === 0 || name.length > 256) this.c.fail(`${f}.name`, header ? `'${name}' is not a valid header name` : 'must be 1-256 characters');
        if (names.has(name)) this.c.fail(`${f}.name`, `'${name}' is matched twice in one match`);
        names.add(name);
      }
      if (value !== undefined) {
        if (value.length === 0 || value.length > 4096) this.c.fail(`${f}.value`, 'must be 1-4096 characters');
        else if (type === 'RegularExpression') this.regex(value, `${f}.value`);
      }
      if (type && name !== undefined && value !== undefined) out.push({ type, name, value });
    });
    return out;
  }

  httpMatch(m: unknown, f: string): HttpRouteMatch | undefined {
    if (!isObj(m)) { this.c.fail(f, 'must be a map'); return undefined; }
    let path: HttpRouteMatch['path'] = { type: 'PathPrefix', value: '/' };
    if (m.path !== undefined) {
      if (!isObj(m.path)) this.c.fail(`${f}.path`, 'must be a map');
      else {
        const type = this.enumValue(m.path.type, `${f}.path.type`, ['Exact', 'PathPrefix', 'RegularExpression'] as const, 'PathPrefix');
        const value = m.path.value === undefined ? '/' : this.c.string(m.path.value, `${f}.path.value`);
        if (type && value !== undefined) {
          if (type === 'RegularExpression') {
            if (value.length > 1024) this.c.fail(`${f}.path.value`, 'must be at most 1024 characters');
            else this.regex(value, `${f}.path.value`);
          } else {
            const problem = pathProblem(value);
            if (problem) this.c.fail(`${f}.path.value`, `'${value}' ${problem}`);
          }
          path = { type, value };
        }
      }
    }
    let method: string | undefined;
    if (m.method !== undefined) {
      method = this.c.string(m.method, `${f}.method`);
      if (method !== undefined && !METHODS.has(method)) this.c.fail(`${f}.method`, `must be one of ${[...METHODS].join(', ')}, got '${method}'`);
    }
    const headers = this.valueMatches(m.headers, `${f}.headers`, true);
    const queryParams = this.valueMatches(m.queryParams, `${f}.queryParams`, false);
    return method === undefined ? { path, headers, queryParams } : { path, method, headers, queryParams };
  }

  grpcMatch(m: unknown, f: string): GrpcRouteMatch | undefined {
    if (!isObj(m)) { this.c.fail(f, 'must be a map'); return undefined; }
    const headers = this.valueMatches(m.headers, `${f}.headers`, true);
    if (m.method === undefined) return { headers };
    if (!isObj(m.method)) { this.c.fail(`${f}.method`, 'must be a map'); return undefined; }
    const type = this.enumValue(m.method.type, `${f}.method.type`, ['Exact', 'RegularExpression'] as const, 'Exact');
    const service = m.method.service === undefined ? undefined : this.c.string(m.method.service, `${f}.method.service`);
    const method = m.method.method === undefined ? undefined : this.c.string(m.method.method, `${f}.method.method`);
    if (service === undefined && method === undefined) this.c.fail(`${f}.method`, 'must set service, method or both');
    if (type === 'Exact') {
      if (service !== undefined && !GRPC_SERVICE.test(service)) this.c.fail(`${f}.method.service`, `'${service}' is not a gRPC service name`);
      if (method !== undefined && !GRPC_METHOD.test(method)) this.c.fail(`${f}.method.method`, `'${method}' is not a gRPC method name`);
    } else if (type === 'RegularExpression') {
      if (service !== undefined) this.regex(service, `${f}.method.service`);
      if (method !== undefined) this.regex(method, `${f}.method.method`);
    }
    if (!type) return undefined;
    return { method: { type, service, method }, headers };
  }

  headerModifier(v: unknown, f: string): HeaderModifier {
    const mod: HeaderModifier = { set: [], add: [], remove: [] };
    if (!isObj(v)) { this.c.fail(f, 'is required for this filter type'); return mod; }
    const seen = new Set<string>();
    for (const op of ['set', 'add'] as const) {
      this.list(v[op], `${f}.${op}`, 16).forEach((h, i) => {
        const g = `${f}.${op}[${i}]`;
        if (!isObj(h)) { this.c.fail(g, 'must be a map'); return; }
        const name = this.c.string(h.name, `${g}.name`);
        const value = this.c.string(h.value, `${g}.value`);
        if (name !== undefined && !HEADER_NAME.test(name)) this.c.fail(`${g}.name`, `'${name}' is not a valid header name`);
        if (value !== undefined && /[\r\n\0]/.test(value)) this.c.fail(`${g}.value`, 'must not contain CR, LF or NUL');
        if (name !== undefined && seen.has(name.toLowerCase())) this.c.fail(`${g}.name`, `'${name}' is modified twice in one filter`);
        if (name !== undefined) seen.add(name.toLowerCase());
        if (name !== undefined && value !== undefined) mod[op].push({ name: name.toLowerCase(), value });
      });
    }
    this.list(v.remove, `${f}.remove`, 16).forEach((h, i) => {
      const name = this.c.string(h, `${f}.remove[${i}]`);
      if (name !== undefined && !HEADER_NAME.test(name)) this.c.fail(`${f}.remove[${i}]`, `'${name}' is not a valid header name`);
      if (name !== undefined) mod.remove.push(name.toLowerCase());
    });
    return mod;
  }

  pathModifier(v: unknown, f: string): PathModifier | undefined {
    if (!isObj(v)) { this.c.fail(f, 'must be a map'); return undefined; }
    const type = this.enumValue(v.type, `${f}.type`, ['ReplaceFullPath', 'ReplacePrefixMatch'] as const);
    if (type === undefined) return undefined;
    // the value goes in the field named after the type, and the other one stays unset
    const [field, other] = type === 'ReplaceFullPath' ? ['replaceFullPath', 'replacePrefixMatch'] : ['replacePrefixMatch', 'replaceFullPath'];
    if (v[other] !== undefined) this.c.fail(`${f}.${other}`, `must not be set when type is ${type}`);
    const value = this.c.string(v[field], `${f}.${field}`);
    if (value === undefined) return undefined;
    // the CRD: "must be an absolute path and start with '/' when not empty" — an empty
    // replacePrefixMatch removes the prefix (/foo/bar with prefix /foo becomes /bar)
    const problem = value === '' ? null : pathProblem(value);
    if (problem) this.c.fail(`${f}.${field}`, `'${value}' ${problem}`);
    return { type, value };
  }

  backendRef(b: unknown, f: string, mirror: boolean): BackendRef | undefined {
    if (!isObj(b)) { this.c.fail(f, 'must be a map'); return undefined; }
    const name = this.c.string(b.name, `${f}.name`);
    const group = b.group === undefined ? '' : this.c.string(b.group, `${f}.group`) ?? '';
    const kind = b.kind === undefined ? 'Service' : this.c.string(b.kind, `${f}.kind`) ?? '';
    const namespace = b.namespace === undefined ? this.meta.namespace : this.c.string(b.namespace, `${f}.namespace`) ?? '';
    let port: number | undefined;
    if (b.port !== undefined) port = this.c.port(b.port, `${f}.port`);
    else if ((group === '' || group === 'core') && kind === 'Service') this.c.fail(`${f}.port`, 'is required when the backend is a Service');
    let weight = 1;
    if (!mirror && b.weight !== undefined) {
      if (typeof b.weight !== 'number' || !Number.isInteger(b.weight) || b.weight < 0 || b.weight > 1_000_000) this.c.fail(`${f}.weight`, `must be an integer 0-1000000, got ${JSON.stringify(b.weight)}`);
      else weight = b.weight;
    }
    const filters = mirror ? [] : this.filters(b.filters, `${f}.filters`);
    if (name === undefined) return undefined;
    return { group: group === 'core' ? '' : group, kind, name, namespace, port, weight, filters };
  }

  filters(v: unknown, field: string): RouteFilter[] {
    const out: RouteFilter[] = [];
    const once = new Set<string>();
    const allowed = this.kind === 'GRPCRoute' ? FILTERS_GRPC : FILTERS_HTTP;
    this.list(v, field, 16).forEach((x, i) => {
      const f = `${field}[${i}]`;
      if (!isObj(x)) { this.c.fail(f, 'must be a map'); return; }
      const type = this.c.string(x.type, `${f}.type`);
      if (type === undefined) return;
      if (!allowed.has(type)) { this.c.fail(`${f}.type`, `must be one of ${[...allowed].join(', ')}, got '${type}'`); return; }
      if (type !== 'RequestMirror' && type !== 'ExtensionRef') {
        if (once.has(type)) this.c.fail(`${f}.type`, `${type} may appear only once in a filter list`);
        once.add(type);
      }
      // the config for a type goes in the field of its name, and only there
      const configField = FILTER_FIELD[type];
      for (const k of Object.values(FILTER_FIELD)) {
        if (x[k] !== undefined && k !== configField) this.c.fail(`${f}.${k}`, `must not be set for a ${type} filter`);
      }
      switch (type) {
        case 'RequestHeaderModifier':
        case 'ResponseHeaderModifier':
          out.push({ type, modifier: this.headerModifier(x[configField], `${f}.${configField}`) });
          break;
        case 'RequestRedirect': {
          const r = x.requestRedirect;
          if (!isObj(r)) { this.c.fail(`${f}.requestRedirect`, 'is required for this filter type'); return; }
          const g = `${f}.requestRedirect`;
          const scheme = r.scheme === undefined ? undefined : this.enumValue(r.scheme, `${g}.scheme`, ['http', 'https'] as const);
          const hostname = r.hostname === undefined ? undefined : this.c.string(r.hostname, `${g}.hostname`);
          if (hostname !== undefined && !PRECISE_HOSTNAME.test(hostname)) this.c.fail(`${g}.hostname`, `'${hostname}' is not a valid hostname`);
          const port = r.port === undefined ? undefined : this.c.port(r.port, `${g}.port`);
          const path = r.path === undefined ? undefined : this.pathModifier(r.path, `${g}.path`);
          let statusCode = 302;
          if (r.statusCode !== undefined) {
            if (r.statusCode !== 301 && r.statusCode !== 302 && r.statusCode !== 303 && r.statusCode !== 307 && r.statusCode !== 308) this.c.fail(`${g}.statusCode`, `must be 301, 302, 303, 307 or 308, got ${JSON.stringify(r.statusCode)}`);
            else statusCode = r.statusCode;
          }
          out.push({ type, scheme, hostname, port, path, statusCode });
          break;
        }
        case 'URLRewrite': {
          const r = x.urlRewrite;
          if (!isObj(r)) { this.c.fail(`${f}.urlRewrite`, 'is required for this filter type'); return; }
          const g = `${f}.urlRewrite`;
          const hostname = r.hostname === undefined ? undefined : this.c.string(r.hostname, `${g}.hostname`);
          if (hostname !== undefined && !PRECISE_HOSTNAME.test(hostname)) this.c.fail(`${g}.hostname`, `'${hostname}' is not a valid hostname`);
          const path = r.path === undefined ? undefined : this.pathModifier(r.path, `${g}.path`);
          out.push({ type, hostname, path });
          break;
        }
        case 'RequestMirror': {
          const r = x.requestMirror;
          if (!isObj(r)) { this.c.fail(`${f}.requestMirror`, 'is required for this filter type'); return; }
          const g = `${f}.requestMirror`;
          const backend = this.backendRef(r.backendRef, `${g}.backendRef`, true);
          let percent = 100;
          if (r.percent !== undefined && r.fraction !== undefined) this.c.fail(g, 'percent and fraction are mutually exclusive');
          if (r.percent !== undefined) {
            if (typeof r.percent !== 'number' || !Number.isInteger(r.percent) || r.percent < 0 || r.percent > 100) this.c.fail(`${g}.percent`, 'must be an integer 0-100');
            else percent = r.percent;
          } else if (r.fraction !== undefined) {
            const fr = r.fraction as Json;
            const num = isObj(fr) ? fr.numerator : undefined;
            const den = isObj(fr) && fr.denominator !== undefined ? fr.denominator : 100;
            if (typeof num !== 'number' || typeof den !== 'number' || !Number.isInteger(num) || !Number.isInteger(den) || num < 0 || den < 1 || num > den) this.c.fail(`${g}.fraction`, 'must have integer numerator ≤ denominator, denominator ≥ 1');
            else percent = (num / den) * 100;
          }
          if (backend) out.push({ type, backend, percent });
          break;
        }
        case 'ExtensionRef':
          this.c.fail(`${f}.type`, 'ExtensionRef filters name extensions Skiff does not have');
          break;
      }
    });
    return out;
  }

  rule(r: unknown, i: number): RouteRule | undefined {
    const f = `spec.rules[${i}]`;
    if (!isObj(r)) { this.c.fail(f, 'must be a map'); return undefined; }
    const name = r.name === undefined ? undefined : this.c.string(r.name, `${f}.name`);
    const rawMatches = this.list(r.matches, `${f}.matches`, 64);
    let matches: HttpRouteMatch[] | GrpcRouteMatch[];
    if (this.kind === 'HTTPRoute') {
      matches = rawMatches.map((m, j) => this.httpMatch(m, `${f}.matches[${j}]`)).filter((m): m is HttpRouteMatch => m !== undefined);
    } else {
      matches = rawMatches.map((m, j) => this.grpcMatch(m, `${f}.matches[${j}]`)).filter((m): m is GrpcRouteMatch => m !== undefined);
    }
    const filters = this.filters(r.filters, `${f}.filters`);
    const backendRefs = this.list(r.backendRefs, `${f}.backendRefs`, 16)
      .map((b, j) => this.backendRef(b, `${f}.backendRefs[${j}]`, false)).filter((b): b is BackendRef => b !== undefined);
    // the CRD's CEL rules
    const types = new Set(filters.map((x) => x.type));
    if (types.has('RequestRedirect') && types.has('URLRewrite')) this.c.fail(`${f}.filters`, 'may not contain both RequestRedirect and URLRewrite');
    if (types.has('RequestRedirect') && backendRefs.length > 0) this.c.fail(`${f}.backendRefs`, 'must be empty when the rule has a RequestRedirect filter');
    const prefixRewrite = filters.some((x) => (x.type === 'RequestRedirect' || x.type === 'URLRewrite') && x.path?.type === 'ReplacePrefixMatch');
    if (prefixRewrite && this.kind === 'HTTPRoute') {
      const ms = matches as HttpRouteMatch[];
      if (ms.length > 1 || (ms.length === 1 && ms[0].path.type !== 'PathPrefix')) {
        this.c.fail(`${f}.filters`, 'ReplacePrefixMatch needs the rule to have exactly one match, a PathPrefix path');
      }
    }
    let requestTimeoutMs = 0, backendRequestTimeoutMs = 0;
    if (r.timeouts !== undefined) {
      if (this.kind === 'GRPCRoute') this.c.fail(`${f}.timeouts`, 'is not a GRPCRoute field');
      else if (!isObj(r.timeouts)) this.c.fail(`${f}.timeouts`, 'must be a map');
      else {
        for (const k of ['request', 'backendRequest'] as const) {
          const v = r.timeouts[k];
          if (v === undefined) continue;
          const s = this.c.string(v, `${f}.timeouts.${k}`);
          const ms = s === undefined ? undefined : gatewayDuration(s);
          if (s !== undefined && ms === undefined) this.c.fail(`${f}.timeouts.${k}`, `'${s}' is not a duration such as 10s, 500ms or 1h30m`);
          if (ms !== undefined) { if (k === 'request') requestTimeoutMs = ms; else backendRequestTimeoutMs = ms; }
        }
        if (requestTimeoutMs > 0 && backendRequestTimeoutMs > requestTimeoutMs) this.c.fail(`${f}.timeouts.backendRequest`, 'must not be longer than timeouts.request');
      }
    }
    let retry: RouteRetry | undefined;
    if (r.retry !== undefined) {
      if (this.kind === 'GRPCRoute') this.c.fail(`${f}.retry`, 'is not a GRPCRoute field');
      else if (!isObj(r.retry)) this.c.fail(`${f}.retry`, 'must be a map');
      else {
        const codes: number[] = [];
        this.list(r.retry.codes, `${f}.retry.codes`, 64).forEach((code, j) => {
          if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 599) this.c.fail(`${f}.retry.codes[${j}]`, 'must be an HTTP status code 400-599');
          else codes.push(code);
        });
        let attempts = 1;
        if (r.retry.attempts !== undefined) {
          if (typeof r.retry.attempts !== 'number' || !Number.isInteger(r.retry.attempts) || r.retry.attempts < 0 || r.retry.attempts > 10) this.c.fail(`${f}.retry.attempts`, 'must be an integer 0-10');
          else attempts = r.retry.attempts;
        }
        let backoffMs = 25;
        if (r.retry.backoff !== undefined) {
          const s = this.c.string(r.retry.backoff, `${f}.retry.backoff`);
          const ms = s === undefined ? undefined : gatewayDuration(s);
          if (s !== undefined && ms === undefined) this.c.fail(`${f}.retry.backoff`, `'${s}' is not a duration such as 100ms`);
          if (ms !== undefined) backoffMs = ms;
        }
        retry = { codes, attempts, backoffMs };
      }
    }
    return { name, matches, filters, backendRefs, requestTimeoutMs, backendRequestTimeoutMs, retry };
  }
}

/** Validates an HTTPRoute or GRPCRoute spec (errors go to `c`); the route, if it has one. */
export function parseRoute(kind: 'HTTPRoute' | 'GRPCRoute', spec: unknown, c: Checker, meta: RouteMeta): Route | undefined {
  if (!isObj(spec)) { c.fail('spec', 'is required'); return undefined; }
  const p = new RouteParser(c, kind, meta);
  const parentRefs = p.parentRefs(spec.parentRefs);
  p.list(spec.hostnames, 'spec.hostnames', 16).forEach((h, i) => {
    const s = c.string(h, `spec.hostnames[${i}]`);
    if (s !== undefined && !HOSTNAME.test(s)) c.fail(`spec.hostnames[${i}]`, `'${s}' is not a valid hostname`);
  });
  const rawRules = spec.rules === undefined ? [{}] : p.list(spec.rules, 'spec.rules', 16);
  const rules = rawRules.map((r, i) => p.rule(r, i)).filter((r): r is RouteRule => r !== undefined);
  const names = new Set<string>();
  rules.forEach((r, i) => {
    if (r.name === undefined) return;
    if (names.has(r.name)) c.fail(`spec.rules[${i}].name`, `'${r.name}' names two rules`);
    names.add(r.name);
  });
  // linkerd-failover's shape: labelled failover.linkerd.io/controlled-by, the primary Service named by
  // failover.linkerd.io/primary-service among every rule's backendRefs (the rest are secondaries)
  let failover: Route['failover'];
  if (meta.labels?.[FAILOVER_LABEL] !== undefined) {
    const primary = meta.annotations?.[FAILOVER_PRIMARY];
    if (primary === undefined) c.fail(`metadata.annotations.${FAILOVER_PRIMARY}`, `is required on a route labelled ${FAILOVER_LABEL}`);
    else {
      rules.forEach((r, i) => {
        if (!r.backendRefs.some((b) => b.kind === 'Service' && b.group === '' && b.name === primary)) c.fail(`spec.rules[${i}].backendRefs`, `does not list the primary Service '${primary}' (${FAILOVER_PRIMARY})`);
      });
      failover = { primary };
    }
  }
  return { kind, group: meta.group, namespace: meta.namespace, name: meta.name, created: meta.created, parentRefs, rules, source: meta.source, line: meta.line, failover };
}

export const FAILOVER_LABEL = 'failover.linkerd.io/controlled-by';
export const FAILOVER_PRIMARY = 'failover.linkerd.io/primary-service';

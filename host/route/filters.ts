// What a selected route rule does to a request and its response (Gateway API HTTPRouteFilter):
// header modifiers, URL rewrites and redirects, on HTTP/2-shaped field lists (pseudo-fields first,
// lowercase names). The Host header is :authority here, so modifying "host" rewrites :authority
// (a separate host field would make the request malformed on HTTP/2, RFC 9113 §8.3.1).
import type { FieldList } from '../core/fields.js';
import { getField } from '../http/headers.js';
import type { Exchange } from '../http/exchange.js';
import type { HeaderModifier, PathModifier, RouteFilter } from './model.js';
import { trimPrefix } from './precedence.js';

function setField(fields: FieldList, name: string, value: string): void {
  const key = name === 'host' ? ':authority' : name;
  let at = -1;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] !== key) continue;
    if (at < 0) { at = i; fields[i + 1] = value; } else { fields.splice(i, 2); i -= 2; }
  }
  if (at < 0) fields.push(key, value);
}

/** Applies a RequestHeaderModifier or ResponseHeaderModifier in place: set, then add, then remove. */
export function modifyHeaders(fields: FieldList, mod: HeaderModifier): void {
  for (const { name, value } of mod.set) setField(fields, name, value);
  for (const { name, value } of mod.add) {
    if (name === 'host') { setField(fields, name, value); continue; }
    // RFC 9110 §5.3: a field may be sent again; appending keeps each value as sent
    fields.push(name, value);
  }
  if (mod.remove.length) {
    const gone = new Set(mod.remove);
    for (let i = 0; i < fields.length; i += 2) {
      if (gone.has(fields[i]) && !fields[i].startsWith(':')) { fields.splice(i, 2); i -= 2; }
    }
  }
}

/** The path (query kept) after a ReplaceFullPath or ReplacePrefixMatch of the matched `prefix`. */
export function rewritePath(pathAndQuery: string, mod: PathModifier, prefix: string | undefined): string {
  const q = pathAndQuery.indexOf('?');
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? '' : pathAndQuery.slice(q);
  if (mod.type === 'ReplaceFullPath') return (mod.value === '' ? '/' : mod.value) + query;
  // the spec's table: the matched prefix (trailing slash ignored) is replaced; never an empty path
  const p = trimPrefix(prefix ?? '/');
  const rest = p === '/' ? path : path.slice(p.length);
  const replacement = mod.value.replace(/\/+$/, '');
  const out = replacement + rest;
  return (out === '' ? '/' : out.startsWith('/') ? out : `/${out}`) + query;
}

/** Applies URLRewrite: a new :authority (port kept out, as Host rewrites go) and/or a new :path. */
export function rewriteUrl(fields: FieldList, f: Extract<RouteFilter, { type: 'URLRewrite' }>, prefix: string | undefined): void {
  if (f.hostname !== undefined) setField(fields, ':authority', f.hostname);
  if (f.path !== undefined) {
    const path = getField(fields, ':path');
    if (path !== undefined) setField(fields, ':path', rewritePath(path, f.path, prefix));
  }
}

/**
 * The Location of a RequestRedirect. `servicePort` is the port the request was addressed to (the
 * Gateway API's "listener port" in a mesh); default ports of the scheme are left out.
 */
export function redirectLocation(fields: FieldList, f: Extract<RouteFilter, { type: 'RequestRedirect' }>, prefix: string | undefined, servicePort: number): string {
  const reqScheme = getField(fields, ':scheme') ?? 'http';
  const authority = getField(fields, ':authority') ?? '';
  const host = authority.replace(/:\d+$/, '');
  const scheme = f.scheme ?? reqScheme;
  const hostname = f.hostname ?? host;
  let port: number;
  if (f.port !== undefined) port = f.port;
  else if (f.scheme !== undefined) port = f.scheme === 'https' ? 443 : 80;
  else port = servicePort;
  const showPort = !((scheme === 'http' && port === 80) || (scheme === 'https' && port === 443));
  const pathAndQuery = getField(fields, ':path') ?? '/';
  const path = f.path ? rewritePath(pathAndQuery, f.path, prefix) : pathAndQuery;
  return `${scheme}://${hostname}${showPort ? `:${port}` : ''}${path}`;
}

/**
 * Applies a rule's (or a backendRef's) filters to one request: `out` (a copy of the request head) is
 * modified in place, response modifiers are left on the exchange, mirrors go to `mirror` (if given).
 * Returns false when a RequestRedirect answered the request itself.
 */
export function applyFilters(exchange: Exchange, filters: readonly RouteFilter[], request: FieldList, out: FieldList,
  prefix: string | undefined, servicePort: number, mirror?: (f: Extract<RouteFilter, { type: 'RequestMirror' }>) => void): boolean {
  for (const f of filters) {
    switch (f.type) {
      case 'RequestRedirect':
        exchange.respondLocally(f.statusCode, ['location', redirectLocation(request, f, prefix, servicePort)]);
        return false;
      case 'RequestHeaderModifier': modifyHeaders(out, f.modifier); break;
      case 'URLRewrite': rewriteUrl(out, f, prefix); break;
      case 'ResponseHeaderModifier': (exchange.responseHeaders ??= []).push(f.modifier); break;
      case 'RequestMirror': if (mirror && (f.percent >= 100 || Math.random() * 100 < f.percent)) mirror(f); break;
    }
  }
  return true;
}

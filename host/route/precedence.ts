// The Gateway API's precedence between the matches of all the routes attached to one parent, turned
// into the order of a core route table (the core then only looks for the first entry that matches).
//
// HTTPRoute (spec, HTTPRouteRule): an Exact path match first, then PathPrefix matches by the most
// characters, then a method match, then the most header matches, then the most query parameter
// matches. The spec leaves RegularExpression paths to the implementation: Skiff ranks them after
// Exact and before PathPrefix, longer patterns first (as Envoy Gateway and Linkerd do).
// GRPCRoute (spec, GRPCRouteRule): the most characters in a matching service, then in a matching
// method, then the most header matches.
// Ties between routes: the oldest creationTimestamp, then "{namespace}/{name}" alphabetically;
// within one route, the first rule in list order, then the first match.
import { CondKind, PathKind, type TableCond, type TableEntry } from '../core/route-table.js';
import type { GrpcRouteMatch, HttpRouteMatch, Route, RouteRule, ValueMatch } from './model.js';

/** What a table entry stands for: the rule (and which of its matches) that a request selected. */
export interface RuleRef {
  route: Route;
  rule: RouteRule;
  ruleIndex: number;
  matchIndex: number;
  /** The PathPrefix the request matched (for URLRewrite / RequestRedirect ReplacePrefixMatch). */
  prefix?: string;
}

interface Candidate {
  ref: RuleRef;
  entry: TableEntry;
  key: number[];
}

const PATH_CLASS = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as const;

/** A PathPrefix without its trailing slashes (the spec ignores them): "/" stays "/". */
export function trimPrefix(value: string): string {
  const t = value.replace(/\/+$/, '');
  return t === '' ? '/' : t;
}

function conds(list: ValueMatch[], header: boolean): TableCond[] {
  const seen = new Set<string>();
  const out: TableCond[] = [];
  for (const m of list) {
    const name = header ? m.name.toLowerCase() : m.name;
    if (seen.has(name)) continue; // the spec: only the first of equivalent names counts
    seen.add(name);
    out.push({ kind: m.type === 'Exact' ? CondKind.Exact : CondKind.Regex, name, value: m.value });
  }
  return out;
}

/** An RE2 pattern matching `s` literally. */
export function escapeRegex(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

function httpCandidate(route: Route, rule: RouteRule, ruleIndex: number, m: HttpRouteMatch, matchIndex: number): Candidate {
  const p = m.path;
  const headers = conds(m.headers, true);
  const queries = conds(m.queryParams, false);
  let pathKind = PathKind.Prefix;
  let path = p.value;
  let prefix: string | undefined;
  if (p.type === 'Exact') pathKind = PathKind.Exact;
  else if (p.type === 'RegularExpression') pathKind = PathKind.Regex;
  else { path = trimPrefix(p.value); prefix = path; }
  return {
    ref: { route, rule, ruleIndex, matchIndex, prefix },
    entry: { result: 0, pathKind, path, method: m.method, headers, queries },
    key: [PATH_CLASS[p.type], -path.length, m.method === undefined ? 1 : 0, -headers.length, -queries.length],
  };
}

function grpcCandidate(route: Route, rule: RouteRule, ruleIndex: number, m: GrpcRouteMatch, matchIndex: number): Candidate {
  const headers = conds(m.headers, true);
  const mm = m.method;
  let pathKind = PathKind.Prefix;
  let path = '/';
  if (mm && (mm.service !== undefined || mm.method !== undefined)) {
    if (mm.type === 'Exact') {
      if (mm.service !== undefined && mm.method !== undefined) { pathKind = PathKind.Exact; path = `/${mm.service}/${mm.method}`; }
      else if (mm.service !== undefined) { pathKind = PathKind.GrpcService; path = `/${mm.service}`; }
      else { pathKind = PathKind.Regex; path = `/[^/]+/${escapeRegex(mm.method!)}`; }
    } else {
      pathKind = PathKind.Regex;
      path = `/(?:${mm.service ?? '[^/]+'})/(?:${mm.method ?? '[^/]+'})`;
    }
  }
  return {
    ref: { route, rule, ruleIndex, matchIndex },
    entry: { result: 0, pathKind, path, headers, queries: [] },
    key: [-(mm?.service?.length ?? 0), -(mm?.method?.length ?? 0), -headers.length],
  };
}

/** Older first; routes without a timestamp (hand-written YAML) tie on it. Then namespace/name. */
export function compareRoutes(a: Route, b: Route): number {
  if (a !== b && a.created !== undefined && b.created !== undefined && a.created !== b.created) return a.created - b.created;
  const ka = `${a.namespace}/${a.name}`;
  const kb = `${b.namespace}/${b.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function compare(a: Candidate, b: Candidate): number {
  for (let i = 0; i < a.key.length; i++) if (a.key[i] !== b.key[i]) return a.key[i] - b.key[i];
  return compareRoutes(a.ref.route, b.ref.route) || a.ref.ruleIndex - b.ref.ruleIndex || a.ref.matchIndex - b.ref.matchIndex;
}

/**
 * The core table entries for routes of one kind attached to one parent, in precedence order, and
 * what each entry stands for (entry i selects refs[i]).
 */
export function orderMatches(routes: readonly Route[]): { entries: TableEntry[]; refs: RuleRef[] } {
  const all: Candidate[] = [];
  for (const route of routes) {
    route.rules.forEach((rule, ruleIndex) => {
      if (route.kind === 'GRPCRoute') {
        const ms = rule.matches as GrpcRouteMatch[];
        if (ms.length === 0) all.push(grpcCandidate(route, rule, ruleIndex, { headers: [] }, 0));
        else ms.forEach((m, i) => all.push(grpcCandidate(route, rule, ruleIndex, m, i)));
      } else {
        const ms = rule.matches as HttpRouteMatch[];
        if (ms.length === 0) all.push(httpCandidate(route, rule, ruleIndex, { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }, 0));
        else ms.forEach((m, i) => all.push(httpCandidate(route, rule, ruleIndex, m, i)));
      }
    });
  }
  all.sort(compare);
  const entries: TableEntry[] = [];
  const refs: RuleRef[] = [];
  all.forEach((c, i) => {
    c.entry.result = i;
    entries.push(c.entry);
    refs.push(c.ref);
  });
  return { entries, refs };
}

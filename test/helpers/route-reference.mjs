// A straightforward JavaScript implementation of route selection over the same ordered entries the
// core gets (host/core/route-table.ts TableEntry): every entry in turn, first match wins. The oracle
// of the property tests and the JavaScript baseline of the routing benchmark.
const PREFIX = 0, EXACT = 1, REGEX = 2, GRPC_SERVICE = 3;

function decode(s) {
  return s.replace(/%([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

export class ReferenceRouter {
  constructor(entries) {
    this.entries = entries.map((e) => ({
      ...e,
      re: e.pathKind === REGEX ? new RegExp(`^(?:${e.path})$`) : null,
      headers: e.headers.map((c) => ({ ...c, name: c.name.toLowerCase(), re: c.kind === 1 ? new RegExp(`^(?:${c.value})$`) : null })),
      queries: e.queries.map((c) => ({ ...c, re: c.kind === 1 ? new RegExp(`^(?:${c.value})$`) : null })),
    }));
  }

  select(fields) {
    let fullPath = '', method;
    const headers = new Map();
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i].toLowerCase(), value = fields[i + 1];
      if (name === ':path') fullPath = value;
      else if (name === ':method') method = value;
      const prev = headers.get(name);
      headers.set(name, prev === undefined ? value : `${prev},${value}`);
    }
    const q = fullPath.indexOf('?');
    const path = q < 0 ? fullPath : fullPath.slice(0, q);
    const query = q < 0 ? null : fullPath.slice(q + 1);
    for (const e of this.entries) {
      if (!this.pathOk(e, path)) continue;
      if (e.method !== undefined && e.method !== method) continue;
      if (!e.headers.every((c) => { const v = headers.get(c.name); return v !== undefined && (c.re ? c.re.test(v) : v === c.value); })) continue;
      if (!e.queries.every((c) => this.queryOk(c, query))) continue;
      return e.result;
    }
    return -1;
  }

  pathOk(e, path) {
    switch (e.pathKind) {
      case EXACT: return path === e.path;
      case REGEX: return e.re.test(path);
      case PREFIX: {
        const p = e.path.replace(/\/+$/, '');
        if (p === '') return true;
        return path.startsWith(p) && (path.length === p.length || path[p.length] === '/');
      }
      case GRPC_SERVICE: {
        const p = e.path.replace(/\/+$/, '');
        if (!path.startsWith(`${p}/`)) return false;
        const rest = path.slice(p.length + 1);
        return rest.length > 0 && !rest.includes('/');
      }
    }
    return false;
  }

  queryOk(c, query) {
    if (query === null) return false;
    for (const part of query.split('&')) {
      const eq = part.indexOf('=');
      const name = decode(eq < 0 ? part : part.slice(0, eq));
      if (name !== c.name) continue;
      const value = decode(eq < 0 ? '' : part.slice(eq + 1));
      return c.re ? c.re.test(value) : value === c.value;
    }
    return false;
  }
}

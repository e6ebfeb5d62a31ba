// The embedded control plane's source: Kubernetes YAML (or JSON) files in a directory, read
// recursively, several documents per file and `kind: List` allowed. A change is picked up by
// polling (robust against editors' rename-and-replace and Kubernetes' symlink-swapped mounts).
// An invalid change is rejected whole, with every error named, and the last good snapshot stays.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as YamlModule from 'yaml';
import { ConfigError, parseObject, type KnownObject } from './objects.js';
import { Snapshot, findDuplicates } from './snapshot.js';
import { routeKey } from '../route/model.js';

export interface LoadResult {
  /** Absent when `errors` is not empty. */
  snapshot?: Snapshot;
  /** Problems that reject the whole change (YAML syntax, Services, EndpointSlices, duplicates). */
  errors: ConfigError[];
  /**
   * Problems in HTTPRoutes and GRPCRoutes: each such route is rejected alone. The snapshot keeps its
   * last good version (from `previous`) if it had one; everything else in the change applies.
   */
  routeErrors: ConfigError[];
  warnings: string[];
}

function listFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue; // ..data and friends in mounted ConfigMaps
    const p = join(dir, e.name);
    let isDir = e.isDirectory();
    if (e.isSymbolicLink()) {
      try { isDir = statSync(p).isDirectory(); } catch { continue; }
    }
    if (isDir) listFiles(p, out);
    else if (/\.(ya?ml|json)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

// Loaded on first use: a proxy fed by the Kubernetes API (or none) never parses YAML, and the parser
// is ~3 MB of a sidecar's resident memory once compiled. The package is CommonJS, so require is sync.
let yaml: typeof YamlModule | undefined;
function yamlParser(): typeof YamlModule {
  return (yaml ??= createRequire(import.meta.url)('yaml') as typeof YamlModule);
}

/** Reads and validates every object under `dir`; `previous` supplies last good versions of rejected routes. */
/**
 * The objects in one YAML (or JSON) text: several documents, `kind: List` unrolled, each with the
 * line of its document's first field; YAML errors named by file and line (their document skipped).
 */
export function yamlObjects(text: string, file: string): { items: { value: unknown; line: number }[]; errors: ConfigError[] } {
  const YAML = yamlParser();
  const items: { value: unknown; line: number }[] = [];
  const errors: ConfigError[] = [];
  const lines = new YAML.LineCounter();
  const docs = YAML.parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    // the line of the object's first field, past any '---' and comments
    const start = doc.contents?.range?.[0] ?? doc.range?.[0];
    const line = start === undefined ? 0 : lines.linePos(start).line;
    if (doc.errors.length) {
      for (const e of doc.errors) errors.push(new ConfigError(file, lines.linePos(e.pos[0]).line, 'YAML', '', e.message.split('\n')[0]));
      continue;
    }
    const value = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue; // empty document
    const list = typeof value === 'object' && value.kind === 'List' && Array.isArray(value.items) ? value.items : [value];
    for (const v of list) items.push({ value: v, line });
  }
  return { items, errors };
}

export function loadDirectory(dir: string, previous?: Snapshot): LoadResult {
  const errors: ConfigError[] = [];
  const routeErrors: ConfigError[] = [];
  const rejected = new Set<string>();
  const warnings: string[] = [];
  const objects: KnownObject[] = [];
  let files: string[];
  try {
    files = listFiles(dir);
  } catch (err) {
    return { errors: [new ConfigError(dir, 0, 'directory', '', (err as Error).message)], routeErrors, warnings };
  }
  for (const path of files) {
    const file = path; // as the user named the directory, so messages point where they look
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      errors.push(new ConfigError(file, 0, 'file', '', (err as Error).message));
      continue;
    }
    const read = yamlObjects(text, file);
    errors.push(...read.errors);
    for (const { value: item, line } of read.items) {
      const parsed = parseObject(item, file, line);
      if (parsed.rejectedRoute) {
        routeErrors.push(...parsed.errors);
        rejected.add(parsed.rejectedRoute);
      } else errors.push(...parsed.errors);
      if (parsed.ignored) warnings.push(`${file}:${line}: ignoring ${parsed.ignored} (a kind Skiff does not read)`);
      if (parsed.object) objects.push(parsed.object);
    }
  }
  errors.push(...findDuplicates(objects));
  if (errors.length) return { errors, routeErrors, warnings };
  for (const r of previous?.routes ?? []) {
    if (rejected.has(routeKey(r))) objects.push(r);
  }
  return { snapshot: new Snapshot(objects), errors, routeErrors, warnings };
}

function signature(dir: string): string {
  try {
    return listFiles(dir).map((p) => {
      const s = statSync(p);
      return `${p}:${s.mtimeMs}:${s.size}`;
    }).join('|');
  } catch (err) {
    return `error:${(err as Error).message}`;
  }
}

export interface DirectorySourceOptions {
  pollMs?: number;
  onUpdate(snapshot: Snapshot): void;
  onError(errors: ConfigError[]): void;
  /** Routes rejected on their own (the update still applied). */
  onRouteErrors?(errors: ConfigError[]): void;
  onWarning?(message: string): void;
}

/** Watches `dir`: calls onUpdate with each new valid snapshot, onError when a change is rejected. */
export class DirectorySource {
  private timer: NodeJS.Timeout;
  private lastSig = '';
  private warned = new Set<string>();
  private last: Snapshot | undefined;

  constructor(readonly dir: string, private options: DirectorySourceOptions) {
    this.timer = setInterval(() => this.poll(), options.pollMs ?? 1000);
    this.timer.unref();
  }

  /** Loads now; returns the errors (empty when a snapshot was delivered). */
  load(): ConfigError[] {
    this.lastSig = signature(this.dir);
    const r = loadDirectory(this.dir, this.last);
    for (const w of r.warnings) {
      if (!this.warned.has(w)) { this.warned.add(w); this.options.onWarning?.(w); }
    }
    if (r.snapshot) {
      this.last = r.snapshot;
      this.options.onUpdate(r.snapshot);
      if (r.routeErrors.length) this.options.onRouteErrors?.(r.routeErrors);
    } else this.options.onError([...r.errors, ...r.routeErrors]);
    return r.errors;
  }

  private poll(): void {
    if (signature(this.dir) !== this.lastSig) this.load();
  }

  close(): void {
    clearInterval(this.timer);
  }
}

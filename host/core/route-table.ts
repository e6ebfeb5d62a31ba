// A route table in the core (assembly/route/table.ts): match entries, already in precedence order,
// encoded into the blob the core indexes; select() asks the core for the first entry a request head
// matches. One table per route parent (a Service port as one caller namespace sees it).
import { core, mem } from './wasm.js';
import type { FieldList } from './fields.js';

export enum PathKind { Prefix = 0, Exact = 1, Regex = 2, GrpcService = 3 }
export enum CondKind { Exact = 0, Regex = 1 }

export interface TableCond {
  kind: CondKind;
  /** Header names lowercase; query parameter names exactly as matched. */
  name: string;
  value: string;
}

export interface TableEntry {
  /** What select() returns when this entry wins. */
  result: number;
  pathKind: PathKind;
  path: string;
  method?: string;
  headers: TableCond[];
  queries: TableCond[];
}

export class RouteTableError extends Error {
  constructor(message: string, readonly entry: number, readonly part: number) {
    super(message);
  }
  override get name(): string { return 'RouteTableError'; }
}

const MAGIC = 0x54524b53;
const SCRATCH_GUESS = 4096;

/** The blob assembly/route/table.ts reads. Strings are UTF-8 (as the YAML gave them). */
export function encodeTable(entries: readonly TableEntry[]): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12);
  head.writeUInt32LE(MAGIC, 0);
  head.writeUInt32LE(1, 4);
  head.writeUInt32LE(entries.length, 8);
  parts.push(head);
  const str = (s: string): void => {
    const b = Buffer.from(s, 'utf8');
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length, 0);
    parts.push(n, b);
  };
  for (const e of entries) {
    if (e.headers.length > 255 || e.queries.length > 255) throw new RangeError('too many conditions in one match');
    const h = Buffer.alloc(8);
    h.writeUInt32LE(e.result >>> 0, 0);
    h[4] = e.pathKind;
    h[5] = e.method === undefined ? 0 : 1;
    h[6] = e.headers.length;
    h[7] = e.queries.length;
    parts.push(h);
    str(e.path);
    if (e.method !== undefined) str(e.method);
    for (const c of [...e.headers, ...e.queries]) {
      parts.push(Buffer.of(c.kind));
      str(c.name);
      str(c.value);
    }
  }
  return Buffer.concat(parts);
}

const registry = new FinalizationRegistry<number>((id) => core.route_table_free(id));

/** A loaded table. Freed when collected, or at once with free(). */
export class CoreRouteTable {
  private id: number;
  /** Header names some entry looks at: only these (and :method, :path) cross into the core. */
  private names: Set<string>;
  constructor(entries: readonly TableEntry[]) {
    this.names = new Set([':path']);
    for (const e of entries) {
      if (e.method !== undefined) this.names.add(':method');
      for (const h of e.headers) this.names.add(h.name);
    }
    const blob = encodeTable(entries);
    const p = core.scratch(blob.length);
    mem().u8.set(blob, p);
    const id = core.route_table_new(blob.length);
    if (id < 0) {
      const entry = core.route_table_error(1);
      const part = core.route_table_error(2);
      const what = core.route_table_error(0) === 2 ? `invalid regular expression (error ${core.route_table_error(3)} at offset ${core.route_table_error(4)})` : 'malformed table';
      throw new RouteTableError(`route table: entry ${entry}: ${what}`, entry, part);
    }
    this.id = id;
    registry.register(this, id, this);
  }

  /** The result of the first entry the request head matches, or -1. */
  select(fields: FieldList): number {
    // the same records h2_submit_headers reads (fields.ts writeFields), for the fields that matter;
    // one pass into a reservation that fits any ordinary head, two when a head is bigger
    let count = this.write(fields, SCRATCH_GUESS);
    if (count < 0) {
      let size = 0;
      for (let i = 0; i < fields.length; i += 2) size += 12 + fields[i].length + fields[i + 1].length;
      count = this.write(fields, size);
    }
    return core.route_select(this.id, count);
  }

  private write(fields: FieldList, room: number): number {
    const names = this.names;
    const base = core.scratch(room);
    const { dv, u8, buf } = mem();
    const end = base + room;
    let p = base;
    let count = 0;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i];
      if (!names.has(name)) continue;
      const value = fields[i + 1];
      if (p + 12 + name.length + value.length > end) return -1;
      dv.setUint32(p, name.length, true);
      dv.setUint32(p + 4, value.length, true);
      dv.setUint32(p + 8, 0, true);
      p += 12;
      for (let k = 0; k < name.length; k++) u8[p + k] = name.charCodeAt(k);
      p += name.length;
      if (value.length > 48) p += buf.write(value, p, value.length, 'latin1');
      else {
        for (let k = 0; k < value.length; k++) u8[p + k] = value.charCodeAt(k);
        p += value.length;
      }
      count++;
    }
    return count;
  }

  free(): void {
    if (this.id < 0) return;
    registry.unregister(this);
    core.route_table_free(this.id);
    this.id = -1;
  }
}

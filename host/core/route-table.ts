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
  /**
   * The field names the table looks at, by the index the core knows them by: 0 :path, 1 :method,
   * then the header names of its entries in first-seen order (the core numbers them the same way).
   * Only these fields cross into the core, each as a u32 (index | length << 12) and the value bytes.
   */
  private names: string[];
  private needMethod = false;
  private needQuery = false;
  constructor(entries: readonly TableEntry[]) {
    const names = new Set([':path', ':method']);
    for (const e of entries) {
      if (e.method !== undefined) this.needMethod = true;
      if (e.queries.length > 0) this.needQuery = true;
      for (const h of e.headers) names.add(h.name);
    }
    // a plain array: a table looks at a handful of names, where a scan beats hashing each field name
    this.names = [...names];
    if (this.names.length > 4096) throw new RouteTableError(`route table: ${this.names.length - 2} distinct header names in matches (at most 4094)`, -1, 0);
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
      for (let i = 0; i < fields.length; i += 2) size += 4 + fields[i + 1].length;
      count = this.write(fields, size);
    }
    return core.route_select(this.id, count);
  }

  private write(fields: FieldList, room: number): number {
    const names = this.names;
    const base = core.scratch(room);
    const { u8 } = mem();
    const end = base + room;
    const nn = names.length;
    const skipMethod = !this.needMethod;
    let p = base;
    let count = 0;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i];
      let j = 0;
      while (j < nn && names[j] !== name) j++;
      if (j === nn || (j === 1 && skipMethod)) continue;
      let value = fields[i + 1];
      if (j === 0 && !this.needQuery) {
        const q = value.indexOf('?');
        if (q >= 0) value = value.slice(0, q); // no entry looks at the query: less to copy
      }
      const vl = value.length;
      if (p + 4 + vl > end) return -1;
      if (vl > 0xfffff) continue; // over 1 MiB: no field a request head can carry; matches nothing
      const word = j | (vl << 12);
      u8[p] = word;
      u8[p + 1] = word >> 8;
      u8[p + 2] = word >> 16;
      u8[p + 3] = word >>> 24;
      p += 4;
      for (let k = 0; k < vl; k++) u8[p + k] = value.charCodeAt(k);
      p += vl;
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

// Errors in configuration objects, and the field checks that produce them: every error names the
// file, the object (kind namespace/name) and the field path, so a user can find it at once.

export class ConfigError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly object: string,
    readonly field: string,
    readonly message: string,
  ) {}
  toString(): string {
    const where = this.line > 0 ? `${this.file}:${this.line}` : this.file;
    return `${where}: ${this.object}${this.field ? `: ${this.field}` : ''}: ${this.message}`;
  }
}

export type Json = Record<string, unknown>;
export const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Collects errors for one object while its fields are checked. */
export class Checker {
  errors: ConfigError[] = [];
  constructor(private file: string, private line: number, private object: string) {}
  fail(field: string, message: string): void {
    this.errors.push(new ConfigError(this.file, this.line, this.object, field, message));
  }
  string(v: unknown, field: string, required = true): string | undefined {
    if (v === undefined || v === null) {
      if (required) this.fail(field, 'is required');
      return undefined;
    }
    if (typeof v !== 'string') { this.fail(field, `must be a string, got ${JSON.stringify(v)}`); return undefined; }
    return v;
  }
  port(v: unknown, field: string): number | undefined {
    if (v === undefined || v === null) { this.fail(field, 'is required'); return undefined; }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
      this.fail(field, `must be a port number 1-65535, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }
  protocol(v: unknown, field: string): 'TCP' | 'UDP' | 'SCTP' {
    if (v === undefined || v === null) return 'TCP';
    if (v !== 'TCP' && v !== 'UDP' && v !== 'SCTP') { this.fail(field, `must be TCP, UDP or SCTP, got ${JSON.stringify(v)}`); return 'TCP'; }
    return v;
  }
  stringMap(v: unknown, field: string): Record<string, string> {
    if (v === undefined || v === null) return {};
    if (!isObj(v)) { this.fail(field, 'must be a map of strings'); return {}; }
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v)) {
      if (typeof val !== 'string') this.fail(`${field}.${k}`, `must be a string, got ${JSON.stringify(val)}`);
      else out[k] = val;
    }
    return out;
  }
  array(v: unknown, field: string, required = false): unknown[] {
    if (v === undefined || v === null) {
      if (required) this.fail(field, 'is required');
      return [];
    }
    if (!Array.isArray(v)) { this.fail(field, 'must be a list'); return []; }
    return v;
  }
}


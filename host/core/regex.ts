// The core's linear-time regular expressions (assembly/route/regex.ts) from the host: to validate
// the patterns of routes with the very engine that will run them, and for tests and benchmarks.
import { core, mem } from './wasm.js';

/** Why a pattern was refused (the numbers are assembly/route/regex.ts RE_*). */
const MESSAGES: Record<number, string> = {
  1: 'missing closing )',
  2: 'unexpected )',
  3: 'missing closing ]',
  4: 'invalid character class range',
  5: 'invalid escape sequence',
  6: 'missing argument to repetition operator',
  7: 'invalid repetition operator',
  8: 'repetition count over 1000',
  9: 'not supported (RE2 syntax has no backreferences, lookaround, possessive repeats or \\p classes here)',
  10: 'invalid group or flag syntax',
  11: 'pattern too large',
  12: 'invalid character class name',
};

export class RegexSyntaxError extends Error {
  constructor(readonly code: number, readonly position: number, pattern: string) {
    super(`invalid regular expression ${JSON.stringify(pattern)}: ${MESSAGES[code] ?? `error ${code}`} at offset ${position}`);
  }
  override get name(): string { return 'RegexSyntaxError'; }
}

function toScratch(bytes: Buffer): number {
  const p = core.scratch(bytes.length);
  mem().u8.set(bytes, p);
  return bytes.length;
}

/** A compiled pattern in the core. Free it when done (the core does not collect it). */
export class CoreRegex {
  private id: number;
  /** Compiles an RE2-syntax pattern (as UTF-8); throws RegexSyntaxError. */
  constructor(readonly pattern: string) {
    const r = core.regex_new(toScratch(Buffer.from(pattern, 'utf8')));
    if (r < 0) throw new RegexSyntaxError(-r, core.regex_error_pos(), pattern);
    this.id = r;
  }
  /** Whether the whole of `input` (latin1: one byte per char, as header values are) matches. */
  test(input: string | Buffer): boolean {
    const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
    return core.regex_match(this.id, toScratch(bytes)) === 1;
  }
  free(): void { core.regex_free(this.id); }
}

/** null when `pattern` compiles, else why not (with the offset). */
export function checkRegex(pattern: string): string | null {
  try {
    new CoreRegex(pattern).free();
    return null;
  } catch (err) {
    if (err instanceof RegexSyntaxError) return err.message;
    throw err;
  }
}

// Regular expressions for route matching with RE2's guarantee: time linear in the input whatever the
// pattern, because nothing backtracks. The pattern (RE2 syntax) is parsed to a tree, compiled by
// Thompson's construction to a small program, and run as a set of states over the input bytes
// (each program position at most once per byte). Matching is byte-wise (RE2's Latin-1 mode:
// UTF-8 in a pattern matches the same bytes in the input) and whole-value: the regex must match the
// entire path or header value, as Envoy's safe_regex does.
// Not accepted, as in RE2: backreferences, lookaround, possessive quantifiers, \p{..} classes.

export const OP_BYTE: i32 = 0; // a: byte
export const OP_CLASS: i32 = 1; // a: class index (32-byte bitmap)
export const OP_SPLIT: i32 = 2; // a, b: the two next positions
export const OP_JMP: i32 = 3; // a: next position
export const OP_MATCH: i32 = 4;
export const OP_BOT: i32 = 5; // \A, ^ outside multi-line mode
export const OP_EOT: i32 = 6; // \z, $ outside multi-line mode
export const OP_BOL: i32 = 7; // ^ in multi-line mode
export const OP_EOL: i32 = 8; // $ in multi-line mode
export const OP_WORDB: i32 = 9; // \b
export const OP_NWORDB: i32 = 10; // \B

/** Limits that keep a route's regex small: RE2's repeat limit, and a program size. */
export const MAX_REPEAT: i32 = 1000;
export const MAX_PROGRAM: i32 = 20000;
const MAX_DEPTH: i32 = 200;

// Why a pattern was refused (host/core/reasons.ts names them).
export const RE_OK: i32 = 0;
export const RE_MISSING_PAREN: i32 = 1; // an unclosed (
export const RE_UNEXPECTED_PAREN: i32 = 2; // a ) without (
export const RE_MISSING_BRACKET: i32 = 3; // an unclosed [
export const RE_BAD_RANGE: i32 = 4; // [z-a]
export const RE_BAD_ESCAPE: i32 = 5; // \ at the end, or an unknown escape
export const RE_MISSING_REPEAT_ARG: i32 = 6; // * + ? {n} with nothing before them
export const RE_BAD_REPEAT: i32 = 7; // ** or {n,m} with m < n
export const RE_REPEAT_TOO_BIG: i32 = 8; // {n} over 1000
export const RE_UNSUPPORTED: i32 = 9; // backreference, lookaround, \p{..}, possessive
export const RE_BAD_GROUP: i32 = 10; // (? with an unknown flag or a bad name
export const RE_TOO_LARGE: i32 = 11; // over MAX_PROGRAM instructions, or nested too deep
export const RE_BAD_CLASS_NAME: i32 = 12; // [[:nosuch:]]

const N_LIT: i32 = 0;
const N_CLASS: i32 = 1;
const N_EMPTY: i32 = 2;
const N_CAT: i32 = 3;
const N_ALT: i32 = 4;
const N_REPEAT: i32 = 5;
const N_ASSERT: i32 = 6;

class Node {
  kind: i32;
  value: i32 = 0; // byte, class index or assertion opcode
  min: i32 = 0;
  max: i32 = 0; // -1: unbounded
  kids: Node[] = [];
  constructor(kind: i32) { this.kind = kind; }
}

// flags
const F_I: i32 = 1; // case-insensitive
const F_S: i32 = 2; // . matches \n
const F_M: i32 = 4; // ^ $ at line ends

@inline function isWordByte(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f;
}

/** A compiled regular expression and the scratch state its matcher reuses. */
export class Regex {
  ops: StaticArray<i32> = new StaticArray<i32>(0); // op, a, b per instruction
  count: i32 = 0;
  classes: StaticArray<u8> = new StaticArray<u8>(0);
  // a pure literal (no operators) is compared directly
  literal: StaticArray<u8> | null = null;
  // sparse sets of program positions: current and next, and the closure stack
  private dense0: StaticArray<i32> = new StaticArray<i32>(0);
  private sparse0: StaticArray<i32> = new StaticArray<i32>(0);
  private dense1: StaticArray<i32> = new StaticArray<i32>(0);
  private sparse1: StaticArray<i32> = new StaticArray<i32>(0);
  private stack: StaticArray<i32> = new StaticArray<i32>(0);

  prepare(): void {
    const n = this.count;
    this.dense0 = new StaticArray<i32>(n);
    this.sparse0 = new StaticArray<i32>(n);
    this.dense1 = new StaticArray<i32>(n);
    this.sparse1 = new StaticArray<i32>(n);
    this.stack = new StaticArray<i32>(n * 2 + 2);
  }

  @inline private inClass(k: i32, c: i32): bool {
    return (unchecked(this.classes[(k << 5) + (c >> 3)]) & (<u8>1 << <u8>(c & 7))) != 0;
  }

  /** Whether the whole of the n bytes at p match. */
  matches(p: usize, n: i32): bool {
    const lit = this.literal;
    if (lit !== null) {
      if (lit.length != n) return false;
      return memory.compare(changetype<usize>(lit), p, <usize>n) == 0;
    }
    let cd = this.dense0, cs = this.sparse0, nd = this.dense1, ns = this.sparse1;
    let clen = this.addClosure(cd, cs, 0, 0, 0, p, n);
    for (let i = 0; i < n && clen > 0; i++) {
      const c = <i32>load<u8>(p + <usize>i);
      let nlen = 0;
      for (let j = 0; j < clen; j++) {
        const pc = unchecked(cd[j]);
        const op = unchecked(this.ops[pc * 3]);
        const a = unchecked(this.ops[pc * 3 + 1]);
        if ((op == OP_BYTE && a == c) || (op == OP_CLASS && this.inClass(a, c))) {
          nlen = this.addClosure(nd, ns, nlen, pc + 1, i + 1, p, n);
        }
      }
      const td = cd; cd = nd; nd = td;
      const ts = cs; cs = ns; ns = ts;
      clen = nlen;
    }
    for (let j = 0; j < clen; j++) {
      if (unchecked(this.ops[unchecked(cd[j]) * 3]) == OP_MATCH) return true;
    }
    return false;
  }

  // Adds pc and every position reachable from it without consuming a byte (at input position pos)
  // to the set; returns the set's new size. Each position enters at most once.
  private addClosure(dense: StaticArray<i32>, sparse: StaticArray<i32>, len: i32, start: i32, pos: i32, p: usize, n: i32): i32 {
    const stack = this.stack;
    let sp = 0;
    unchecked(stack[sp++] = start);
    while (sp > 0) {
      const pc = unchecked(stack[--sp]);
      const s = unchecked(sparse[pc]);
      if (s < len && unchecked(dense[s]) == pc) continue;
      unchecked(sparse[pc] = len);
      unchecked(dense[len++] = pc);
      const op = unchecked(this.ops[pc * 3]);
      const a = unchecked(this.ops[pc * 3 + 1]);
      switch (op) {
        case OP_JMP: unchecked(stack[sp++] = a); break;
        case OP_SPLIT:
          unchecked(stack[sp++] = this.ops[pc * 3 + 2]);
          unchecked(stack[sp++] = a);
          break;
        case OP_BOT: if (pos == 0) unchecked(stack[sp++] = pc + 1); break;
        case OP_EOT: if (pos == n) unchecked(stack[sp++] = pc + 1); break;
        case OP_BOL: if (pos == 0 || load<u8>(p + <usize>pos - 1) == 0x0a) unchecked(stack[sp++] = pc + 1); break;
        case OP_EOL: if (pos == n || load<u8>(p + <usize>pos) == 0x0a) unchecked(stack[sp++] = pc + 1); break;
        case OP_WORDB:
        case OP_NWORDB: {
          const before = pos > 0 && isWordByte(load<u8>(p + <usize>pos - 1));
          const after = pos < n && isWordByte(load<u8>(p + <usize>pos));
          if ((before != after) == (op == OP_WORDB)) unchecked(stack[sp++] = pc + 1);
          break;
        }
        default: break; // BYTE, CLASS, MATCH wait in the set
      }
    }
    return len;
  }
}

/** Parses and compiles a pattern; on failure `error` and `errorPos` say why and where. */
export class RegexCompiler {
  error: i32 = RE_OK;
  errorPos: i32 = 0;
  private p: usize = 0;
  private n: i32 = 0;
  private i: i32 = 0;
  private flags: i32 = 0;
  private depth: i32 = 0;
  private classes: u8[] = [];
  private ops: i32[] = [];
  private pureLiteral: bool = true;

  compile(p: usize, n: i32): Regex | null {
    this.p = p; this.n = n; this.i = 0; this.flags = 0; this.depth = 0;
    this.error = RE_OK; this.errorPos = 0;
    this.classes = []; this.ops = []; this.pureLiteral = true;
    const tree = this.parseAlt();
    if (this.error != RE_OK) return null;
    if (this.i < this.n) { this.fail(RE_UNEXPECTED_PAREN, this.i); return null; }
    const re = new Regex();
    if (this.pureLiteral) {
      const lit = new StaticArray<u8>(n);
      memory.copy(changetype<usize>(lit), p, <usize>n);
      re.literal = lit;
      return re;
    }
    this.emitNode(tree!);
    if (this.error != RE_OK) return null;
    this.emit(OP_MATCH, 0, 0);
    if (this.ops.length / 3 > MAX_PROGRAM) { this.fail(RE_TOO_LARGE, 0); return null; }
    const count = this.ops.length / 3;
    const ops = new StaticArray<i32>(this.ops.length);
    for (let k = 0; k < this.ops.length; k++) ops[k] = this.ops[k];
    const classes = new StaticArray<u8>(this.classes.length);
    for (let k = 0; k < this.classes.length; k++) classes[k] = this.classes[k];
    re.ops = ops;
    re.count = count;
    re.classes = classes;
    re.prepare();
    return re;
  }

  private fail(code: i32, at: i32): Node | null {
    if (this.error == RE_OK) { this.error = code; this.errorPos = at; }
    return null;
  }

  @inline private peek(): i32 { return <i32>load<u8>(this.p + <usize>this.i); }
  @inline private more(): bool { return this.i < this.n; }

  // ---- parsing ----------------------------------------------------------------------------------

  private parseAlt(): Node | null {
    if (++this.depth > MAX_DEPTH) return this.fail(RE_TOO_LARGE, this.i);
    const first = this.parseCat();
    if (first === null) return null;
    if (!this.more() || this.peek() != 0x7c /* | */) { this.depth--; return first; }
    this.pureLiteral = false;
    const alt = new Node(N_ALT);
    alt.kids.push(first);
    while (this.more() && this.peek() == 0x7c) {
      this.i++;
      const next = this.parseCat();
      if (next === null) return null;
      alt.kids.push(next);
    }
    this.depth--;
    return alt;
  }

  private parseCat(): Node | null {
    const cat = new Node(N_CAT);
    while (this.more()) {
      const c = this.peek();
      if (c == 0x7c || c == 0x29) break; // | )
      const atom = this.parseRepeat();
      if (this.error != RE_OK) return null;
      if (atom !== null) cat.kids.push(atom);
    }
    if (cat.kids.length == 0) return new Node(N_EMPTY);
    if (cat.kids.length == 1) return cat.kids[0];
    return cat;
  }

  private parseRepeat(): Node | null {
    const start = this.i;
    let atom = this.parseAtom();
    if (this.error != RE_OK) return null;
    let repeated = false;
    while (this.more()) {
      const c = this.peek();
      let min = 0, max = 0;
      const at = this.i;
      if (c == 0x2a) { min = 0; max = -1; this.i++; } // *
      else if (c == 0x2b) { min = 1; max = -1; this.i++; } // +
      else if (c == 0x3f) { min = 0; max = 1; this.i++; } // ?
      else if (c == 0x7b) { // {
        const save = this.i;
        if (!this.parseBraces()) { this.i = save; break; } // not a repeat: '{' is a literal
        if (this.error != RE_OK) return null;
        min = this.braceMin; max = this.braceMax;
      } else break;
      if (atom === null) return this.fail(RE_MISSING_REPEAT_ARG, at);
      if (repeated) return this.fail(RE_BAD_REPEAT, at);
      if (this.more() && this.peek() == 0x3f) this.i++; // lazy: the same set of matches
      else if (this.more() && this.peek() == 0x2b) return this.fail(RE_UNSUPPORTED, this.i); // possessive
      this.pureLiteral = false;
      const r = new Node(N_REPEAT);
      r.kids.push(atom);
      r.min = min;
      r.max = max;
      atom = r;
      repeated = true;
      // RE2 refuses a repeat of a repeat (a**), but allows (a*)*
      if (this.more()) {
        const d = this.peek();
        if (d == 0x2a || d == 0x2b || d == 0x3f) return this.fail(RE_BAD_REPEAT, this.i);
      }
    }
    if (atom === null && this.i == start) return null;
    return atom;
  }

  private braceMin: i32 = 0;
  private braceMax: i32 = 0;
  // {n}, {n,}, {n,m}; false when the text is not of that form (then '{' is a literal, as in RE2)
  private parseBraces(): bool {
    this.i++; // {
    const a = this.parseInt();
    if (a < 0) return false;
    let b = a;
    if (this.more() && this.peek() == 0x2c) {
      this.i++;
      if (this.more() && this.peek() == 0x7d) b = -1;
      else {
        b = this.parseInt();
        if (b < 0) return false;
      }
    }
    if (!this.more() || this.peek() != 0x7d) return false;
    this.i++;
    if (a > MAX_REPEAT || b > MAX_REPEAT) { this.fail(RE_REPEAT_TOO_BIG, this.i - 1); return true; }
    if (b != -1 && b < a) { this.fail(RE_BAD_REPEAT, this.i - 1); return true; }
    this.braceMin = a;
    this.braceMax = b;
    return true;
  }

  private parseInt(): i32 {
    let v = 0, digits = 0;
    while (this.more()) {
      const c = this.peek();
      if (c < 0x30 || c > 0x39) break;
      if (v < 100000) v = v * 10 + (c - 0x30);
      digits++;
      this.i++;
    }
    return digits == 0 ? -1 : v;
  }

  private parseAtom(): Node | null {
    const c = this.peek();
    const at = this.i;
    switch (c) {
      case 0x28: return this.parseGroup(); // (
      case 0x5b: this.pureLiteral = false; return this.parseClass(); // [
      case 0x2e: { // .
        this.i++;
        this.pureLiteral = false;
        const bits = new StaticArray<u8>(32);
        for (let k = 0; k < 256; k++) if (k != 0x0a || (this.flags & F_S) != 0) setBit(bits, k);
        return this.classNode(bits);
      }
      case 0x5e: { // ^
        this.i++;
        this.pureLiteral = false;
        const a = new Node(N_ASSERT);
        a.value = (this.flags & F_M) != 0 ? OP_BOL : OP_BOT;
        return a;
      }
      case 0x24: { // $
        this.i++;
        this.pureLiteral = false;
        const a = new Node(N_ASSERT);
        a.value = (this.flags & F_M) != 0 ? OP_EOL : OP_EOT;
        return a;
      }
      case 0x5c: return this.parseEscape(); // backslash
      case 0x2a: case 0x2b: case 0x3f: return this.fail(RE_MISSING_REPEAT_ARG, at);
      default:
        this.i++;
        return this.literalNode(c);
    }
  }

  private literalNode(c: i32): Node {
    if ((this.flags & F_I) != 0 && isAsciiLetter(c)) {
      this.pureLiteral = false;
      const bits = new StaticArray<u8>(32);
      setBit(bits, c | 0x20);
      setBit(bits, c & ~0x20);
      return this.classNode(bits);
    }
    const n = new Node(N_LIT);
    n.value = c;
    return n;
  }

  private classNode(bits: StaticArray<u8>): Node {
    const n = new Node(N_CLASS);
    n.value = this.classes.length >> 5;
    for (let k = 0; k < 32; k++) this.classes.push(bits[k]);
    return n;
  }

  private parseGroup(): Node | null {
    const open = this.i;
    this.i++; // (
    const saved = this.flags;
    if (this.more() && this.peek() == 0x3f) { // (?
      this.i++;
      if (!this.more()) return this.fail(RE_MISSING_PAREN, open);
      let c = this.peek();
      if (c == 0x3d || c == 0x21) return this.fail(RE_UNSUPPORTED, this.i); // (?= (?!
      if (c == 0x50 || c == 0x3c) { // (?P<name> or (?<name>  — or (?<= (?<! lookbehind
        if (c == 0x3c && this.i + 1 < this.n) {
          const d = <i32>load<u8>(this.p + <usize>this.i + 1);
          if (d == 0x3d || d == 0x21) return this.fail(RE_UNSUPPORTED, this.i);
        }
        if (c == 0x50) this.i++;
        if (!this.more() || this.peek() != 0x3c) return this.fail(RE_BAD_GROUP, this.i);
        this.i++;
        const nameStart = this.i;
        while (this.more() && this.peek() != 0x3e) {
          const d = this.peek();
          if (!isWordByte(d)) return this.fail(RE_BAD_GROUP, this.i);
          this.i++;
        }
        if (!this.more() || this.i == nameStart) return this.fail(RE_BAD_GROUP, this.i);
        this.i++; // >
      } else {
        // flags: (?i) (?-s) (?im:...)
        let on = true, any = false, flags = this.flags;
        for (;;) {
          if (!this.more()) return this.fail(RE_MISSING_PAREN, open);
          c = this.peek();
          this.i++;
          if (c == 0x2d) { if (!on) return this.fail(RE_BAD_GROUP, this.i - 1); on = false; continue; }
          let f = 0;
          if (c == 0x69) f = F_I; else if (c == 0x73) f = F_S; else if (c == 0x6d) f = F_M;
          else if (c == 0x55) f = 0; // U (ungreedy): the same set of matches
          else if (c == 0x29) { // (?flags) applies to the rest of the enclosing group
            if (!any) return this.fail(RE_BAD_GROUP, this.i - 1);
            this.flags = flags;
            this.pureLiteral = false;
            return null;
          } else if (c == 0x3a) break; // (?flags:re)
          else return this.fail(RE_BAD_GROUP, this.i - 1);
          any = true;
          flags = on ? flags | f : flags & ~f;
        }
        this.flags = flags;
      }
    }
    this.pureLiteral = false;
    const inner = this.parseAlt();
    if (inner === null) return null;
    if (!this.more() || this.peek() != 0x29) return this.fail(RE_MISSING_PAREN, open);
    this.i++;
    this.flags = saved;
    return inner;
  }

  private parseEscape(): Node | null {
    const at = this.i;
    this.i++;
    if (!this.more()) return this.fail(RE_BAD_ESCAPE, at);
    const c = this.peek();
    this.i++;
    // assertions
    if (c == 0x41 || c == 0x7a || c == 0x62 || c == 0x42) { // A z b B
      this.pureLiteral = false;
      const a = new Node(N_ASSERT);
      a.value = c == 0x41 ? OP_BOT : c == 0x7a ? OP_EOT : c == 0x62 ? OP_WORDB : OP_NWORDB;
      return a;
    }
    if (c == 0x51) { // \Q...\E: literal text
      const cat = new Node(N_CAT);
      while (this.more()) {
        if (this.peek() == 0x5c && this.i + 1 < this.n && load<u8>(this.p + <usize>this.i + 1) == 0x45) { this.i += 2; break; }
        cat.kids.push(this.literalNode(this.peek()));
        this.i++;
      }
      this.pureLiteral = false; // \Q itself is not in the literal bytes
      return cat.kids.length == 0 ? new Node(N_EMPTY) : cat;
    }
    const bits = new StaticArray<u8>(32);
    const k = this.escapeClass(c, bits, at);
    if (this.error != RE_OK) return null;
    if (k == 1) { this.pureLiteral = false; return this.classNode(bits); }
    const byte = this.escapeByte(c, at);
    if (byte < 0) return null;
    this.pureLiteral = false;
    return this.literalNode(byte);
  }

  // \d \w \s and their negations into bits: 1; not a class escape: 0
  private escapeClass(c: i32, bits: StaticArray<u8>, at: i32): i32 {
    let neg = false;
    let kind = c;
    if (c == 0x44 || c == 0x57 || c == 0x53) { neg = true; kind = c | 0x20; } // D W S
    if (kind != 0x64 && kind != 0x77 && kind != 0x73) {
      if (c == 0x70 || c == 0x50) this.fail(RE_UNSUPPORTED, at); // \p{..} \P{..}
      return 0;
    }
    const tmp = new StaticArray<u8>(32);
    if (kind == 0x64) addRange(tmp, 0x30, 0x39);
    else if (kind == 0x77) { addRange(tmp, 0x30, 0x39); addRange(tmp, 0x41, 0x5a); addRange(tmp, 0x61, 0x7a); setBit(tmp, 0x5f); }
    else { setBit(tmp, 0x09); setBit(tmp, 0x0a); setBit(tmp, 0x0c); setBit(tmp, 0x0d); setBit(tmp, 0x20); } // RE2's \s: no \v
    for (let k = 0; k < 32; k++) bits[k] |= neg ? ~tmp[k] : tmp[k];
    return 1;
  }

  // the byte an escape stands for (after the backslash and c were read), or -1 (error set)
  private escapeByte(c: i32, at: i32): i32 {
    switch (c) {
      case 0x61: return 0x07; // \a
      case 0x66: return 0x0c; // \f
      case 0x74: return 0x09; // \t
      case 0x6e: return 0x0a; // \n
      case 0x72: return 0x0d; // \r
      case 0x76: return 0x0b; // \v
      case 0x78: { // \xhh or \x{h...}
        if (this.more() && this.peek() == 0x7b) {
          this.i++;
          let v = 0, digits = 0;
          while (this.more() && this.peek() != 0x7d) {
            const h = hexValue(this.peek());
            if (h < 0) { this.fail(RE_BAD_ESCAPE, at); return -1; }
            v = v * 16 + h;
            digits++;
            this.i++;
            if (v > 0xff) { this.fail(RE_UNSUPPORTED, at); return -1; } // beyond Latin-1: not byte-matchable
          }
          if (!this.more() || digits == 0) { this.fail(RE_BAD_ESCAPE, at); return -1; }
          this.i++;
          return v;
        }
        if (this.i + 2 > this.n) { this.fail(RE_BAD_ESCAPE, at); return -1; }
        const h1 = hexValue(this.peek()), h2 = hexValue(<i32>load<u8>(this.p + <usize>this.i + 1));
        if (h1 < 0 || h2 < 0) { this.fail(RE_BAD_ESCAPE, at); return -1; }
        this.i += 2;
        return h1 * 16 + h2;
      }
      case 0x30: { // \0, \0nn: octal
        let v = 0, k = 0;
        while (k < 2 && this.more() && this.peek() >= 0x30 && this.peek() <= 0x37) { v = v * 8 + (this.peek() - 0x30); this.i++; k++; }
        return v;
      }
      default:
        if (c >= 0x31 && c <= 0x39) { this.fail(RE_UNSUPPORTED, at); return -1; } // backreference
        // any punctuation may be escaped; letters and digits with no meaning may not
        if (c < 0x80 && !isWordByte(c)) return c;
        this.fail(RE_BAD_ESCAPE, at);
        return -1;
    }
  }

  private parseClass(): Node | null {
    const open = this.i;
    this.i++; // [
    const bits = new StaticArray<u8>(32);
    let neg = false;
    if (this.more() && this.peek() == 0x5e) { neg = true; this.i++; }
    let first = true;
    for (;;) {
      if (!this.more()) return this.fail(RE_MISSING_BRACKET, open);
      const c = this.peek();
      if (c == 0x5d && !first) { this.i++; break; }
      first = false;
      if (c == 0x5b && this.i + 1 < this.n && load<u8>(this.p + <usize>this.i + 1) == 0x3a) { // [:name:]
        if (this.posixClass(bits)) continue;
        if (this.error != RE_OK) return null;
      }
      let lo = this.classAtom(bits);
      if (this.error != RE_OK) return null;
      if (lo < 0) continue; // it was \d or similar
      if (this.more() && this.peek() == 0x2d && this.i + 1 < this.n && load<u8>(this.p + <usize>this.i + 1) != 0x5d) {
        const dash = this.i;
        this.i++;
        const hi = this.classAtom(bits);
        if (this.error != RE_OK) return null;
        if (hi < 0 || hi < lo) return this.fail(RE_BAD_RANGE, dash);
        this.addFolded(bits, lo, hi);
      } else {
        this.addFolded(bits, lo, lo);
      }
    }
    if (neg) for (let k = 0; k < 32; k++) bits[k] = ~bits[k];
    return this.classNode(bits);
  }

  private addFolded(bits: StaticArray<u8>, lo: i32, hi: i32): void {
    addRange(bits, lo, hi);
    if ((this.flags & F_I) == 0) return;
    for (let c = lo; c <= hi; c++) if (isAsciiLetter(c)) setBit(bits, c ^ 0x20);
  }

  // one class member: its byte, or -1 when it was a class escape (already added to bits)
  private classAtom(bits: StaticArray<u8>): i32 {
    const c = this.peek();
    if (c != 0x5c) { this.i++; return c; }
    const at = this.i;
    this.i++;
    if (!this.more()) { this.fail(RE_BAD_ESCAPE, at); return -1; }
    const d = this.peek();
    this.i++;
    if (this.escapeClass(d, bits, at) == 1) return -1;
    if (this.error != RE_OK) return -1;
    return this.escapeByte(d, at);
  }

  // [:alpha:] and friends inside a class; false (no error) when it is not one
  private posixClass(bits: StaticArray<u8>): bool {
    const start = this.i;
    let end = start + 2;
    while (end + 1 < this.n && !(load<u8>(this.p + <usize>end) == 0x3a && load<u8>(this.p + <usize>end + 1) == 0x5d)) end++;
    if (end + 1 >= this.n) return false;
    let neg = false;
    let nameStart = start + 2;
    if (load<u8>(this.p + <usize>nameStart) == 0x5e) { neg = true; nameStart++; }
    const name = String.UTF8.decodeUnsafe(this.p + <usize>nameStart, <usize>(end - nameStart));
    const tmp = new StaticArray<u8>(32);
    if (name == 'alnum') { addRange(tmp, 0x30, 0x39); addRange(tmp, 0x41, 0x5a); addRange(tmp, 0x61, 0x7a); }
    else if (name == 'alpha') { addRange(tmp, 0x41, 0x5a); addRange(tmp, 0x61, 0x7a); }
    else if (name == 'ascii') addRange(tmp, 0, 0x7f);
    else if (name == 'blank') { setBit(tmp, 0x09); setBit(tmp, 0x20); }
    else if (name == 'cntrl') { addRange(tmp, 0, 0x1f); setBit(tmp, 0x7f); }
    else if (name == 'digit') addRange(tmp, 0x30, 0x39);
    else if (name == 'graph') addRange(tmp, 0x21, 0x7e);
    else if (name == 'lower') addRange(tmp, 0x61, 0x7a);
    else if (name == 'print') addRange(tmp, 0x20, 0x7e);
    else if (name == 'punct') { addRange(tmp, 0x21, 0x2f); addRange(tmp, 0x3a, 0x40); addRange(tmp, 0x5b, 0x60); addRange(tmp, 0x7b, 0x7e); }
    else if (name == 'space') { addRange(tmp, 0x09, 0x0d); setBit(tmp, 0x20); }
    else if (name == 'upper') addRange(tmp, 0x41, 0x5a);
    else if (name == 'word') { addRange(tmp, 0x30, 0x39); addRange(tmp, 0x41, 0x5a); addRange(tmp, 0x61, 0x7a); setBit(tmp, 0x5f); }
    else if (name == 'xdigit') { addRange(tmp, 0x30, 0x39); addRange(tmp, 0x41, 0x46); addRange(tmp, 0x61, 0x66); }
    else { this.fail(RE_BAD_CLASS_NAME, start); return false; }
    if ((this.flags & F_I) != 0 && (name == 'lower' || name == 'upper')) { addRange(tmp, 0x41, 0x5a); addRange(tmp, 0x61, 0x7a); }
    for (let k = 0; k < 32; k++) bits[k] |= neg ? ~tmp[k] : tmp[k];
    this.i = end + 2;
    return true;
  }

  // ---- code generation (Thompson) ---------------------------------------------------------------

  private emit(op: i32, a: i32, b: i32): i32 {
    const at = this.ops.length / 3;
    this.ops.push(op);
    this.ops.push(a);
    this.ops.push(b);
    return at;
  }
  @inline private here(): i32 { return this.ops.length / 3; }
  @inline private patchA(at: i32, v: i32): void { this.ops[at * 3 + 1] = v; }
  @inline private patchB(at: i32, v: i32): void { this.ops[at * 3 + 2] = v; }

  private emitNode(node: Node): void {
    if (this.here() > MAX_PROGRAM) { this.fail(RE_TOO_LARGE, 0); return; }
    switch (node.kind) {
      case N_LIT: this.emit(OP_BYTE, node.value, 0); break;
      case N_CLASS: this.emit(OP_CLASS, node.value, 0); break;
      case N_EMPTY: break;
      case N_ASSERT: this.emit(node.value, 0, 0); break;
      case N_CAT: for (let k = 0; k < node.kids.length; k++) this.emitNode(node.kids[k]); break;
      case N_ALT: {
        // SPLIT L1, next; L1: a; JMP end; next: SPLIT L2, next2; ... last
        const jumps: i32[] = [];
        for (let k = 0; k < node.kids.length; k++) {
          if (k < node.kids.length - 1) {
            const split = this.emit(OP_SPLIT, 0, 0);
            this.patchA(split, this.here());
            this.emitNode(node.kids[k]);
            jumps.push(this.emit(OP_JMP, 0, 0));
            this.patchB(split, this.here());
          } else {
            this.emitNode(node.kids[k]);
          }
        }
        const end = this.here();
        for (let k = 0; k < jumps.length; k++) this.patchA(jumps[k], end);
        break;
      }
      case N_REPEAT: {
        const kid = node.kids[0];
        for (let k = 0; k < node.min; k++) this.emitNode(kid);
        if (node.max == -1) {
          // L: SPLIT body, end; body; JMP L
          const loop = this.emit(OP_SPLIT, 0, 0);
          this.patchA(loop, this.here());
          this.emitNode(kid);
          this.emit(OP_JMP, loop, 0);
          this.patchB(loop, this.here());
        } else {
          // up to max-min optional copies, each skipping to the end
          const splits: i32[] = [];
          for (let k = node.min; k < node.max; k++) {
            const split = this.emit(OP_SPLIT, 0, 0);
            this.patchA(split, this.here());
            splits.push(split);
            this.emitNode(kid);
            if (this.error != RE_OK) return;
          }
          const end = this.here();
          for (let k = 0; k < splits.length; k++) this.patchB(splits[k], end);
        }
        break;
      }
    }
  }
}

@inline function isAsciiLetter(c: i32): bool {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

@inline function setBit(bits: StaticArray<u8>, c: i32): void {
  bits[c >> 3] |= <u8>1 << <u8>(c & 7);
}

function addRange(bits: StaticArray<u8>, lo: i32, hi: i32): void {
  for (let c = lo; c <= hi; c++) setBit(bits, c);
}

function hexValue(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

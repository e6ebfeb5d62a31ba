// The label sets of one metric family: found by their labels once (call sites cache the scope on
// their own objects), bounded in number, and forgotten when idle. Pods come and go, and with them
// target_addr and identity values: like Linkerd (LINKERD2_PROXY_METRICS_RETAIN_IDLE, 10 minutes), a
// label set with nothing in flight and no activity for a while leaves the exposition. A cached
// scope that is used again rejoins with its counts, so nothing recorded is lost.
import type { Labels } from './http-metrics.js';

/** At most this many label sets per family: labels come from config and identities, but stay bounded. */
export const MAX_SCOPES = 5000;

/** What a label set's counts must say for the set to be forgotten. */
export interface Retained<S> {
  readonly labels: Labels;
  /** Set while forgotten: the next use brings it back (see LabelSets.revive). */
  evicted: boolean;
  /** When a new scope took its labels while it was forgotten: the one to count in instead. */
  replacedBy: S | null;
  /** ms (performance.now()) it has been idle at `now`; 0 while something is in flight or open. */
  idleFor(now: number): number;
}

export class LabelSets<S extends Retained<S>> {
  private readonly sets = new Map<string, S>();
  private overflow: S | null = null;

  constructor(private readonly make: (labels: Labels) => S, private readonly overflowLabels: (labels: Labels) => Labels) {}

  /** The scope of a label set (built once; past the bound, one catch-all set per family). */
  get(labels: Labels): S {
    const key = keyOf(labels);
    let s = this.sets.get(key);
    if (s) return s;
    if (this.sets.size >= MAX_SCOPES) return this.overflow ??= this.make(this.overflowLabels(labels));
    this.sets.set(key, s = this.make(labels));
    return s;
  }

  /**
   * The scope to count in for `s`, a scope a call site cached and that was forgotten since: `s`
   * itself, back in the exposition with its counts, or the scope that took its labels meanwhile.
   */
  revive(s: S): S {
    if (s.replacedBy !== null) return s.replacedBy.evicted ? this.revive(s.replacedBy) : s.replacedBy;
    const key = keyOf(s.labels);
    const now = this.sets.get(key);
    if (now !== undefined) return (s.replacedBy = now);
    s.evicted = false;
    this.sets.set(key, s);
    return s;
  }

  /** Forgets the sets idle for longer than `idleMs`. */
  evictIdle(now: number, idleMs: number): number {
    let n = 0;
    for (const [key, s] of this.sets) {
      if (s.idleFor(now) > idleMs) {
        this.sets.delete(key);
        s.evicted = true;
        n++;
      }
    }
    return n;
  }

  all(): S[] {
    return this.overflow ? [...this.sets.values(), this.overflow] : [...this.sets.values()];
  }

  get size(): number { return this.sets.size; }
}

function keyOf(labels: Labels): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join('\u0000');
}

// Route retries (Gateway API HTTPRoute `retry`: codes, attempts, backoff) and the budget that keeps
// them from multiplying load when a backend is struggling: as Linkerd's retry budget, retries may
// add at most `ratio` of the requests of the last `windowMs`, plus a small floor per second so that
// a quiet route can still retry. A request is retried only while its whole body so far is held
// (at most REPLAY_LIMIT bytes, by the Exchange): once more than that has streamed upstream, it cannot be sent again.
export const REPLAY_LIMIT = 64 * 1024;

export class RetryBudget {
  private requests = 0;
  private retries = 0;
  private windowStart = 0;
  constructor(readonly ratio = 0.2, readonly minPerSecond = 10, readonly windowMs = 10_000) {}

  private roll(now: number): void {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.requests = 0;
      this.retries = 0;
    }
  }

  /** An original request (each one earns `ratio` of a retry). */
  recordRequest(now = Date.now()): void {
    this.roll(now);
    this.requests++;
  }

  /** Takes a retry from the budget; false when the budget is spent. */
  tryRetry(now = Date.now()): boolean {
    this.roll(now);
    const allowed = this.requests * this.ratio + (this.minPerSecond * this.windowMs) / 1000;
    if (this.retries + 1 > allowed) return false;
    this.retries++;
    return true;
  }
}

/** One request's retry state: which statuses retry and tries left (the Exchange holds the body to replay). */
export class RetryState {
  left: number;
  constructor(readonly codes: ReadonlySet<number>, attempts: number, readonly backoffMs: number, readonly budget: RetryBudget) {
    this.left = attempts;
  }

  /** Whether a response with `status` (504 for an attempt that timed out) is tried again. */
  wants(status: number): boolean {
    return this.left > 0 && this.codes.has(status) && this.budget.tryRetry();
  }

  /** The pause before the next try: the backoff doubled per try so far, with jitter. */
  delay(tries: number): number {
    const base = this.backoffMs * 2 ** Math.min(tries, 6);
    return Math.round(base / 2 + Math.random() * base / 2);
  }
}

// Picks an endpoint for each request: power of two choices over peak-EWMA load, as Linkerd's
// balancer (tower's PeakEwma): each endpoint's cost is its round-trip estimate times (requests in
// flight + 1). The estimate jumps up to a slower response at once and decays toward faster ones —
// and toward zero while the endpoint is idle, over a 10 s time constant — so a slow endpoint gets
// little traffic and is still tried again now and then. Unmeasured endpoints count as 30 ms.
//
// Endpoints that cannot take a request are left out:
//   - failure accrual (circuit breaking, configured per Service; see accrual.ts): after
//     max-failures consecutive failures the breaker opens for a penalty, then lets exactly one
//     probe request through; success closes it, failure reopens it for twice the penalty;
//   - a connection failure marks the endpoint failing for a short, growing backoff;
// and an endpoint that answered 429/503 with Retry-After is penalised in cost for the time it asks
// (bounded), so a fast refusal does not attract load.
// Endpoint state is kept by address so it survives config updates.
import type { EndpointAddress } from './discovery.js';
import type { AccrualPolicy } from './accrual.js';

/** Round-trip estimate of an endpoint not yet measured (ms). */
export const DEFAULT_RTT_MS = 30;
/** The estimate's decay time constant (ms). */
export const DECAY_MS = 10_000;
/** Cost added while an endpoint is penalised for a Retry-After answer (ms of round trip): Linkerd's 5 s. */
export const RETRY_AFTER_PENALTY_MS = 5_000;
/** Longest Retry-After honoured (ms). */
export const MAX_RETRY_AFTER_MS = 300_000;

export const enum Breaker { CLOSED = 0, OPEN = 1, HALF_OPEN = 2 }
export const BREAKER_NAMES = ['closed', 'open', 'half-open'] as const;

export class EndpointState {
  inFlight = 0;
  /** Requests that failed (any cause), since the endpoint was first seen. */
  failures = 0;
  requests = 0;
  // peak-EWMA
  private rtt = -1;
  /** When the estimate was last updated (or the endpoint first seen). */
  private stamp: number;
  /** Penalised in cost until then (a 429/503 with Retry-After). */
  biasUntil = 0;
  // failure accrual
  breaker = Breaker.CLOSED;
  consecutive = 0;
  openUntil = 0;
  penaltyMs = 0;
  /** Breaker transitions, by the state entered (for metrics). */
  readonly transitions = [0, 0, 0];
  // connection failures: out until a backoff ends, then one request tries to connect (the others
  // wait, rather than all meeting the same refused connection)
  connectFailures = 0;
  failingUntil = 0;
  connectProbing = false;
  /** Called when the endpoint may be available again (breaker timer, connect backoff). */
  onAvailable: (() => void) | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;

  /** What discovery says now (meshed, protocol, identity): refreshed by every update. */
  constructor(public address: EndpointAddress, readonly key: string) {
    this.stamp = performance.now();
  }

  /**
   * The round-trip estimate at `now`, decayed since the last update (tower's PeakEwma). An endpoint
   * not yet measured counts as DEFAULT_RTT_MS decaying from when it was first seen, so at low load
   * a new endpoint is tried within seconds rather than never.
   */
  estimate(now: number): number {
    return (this.rtt < 0 ? DEFAULT_RTT_MS : this.rtt) * Math.exp(-(now - this.stamp) / DECAY_MS);
  }

  /** A response head arrived `rttMs` after the request went out. */
  observe(rttMs: number, now: number): void {
    if (this.rtt < 0 || rttMs > this.rtt) {
      this.rtt = rttMs; // peak: a slower response counts at once
    } else {
      const decay = Math.exp(-(now - this.stamp) / DECAY_MS);
      this.rtt = this.rtt * decay + rttMs * (1 - decay);
    }
    this.stamp = now;
  }

  cost(now: number): number {
    const c = this.estimate(now) * (this.inFlight + 1);
    return now < this.biasUntil ? c + RETRY_AFTER_PENALTY_MS : c;
  }

  /** Whether a request may go here now (the breaker closed, its connections not failing). */
  available(_now: number): boolean {
    return this.breaker === Breaker.CLOSED && this.connectFailures === 0;
  }

  /**
   * The next request may go here as a probe: the breaker's penalty is over, or a failed connection's
   * backoff is, and no probe is out.
   */
  probeDue(now: number): boolean {
    if (this.breaker === Breaker.OPEN) return now >= this.openUntil && now >= this.failingUntil;
    return this.breaker === Breaker.CLOSED && this.connectFailures > 0 && !this.connectProbing && now >= this.failingUntil;
  }

  /** When this endpoint may take a request again (now or later; Infinity: only after a probe out now). */
  availableAt(): number {
    if (this.breaker === Breaker.HALF_OPEN || this.connectProbing) return Infinity;
    return Math.max(this.breaker === Breaker.OPEN ? this.openUntil : 0, this.connectFailures > 0 ? this.failingUntil : 0);
  }

  private setBreaker(b: Breaker): void {
    this.breaker = b;
    this.transitions[b]++;
  }

  /** The request sent here is its breaker's probe (or tries its connection again). */
  startProbe(): void {
    if (this.breaker === Breaker.OPEN) this.setBreaker(Breaker.HALF_OPEN);
    else this.connectProbing = true;
  }

  /** A request's outcome, for failure accrual (policy: the Service's; null: none). Use Balancer.record. */
  record(failed: boolean, policy: AccrualPolicy | null, now: number, connecting = false): void {
    this.requests++;
    if (!connecting) {
      // the request reached the endpoint: its connections work
      this.connectFailures = 0;
      this.connectProbing = false;
    }
    if (!failed) {
      this.consecutive = 0;
      if (this.breaker !== Breaker.CLOSED) { this.penaltyMs = 0; this.setBreaker(Breaker.CLOSED); }
      return;
    }
    this.failures++;
    this.consecutive++;
    if (policy === null) {
      if (this.breaker !== Breaker.CLOSED) this.setBreaker(Breaker.CLOSED); // accrual turned off meanwhile
      return;
    }
    if (this.breaker === Breaker.HALF_OPEN) this.open(Math.min(this.penaltyMs * 2, policy.maxPenaltyMs), policy, now);
    else if (this.breaker === Breaker.CLOSED && this.consecutive >= policy.maxFailures) this.open(policy.minPenaltyMs, policy, now);
  }

  /** A probe that ended without an outcome (its client left): probe again at once. */
  probeAbandoned(now: number): void {
    if (this.connectProbing) { this.connectProbing = false; this.onAvailable?.(); }
    if (this.breaker !== Breaker.HALF_OPEN) return;
    this.breaker = Breaker.OPEN;
    this.openUntil = now;
    this.onAvailable?.();
  }

  private open(penaltyMs: number, policy: AccrualPolicy, now: number): void {
    this.penaltyMs = penaltyMs;
    // jitter: ± ratio of the penalty, so endpoints that failed together are not probed together
    const j = penaltyMs * policy.jitterRatio * (Math.random() * 2 - 1);
    this.openUntil = now + Math.max(0, penaltyMs + j);
    this.setBreaker(Breaker.OPEN);
    this.wakeAt(this.openUntil, now);
  }

  /** A connection to the endpoint failed: out of the balancer for a growing backoff (100 ms → 10 s). */
  connectFailed(now: number): void {
    this.connectFailures++;
    this.connectProbing = false;
    this.failingUntil = now + Math.min(100 * 2 ** (this.connectFailures - 1), 10_000);
    this.wakeAt(this.failingUntil, now);
  }

  /** A 429/503 asking to come back after `ms`: costlier for that long (bounded). */
  retryAfter(ms: number, now: number): void {
    this.biasUntil = Math.max(this.biasUntil, now + Math.min(ms, MAX_RETRY_AFTER_MS));
  }

  private wakeAt(at: number, now: number): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = setTimeout(() => { this.wakeTimer = null; this.onAvailable?.(); }, Math.max(0, at - now) + 1);
    this.wakeTimer.unref();
  }
}

export class Balancer {
  private endpoints: EndpointState[] = [];
  private waiters = new Set<() => void>();
  /** Endpoints whose breaker is open or half-open, or whose connections fail: the only ones a probe can be due to. */
  private tripped = new Set<EndpointState>();
  /** No probe is due before this (performance.now() time): picks skip looking until then. */
  private probeCheckAt = 0;
  /** Requests answered 503 because no endpoint became available within the fail-fast timeout. */
  failFast = 0;
  /** The Service's failure accrual policy (null: none). */
  policy: AccrualPolicy | null = null;

  /** Replaces the endpoint set, keeping the state of endpoints that remain. */
  update(addresses: EndpointAddress[], states: Map<string, EndpointState>): void {
    this.endpoints = addresses.map((a) => {
      const key = `${a.host}:${a.port}`;
      let s = states.get(key);
      if (!s) {
        s = new EndpointState(a, key);
        states.set(key, s);
      } else s.address = a;
      // an address in two Services' balancers wakes the last one to take it (a rare shape)
      s.onAvailable = this.wake;
      if (s.breaker !== Breaker.CLOSED || s.connectFailures > 0) this.tripped.add(s);
      return s;
    });
    for (const e of this.tripped) if (!this.endpoints.includes(e)) this.tripped.delete(e);
    this.probeCheckAt = 0;
    this.wake();
  }

  get size(): number { return this.endpoints.length; }
  get list(): readonly EndpointState[] { return this.endpoints; }

  /** How many endpoints may take a request now. */
  availableCount(now = performance.now()): number {
    let n = 0;
    for (const e of this.endpoints) if (e.available(now)) n++;
    return n;
  }

  /** Whether any endpoint may take a request now (or is due a probe). */
  hasAvailable(now = performance.now()): boolean {
    for (const e of this.endpoints) if (e.available(now) || e.probeDue(now)) return true;
    return false;
  }

  /**
   * The endpoint for the next request, or null when none may take one now. An endpoint whose
   * breaker is due a probe gets this request as its probe.
   */
  pick(now = performance.now(), probe = true): EndpointState | null {
    const list = this.endpoints;
    const n = list.length;
    if (n === 0) return null;
    // probes first: one request each, as soon as the penalty is over (never a mirror's copy: its
    // outcome is not watched)
    if (probe && this.tripped.size > 0 && now >= this.probeCheckAt) {
      let next = Infinity;
      for (const e of this.tripped) {
        if (e.breaker === Breaker.CLOSED && e.connectFailures === 0) { this.tripped.delete(e); continue; }
        if (e.probeDue(now)) { e.startProbe(); this.probeCheckAt = 0; return e; }
        next = Math.min(next, e.availableAt());
      }
      this.probeCheckAt = next;
    }
    if (n === 1) return list[0].available(now) ? list[0] : null;
    // P2C: two distinct random endpoints that are available; a few tries, then the available ones
    for (let tries = 0; tries < 4; tries++) {
      const i = (Math.random() * n) | 0;
      let j = (Math.random() * (n - 1)) | 0;
      if (j >= i) j++;
      const a = list[i], b = list[j];
      const aOk = a.available(now), bOk = b.available(now);
      if (aOk && bOk) return a.cost(now) <= b.cost(now) ? a : b;
      if (aOk !== bOk && tries === 3) return aOk ? a : b;
    }
    const ok = list.filter((e) => e.available(now));
    if (ok.length === 0) return null;
    if (ok.length === 1) return ok[0];
    const i = (Math.random() * ok.length) | 0;
    let j = (Math.random() * (ok.length - 1)) | 0;
    if (j >= i) j++;
    return ok[i].cost(now) <= ok[j].cost(now) ? ok[i] : ok[j];
  }

  /** A request's outcome on `ep`, under this Service's failure accrual policy (`connecting`: it never connected). */
  record(ep: EndpointState, failed: boolean, now = performance.now(), connecting = false): void {
    const was = ep.breaker;
    ep.record(failed, this.policy, now, connecting);
    if (ep.breaker === Breaker.CLOSED && ep.connectFailures === 0) this.tripped.delete(ep);
    else this.tripped.add(ep);
    if (ep.breaker !== was || connecting) this.probeCheckAt = 0;
  }

  /** When an endpoint may next become available (Infinity: not by time alone). */
  nextAvailableAt(): number {
    let t = Infinity;
    for (const e of this.endpoints) t = Math.min(t, e.availableAt());
    return t;
  }

  /** Calls `fn` (once) when an endpoint may have become available or the set changed. */
  whenAvailable(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }

  private wake = (): void => {
    this.probeCheckAt = 0;
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const fn of ws) fn();
  };
}

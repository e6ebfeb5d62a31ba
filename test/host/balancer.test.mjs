// The balancer's decisions on their own: peak-EWMA estimates, power of two choices by cost,
// failure accrual (breaker states, exactly one probe, penalties doubling with jitter), connection
// failures, Retry-After bias — and the Service annotations that configure accrual.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Balancer, EndpointState, DEFAULT_RTT_MS, DECAY_MS } from '../../dist/host/outbound/balancer.js';
import { accrualPolicy, isFailure } from '../../dist/host/outbound/accrual.js';

const addr = (port) => ({ host: '127.0.0.1', port, meshed: true, h2c: false });
function balancer(n, policy = null) {
  const b = new Balancer();
  b.policy = policy;
  const states = new Map();
  b.update(Array.from({ length: n }, (_, i) => addr(1000 + i)), states);
  return { b, eps: b.list };
}
const POLICY = { maxFailures: 7, minPenaltyMs: 1000, maxPenaltyMs: 60_000, jitterRatio: 0.5, grpcFailures: new Set([2, 4, 13, 14, 15]) };

test('peak EWMA: a slower response counts at once; faster ones pull it down with time; idle, it decays toward zero', () => {
  const e = new EndpointState(addr(1), '127.0.0.1:1');
  const t0 = performance.now();
  assert.ok(Math.abs(e.estimate(t0) - DEFAULT_RTT_MS) < 0.5, 'unmeasured: the default');
  e.observe(10, t0);
  assert.is(e.estimate(t0), 10);
  e.observe(100, t0 + 1);
  assert.ok(e.estimate(t0 + 1) > 99.9, 'peak: up at once');
  e.observe(10, t0 + 1000);
  const after = e.estimate(t0 + 1000);
  // decay over 1 s of a 10 s time constant: ~90% of the old value kept
  assert.ok(after > 80 && after < 95, `${after}`);
  assert.ok(e.estimate(t0 + 1000 + 5 * DECAY_MS) < after * 0.01, 'idle: toward zero, so a slow endpoint is tried again');
  // cost weighs requests in flight
  e.inFlight = 3;
  assert.ok(Math.abs(e.cost(t0 + 1000) - after * 4) < 1e-6);
});

test('P2C picks the cheaper of two: a 100 ms endpoint gets a small share against two 1 ms ones', () => {
  const { b, eps } = balancer(3);
  const now = performance.now();
  eps[0].observe(1, now); eps[1].observe(1, now); eps[2].observe(100, now);
  const n = { 0: 0, 1: 0, 2: 0 };
  for (let i = 0; i < 3000; i++) {
    const e = b.pick(now);
    n[eps.indexOf(e)]++;
  }
  assert.is(n[2], 0, 'with equal load the slow one loses every comparison');
  // in flight on the fast ones makes them costlier: the slow one is picked once they are busy enough
  eps[0].inFlight = 200; eps[1].inFlight = 200;
  let slow = 0;
  for (let i = 0; i < 300; i++) if (b.pick(now) === eps[2]) slow++;
  assert.ok(slow > 0);
});

test('failure accrual: 7 consecutive failures open the breaker; exactly one probe after the penalty; success closes', () => {
  const { b, eps } = balancer(2, POLICY);
  const [bad, good] = eps;
  let now = performance.now();
  for (let i = 0; i < 6; i++) b.record(bad, true, now);
  assert.is(bad.breaker, 0, 'closed after 6');
  b.record(good, false, now);
  b.record(bad, false, now);
  assert.is(bad.consecutive, 0, 'a success resets the count');
  for (let i = 0; i < 7; i++) b.record(bad, true, now);
  assert.is(bad.breaker, 1, 'open after 7 consecutive');
  assert.ok(bad.openUntil - now >= 500 && bad.openUntil - now <= 1500, `penalty 1 s ± 50%: ${bad.openUntil - now}`);
  for (let i = 0; i < 100; i++) assert.is(b.pick(now), good, 'open: never picked');
  now = bad.openUntil + 1;
  assert.is(b.pick(now), bad, 'the penalty over: the next request is the probe');
  assert.is(bad.breaker, 2, 'half-open');
  for (let i = 0; i < 100; i++) assert.is(b.pick(now), good, 'one probe only');
  b.record(bad, false, now);
  assert.is(bad.breaker, 0, 'the probe succeeded: closed');
  assert.equal([...bad.transitions], [1, 1, 1]);
});

test('a failed probe reopens the breaker for twice the penalty, up to the max; with every endpoint open, pick is null until a probe is due', () => {
  const { b, eps } = balancer(1, { ...POLICY, jitterRatio: 0, maxPenaltyMs: 3000 });
  const [e] = eps;
  let now = performance.now();
  for (let i = 0; i < 7; i++) b.record(e, true, now);
  const penalties = [];
  for (let round = 0; round < 4; round++) {
    penalties.push(Math.round(e.openUntil - now));
    assert.is(b.pick(now), null, 'nothing available');
    assert.ok(!b.hasAvailable(now));
    assert.is(b.nextAvailableAt(), e.openUntil);
    now = e.openUntil;
    assert.is(b.pick(now), e, 'probe');
    b.record(e, true, now);
  }
  assert.equal(penalties, [1000, 2000, 3000, 3000]);
});

test('a probe whose client left is sent again; a mirror never takes the probe', () => {
  const { b, eps } = balancer(1, POLICY);
  const [e] = eps;
  let now = performance.now();
  for (let i = 0; i < 7; i++) b.record(e, true, now);
  now = e.openUntil + 1;
  assert.is(b.pick(now, false), null, 'a mirror copy is not a probe');
  assert.is(b.pick(now), e);
  e.probeAbandoned(now);
  assert.is(b.pick(now), e, 'probe again');
});

test('connection failures: out for a growing backoff, then one request tries to connect while the others wait', () => {
  const { b, eps } = balancer(2);
  const [a, c] = eps;
  let now = performance.now();
  a.connectFailed(now);
  b.record(a, true, now, true);
  for (let i = 0; i < 50; i++) assert.is(b.pick(now), c);
  c.connectFailed(now);
  b.record(c, true, now, true);
  assert.is(b.pick(now), null, 'both failing');
  now += 101;
  const first = b.pick(now);
  assert.ok(first === a || first === c, 'backoff over: one tries');
  const second = b.pick(now);
  assert.ok(second !== first, 'the other one tries too, but never the same twice');
  assert.is(b.pick(now), null);
  b.record(first, false, now);
  assert.is(b.pick(now), first, 'connected: available again');
  // a second failure doubles the backoff
  second.connectFailed(now);
  assert.ok(second.failingUntil - now >= 199);
});

test('a 429/503 with Retry-After makes an endpoint costlier for that long (bounded)', () => {
  const { b, eps } = balancer(2);
  const now = performance.now();
  eps[0].observe(1, now); eps[1].observe(1, now);
  eps[0].retryAfter(10_000, now);
  for (let i = 0; i < 200; i++) assert.is(b.pick(now), eps[1]);
  assert.ok(eps[0].biasUntil - now <= 10_000);
  eps[1].retryAfter(10 ** 9, now);
  assert.ok(eps[1].biasUntil - now <= 300_000, 'bounded at 5 minutes');
  assert.ok(b.pick(now + 10_001) === eps[0], 'eps[0]\'s penalty is over');
});

test('annotations: Linkerd\'s and skiff.io/ spellings, defaults, and errors that name the annotation', () => {
  assert.is(accrualPolicy({}), null);
  const linkerd = accrualPolicy({ 'balancer.linkerd.io/failure-accrual': 'consecutive' });
  assert.equal({ ...linkerd, grpcFailures: [...linkerd.grpcFailures] }, { maxFailures: 7, minPenaltyMs: 1000, maxPenaltyMs: 60_000, jitterRatio: 0.5, grpcFailures: [2, 4, 13, 14, 15] });
  const custom = accrualPolicy({
    'skiff.io/failure-accrual': 'consecutive', 'skiff.io/failure-accrual-consecutive-max-failures': '3',
    'balancer.linkerd.io/failure-accrual-consecutive-min-penalty': '250ms', 'balancer.linkerd.io/failure-accrual-consecutive-max-penalty': '10s',
    'skiff.io/failure-accrual-consecutive-jitter-ratio': '0', 'skiff.io/failure-accrual-grpc-codes': 'UNAVAILABLE, 8',
  });
  assert.is(custom.maxFailures, 3);
  assert.is(custom.minPenaltyMs, 250);
  assert.is(custom.maxPenaltyMs, 10_000);
  assert.is(custom.jitterRatio, 0);
  assert.equal([...custom.grpcFailures], [14, 8]);
  assert.match(accrualPolicy({ 'balancer.linkerd.io/failure-accrual': 'success-rate' }), /failure-accrual: expected 'consecutive'/);
  assert.match(accrualPolicy({ 'balancer.linkerd.io/failure-accrual': 'consecutive', 'balancer.linkerd.io/failure-accrual-consecutive-max-failures': '0' }), /max-failures: expected a whole number/);
  assert.match(accrualPolicy({ 'balancer.linkerd.io/failure-accrual': 'consecutive', 'balancer.linkerd.io/failure-accrual-consecutive-min-penalty': 'soon' }), /min-penalty/);
  assert.match(accrualPolicy({ 'balancer.linkerd.io/failure-accrual': 'consecutive', 'skiff.io/failure-accrual-grpc-codes': 'OK' }), /'OK' is not a gRPC status code other than OK/);
});

test('what counts as the endpoint\'s failure: resets, 5xx, and gRPC statuses in the set', () => {
  const set = new Set([2, 4, 13, 14, 15]);
  assert.ok(isFailure(false, 0, -1, set));
  assert.ok(isFailure(true, 503, -1, set));
  assert.ok(!isFailure(true, 404, -1, set));
  assert.ok(!isFailure(true, 429, -1, set), '429 is load, not failure (biased by Retry-After instead)');
  assert.ok(isFailure(true, 200, 14, set));
  assert.ok(!isFailure(true, 200, 5, set), 'NOT_FOUND is the caller\'s');
  assert.ok(!isFailure(true, 200, 0, set));
});

test.run();

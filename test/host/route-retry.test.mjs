// The retry budget and per-request retry state (host/route/retry.ts): retries never add more than
// the budget's share of the load, whatever the route's attempts say.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RetryBudget, RetryState, REPLAY_LIMIT } from '../../dist/host/route/retry.js';

test('the budget allows ratio × requests (+ the floor) retries per window, then refuses', () => {
  const b = new RetryBudget(0.2, 0, 10_000);
  const t0 = 1_000_000;
  for (let i = 0; i < 10; i++) b.recordRequest(t0);
  assert.ok(b.tryRetry(t0));
  assert.ok(b.tryRetry(t0 + 1));
  assert.not.ok(b.tryRetry(t0 + 2), 'a third retry for 10 requests is over 20%');
  for (let i = 0; i < 5; i++) b.recordRequest(t0 + 3);
  assert.ok(b.tryRetry(t0 + 4), '15 requests earn a third');
  assert.not.ok(b.tryRetry(t0 + 5));
  // a new window starts afresh
  b.recordRequest(t0 + 10_000);
  assert.not.ok(b.tryRetry(t0 + 10_001), '1 request × 0.2 is less than one retry');
  const floor = new RetryBudget(0.2, 10, 1000);
  for (let i = 0; i < 10; i++) assert.ok(floor.tryRetry(t0), 'the floor lets a quiet route retry');
  assert.not.ok(floor.tryRetry(t0));
});

test('retry state: only listed codes, only while attempts last (the body limit is the exchange\'s: e2e retry test)', () => {
  const b = new RetryBudget(1, 100, 10_000);
  const s = new RetryState(new Set([503]), 2, 10, b);
  assert.not.ok(s.wants(500));
  assert.ok(s.wants(503));
  s.left = 0;
  assert.not.ok(s.wants(503), 'no attempts left');
  const t = new RetryState(new Set([503]), 3, 10, b);
  assert.is(REPLAY_LIMIT, 64 * 1024);
  const d = [0, 1, 2, 3].map((n) => t.delay(n));
  assert.ok(d[0] >= 5 && d[0] <= 10 && d[3] >= 40 && d[3] <= 80, String(d));
});

test.run();

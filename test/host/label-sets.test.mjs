// Metric label sets (host/metrics/label-sets.ts): bounded, forgotten when idle, and a cached scope
// used again counts where the exposition can see it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HttpMetrics } from '../../dist/host/metrics/http-metrics.js';
import { TcpMetrics } from '../../dist/host/metrics/tcp-metrics.js';
import { MAX_SCOPES } from '../../dist/host/metrics/label-sets.js';

const L = (n) => ({ direction: 'outbound', authority: `svc-${n}.default.svc.cluster.local:80` });

test('idle sets are forgotten; one in flight is not; a forgotten one used again comes back with its counts', () => {
  const m = new HttpMetrics();
  const a = m.scope(L(1));
  const b = m.scope(L(2));
  assert.is(m.scope(L(1)), a, 'one scope per label set');
  a.requests++; a.inFlight++; a.responded(200, -1, null, 3, 1000);
  b.requests++; b.inFlight++; // still in flight
  assert.is(m.evictIdle(1000 + 500, 1000), 0, 'not idle long enough');
  assert.is(m.evictIdle(1000 + 1001, 1000), 1, 'a is idle; b is in flight');
  assert.ok(a.evicted);
  assert.equal(m.all().map((s) => s.labels.authority), [L(2).authority]);
  // a call site that cached `a` uses it again: the same object rejoins, counts kept
  assert.is(m.revive(a), a);
  assert.not.ok(a.evicted);
  assert.is(m.all().length, 2);
  assert.is([...a.classes][0].count, 1);
});

test('a forgotten scope whose labels were taken meanwhile counts in the new one', () => {
  const m = new HttpMetrics();
  const old = m.scope(L(1));
  m.evictIdle(old.lastActive + 10, 1);
  const fresh = m.scope(L(1));
  assert.is.not(fresh, old);
  assert.is(m.revive(old), fresh);
  assert.is(old.replacedBy, fresh);
  assert.is(m.revive(old), fresh, 'and again, without a lookup');
  assert.is(m.all().length, 1);
});

test('bounded: past MAX_SCOPES label sets, one overflow set per family', () => {
  const m = new HttpMetrics();
  for (let i = 0; i < MAX_SCOPES; i++) m.scope(L(i));
  const o = m.scope(L('extra'));
  assert.equal(o.labels, { direction: 'outbound', authority: '', overflow: 'true' });
  assert.is(m.scope(L('extra-2')), o);
  assert.is(m.all().length, MAX_SCOPES + 1);
  const t = new TcpMetrics();
  for (let i = 0; i < MAX_SCOPES + 3; i++) t.scope({ direction: 'inbound', peer: 'src', client_id: `id-${i}` });
  assert.is(t.all().length, MAX_SCOPES + 1);
});

test.run();

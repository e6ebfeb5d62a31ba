// The balancer's cost per request: pick (P2C over peak-EWMA cost), the in-flight count, the
// response's round-trip observation and the outcome's record (failure accrual on), at 3, 100 and
// 1,000 endpoints — against the least-in-flight P2C it replaced, measured in the same run.
// One endpoint in ten is slow; with accrual on, one in fifty fails every request (its breaker opens,
// probes come due): the paths a real balancer takes, not only the happy one.
import { Balancer } from '../dist/host/outbound/balancer.js';

const POLICY = { maxFailures: 7, minPenaltyMs: 1000, maxPenaltyMs: 60_000, jitterRatio: 0.5, grpcFailures: new Set([14]) };
const N = Number(process.env.BENCH_BALANCER_REQUESTS ?? 2_000_000);

/** The previous balancer: power of two choices, fewer requests in flight wins. */
class LeastInFlight {
  constructor(n) { this.list = Array.from({ length: n }, () => ({ inFlight: 0 })); }
  pick() {
    const list = this.list, n = list.length;
    if (n === 1) return list[0];
    const i = (Math.random() * n) | 0;
    let j = (Math.random() * (n - 1)) | 0;
    if (j >= i) j++;
    return list[i].inFlight <= list[j].inFlight ? list[i] : list[j];
  }
}

// Both harnesses do the same bookkeeping around the balancer (a window of 16 requests in flight,
// a lookup of how each endpoint behaves): the difference is the balancer's own work.
function runOld(n) {
  const b = new LeastInFlight(n);
  const slow = new Set(b.list.filter((_, i) => i % 10 === 9));
  const window = [];
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < N; r++) {
    const e = b.pick();
    e.inFlight++;
    window.push(e);
    if (window.length > 16) {
      const d = window.shift();
      d.inFlight--;
      sink += slow.has(d) ? 50 : 1;
    }
  }
  if (sink < 0) console.log(sink);
  return Number(process.hrtime.bigint() - t0) / N;
}

function runNew(n, accrual) {
  const b = new Balancer();
  b.policy = accrual ? POLICY : null;
  b.update(Array.from({ length: n }, (_, i) => ({ host: '10.0.0.1', port: 1000 + i, meshed: true, h2c: false })), new Map());
  const slow = new Set(b.list.filter((_, i) => i % 10 === 9));
  const failing = new Set(accrual ? b.list.filter((_, i) => i % 50 === 7) : []);
  const window = [];
  let now = performance.now();
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < N; r++) {
    if ((r & 255) === 0) now = performance.now();
    const e = b.pick(now);
    if (e === null) continue;
    e.inFlight++;
    window.push(e);
    if (window.length > 16) {
      const d = window.shift();
      d.inFlight--;
      d.observe(slow.has(d) ? 50 : 1, now);
      b.record(d, failing.has(d), now);
    }
  }
  return Number(process.hrtime.bigint() - t0) / N;
}

export async function runBalancerBench() {
  console.log(`\n## Balancer cost per request (${(N / 1e6).toFixed(0)}M picks each; pick + in-flight + RTT observation + outcome)\n`);
  console.log('| endpoints | least in flight (before) ns | peak EWMA ns | peak EWMA + failure accrual ns | ratio (accrual / before) |');
  console.log('|---|---|---|---|---|');
  for (const n of [3, 100, 1000]) {
    runOld(n); runNew(n, false); runNew(n, true); // warm up
    const old = runOld(n), ewma = runNew(n, false), acc = runNew(n, true);
    console.log(`| ${n} | ${old.toFixed(1)} | ${ewma.toFixed(1)} | ${acc.toFixed(1)} | ${(acc / old).toFixed(2)}× |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runBalancerBench();

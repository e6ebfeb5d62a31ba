// `npm run bench`: every benchmark, as tables of figures and ratios against peers run in the same go.
//   BENCH_ONLY=core|routes|balancer|e2e|mtls|metrics|policy|control|library   one part;  BENCH_DURATION, BENCH_REPS, BENCH_PATH for the end-to-end part
import { runCoreBench } from './core.mjs';
import { runE2eBench } from './e2e.mjs';
import { runRoutesBench } from './routes.mjs';
import { runMtlsBench } from './mtls.mjs';
import { runMetricsBench } from './metrics.mjs';
import { runPolicyBench } from './policy.mjs';
import { runControlBench } from './control.mjs';
import { runBalancerBench } from './balancer.mjs';
import { runLibraryBench } from './library.mjs';

console.log(`skiff bench — node ${process.version}, ${new Date().toISOString()}`);
const only = process.env.BENCH_ONLY;
if (!only || only === 'core') await runCoreBench();
if (!only || only === 'routes') await runRoutesBench();
if (!only || only === 'balancer') await runBalancerBench();
if (!only || only === 'e2e') await runE2eBench();
if (!only || only === 'mtls') await runMtlsBench();
if (!only || only === 'metrics') await runMetricsBench();
if (!only || only === 'policy') await runPolicyBench();
if (!only || only === 'control') await runControlBench();
if (!only || only === 'library') await runLibraryBench();

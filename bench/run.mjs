// `npm run bench`: every benchmark, as tables of figures and ratios against peers run in the same go.
import { runCoreBench } from './core.mjs';

console.log(`skiff bench — node ${process.version}, ${new Date().toISOString()}`);
await runCoreBench();

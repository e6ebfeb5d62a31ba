// `npm test`: runs every *.test.mjs under test/ with uvu, then exits with uvu's verdict. A test
// that fails before closing its servers or sockets must not keep the run alive, so once uvu has
// printed its summary the process ends (children it started are ended by the tests themselves).
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';

const ctx = await parse('test', /\.test\.mjs$/, { cwd: process.cwd() });
await run(ctx.suites, {});
const code = process.exitCode ?? 0;
setTimeout(() => process.exit(code), 200).unref();

// The public .d.ts in a consumer project: test/types/consumer.ts imports 'skiff' and 'skiff/fastify'
// as a user would (package exports, strict TypeScript, library types checked too); its uses must
// compile and each misuse marked @ts-expect-error must be rejected (else tsc reports the directive).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/run.mjs';

test('the public types compile in a strict consumer project and reject misuse', async () => {
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  const project = fileURLToPath(new URL('../types/tsconfig.json', import.meta.url));
  const r = await run(process.execPath, [tsc, '-p', project], { timeout: 120_000 });
  assert.is(r.code, 0, `${r.stdout}${r.stderr}`);
});

test.run();

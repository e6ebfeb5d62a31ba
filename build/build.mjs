// Builds the two halves of Skiff: assembly/ → dist/core.wasm (AssemblyScript) and host/ → dist/host (tsc),
// then bundles the `skiff` command (esbuild): dist/skiff.js plus chunks beside it for the parts loaded
// only when used (identity, TLS, the control plane, the demo). A sidecar process loads a few modules
// instead of forty, which keeps about 3 MB of the ESM loader's per-module state out of every pod's
// resident memory, and never loads TLS or X.509 code it does not use. The library
// (`import … from 'skiff'`) stays the dist/host module tree.
//   node build/build.mjs            both
//   node build/build.mjs wasm|host  one of them
//   --if-stale                      only what is older than its sources (npm test / npm start use this)
//   --debug                         also the debug wasm (names, .wat) for poking at the core
import { readdirSync, statSync, existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const ifStale = args.includes('--if-stale');
const debug = args.includes('--debug');
const only = args.find((a) => !a.startsWith('--'));

function newestMtime(dir, ext) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (p.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);
const stale = (srcDir, ext, out, extra = []) =>
  !ifStale || mtime(out) < Math.max(newestMtime(join(root, srcDir), ext), ...extra.map((f) => mtime(join(root, f))));

function run(cmd, argv) {
  const r = spawnSync(process.execPath, [cmd, ...argv], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const require = createRequire(import.meta.url);
if (!only || only === 'wasm') {
  if (stale('assembly', '.ts', join(root, 'dist/core.wasm'), ['asconfig.json'])) {
    const asc = join(dirname(require.resolve('assemblyscript/package.json')), 'bin/asc.js');
    run(asc, ['--config', 'asconfig.json', '--target', 'release']);
    if (debug) run(asc, ['--config', 'asconfig.json', '--target', 'debug']);
    console.log('built dist/core.wasm');
  }
}
if (!only || only === 'host') {
  if (stale('host', '.ts', join(root, 'dist/host/index.js'), ['tsconfig.json'])) {
    const tsc = require.resolve('typescript/bin/tsc');
    run(tsc, ['-p', 'tsconfig.json']);
    console.log('built dist/host');
  }
  if (!ifStale || mtime(join(root, 'dist/skiff.js')) < mtime(join(root, 'dist/host/index.js'))) {
    const { buildSync } = require('esbuild');
    // chunk names carry content hashes: drop the previous build's
    for (const f of readdirSync(join(root, 'dist'))) if (/^skiff.*\.js$/.test(f)) rmSync(join(root, 'dist', f));
    buildSync({
      entryPoints: { skiff: join(root, 'dist/host/cli.js') },
      outdir: join(root, 'dist'),
      // lazily imported parts (identity, TLS, the demo) become chunks loaded when used: a plain
      // sidecar never loads node:tls, node:https or the X.509 code
      splitting: true,
      chunkNames: 'skiff-[name]-[hash]', // beside skiff.js: dist-files.ts resolves from their URL
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external', // yaml, pkijs, prom-client are required lazily, from node_modules
      define: { SKIFF_BUNDLE: 'true' },
      logLevel: 'warning',
    });
    console.log('built dist/skiff.js');
  }
}

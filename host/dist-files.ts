// Files that ship beside the compiled code: dist/core.wasm and the package's package.json. Resolved
// from this module's own URL, which is dist/host/dist-files.js in the module tree (the library) and
// dist/skiff.js in the single-file bundle the `skiff` command runs (build/build.mjs defines the flag).
declare const SKIFF_BUNDLE: boolean | undefined;

const dist = typeof SKIFF_BUNDLE === 'undefined' ? new URL('../', import.meta.url) : new URL('./', import.meta.url);

/** `name` in dist/ (e.g. core.wasm). */
export function distFile(name: string): URL {
  return new URL(name, dist);
}

/** `name` at the package root (e.g. package.json). */
export function packageFile(name: string): URL {
  return new URL(`../${name}`, dist);
}

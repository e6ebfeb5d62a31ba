// The sidecar process's memory footprint. V8 doubles the young generation (up to 2 × 16 MiB on a
// 64-bit host) whenever many objects survive scavenges, which a proxy under load always triggers:
// its in-flight requests are young objects that live for a round trip. For a sidecar in front of every
// pod a small, flat footprint is worth more than the few scavenges a bigger nursery saves, so the
// `skiff proxy` process (never the library: an embedding gateway keeps its own GC settings) holds the
// young generation at its starting size. Explicit V8 flags from the user win — and bin/skiff gives
// one: --max-semi-space-size=4, because a young generation held at V8's 1 MiB start promotes
// in-flight requests once the old generation is larger (a config of a few hundred objects), which
// cost 1.6× the CPU per request in the policy bench. This hold is for `node dist/skiff.js` run bare.
import { setFlagsFromString } from 'node:v8';

const USER_SET = /--(max|min)-semi-space-size|--semi-space-growth-factor/;

export function holdYoungGeneration(): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  if (USER_SET.test(given)) return;
  // Read by V8 each time it considers growing new space, so it applies after start-up.
  setFlagsFromString('--semi-space-growth-factor=1');
}

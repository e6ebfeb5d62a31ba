#!/usr/bin/env node
// The `skiff` command. Flags are parsed with node:util parseArgs: it is part of Node (no
// dependency to keep up), strict about unknown flags, and enough for subcommand + flags.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const usage = `skiff ${pkg.version} — a service-mesh sidecar proxy with a WebAssembly HTTP/2 core

usage: skiff <command> [flags]

commands:
  demo      serve HTTP/2 from the wasm core on --listen (default 127.0.0.1:4140) and check it
            with the core's own client; stays up for curl/nghttp until Ctrl-C (--once: exit)
  version   print the version

The sidecar itself (skiff proxy), config checking and identity arrive with the issues that
build them; see README.md.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        options: { listen: { type: 'string', default: process.env.SKIFF_LISTEN ?? '127.0.0.1:4140' }, once: { type: 'boolean', default: false } },
        strict: true,
      });
      const { runDemo } = await import('./cli/demo.js');
      return runDemo(values.listen!, values.once!);
    }
    case 'version':
    case '--version':
      console.log(pkg.version);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(usage);
      return 0;
    default:
      console.error(`skiff: unknown command '${command}'\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => { if (code !== 0 || process.exitCode === undefined) process.exitCode = code; },
  (err: Error) => {
    console.error(`skiff: ${err.message}`);
    process.exitCode = 1;
  },
);

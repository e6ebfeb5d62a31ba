#!/usr/bin/env node
// The `skiff` command. Flags are parsed with node:util parseArgs: it is part of Node (no
// dependency to keep up), strict about unknown flags, and enough for subcommand + flags.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const usage = `skiff ${pkg.version} — a service-mesh sidecar proxy with a WebAssembly HTTP/2 core

usage: skiff <command> [flags]

commands:
  proxy     run a sidecar: --inbound HOST:PORT (0.0.0.0:4143), --app HOST:PORT (127.0.0.1:8080),
            --admin HOST:PORT (127.0.0.1:4191); each flag also as SKIFF_<FLAG>
  demo      serve HTTP/2 from the wasm core on --listen (default 127.0.0.1:4140) and check it
            with the core's own client; stays up for curl/nghttp until Ctrl-C (--once: exit)
  version   print the version

Outbound routing, config checking and identity arrive with the issues that build them; see README.md.`;

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
    case 'proxy': {
      const env = (k: string, d: string): string => process.env[`SKIFF_${k}`] ?? d;
      const { values } = parseArgs({
        args: rest,
        options: {
          inbound: { type: 'string', default: env('INBOUND', '0.0.0.0:4143') },
          app: { type: 'string', default: env('APP', '127.0.0.1:8080') },
          admin: { type: 'string', default: env('ADMIN', '127.0.0.1:4191') },
        },
        strict: true,
      });
      const { startProxy } = await import('./proxy.js');
      const proxy = await startProxy({ ...values, log: (l) => console.log(`skiff: ${l}`) });
      console.log('skiff: identity: none (plaintext; no identity flags given)');
      await new Promise<void>((resolve) => {
        const stop = (): void => { console.log('skiff: draining'); void proxy.close().then(resolve); };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      return 0;
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

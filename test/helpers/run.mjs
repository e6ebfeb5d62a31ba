// Runs a peer program (curl, nghttp, h2load…) with a time limit; resolves with its output.
import { execFile } from 'node:child_process';

export function run(cmd, args, { timeout = 60_000, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout, maxBuffer: 64 << 20, encoding: 'buffer' }, (err, stdout, stderr) => {
      if (err && err.killed) return reject(new Error(`${cmd} timed out after ${timeout} ms`));
      resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr: stderr.toString() });
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

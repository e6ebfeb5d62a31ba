// What the end-to-end benches share: a meshed backend Service as config YAML, the CPU time and
// peak memory of a process read from /proc, the median of repeated runs, pinned processes and h2load runs.
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';

/** Service "backend" with one meshed endpoint at 127.0.0.1:port (and the identity it must prove). */
export function backendYaml(port, identity) {
  return `apiVersion: v1
kind: Service
metadata: { name: backend, namespace: default }
spec:
  ports: [{ name: http, port: 80 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: backend-1
  namespace: default
  labels: { kubernetes.io/service-name: backend }
  annotations: { skiff.io/meshed: "true"${identity ? `, skiff.io/identity: "${identity}"` : ''} }
addressType: IPv4
ports: [{ name: http, port: ${port} }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]
`;
}

/** User + system CPU ticks (1/100 s) of a process. */
export function ticks(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch { return 0; }
}

/** Peak resident memory (VmHWM) of a process, in MiB. */
export function peakRss(pid) {
  try { return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024; } catch { return NaN; }
}

/** The median of repeated measurements (the upper middle one for an even count). */
export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

/** Starts `cmd` pinned to `cpu` (taskset), detached so its whole group can be ended, and records it in `procs`. */
export function startPinned(procs, cpu, cmd, args) {
  const p = spawn('taskset', ['-c', String(cpu), cmd, ...args], { stdio: 'ignore', detached: true });
  procs.push(p);
  return p;
}

/** Runs h2load pinned to CPU 0 for `duration` s after a warm-up second, asynchronously; resolves with its output. */
export function h2loadRun(duration, args) {
  return new Promise((resolve, reject) => {
    const h = spawn('taskset', ['-c', '0', 'h2load', '-D', String(duration), '--warm-up-time=1', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    h.stdout.on('data', (c) => { s += c; });
    const timer = setTimeout(() => h.kill('SIGKILL'), (duration + 30) * 1000);
    h.once('exit', () => { clearTimeout(timer); resolve(s); });
    h.once('error', reject);
  });
}

// What the end-to-end benches share: a meshed backend Service as config YAML, the CPU time and
// peak memory of a process read from /proc, and the median of repeated runs.
import { readFileSync } from 'node:fs';

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

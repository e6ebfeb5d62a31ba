// A small mesh in one process for end-to-end tests: apps, each behind an inbound sidecar, and a
// client-side sidecar whose outbound routes by Kubernetes names from a config directory.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { startProxy, loadDirectory } from '../../dist/host/index.js';

export function serviceYaml(name, port, { namespace = 'default', appProtocol } = {}) {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  ports:
    - name: http
      port: ${port}
      targetPort: 8080${appProtocol ? `\n      appProtocol: ${appProtocol}` : ''}
`;
}

export function sliceYaml(service, endpoints, { namespace = 'default', meshed = true, name = `${service}-1` } = {}) {
  const ports = [...new Set(endpoints.map((e) => e.port))];
  if (ports.length !== 1) throw new Error('one port per slice');
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}
  namespace: ${namespace}
  labels:
    kubernetes.io/service-name: ${service}
  annotations:
    skiff.io/meshed: "${meshed}"
addressType: IPv4
ports:
  - name: http
    port: ${ports[0]}
endpoints:
${endpoints.map((e) => `  - addresses: ["${e.host ?? '127.0.0.1'}"]\n    conditions:\n      ready: ${e.ready ?? true}`).join('\n')}
`;
}

export class ConfigDir {
  constructor() { this.dir = mkdtempSync(join(tmpdir(), 'skiff-config-')); }
  write(file, text) { writeFileSync(join(this.dir, file), text); }
  remove() { rmSync(this.dir, { recursive: true, force: true }); }
}

/** loadDirectory over a temporary directory holding `files` ({ name: text }). */
export function loadFiles(files) {
  const c = new ConfigDir();
  for (const [f, t] of Object.entries(files)) c.write(f, t);
  try { return loadDirectory(c.dir); } finally { c.remove(); }
}

/** An inbound sidecar for an app at appPort. */
export function sidecarFor(appPort, extra = {}) {
  return startProxy({ inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: null, app: `127.0.0.1:${appPort}`, shutdownGraceMs: 2000, ...extra });
}

/** Polls until fn() is truthy (bounded: ~5 s). */
export async function eventually(fn, ms = 5000) {
  for (let t = 0; t < ms; t += 25) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  return fn();
}

/** One HTTP/1.1 GET through a proxy's listener on its own connection (connection counts stay exact); resolves with the status. */
export function statusOf(port, host, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

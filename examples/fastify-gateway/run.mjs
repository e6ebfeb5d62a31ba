// A Fastify API gateway calling the mesh in-process (no sidecar beside it), routing by the mesh's
// own HTTPRoute: /api/books goes to the books Service, and requests with x-version: 2 to books-v2.
//   client ──HTTP──▶ gateway (Fastify + skiffMesh) ──mesh──▶ books | books-v2 (node:http, meshed)
// --once: two requests, print, exit. Otherwise the gateway stays up on 127.0.0.1:8080 (PORT).
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { skiffMesh } from 'skiff/fastify';
import { meshServer } from 'skiff';

const dir = mkdtempSync(join(tmpdir(), 'skiff-gateway-'));
const configDir = join(dir, 'mesh');
mkdirSync(configDir);
const say = (s) => process.stdout.write(`${s}\n`);

// two backends, each a node:http service meshed in-process
const backend = (version) => meshServer(http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ version, path: req.url }));
}), { inbound: '127.0.0.1:0', config: configDir, workload: `default/books-${version}` });
const v1 = await backend('v1');
const v2 = await backend('v2');

const service = (name, port) => `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec:
  ports: [{ name: http, port: 80 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-1, namespace: default, labels: { kubernetes.io/service-name: ${name} }, annotations: { skiff.io/meshed: "true" } }
addressType: IPv4
ports: [{ name: http, port: ${port} }]
endpoints: [{ addresses: ["127.0.0.1"] }]
`;
writeFileSync(join(configDir, 'mesh.yaml'), service('books', v1.inbound.port) + service('books-v2', v2.inbound.port) + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: books, namespace: default }
spec:
  parentRefs: [{ group: "", kind: Service, name: books, port: 80 }]
  rules:
    - matches: [{ headers: [{ name: x-version, value: "2" }] }]
      backendRefs: [{ name: books-v2, port: 80 }]
    - backendRefs: [{ name: books, port: 80 }]
`);

// the gateway: Fastify, with the mesh as a plugin
const app = Fastify();
await app.register(skiffMesh, { config: configDir, workload: 'default/gateway' });
app.get('/api/books', async (req) => {
  const res = await fetch('http://books.default/books', { dispatcher: app.mesh, headers: { 'x-version': req.headers['x-version'] ?? '1' } });
  return { via: 'mesh', upstream: await res.json() };
});

const stop = async () => {
  await app.close();
  await v1.close();
  await v2.close();
  rmSync(dir, { recursive: true, force: true });
};
if (process.argv.includes('--once')) {
  say(`GET /api/books → ${(await app.inject('/api/books')).body}`);
  say(`GET /api/books (x-version: 2) → ${(await app.inject({ url: '/api/books', headers: { 'x-version': '2' } })).body}`);
  await stop();
} else {
  const port = Number(process.env.PORT ?? 8080);
  await app.listen({ host: '127.0.0.1', port });
  say(`gateway on http://127.0.0.1:${port}/api/books (try -H 'x-version: 2'); Ctrl-C to stop`);
  process.once('SIGINT', () => void stop());
}

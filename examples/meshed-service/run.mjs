// A plain node:http service meshed without a sidecar, and a caller using the mesh in-process.
//   caller (MeshClient, identity default/reports) ──mTLS──▶ books (meshServer: policy, identity)
// The identity service that `skiff control` runs is started here too, on a throwaway trust anchor,
// so the example needs nothing beside it. --once: one request, print, exit. Otherwise stays up
// (books on the mesh at the printed address) until Ctrl-C.
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshClient, meshServer } from 'skiff';
// the demo's own control plane parts (in a cluster: skiff identity init, skiff control)
import { initTrust } from '../../dist/host/identity/trust.js';
import { issueToken } from '../../dist/host/identity/token.js';
import { createIdentityService } from '../../dist/host/control/identity-service.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-example-'));
const say = (s) => process.stdout.write(`${s}\n`);

// 1. the mesh's trust anchor and identity service (in a cluster: skiff control)
await initTrust(join(dir, 'identity'));
const control = await createIdentityService({ identityDir: join(dir, 'identity') });
await new Promise((r) => control.listen(0, '127.0.0.1', r));
const identityFor = (sa) => {
  const tokenFile = join(dir, `${sa}.token`);
  writeFileSync(tokenFile, issueToken(readFileSync(join(dir, 'identity', 'tokens.key'), 'utf8'), { namespace: 'default', name: sa }));
  return { addr: `127.0.0.1:${control.address().port}`, tokenFile, trustAnchorsFile: join(dir, 'identity', 'trust-anchors.pem') };
};

// 2. the service: plain node:http, meshed in-process (mTLS, inbound policy, the caller's identity)
const books = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ books: ['Dune', 'Hyperion'], caller: req.headers['skiff-client-id'] }));
});
const configDir = join(dir, 'mesh');
const meshed = await meshServer(books, { inbound: '127.0.0.1:0', workload: 'default/books', identity: identityFor('books') });

// 3. the mesh's configuration: the Service and where its (meshed) endpoint is
const { mkdirSync } = await import('node:fs');
mkdirSync(configDir);
writeFileSync(join(configDir, 'books.yaml'), `apiVersion: v1
kind: Service
metadata: { name: books, namespace: default }
spec:
  ports: [{ name: http, port: 80 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: books-1
  namespace: default
  labels: { kubernetes.io/service-name: books }
  annotations: { skiff.io/meshed: "true", skiff.io/identity: "spiffe://cluster.local/ns/default/sa/books" }
addressType: IPv4
ports: [{ name: http, port: ${meshed.inbound.port} }]
endpoints: [{ addresses: ["127.0.0.1"] }]
`);

// 4. a caller in this process: the mesh as an undici Dispatcher
const mesh = await MeshClient.create({ config: configDir, workload: 'default/reports', identity: identityFor('reports') });
const res = await fetch('http://books.default/', { dispatcher: mesh });
say(`GET http://books.default/ through the mesh → ${res.status} ${JSON.stringify(await res.json())}`);

const stop = async () => {
  await mesh.close();
  await meshed.close();
  control.close();
  control.closeAllConnections();
  rmSync(dir, { recursive: true, force: true });
};
if (process.argv.includes('--once')) await stop();
else {
  say(`books is on the mesh at 127.0.0.1:${meshed.inbound.port} (mTLS only); Ctrl-C to stop`);
  process.once('SIGINT', () => void stop());
}

// The policy tools as an operator runs them: `skiff check` lists every Server with what applies to
// it and every policy problem (exit 1); `skiff authz` prints a workload's effective table; `skiff
// authz replay` judges an access log by a proposed policy before it is enforced.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigDir } from '../helpers/mesh.mjs';
import { run } from '../helpers/run.mjs';

const cli = fileURLToPath(new URL('../../dist/skiff.js', import.meta.url));

const POD = `apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web}}
spec:
  serviceAccountName: web
  containers: [{name: app, image: app, ports: [{name: http, containerPort: 8080}], readinessProbe: {httpGet: {path: /ready, port: http}}}]
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: web-http, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  port: http
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: frontend, namespace: default}
spec:
  identities: ["frontend.default.serviceaccount.identity.linkerd.cluster.local"]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: frontend-only, namespace: default}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: web-http}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: frontend}]
`;

test('skiff check: each Server with its policies; problems (a policy that grants nothing, a missing target) exit 1', async () => {
  const c = new ConfigDir();
  try {
    c.write('a.yaml', POD);
    const ok = await run(process.execPath, [cli, 'check', c.dir]);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout.toString(), /policy: Server default\/web-http \(port http, proxyProtocol unknown\): AuthorizationPolicy frontend-only: mesh identity frontend\.default\.serviceaccount\.identity\.linkerd\.cluster\.local \(MeshTLSAuthentication frontend\); anyone else: deny/);
    c.write('b.yaml', `apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: broken, namespace: default}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: nowhere}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: NetworkAuthentication, name: missing}]
`);
    const bad = await run(process.execPath, [cli, 'check', c.dir]);
    assert.is(bad.code, 1);
    assert.match(bad.stderr, /b\.yaml:1: AuthorizationPolicy default\/broken: targetRef Server nowhere does not exist/);
    assert.match(bad.stderr, /AuthorizationPolicy default\/broken grants nothing: requiredAuthenticationRefs names NetworkAuthentication default\/missing, which does not exist/);
    assert.match(bad.stderr, /: 2 problems/);
  } finally { c.remove(); }
});

test('skiff authz: the effective table of a workload\'s ports', async () => {
  const c = new ConfigDir();
  try {
    c.write('a.yaml', POD);
    const r = await run(process.execPath, [cli, 'authz', c.dir, '--workload', 'default/web-1']);
    assert.is(r.code, 0, r.stderr);
    const out = r.stdout.toString().split('\n');
    assert.match(out[0], /^PORT\s+SERVER\s+PROTOCOL\s+AUTHORIZATION\s+ADMITS$/);
    assert.match(out[1], /^8080\s+Server web-http\s+unknown\s+AuthorizationPolicy frontend-only\s+mesh identity frontend\./);
    assert.match(out[2], /^8080\s+Server web-http\s+unknown\s+default probe\s+every client, for GET \/ready$/);
    assert.match(out[3], /^8080\s+Server web-http\s+unknown\s+default deny\s+nobody else \(denied\)$/);
    const other = await run(process.execPath, [cli, 'authz', c.dir, '--workload', 'default/api', '--port', '9000', '--default-inbound-policy', 'cluster-authenticated']);
    assert.match(other.stdout.toString(), /9000\s+default cluster-authenticated\s+unknown\s+default cluster-authenticated\s+any mesh identity from the cluster networks/);
    assert.match(other.stderr, /no Pod default\/api/);
  } finally { c.remove(); }
});

test('skiff authz replay: recorded traffic judged by a proposed policy, denials by client and request', async () => {
  const c = new ConfigDir();
  try {
    c.write('a.yaml', POD);
    const log = join(c.dir, '..', `access-${process.pid}.log`);
    const line = (o) => JSON.stringify({ type: 'access', direction: 'inbound', status: 200, ...o });
    writeFileSync(log, [
      line({ method: 'GET', path: '/books', client_id: 'spiffe://cluster.local/ns/default/sa/frontend', client_addr: '10.0.0.7' }),
      line({ method: 'GET', path: '/books?x=1', client_id: 'spiffe://cluster.local/ns/default/sa/batch', client_addr: '10.0.0.8' }),
      line({ method: 'GET', path: '/books', client_id: 'spiffe://cluster.local/ns/default/sa/batch', client_addr: '10.0.0.8' }),
      line({ method: 'POST', path: '/orders', client_addr: '10.0.0.9' }),
      line({ method: 'GET', path: '/ready', client_addr: '10.0.0.1' }),
      JSON.stringify({ type: 'access', direction: 'outbound', method: 'GET', path: '/elsewhere' }),
      'not json',
    ].join('\n'));
    const r = await run(process.execPath, [cli, 'authz', 'replay', c.dir, '--workload', 'default/web-1', '--access-log', log]);
    assert.is(r.code, 0, r.stderr);
    const out = r.stdout.toString();
    assert.match(out, /8080\s+spiffe:\/\/cluster\.local\/ns\/default\/sa\/batch\s+GET \/books\s+2/);
    assert.match(out, /8080\s+unauthenticated 10\.0\.0\.9\s+POST \/orders\s+1/);
    assert.not.match(out, /frontend|\/ready/);
    assert.match(out, /3 of 5 recorded inbound requests would be denied; 1 lines were not JSON and were skipped/);
    rmSync(log, { force: true });
  } finally { c.remove(); }
});

test('the README\'s worked example: valid, and skiff authz prints what the README shows', async () => {
  const readme = (await import('node:fs')).readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const example = /A worked example[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)[1];
  const shown = /\$ skiff authz \.\/mesh --workload shop\/books-7d9f\n([\s\S]*?)\n\$ /.exec(readme)[1];
  const c = new ConfigDir();
  try {
    c.write('mesh.yaml', example);
    const check = await run(process.execPath, [cli, 'check', c.dir]);
    assert.is(check.code, 0, check.stderr);
    const r = await run(process.execPath, [cli, 'authz', c.dir, '--workload', 'shop/books-7d9f']);
    assert.is(r.stdout.toString().trimEnd(), shown.trimEnd());
  } finally { c.remove(); }
});

test.run();

// Kubernetes YAML from a directory: real kinds and apiVersions, multi-document files, List, and
// errors that name file, line, object and field. `skiff check` as a user runs it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { Resolver, endpointsOf } from '../../dist/host/outbound/discovery.js';
import { ConfigDir, loadFiles, serviceYaml, sliceYaml } from '../helpers/mesh.mjs';
import { run } from '../helpers/run.mjs';

const cli = fileURLToPath(new URL('../../dist/skiff.js', import.meta.url));

const load = loadFiles;

test('a Service and its EndpointSlices resolve to ready endpoints only', () => {
  const r = load({
    'a.yaml': serviceYaml('web', 80) + '---\n' + sliceYaml('web', [{ port: 9001 }, { port: 9001, host: '127.0.0.2', ready: false }]),
  });
  assert.equal(r.errors.map(String), []);
  const resolver = new Resolver('default', 'cluster.local');
  for (const name of ['web', 'web.default', 'web.default.svc', 'web.default.svc.cluster.local', 'WEB.default.svc.cluster.local.', 'web:80', 'web.default.svc.cluster.local:80']) {
    const d = resolver.resolve(r.snapshot, name);
    assert.type(d, 'object', `${name}: ${d}`);
    assert.equal(endpointsOf(r.snapshot, d).map((e) => `${e.host}:${e.port}`), ['127.0.0.1:9001'], name);
  }
  assert.match(resolver.resolve(r.snapshot, 'web.other'), /no Service other\/web/);
  assert.match(resolver.resolve(r.snapshot, 'web.default.svc.example.org'), /not a service name/);
  assert.match(resolver.resolve(r.snapshot, 'web:81'), /no TCP port 81/);
});

test('terminating endpoints take no new requests; FQDN slices are skipped', () => {
  const slice = sliceYaml('web', [{ port: 9001 }]).replace('ready: true', 'ready: true\n      terminating: true');
  const r = load({ 'a.yaml': serviceYaml('web', 80) + '---\n' + slice });
  const d = new Resolver('default', 'cluster.local').resolve(r.snapshot, 'web');
  assert.equal(endpointsOf(r.snapshot, d), []);
});

test('kind: List and JSON files are read; unknown kinds are ignored with a warning', () => {
  const list = { apiVersion: 'v1', kind: 'List', items: [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'shop' }, spec: { ports: [{ port: 8080 }] } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api' } },
  ] };
  const r = load({ 'list.json': JSON.stringify(list), 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n' });
  assert.equal(r.errors, []);
  assert.is(r.snapshot.objectCount, 1);
  assert.ok(r.snapshot.service('shop', 'api'));
  assert.is(r.warnings.length, 2);
  assert.match(r.warnings.join('\n'), /ignoring apps\/v1 Deployment default\/api/);
});

test('errors name the file, the line, the object and the field', () => {
  const r = load({
    'bad.yaml': '# first doc is fine\n' + serviceYaml('ok', 80) + '---\n' +
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: Bad_Name\n  namespace: shop\nspec:\n  ports:\n    - port: 99999\n      protocol: HTTP\n    - port: 80\n',
  });
  assert.ok(!r.snapshot, 'rejected whole');
  const msgs = r.errors.map(String);
  assert.ok(msgs.every((m) => /bad\.yaml:13: Service shop\/Bad_Name: /.test(m)), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.endsWith("metadata.name: 'Bad_Name' is not a valid DNS name")));
  assert.ok(msgs.some((m) => m.endsWith('spec.ports[0].port: must be a port number 1-65535, got 99999')));
  assert.ok(msgs.some((m) => m.endsWith('spec.ports[0].protocol: must be TCP, UDP or SCTP, got "HTTP"')));
  assert.ok(msgs.some((m) => m.endsWith('spec.ports[0].name: is required')));
});

test('EndpointSlice errors: missing service-name label, bad address, bad condition', () => {
  const r = load({ 's.yaml': `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-x
addressType: IPv4
endpoints:
  - addresses: ["not-an-ip"]
    conditions:
      ready: "yes"
ports:
  - port: 0
` });
  const msgs = r.errors.map(String).join('\n');
  assert.match(msgs, /EndpointSlice default\/web-x: metadata.labels.kubernetes.io\/service-name: is required/);
  assert.match(msgs, /endpoints\[0\].addresses\[0\]: 'not-an-ip' is not an IPv4 address/);
  assert.match(msgs, /endpoints\[0\].conditions.ready: must be true or false/);
  assert.match(msgs, /ports\[0\].port: must be a port number/);
});

test('skiff.io/opaque-ports must be a list of ports or ranges', () => {
  const svc = (v) => serviceYaml('db', 3306).replace('metadata:\n  name: db', `metadata:\n  name: db\n  annotations:\n    skiff.io/opaque-ports: "${v}"`);
  assert.equal(load({ 'a.yaml': svc('3306, 4000-4010') }).errors, []);
  const bad = load({ 'a.yaml': svc('mysql') }).errors.map(String).join('\n');
  assert.match(bad, /Service default\/db: metadata.annotations.skiff.io\/opaque-ports: 'mysql' is not a list of ports/);
});

test('YAML syntax errors and duplicates are reported with their file', () => {
  const r = load({ 'syntax.yaml': 'apiVersion: v1\nkind: Service\n  bad: indent: here\n', 'a.yaml': serviceYaml('web', 80), 'b.yaml': serviceYaml('web', 81) });
  const msgs = r.errors.map(String).join('\n');
  assert.match(msgs, /syntax\.yaml:\d+: YAML: /);
  assert.match(msgs, /b\.yaml: Service default\/web: metadata.name: is also defined in .*a\.yaml/);
});

test('skiff check: valid directory exits 0; invalid prints every error and exits 1', async () => {
  const good = new ConfigDir();
  good.write('web.yaml', serviceYaml('web', 80));
  const ok = await run(process.execPath, [cli, 'check', good.dir]);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout.toString(), /1 objects, valid/);
  good.write('bad.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: "eighty"\n');
  const bad = await run(process.execPath, [cli, 'check', good.dir]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /bad\.yaml:1: Service default\/x: spec.ports\[0\].port: must be a port number 1-65535, got "eighty"/);
  good.remove();
});

test('skiff proxy refuses to start on an invalid config, naming the problem', async () => {
  const c = new ConfigDir();
  c.write('bad.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec: {}\n');
  c.write('worse.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: y\nspec:\n  ports: [{port: -1}]\n');
  const r = await run(process.execPath, [cli, 'proxy', '--config', c.dir, '--inbound', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /invalid configuration/);
  assert.match(r.stderr, /worse\.yaml:1: Service default\/y: spec.ports\[0\].port: must be a port number/);
  c.remove();
});

test.run();

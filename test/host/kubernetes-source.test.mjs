// The control plane reading a cluster: @kubernetes/client-node informers against a
// protocol-faithful API server (list with resourceVersion, watch events, bookmarks, 410 Gone, the
// API going away and coming back) build the same snapshot the directory source builds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesSource } from '../../dist/host/control/kubernetes-source.js';
import { FakeApiServer } from '../helpers/fake-apiserver.mjs';
import { eventually } from '../helpers/mesh.mjs';

const service = (name, port = 80) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ name: 'http', port }] } });
const slice = (svc, port) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { name: `${svc}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': svc }, annotations: { 'skiff.io/meshed': 'true' } },
  addressType: 'IPv4', ports: [{ name: 'http', port }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
});

function kubeConfig(port) {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'test', token: 'test-token' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return kc;
}

test('list, then watch: creations, changes and deletions reach the snapshot; 410 Gone relists; the API away keeps the last snapshot', async () => {
  const api = new FakeApiServer();
  api.apply(service('web'));
  api.apply(slice('web', 4143));
  const port = await api.listen();
  const snapshots = [];
  const errors = [];
  const source = new KubernetesSource({ kubeConfig: kubeConfig(port), onUpdate: (view) => snapshots.push(view.fullSnapshot()), onError: (k, e) => errors.push(`${k}: ${e?.message ?? e}`), retryMs: 100 });
  try {
    await source.start();
    const first = snapshots.at(-1);
    assert.ok(first.service('default', 'web'), 'the listed Service');
    assert.is(first.slicesOf('default', 'web')[0].endpoints.length, 1);
    // a watch event: a new Service
    api.apply(service('api', 8080));
    assert.ok(await eventually(() => snapshots.at(-1).service('default', 'api')), 'a created Service arrives by watch');
    // a change
    const moved = slice('web', 4143);
    moved.endpoints.push({ addresses: ['127.0.0.2'], conditions: { ready: true } });
    api.apply(moved);
    assert.ok(await eventually(() => snapshots.at(-1).slicesOf('default', 'web')[0]?.endpoints.length === 2), 'a modified slice arrives');
    // a deletion
    api.delete('Service', 'default', 'api');
    assert.ok(await eventually(() => !snapshots.at(-1).service('default', 'api')), 'a deleted Service leaves');
    // bookmarks are taken in stride
    api.bookmark();
    // history compacted: watches end with 410 Gone; the informers relist and go on
    api.compact();
    api.apply(service('late'));
    assert.ok(await eventually(() => snapshots.at(-1).service('default', 'late'), 8000), 'after 410 Gone a relist brings what changed');
    const lists = api.requests.filter((r) => r.startsWith('GET /api/v1/services') && !r.includes('watch')).length;
    assert.ok(lists >= 2, `relisted (${lists} lists)`);
    // an invalid object is refused alone, with its field named
    const broken = service('broken');
    broken.spec.ports = [{ name: 'http', port: 0 }];
    const invalid = [];
    source.options.onInvalid = (e) => invalid.push(...e.map(String));
    api.apply(broken);
    assert.ok(await eventually(() => invalid.some((e) => /Service default\/broken: spec\.ports\[0\]\.port: must be a port number/.test(e))), invalid.join('\n'));
    assert.ok(snapshots.at(-1).service('default', 'web'), 'the rest still applies');
  } finally {
    await source.close();
    await api.close();
  }
});

test('the API going away keeps the last snapshot serving; when it is back, the informers list again and go on', async () => {
  let api = new FakeApiServer();
  api.apply(service('web'));
  const port = await api.listen();
  const snapshots = [];
  const errors = [];
  const source = new KubernetesSource({ kubeConfig: kubeConfig(port), onUpdate: (view) => snapshots.push(view.fullSnapshot()), onError: (k) => errors.push(k), retryMs: 100 });
  try {
    await source.start();
    assert.ok(source.view.fullSnapshot().service('default', 'web'));
    await api.close();
    assert.ok(await eventually(() => errors.length > 0), 'the failure is reported');
    assert.ok(source.view.fullSnapshot().service('default', 'web'), 'the last snapshot still serves');
    // the API comes back (same address), with a change made meanwhile
    api = new FakeApiServer();
    api.apply(service('web'));
    api.apply(service('meanwhile'));
    await new Promise((r) => api.server.listen(port, '127.0.0.1', r));
    assert.ok(await eventually(() => source.view.fullSnapshot().service('default', 'meanwhile'), 10_000), 'caught up after the API returned');
    assert.ok(source.view.fullSnapshot().service('default', 'web'));
  } finally {
    await source.close();
    await api.close();
  }
});

test.run();

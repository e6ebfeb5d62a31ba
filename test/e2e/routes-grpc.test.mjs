// GRPCRoute with real gRPC: @grpc/grpc-js clients through a client sidecar, routed by service,
// method and metadata to gRPC servers behind their own sidecars; filters and the gRPC form of
// routing errors (no matching rule: UNIMPLEMENTED; an invalid backend: UNAVAILABLE; trailers-only).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import grpc from '@grpc/grpc-js';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor } from '../helpers/mesh.mjs';
import { startProxy } from '../../dist/host/index.js';

const id = (b) => b;
const method = (path) => ({ path, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id });
const Service = { unary: method('/skiff.test.Echo/Unary'), other: method('/skiff.test.Echo/Other'), status: method('/skiff.test.Status/Check'), broken: method('/skiff.test.Broken/Call') };
const Client = grpc.makeGenericClientConstructor(Service, 'Echo');

const servers = [], sidecars = [];
let client, config;

async function backend(name) {
  const server = new grpc.Server();
  const answer = (call, cb) => cb(null, Buffer.from(`${name}:${call.metadata.get('x-added')[0] ?? '-'}:${call.request}`));
  server.addService(Service, { unary: answer, other: answer, status: answer, broken: answer });
  const port = await new Promise((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  servers.push(server);
  const sc = await sidecarFor(port);
  sidecars.push(sc);
  return sc.inbound.port;
}

test.before(async () => {
  config = new ConfigDir();
  for (const name of ['v1', 'v2', 'v3']) {
    const port = await backend(name);
    config.write(`${name}.yaml`, serviceYaml(`echo-${name}`, 50051, { appProtocol: 'grpc' }) + '---\n' + sliceYaml(`echo-${name}`, [{ port }]));
  }
  config.write('echo.yaml', `${serviceYaml('echo', 50051, { appProtocol: 'grpc' })}---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 50051}]
  rules:
    - matches: [{method: {service: skiff.test.Echo, method: Unary}, headers: [{name: x-canary, value: "yes"}]}]
      backendRefs: [{name: echo-v3, port: 50051}]
    - matches: [{method: {service: skiff.test.Echo, method: Unary}}]
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-added, value: by-route}]}}]
      backendRefs: [{name: echo-v1, port: 50051}]
    - matches: [{method: {service: skiff.test.Echo}}]
      backendRefs: [{name: echo-v2, port: 50051}]
    - matches: [{method: {service: skiff.test.Broken}}]
      backendRefs: [{name: no-such-service, port: 50051}]
`);
  client = await startProxy({ outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, config: config.dir, workload: 'default/client' });
});

test.after(async () => {
  await client.close();
  for (const s of sidecars) await s.close();
  for (const s of servers) s.forceShutdown();
  config.remove();
});

const connect = () => new Client(`127.0.0.1:${client.outbound.port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'echo.default.svc.cluster.local:50051' });
function call(c, name, body, md = {}) {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) m.set(k, v);
  return new Promise((res, rej) => c[name](Buffer.from(body), m, (e, r) => (e ? rej(e) : res(r.toString()))));
}

test('GRPCRoute: method, then service, with metadata matches and filters', async () => {
  const c = connect();
  for (let i = 0; i < 10; i++) {
    assert.is(await call(c, 'unary', `a${i}`), `v1:by-route:a${i}`);
    assert.is(await call(c, 'unary', `b${i}`, { 'x-canary': 'yes' }), `v3:-:b${i}`);
    assert.is(await call(c, 'other', `c${i}`), `v2:-:c${i}`);
  }
  c.close();
});

test('GRPCRoute: a method no rule matches fails UNIMPLEMENTED, saying why', async () => {
  const c = connect();
  try {
    await call(c, 'status', 'x');
    assert.unreachable('answered');
  } catch (err) {
    assert.is(err.code, grpc.status.UNIMPLEMENTED, err.message);
    assert.match(err.details, /no rule of the routes of Service echo\.default:50051 matches/);
  }
  c.close();
});

test('GRPCRoute: a backendRef that does not resolve fails UNAVAILABLE (the GRPCRoute spec), saying why', async () => {
  const c = connect();
  try {
    await call(c, 'broken', 'x');
    assert.unreachable('answered');
  } catch (err) {
    assert.is(err.code, grpc.status.UNAVAILABLE, err.message);
    assert.match(err.details, /backendRef does not resolve/);
  } finally { c.close(); }
});

test.run();

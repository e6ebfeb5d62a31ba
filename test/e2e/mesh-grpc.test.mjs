// gRPC through two sidecars with @grpc/grpc-js on both ends: unary, server streaming, client
// streaming, bidi, status and trailers, deadlines, cancellation, large messages, proxy errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import grpc from '@grpc/grpc-js';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor, eventually } from '../helpers/mesh.mjs';
import { startProxy } from '../../dist/host/index.js';

const id = (b) => b;
const method = (name, requestStream, responseStream) => ({
  path: `/skiff.test.Echo/${name}`, requestStream, responseStream,
  requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id,
});
const EchoService = {
  unary: method('Unary', false, false),
  serverStream: method('ServerStream', false, true),
  clientStream: method('ClientStream', true, false),
  bidi: method('Bidi', true, true),
  slow: method('Slow', false, false),
  fail: method('Fail', false, false),
  endless: method('Endless', false, true),
};
const Client = grpc.makeGenericClientConstructor(EchoService, 'Echo');
const big = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };

let server, sidecar, client, config, cancelledOnServer = false;

test.before(async () => {
  server = new grpc.Server(big);
  server.addService(EchoService, {
    unary: (call, cb) => cb(null, call.request),
    serverStream: (call) => {
      const n = call.request.readUInt32BE(0);
      for (let i = 0; i < n; i++) { const b = Buffer.alloc(4); b.writeUInt32BE(i); call.write(b); }
      call.end();
    },
    clientStream: (call, cb) => {
      let total = 0;
      call.on('data', (b) => { total += b.length; });
      call.on('end', () => { const b = Buffer.alloc(4); b.writeUInt32BE(total); cb(null, b); });
    },
    bidi: (call) => {
      call.on('data', (b) => call.write(Buffer.concat([Buffer.from('echo:'), b])));
      call.on('end', () => call.end());
    },
    slow: (call, cb) => { const t = setTimeout(() => cb(null, call.request), 2000); call.on('cancelled', () => clearTimeout(t)); },
    fail: (call, cb) => {
      const md = new grpc.Metadata();
      md.set('x-detail', 'it is not there');
      cb({ code: grpc.status.NOT_FOUND, details: 'no such thing', metadata: md });
    },
    endless: (call) => {
      const t = setInterval(() => call.write(Buffer.alloc(1024)), 5);
      call.on('cancelled', () => { cancelledOnServer = true; clearInterval(t); });
    },
  });
  const port = await new Promise((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  sidecar = await sidecarFor(port);
  config = new ConfigDir();
  config.write('echo.yaml', serviceYaml('echo', 50051, { appProtocol: 'grpc' }) + '---\n' + sliceYaml('echo', [{ port: sidecar.inbound.port }]));
  config.write('gone.yaml', serviceYaml('gone', 50051));
  client = await startProxy({ outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, config: config.dir, workload: 'default/client' });
});

test.after(async () => {
  await client.close();
  await sidecar.close();
  server.forceShutdown();
  config.remove();
});

const connect = (authority = 'echo.default.svc.cluster.local:50051') =>
  new Client(`127.0.0.1:${client.outbound.port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority, ...big });
const unary = (c, name, req, opts = {}) => new Promise((res, rej) => c[name](req, new grpc.Metadata(), opts, (e, r) => (e ? rej(e) : res(r))));

test('unary', async () => {
  const c = connect();
  assert.is((await unary(c, 'unary', Buffer.from('ping'))).toString(), 'ping');
  c.close();
});

test('server streaming: 1000 messages in order', async () => {
  const c = connect();
  const n = Buffer.alloc(4); n.writeUInt32BE(1000);
  const got = await new Promise((res, rej) => {
    const out = [];
    const call = c.serverStream(n);
    call.on('data', (b) => out.push(b.readUInt32BE(0)));
    call.on('end', () => res(out));
    call.on('error', rej);
  });
  assert.equal(got, Array.from({ length: 1000 }, (_, i) => i));
  c.close();
});

test('client streaming: 200 messages summed', async () => {
  const c = connect();
  const total = await new Promise((res, rej) => {
    const call = c.clientStream((e, r) => (e ? rej(e) : res(r.readUInt32BE(0))));
    for (let i = 0; i < 200; i++) call.write(Buffer.alloc(100));
    call.end();
  });
  assert.is(total, 20000);
  c.close();
});

test('bidi streaming: each message answered', async () => {
  const c = connect();
  const got = await new Promise((res, rej) => {
    const out = [];
    const call = c.bidi();
    call.on('data', (b) => out.push(b.toString()));
    call.on('end', () => res(out));
    call.on('error', rej);
    for (let i = 0; i < 50; i++) call.write(Buffer.from(`m${i}`));
    call.end();
  });
  assert.equal(got, Array.from({ length: 50 }, (_, i) => `echo:m${i}`));
  c.close();
});

test('large messages: 8 MiB each way', async () => {
  const c = connect();
  const payload = Buffer.alloc(8 << 20, 7);
  const r = await unary(c, 'unary', payload);
  assert.ok(r.equals(payload));
  c.close();
});

test('status, message and trailing metadata pass through', async () => {
  const c = connect();
  const err = await unary(c, 'fail', Buffer.alloc(0)).then(() => null, (e) => e);
  assert.is(err.code, grpc.status.NOT_FOUND);
  assert.is(err.details, 'no such thing');
  assert.equal(err.metadata.get('x-detail'), ['it is not there']);
  c.close();
});

test('deadline exceeded', async () => {
  const c = connect();
  const err = await unary(c, 'slow', Buffer.from('x'), { deadline: Date.now() + 200 }).then(() => null, (e) => e);
  assert.is(err.code, grpc.status.DEADLINE_EXCEEDED);
  c.close();
});

test('cancellation reaches the server through both proxies', async () => {
  cancelledOnServer = false;
  const c = connect();
  await new Promise((res) => {
    const call = c.endless(Buffer.alloc(0));
    let n = 0;
    call.on('data', () => { if (++n === 20) { call.cancel(); res(); } });
    call.on('error', () => {});
  });
  assert.ok(await eventually(() => cancelledOnServer), 'the server saw the cancellation');
  c.close();
});

test('a service with no endpoints → UNAVAILABLE from the proxy', async () => {
  const c = connect('gone.default:50051');
  const err = await unary(c, 'unary', Buffer.from('x')).then(() => null, (e) => e);
  assert.is(err.code, grpc.status.UNAVAILABLE);
  assert.match(err.details, /no ready endpoints/);
  c.close();
});

test.run();

// A gateway process for the library bench: argv[2] = skiff | fastify-http-proxy | node-http-proxy,
// argv[3] = its port, argv[4] = the backend's port, argv[5] = a mesh config directory (skiff).
import http from 'node:http';
const [kind, port, backend, configDir] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), process.argv[5]];
const ready = () => process.stdout.write('ready\n');
if (kind === 'skiff') {
  const { default: Fastify } = await import('fastify');
  const { skiffMesh } = await import('skiff/fastify');
  const { request } = await import('undici');
  const app = Fastify();
  await app.register(skiffMesh, { config: configDir, workload: 'default/gateway' });
  app.get('/*', async (req, reply) => {
    const r = await request(`http://backend.default${req.url}`, { dispatcher: app.mesh });
    reply.code(r.statusCode).header('content-type', r.headers['content-type']);
    return reply.send(r.body);
  });
  await app.listen({ host: '127.0.0.1', port });
  ready();
} else if (kind === 'fastify-http-proxy') {
  const { default: Fastify } = await import('fastify');
  const { default: proxy } = await import('@fastify/http-proxy');
  const app = Fastify();
  await app.register(proxy, { upstream: `http://127.0.0.1:${backend}` });
  await app.listen({ host: '127.0.0.1', port });
  ready();
} else if (kind === 'node-http-proxy') {
  const { default: httpProxy } = await import('http-proxy');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${backend}`, agent });
  proxy.on('error', (_e, _req, res) => { res.writeHead?.(502); res.end(); });
  http.createServer((req, res) => proxy.web(req, res)).listen(port, '127.0.0.1', ready);
} else throw new Error(`unknown gateway ${kind}`);

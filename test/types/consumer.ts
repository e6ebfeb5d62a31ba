// A consumer project's view of the public API (`npm test` compiles it with strict TypeScript): the
// uses below must type-check, and each misuse marked @ts-expect-error must be rejected.
import http from 'node:http';
import { fetch, request } from 'undici';
import Fastify from 'fastify';
import {
  MeshClient, MeshClientError, RouteTable, RouteTableError, meshServer, startProxy, ConfigRejected, H2Connection, HpackEncoder,
  type MeshClientOptions, type RouteMatch, type RouteRequest, type MeshedServer, type RunningProxy, type BackendRef,
} from 'skiff';
import { skiffMesh } from 'skiff/fastify';

export async function uses(): Promise<void> {
  const options: MeshClientOptions = { config: './mesh', workload: 'default/gateway', failFastTimeoutMs: 3000 };
  const mesh = await MeshClient.create(options);
  const res = await fetch('http://books.default/api', { dispatcher: mesh, signal: AbortSignal.timeout(1000) });
  const status: number = res.status;
  const r = await request('http://books.default/api', { dispatcher: mesh, method: 'POST', body: 'x' });
  const text: string = await r.body.text();
  void status; void text;
  const generation: number = mesh.configGeneration;
  void generation;
  await mesh.close();

  const table = RouteTable.fromYaml('', 'routes.yaml');
  const req: RouteRequest = { method: 'GET', path: '/a?b=1', headers: { 'x-a': ['1', '2'] } };
  const m: RouteMatch | null = table.match({ namespace: 'shop', name: 'books', port: 80 }, req, 'web');
  if (m) {
    const b: BackendRef | null = m.pickBackend(0.5);
    const name: string | undefined = b?.name;
    const kind: 'HTTPRoute' | 'GRPCRoute' = m.route.kind;
    void name; void kind;
  }
  table.close();

  try {
    RouteTable.fromObjects([{}]);
  } catch (e) {
    if (e instanceof RouteTableError) { const code: 'SKIFF_ROUTE_CONFIG' = e.code; void code; void e.errors.length; }
    if (e instanceof MeshClientError) { const code: string = e.code; void code; }
    if (e instanceof ConfigRejected) { void e.errors; }
  }

  const meshed: MeshedServer = await meshServer(http.createServer(), { inbound: '0.0.0.0:4143', workload: 'default/books' });
  await meshed.close();

  const app = Fastify();
  await app.register(skiffMesh, { config: './mesh', inbound: '0.0.0.0:4143' });
  const inbound: MeshedServer | null = await app.meshInboundReady();
  void inbound;
  await fetch('http://books.default/', { dispatcher: app.mesh });

  const proxy: RunningProxy = await startProxy({ config: './mesh', admin: null });
  await proxy.close();
  void new HpackEncoder();
  void H2Connection;
}

export async function misuses(table: RouteTable): Promise<void> {
  // @ts-expect-error a port is a number
  table.match({ namespace: 'a', name: 'b', port: '80' }, { path: '/' });
  // @ts-expect-error a request needs its path
  table.match({ namespace: 'a', name: 'b', port: 80 }, { method: 'GET' });
  // @ts-expect-error no such option (a typo is caught)
  await MeshClient.create({ confg: './mesh' });
  // @ts-expect-error meshServer meshes a node:http or node:http2 server
  await meshServer({ listen() {} });
  // @ts-expect-error the error code is a fixed string
  const c: 'OTHER' = new RouteTableError([]).code;
  void c;
}

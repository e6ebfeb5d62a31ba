// The mesh as a Fastify plugin (`import { skiffMesh } from 'skiff/fastify'`):
//   - `fastify.mesh`: a MeshClient, the undici Dispatcher for calls into the mesh
//     (`fetch('http://books.default/…', { dispatcher: fastify.mesh })`);
//   - with `inbound`, the Fastify server itself is meshed in-process once it listens (on the
//     loopback): mesh mTLS, inbound policy and metrics in front of it, the caller's identity on
//     `request.headers['skiff-client-id']` — no sidecar;
//   - both closed (drained) with the server.
// Fastify is a peer of this entry only; the rest of Skiff does not load it.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Server as HttpServer } from 'node:http';
import { MeshClient, type MeshClientOptions } from './mesh-client.js';
import { meshServer, type MeshedServer, type MeshServerOptions } from './mesh-server.js';

export interface SkiffMeshOptions extends MeshClientOptions {
  /** Mesh the Fastify server itself: where the mesh reaches it (e.g. 0.0.0.0:4143). */
  inbound?: string;
  /** Inbound authorization settings (default inbound policy, cluster networks). */
  policy?: MeshServerOptions['policy'];
  /** An admin server for the meshed side (/ready, /metrics). */
  admin?: string | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The mesh client (an undici Dispatcher). */
    mesh: MeshClient;
    /** The mesh-facing side of this server, once it listens (with the `inbound` option). */
    meshInbound: MeshedServer | null;
    /**
     * Settles once the server is meshed after listen() (Fastify runs its onListen hooks after
     * listen() resolves): the mesh-facing side, or null without `inbound`; rejects if meshing failed.
     */
    meshInboundReady(): Promise<MeshedServer | null>;
  }
}

const plugin: FastifyPluginAsync<SkiffMeshOptions> = async (fastify: FastifyInstance, options: SkiffMeshOptions) => {
  const mesh = await MeshClient.create(options);
  fastify.decorate('mesh', mesh);
  fastify.decorate('meshInbound', null);
  let settle!: (m: MeshedServer | null) => void;
  let fail!: (err: Error) => void;
  const ready = new Promise<MeshedServer | null>((resolve, reject) => { settle = resolve; fail = reject; });
  ready.catch(() => {}); // reported by the hook's log line; awaited by whoever asks
  fastify.decorate('meshInboundReady', () => ready);
  if (options.inbound === undefined) settle(null);
  else {
    fastify.addHook('onListen', async () => {
      try {
        fastify.meshInbound = await meshServer(fastify.server as HttpServer, {
          config: options.config, control: options.control, workload: options.workload, clusterDomain: options.clusterDomain,
          identity: options.identity, policy: options.policy, inbound: options.inbound, admin: options.admin ?? null,
          logger: options.logger, shutdownGraceMs: options.shutdownGraceMs,
        });
        settle(fastify.meshInbound);
      } catch (err) {
        fail(err as Error);
        throw err;
      }
    });
  }
  fastify.addHook('onClose', async () => {
    await fastify.meshInbound?.close().catch(() => {});
    await mesh.close();
  });
};

// what fastify-plugin does: decorators reach the enclosing scope (no dependency for one symbol)
(plugin as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
(plugin as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = 'skiff-mesh';

export const skiffMesh = plugin;
export default plugin;

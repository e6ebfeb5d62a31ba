// Mutual TLS between sidecars: TLS 1.3, the mesh's own ALPN protocol (so an inbound can tell a peer
// sidecar from an application's own TLS before terminating anything), this proxy's certificate from
// its WorkloadIdentity, peers verified against the trust anchors and, when discovery names it, the
// peer's expected identity. A renewed certificate is used for new connections; open ones keep theirs.
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { WorkloadIdentity } from './workload.js';
import type { Telemetry } from '../metrics/telemetry.js';

import { MESH_ALPN, spiffeIdOf } from './spiffe.js';

export { MESH_ALPN, spiffeIdOf };

export class MeshTls {
  private ctx: tls.SecureContext | null = null;

  constructor(private identity: WorkloadIdentity, private trustAnchorsFile: string, readonly trustDomain: string, private telemetry?: Telemetry | null) {
    identity.onChange(() => { this.ctx = null; });
  }

  /** This proxy's TLS context (both roles); throws until the first certificate arrived. */
  context(): tls.SecureContext {
    const c = this.identity.current;
    if (!c) throw new Error('no workload certificate yet');
    this.ctx ??= tls.createSecureContext({ key: c.keyPem, cert: c.chainPem, ca: readFileSync(this.trustAnchorsFile), minVersion: 'TLSv1.3' });
    return this.ctx;
  }

  /** The identity an endpoint must prove: its slice's explicit one, else its Pod's ServiceAccount's. */
  expectedIdentity(explicit: string | undefined, serviceAccount: string | undefined): string | undefined {
    if (explicit !== undefined) return explicit;
    if (serviceAccount === undefined) return undefined;
    const [ns, sa] = serviceAccount.split('/');
    return `spiffe://${this.trustDomain}/ns/${ns}/sa/${sa}`;
  }

  /** A client connection to a peer sidecar; `expected`: the identity discovery says it has. */
  connect(host: string, port: number, expected?: string): tls.TLSSocket {
    const socket = tls.connect({
      host, port, secureContext: this.context(), ALPNProtocols: [MESH_ALPN], minVersion: 'TLSv1.3',
      servername: 'mesh.skiff.invalid', // SNI says nothing about whom we call
      checkServerIdentity: (_host, cert) => {
        const id = spiffeIdOf(cert);
        if (!id) return new Error('the peer certificate has no SPIFFE identity');
        if (expected !== undefined && id !== expected) {
          this.telemetry?.identityMismatch(expected, id);
          return new Error(`peer identity ${id} is not the expected ${expected}`);
        }
        return undefined;
      },
    });
    socket.once('secureConnect', () => {
      if (socket.alpnProtocol !== MESH_ALPN) socket.destroy(new Error(`the peer did not agree to ${MESH_ALPN}`));
    });
    return socket;
  }

  /** Terminates mesh TLS on an accepted socket (its ClientHello offered MESH_ALPN). */
  accept(socket: import('node:net').Socket): tls.TLSSocket {
    return new tls.TLSSocket(socket, {
      isServer: true, secureContext: this.context(), requestCert: true, rejectUnauthorized: true, ALPNProtocols: [MESH_ALPN],
    });
  }
}

// Mesh identity names without any TLS machinery (what the data path needs before a handshake):
// the mesh's ALPN protocol id, and the SPIFFE ID in a peer certificate.
import type { PeerCertificate } from 'node:tls';

/** Offered by sidecars to sidecars: tells mesh TLS from an application's own TLS in the ClientHello. */
export const MESH_ALPN = 'skiff.io/mesh-h2';

/** The SPIFFE ID in a peer certificate's URI SAN, or null. */
export function spiffeIdOf(cert: PeerCertificate | undefined): string | null {
  const san = cert?.subjectaltname;
  if (!san) return null;
  for (const part of san.split(/,\s*/)) if (part.startsWith('URI:spiffe://')) return part.slice(4);
  return null;
}

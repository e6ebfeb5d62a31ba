// Identity in a cluster: a proxy presents its projected ServiceAccount token (audience
// identity.skiff.io, mounted by the injector) and the control plane asks the API server who it is
// with a TokenReview (authentication.k8s.io/v1) — the API server checks signature, expiry,
// audience and that the Pod it was bound to still exists. The control plane's ServiceAccount needs
// `create` on tokenreviews (the system:auth-delegator ClusterRole grants it).
import type { KubeConfig } from '@kubernetes/client-node';
import type { ServiceAccount } from '../identity/token.js';
import { apiRequest, ApiError } from './api-request.js';

/** The audience Skiff's projected tokens are minted for. */
export const TOKEN_AUDIENCE = 'identity.skiff.io';
const SA_USER = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string };
  audiences?: string[];
  error?: string;
}

/**
 * An authenticator for the identity service: the ServiceAccount the API server says the token
 * belongs to, null when it says the token is not valid (or not for this audience), and a rejection
 * when it cannot be asked (unreachable, or this control plane may not create TokenReviews).
 */
export function tokenReviewer(kc: KubeConfig, audience = TOKEN_AUDIENCE): (token: string) => Promise<ServiceAccount | null> {
  return async (token) => {
    let review: { status?: TokenReviewStatus };
    try {
      review = await apiRequest(kc, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [audience] },
      }) as { status?: TokenReviewStatus };
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) throw new Error(`the control plane may not create TokenReviews (RBAC: grant it system:auth-delegator): ${err.message}`);
      throw err;
    }
    const st = review.status ?? {};
    if (st.authenticated !== true) return null;
    // the API server answers with the audiences the token is valid for among those asked: ours must be there
    if (!Array.isArray(st.audiences) || !st.audiences.includes(audience)) return null;
    const m = SA_USER.exec(st.user?.username ?? '');
    return m ? { namespace: m[1], name: m[3] } : null;
  };
}

// Inbound authorization decisions, Linkerd's families: inbound_http_authz_allow_total,
// inbound_http_authz_deny_total, inbound_tcp_authz_allow_total, inbound_tcp_authz_deny_total and
// inbound_tcp_authz_terminate_total, labelled with the Server (srv_kind, srv_name), the route
// (route_kind, route_name; HTTP), the authorization (authz_kind, authz_name; allows) and
// target_addr. A decision increments a cell found when the policy was compiled, not a label set
// built per request. Cells outlive configurations, so counts survive a policy change.
import type { Labels } from './http-metrics.js';

export type AuthzFamily = 'inbound_http_authz_allow_total' | 'inbound_http_authz_deny_total' | 'inbound_http_route_not_found_total' |
  'inbound_tcp_authz_allow_total' | 'inbound_tcp_authz_deny_total' | 'inbound_tcp_authz_terminate_total';

export const AUTHZ_FAMILIES: readonly AuthzFamily[] = ['inbound_http_authz_allow_total', 'inbound_http_authz_deny_total', 'inbound_http_route_not_found_total',
  'inbound_tcp_authz_allow_total', 'inbound_tcp_authz_deny_total', 'inbound_tcp_authz_terminate_total'];

export interface AuthzCell { readonly labels: Labels; value: number }

/** Distinct label sets kept per family at most; configurations are operators', but bound them anyway. */
const MAX_SETS = 5000;

export class AuthzMetrics {
  private readonly families = new Map<AuthzFamily, Map<string, AuthzCell>>();

  /** The counter of `family` with `labels` (the same cell for the same labels, across configurations). */
  cell(family: AuthzFamily, labels: Labels): AuthzCell {
    let f = this.families.get(family);
    if (!f) this.families.set(family, f = new Map());
    const key = JSON.stringify(labels);
    let c = f.get(key);
    if (!c) {
      if (f.size >= MAX_SETS) return { labels, value: 0 }; // counted nowhere rather than growing without bound
      f.set(key, c = { labels, value: 0 });
    }
    return c;
  }

  all(family: AuthzFamily): AuthzCell[] {
    return [...(this.families.get(family)?.values() ?? [])];
  }
}

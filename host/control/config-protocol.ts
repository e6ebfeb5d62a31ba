// The configuration stream between `skiff control` and each proxy: one long-lived HTTP/2 request
// (POST /v1/config, over mTLS: the proxy's workload certificate says who asks) whose request body
// carries the proxy's subscriptions and whose response body carries Kubernetes objects, one JSON
// message per line (NDJSON), as the API served them — so the proxy validates and indexes them with
// the same code as the directory mode, and both modes make the same Snapshot.
//
// proxy → control, each line:  {"subscribe": ["namespace/service", …]}
//   The first line says which Services the proxy already calls (all of them again after a
//   reconnect); later lines add the names its application starts calling.
// control → proxy, each line:  {"full"?: true, "upsert": [object…], "delete": ["Kind ns/name"…],
//   "resolved": ["namespace/service"…]}
//   The first message of a stream is full: the proxy replaces what it held. "resolved" answers a
//   subscription once what it asks for is in this or an earlier message (or known not to exist).

export const CONFIG_PATH = '/v1/config';
/** The request header naming the Pod the proxy serves, "namespace/name". */
export const WORKLOAD_HEADER = 'skiff-workload';

export interface ProxyMessage {
  subscribe?: string[];
}

export interface ControlMessage {
  full?: boolean;
  upsert: Record<string, unknown>[];
  delete: string[];
  resolved: string[];
}

/** The key an object is known by in both directions: "Kind namespace/name" ("Namespace /name" for Namespaces). */
export function objectKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind} ${kind === 'Namespace' ? '' : namespace ?? 'default'}/${name}`;
}

/** The key of a raw Kubernetes object (null when it has no kind or name). */
export function rawKey(o: Record<string, unknown>): string | null {
  const meta = o.metadata as { name?: unknown; namespace?: unknown } | undefined;
  if (typeof o.kind !== 'string' || typeof meta?.name !== 'string') return null;
  return objectKey(o.kind, typeof meta.namespace === 'string' ? meta.namespace : undefined, meta.name);
}

/** Subscriptions are Service names, "namespace/name", as DNS labels. */
export const SERVICE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Most subscriptions one proxy may hold (names are its application's to choose). */
export const MAX_SUBSCRIPTIONS = 10_000;
/** Longest line either side accepts. */
export const MAX_LINE = 16 * 1024 * 1024;

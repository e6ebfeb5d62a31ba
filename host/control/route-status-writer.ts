// Route status on the API, as a GAMMA implementation must write it: for each HTTPRoute/GRPCRoute
// with a Service (or Linkerd Server) parent, one RouteParentStatus per such parentRef with our
// controllerName, its Accepted and ResolvedRefs conditions (route/status.ts decides them, as for
// `skiff check`) and the route's generation they were computed for. Other controllers' entries are
// kept as they are. Written with a JSON merge patch on the status subresource carrying the
// resourceVersion it was computed from, so a concurrent change makes it fail (409) rather than
// overwrite; the watch then brings the new version and the next pass writes again. Nothing is
// written when the status already says what we would write.
import type { KubeConfig } from '@kubernetes/client-node';
import { routeStatuses, type Condition } from '../route/status.js';
import type { ParentRef } from '../route/model.js';
import { ApiError, apiRequest } from './api-request.js';
import { parsedKey, type ClusterView } from './cluster-view.js';

export const CONTROLLER_NAME = 'skiff.io/gateway-controller';
const PLURAL: Record<string, string> = { HTTPRoute: 'httproutes', GRPCRoute: 'grpcroutes' };
/** Status writes in flight at once. */
const CONCURRENCY = 8;

interface WireCondition { type: string; status: string; reason: string; message: string; lastTransitionTime?: string; observedGeneration?: number }
interface WireParentStatus { parentRef: Record<string, unknown>; controllerName: string; conditions: WireCondition[] }

function wireParentRef(p: ParentRef): Record<string, unknown> {
  const out: Record<string, unknown> = { group: p.group, kind: p.kind, namespace: p.namespace, name: p.name };
  if (p.port !== undefined) out.port = p.port;
  if (p.sectionName !== undefined) out.sectionName = p.sectionName;
  return out;
}

/** What decides whether a write is needed: everything but the transition times. */
function essence(parents: WireParentStatus[]): string {
  return JSON.stringify(parents.map((p) => ({ r: p.parentRef, c: p.conditions.map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration]) })));
}

export interface RouteStatusWriterOptions {
  kubeConfig: KubeConfig;
  view: ClusterView;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  controllerName?: string;
}

export class RouteStatusWriter {
  private running = false;
  private again = false;
  private closed = false;
  /** Denials already reported (by kind): reported once until a write of that kind succeeds. */
  private denied = new Set<string>();
  writes = 0;
  conflicts = 0;
  failures = 0;

  constructor(private options: RouteStatusWriterOptions) {}

  /** Brings every route's status up to date (after a view commit); passes never overlap. */
  sync(): void {
    if (this.closed) return;
    if (this.running) { this.again = true; return; }
    this.running = true;
    void this.pass().finally(() => {
      this.running = false;
      if (this.again && !this.closed) { this.again = false; this.sync(); }
    });
  }

  /** Resolves once no pass is running or pending (tests, bench). */
  async idle(): Promise<void> {
    while (this.running || this.again) await new Promise((r) => setTimeout(r, 10));
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private retryTimer: NodeJS.Timeout | null = null;
  /** A write that failed for want of the API: another pass in a while (changes also start one). */
  private retryLater(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.sync(); }, 5000);
    this.retryTimer.unref();
  }

  private async pass(): Promise<void> {
    const o = this.options;
    const controllerName = o.controllerName ?? CONTROLLER_NAME;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const work: (() => Promise<void>)[] = [];
    for (const st of routeStatuses(o.view.routing)) {
      if (st.parents.length === 0) continue; // no Service or Server parent: a Gateway's route, not ours
      const stored = o.view.objects.get(parsedKey(st.route));
      if (!stored) continue;
      const raw = stored.raw as { metadata: { generation?: number; resourceVersion?: string; namespace?: string; name: string }; status?: { parents?: WireParentStatus[] } };
      const current = Array.isArray(raw.status?.parents) ? raw.status!.parents! : [];
      const ours = current.filter((p) => p?.controllerName === controllerName);
      const others = current.filter((p) => p?.controllerName !== controllerName);
      const generation = raw.metadata.generation;
      const want: WireParentStatus[] = st.parents.map((p) => {
        const ref = wireParentRef(p.parentRef);
        const had = ours.find((q) => JSON.stringify(q.parentRef) === JSON.stringify(ref));
        return {
          parentRef: ref, controllerName,
          conditions: p.conditions.map((c: Condition) => {
            const prev = had?.conditions?.find((x) => x.type === c.type);
            const w: WireCondition = { type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now };
            if (typeof generation === 'number') w.observedGeneration = generation;
            return w;
          }),
        };
      });
      if (essence(want) === essence(ours)) continue;
      const kind = st.route.kind;
      const path = `/apis/gateway.networking.k8s.io/v1/namespaces/${st.route.namespace}/${PLURAL[kind]}/${st.route.name}/status`;
      const body = { metadata: { resourceVersion: raw.metadata.resourceVersion }, status: { parents: [...others, ...want] } };
      work.push(async () => {
        try {
          await apiRequest(o.kubeConfig, 'PATCH', path, body, 'application/merge-patch+json');
          this.writes++;
          this.denied.delete(kind);
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) { this.conflicts++; return; } // the watch brings the newer version
          this.failures++;
          if (err instanceof ApiError && err.status === 403) {
            if (!this.denied.has(kind)) o.log?.('error', `the control plane may not write ${PLURAL[kind]}/status (RBAC): route status is not reported`, { error: err.message });
            this.denied.add(kind);
            return;
          }
          if (err instanceof ApiError && err.status === 404) return; // deleted meanwhile
          o.log?.('warn', 'route status not written; trying again', { route: `${kind} ${st.route.namespace}/${st.route.name}`, error: (err as Error).message });
          this.retryLater();
        }
      });
    }
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, work.length) }, async () => {
      while (next < work.length && !this.closed) await work[next++]();
    }));
  }
}

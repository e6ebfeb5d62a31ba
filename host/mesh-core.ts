// What every way of running Skiff shares — the sidecar (proxy.ts) and the in-process mesh client
// (library/mesh-client.ts): the configuration (a directory, or the control plane's stream), the
// workload identity and its mesh TLS, name resolution, and the telemetry they record into.
import type { ProxyOptions } from './proxy.js';
import type { Logger } from './log/logger.js';
import type { WorkloadIdentity } from './identity/workload.js';
import type { MeshTls } from './identity/mesh-tls.js';
import type { ControlSource } from './config/control-source.js';
import type { ConfigError } from './config/objects.js';
import { DirectorySource } from './config/directory.js';
import { Snapshot } from './config/snapshot.js';
import { Resolver } from './outbound/discovery.js';
import { parseHostPort } from './config/address.js';
import type { Telemetry } from './metrics/telemetry.js';

/** Startup refused: the configuration is invalid. Each error names file, object and field. */
export class ConfigRejected extends Error {
  readonly code = 'SKIFF_CONFIG_REJECTED';
  constructor(readonly errors: ConfigError[]) {
    super(`invalid configuration:\n  ${errors.map(String).join('\n  ')}`);
  }
}

export interface MeshCore {
  workload: string;
  namespace: string;
  resolver: Resolver;
  identity: WorkloadIdentity | null;
  meshTls: MeshTls | undefined;
  control: ControlSource | null;
  source: DirectorySource | null;
  /** The configuration in use. */
  snapshot(): Snapshot;
  /** How many configurations have been applied. */
  readonly generation: number;
  /** Called after each new configuration is applied. */
  onConfig: (() => void) | null;
  /** Identity certified (if any) and the first configuration from the control plane (if any). */
  ready(): boolean;
  /** The /ready details: identity and control plane. */
  readyDetails(): string[];
  close(): void;
}

export async function startMeshCore(options: ProxyOptions, logger: Logger, telemetry: Telemetry | null): Promise<MeshCore> {
  const workload = options.workload ?? 'default/default';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(workload)) throw new Error(`--workload: expected NAMESPACE/NAME, got '${workload}'`);
  const [namespace] = workload.split('/');
  if (options.config && options.control) throw new Error('--config and --control are two sources of the same configuration: give one');
  if (options.control && !options.identity) throw new Error('--control needs a workload identity: --identity-token and --trust-anchors');
  let snapshot = Snapshot.empty();
  let generation = 0;
  const core: MeshCore = {
    workload, namespace, resolver: new Resolver(namespace, options.clusterDomain ?? 'cluster.local'),
    identity: null, meshTls: undefined, control: null, source: null,
    snapshot: () => snapshot,
    get generation() { return generation; },
    onConfig: null,
    ready: () => (core.identity === null || core.identity.current !== null) && (core.control === null || core.control.generation > 0),
    readyDetails: () => {
      const out: string[] = [];
      const identity = core.identity;
      if (!identity) out.push('identity: none (plaintext; no identity flags given)');
      else if (!identity.current) out.push(`identity: waiting for a certificate${identity.lastError ? ` (${identity.lastError})` : ''}`);
      else out.push(`identity: ${identity.current.identity} until ${identity.current.notAfter.toISOString()}, renewed ${identity.renewals} time(s)${identity.lastError ? `; last renewal failed: ${identity.lastError}` : ''}`);
      const c = core.control;
      if (c) out.push(c.connected ? `control: connected to ${options.control}` : c.generation > 0 ? `control: reconnecting to ${options.control} (${c.lastError}); serving the last configuration` : `control: waiting for the first configuration from ${options.control}${c.lastError ? ` (${c.lastError})` : ''}`);
      return out;
    },
    close: () => {
      core.source?.close();
      core.control?.close();
      core.identity?.close();
    },
  };
  const configApplied = (s: Snapshot, from: string): void => {
    snapshot = s;
    generation++;
    core.onConfig?.();
    logger.info(`config ${generation === 1 ? 'loaded' : 'updated'}`, { objects: s.objectCount, source: from, generation });
  };
  if (options.config) {
    const source = new DirectorySource(options.config, {
      pollMs: options.configPollMs,
      onUpdate: (s) => configApplied(s, options.config!),
      onError: (errors) => logger.error('config change rejected, still serving the last good config', { errors: errors.map(String) }),
      onRouteErrors: (errors) => logger.error('routes rejected (each keeps its last good version, if any; the rest applied)', { errors: errors.map(String) }),
      onWarning: (w) => logger.warn(`config: ${w}`),
    });
    const errors = source.load();
    if (errors.length) {
      source.close();
      throw new ConfigRejected(errors);
    }
    core.source = source;
  }
  if (options.identity) {
    // X.509 and TLS machinery loads only for proxies that have an identity (a plain sidecar's memory)
    const { WorkloadIdentity } = await import('./identity/workload.js');
    const id = options.identity;
    const addr = id.addr ?? options.control;
    if (addr === undefined) { core.close(); throw new Error('--identity-addr is needed (or --control, whose address it defaults to)'); }
    const trustDomain = id.trustDomain ?? options.clusterDomain ?? 'cluster.local';
    const identity = new WorkloadIdentity({
      addr: parseHostPort(addr, '--identity-addr'), tokenFile: id.tokenFile, trustAnchorsFile: id.trustAnchorsFile,
      trustDomain, log: (line) => logger.info(line),
    });
    core.identity = identity;
    identity.start();
    core.meshTls = new (await import('./identity/mesh-tls.js')).MeshTls(identity, id.trustAnchorsFile, trustDomain, telemetry);
    if (options.control) {
      const { ControlSource } = await import('./config/control-source.js');
      const control = new ControlSource({
        addr: parseHostPort(options.control, '--control'), workload, identity, trustDomain, trustAnchorsFile: id.trustAnchorsFile,
        discoveryTimeoutMs: options.discoveryTimeoutMs,
        onUpdate: (s) => configApplied(s, `control ${options.control}`),
        onInvalid: (errors) => logger.error('objects from the control plane rejected (each keeps its last valid version)', { errors: errors.map(String) }),
        onEvent: (level, message, fields) => logger[level](message, { control: options.control, ...fields }),
      });
      core.control = control;
      control.start();
    }
  }
  return core;
}

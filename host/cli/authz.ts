// `skiff authz`: the effective inbound authorization of a workload, read from a config directory
// exactly as its proxy would compile it; `skiff authz replay`: recorded traffic (a Skiff access
// log, one JSON object per line) judged by that policy, to see what it would deny before it is
// enforced.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadDirectory } from '../config/directory.js';
import { parseCidr } from '../config/policy.js';
import { DEFAULT_CLUSTER_NETWORKS, NetworkMatcher } from '../policy/authn.js';
import { DEFAULT_POLICIES, type DefaultPolicy } from '../policy/model.js';
import { authzTable, compilePortPolicy, replay, type InboundPolicyConfig, type RecordedRequest } from '../policy/report.js';

export interface AuthzOptions {
  dir: string;
  workload: string;
  port?: string;
  replayLog?: string;
  defaultPolicy: string;
  clusterNetworks?: string;
  trustLoopback: string;
  trustDomain: string;
  out(line: string): void;
  err(line: string): void;
}

/** Columns padded to their widest cell. */
function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  '));
}

export async function runAuthz(o: AuthzOptions): Promise<number> {
  const m = /^([a-z0-9][-a-z0-9]*)\/([a-z0-9][-.a-z0-9]*)$/.exec(o.workload);
  if (!m) { o.err(`skiff authz: --workload: expected NAMESPACE/NAME, got '${o.workload}'`); return 2; }
  if (!(DEFAULT_POLICIES as readonly string[]).includes(o.defaultPolicy)) { o.err(`skiff authz: --default-inbound-policy: expected one of ${DEFAULT_POLICIES.join(', ')}`); return 2; }
  if (o.trustLoopback !== 'on' && o.trustLoopback !== 'off') { o.err(`skiff authz: --trust-loopback: expected on or off`); return 2; }
  const networks = o.clusterNetworks ? o.clusterNetworks.split(',').map((x) => x.trim()).filter(Boolean) : DEFAULT_CLUSTER_NETWORKS;
  for (const n of networks) { const p = parseCidr(n); if (typeof p === 'string') { o.err(`skiff authz: --cluster-networks: ${p}`); return 2; } }
  const r = loadDirectory(o.dir);
  if (!r.snapshot) {
    for (const e of [...r.errors, ...r.routeErrors]) o.err(String(e));
    return 1;
  }
  const pod = r.snapshot.pods.get(o.workload);
  let ports: number[];
  if (o.port !== undefined) {
    if (!/^\d{1,5}$/.test(o.port)) { o.err(`skiff authz: --port: expected a port number, got '${o.port}'`); return 2; }
    ports = [Number(o.port)];
  } else {
    ports = [...new Set(pod?.ports.values() ?? [])].sort((a, b) => a - b);
    if (ports.length === 0) { o.err(`skiff authz: Pod ${o.workload} names no container ports in ${o.dir}: give --port`); return 2; }
  }
  const config = (port: number): InboundPolicyConfig => ({
    namespace: m[1], name: m[2], port, defaultPolicy: o.defaultPolicy as DefaultPolicy,
    clusterNetworks: new NetworkMatcher(networks.map((cidr) => ({ cidr, except: [] }))), trustLoopback: o.trustLoopback === 'on', trustDomain: o.trustDomain,
  });
  if (!pod) o.err(`note: no Pod ${o.workload} in ${o.dir}: no labels to select it by, so only default policies apply`);
  if (o.replayLog === undefined) {
    const rows = [['PORT', 'SERVER', 'PROTOCOL', 'AUTHORIZATION', 'ADMITS']];
    const problems = new Set<string>();
    for (const port of ports) {
      const pp = compilePortPolicy(r.snapshot, config(port), null);
      rows.push(...authzTable(pp));
      for (const p of pp.problems) problems.add(p);
    }
    for (const l of table(rows)) o.out(l);
    for (const p of problems) o.err(`problem: ${p}`);
    return 0;
  }
  // replay: every inbound request recorded, judged by the policy of the port it was for
  if (ports.length > 1) { o.err(`skiff authz replay: Pod ${o.workload} has ports ${ports.join(', ')}: give --port, the port its access log was recorded for`); return 2; }
  const pps = new Map(ports.map((p) => [p, compilePortPolicy(r.snapshot!, config(p), null)]));
  const requests: RecordedRequest[] = [];
  const lines = createInterface({ input: createReadStream(o.replayLog), crlfDelay: Infinity });
  let bad = 0;
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line) as RecordedRequest & { type?: string };
      if (j.type === undefined || j.type === 'access') requests.push(j);
    } catch { bad++; }
  }
  const rows = [['PORT', 'CLIENT', 'REQUEST', 'WOULD BE DENIED']];
  let total = 0, denied = 0;
  for (const [port, pp] of pps) {
    const res = replay(pp, requests);
    total = res.total;
    denied = res.denied;
    for (const g of res.groups) rows.push([String(port), g.client, g.request, String(g.count)]);
  }
  if (rows.length > 1) for (const l of table(rows)) o.out(l);
  o.out(`${denied} of ${total} recorded inbound requests would be denied${bad ? `; ${bad} lines were not JSON and were skipped` : ''}`);
  return 0;
}

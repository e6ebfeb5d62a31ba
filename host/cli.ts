#!/usr/bin/env node
// The `skiff` command. Flags are parsed with node:util parseArgs: it is part of Node (no
// dependency to keep up), strict about unknown flags, and enough for subcommand + flags.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { packageFile } from './dist-files.js';

const pkg = JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string };

/** Each command's usage: what `skiff COMMAND --help` prints (and `skiff help` lists). */
const COMMANDS: Record<string, string> = {
  proxy: `usage: skiff proxy [flags]   run a sidecar (each flag also as the environment variable SKIFF_<FLAG>)
  --config DIR                 Kubernetes YAML (Services, EndpointSlices, routes), watched
  --outbound HOST:PORT         the application's outbound calls arrive here (127.0.0.1:4140)
  --inbound HOST:PORT          traffic for the application arrives here (0.0.0.0:4143)
  --app HOST:PORT              the application (127.0.0.1:8080)
  --admin HOST:PORT            admin server: probes, /metrics, /dashboard, /tap, /config (127.0.0.1:4191)
  --workload NAMESPACE/NAME    who this proxy speaks for (default/default)
  --cluster-domain DOMAIN      (cluster.local)
  --response-timeout DURATION  504 when an upstream sends no response head in time (none)
  --detect-timeout DURATION    how long protocol detection waits for a client's first bytes (10s)
  --opaque-ports LIST          application ports relayed as TCP without detection, e.g. 3306,5432
  --identity-addr HOST:PORT --identity-token FILE --trust-anchors FILE [--trust-domain D]
                               workload identity from skiff control: mTLS between sidecars
  --control HOST:PORT          the configuration from skiff control (one mTLS stream) instead of --config;
                               needs --identity-token and --trust-anchors (--identity-addr defaults to it)
  --http1-max-connections N    HTTP/1.1 connections per upstream endpoint (256); more requests wait
  --http2-max-connections N    HTTP/2 connections per upstream endpoint (4), streams as the peer allows
  --max-pending-requests N     requests waiting per endpoint at those limits (100000); beyond: 503
  --default-inbound-policy P   for ports no Server selects: all-unauthenticated (default), all-authenticated,
                               cluster-authenticated, cluster-unauthenticated, deny, audit (a Pod's or its
                               Namespace's config.linkerd.io/default-inbound-policy annotation wins)
  --cluster-networks LIST      CIDRs "cluster" means (private ranges, link-local and loopback)
  --trust-loopback on|off      admit connections from the loopback whatever the policy (off: on one
                               machine every workload shares it; on in a pod, as Linkerd)
  --underscore-headers allow|drop|reject
                               client header names containing '_' (allow); mesh headers are always
                               removed in every spelling
  --log-level error|warn|info|debug (info)   --log-format json|plain (json)
  --access-log -|PATH          one JSON line per request (off)
  --admin-remote LIST          admin actions also answered off the loopback: shutdown,log-level,tap,config
  --metrics on|off (on)        --metrics-retain-idle DURATION (10m): idle label sets leave /metrics`,
  await: `usage: skiff await [--admin HOST:PORT] [--timeout 2m] [--no-shutdown] -- CMD ARGS
  wait until the proxy is ready, run CMD, then shut the proxy down and exit with CMD's status (Jobs, start order)`,
  tap: `usage: skiff tap [--admin HOST:PORT] [--direction inbound|outbound] [--method M] [--authority A] [--path PREFIX]
                 [--status 503|5xx] [--identity ID] [--limit N] [--json]
  live request summaries from a proxy's admin server`,
  stat: `usage: skiff stat [ADMIN_ADDR…] [--by route|peer|authority|endpoint] [--watch [--interval 2s] [--count N]]
  golden metrics (success rate, RPS, latency p50/p95/p99) from one or more proxies' admin endpoints;
  --by endpoint: each outbound endpoint's circuit breaker state, EWMA latency, load and failures`,
  check: `usage: skiff check DIR
  validate a config directory (every problem listed, route status and inbound policy included; exit 1 on any)`,
  authz: `usage: skiff authz DIR --workload NAMESPACE/NAME [--port N] [--default-inbound-policy P] [--cluster-networks LIST] [--trust-loopback on|off]
         skiff authz replay DIR --workload NAMESPACE/NAME --access-log FILE [--port N] [same flags]
  the effective inbound authorization of a workload's port (each of its Pod's container ports without
  --port): who is admitted, by which policy, in the order decisions are made. replay: judge traffic
  already recorded in a Skiff access log by the policy in DIR, and print what it would deny, by client
  and request, with counts — before anyone enforces it`,
  identity: `usage: skiff identity init DIR [--trust-domain cluster.local] [--root-days 3650] [--issuer-days 365]
         skiff identity token [DIR] NAMESPACE/SERVICEACCOUNT
  init: create the trust anchor, the issuer and the token secret (files 0600; never overwritten)
  token: print the token a proxy of that account presents (DIR defaults to $SKIFF_IDENTITY_DIR)`,
  control: `usage: skiff control (--identity DIR | --config DIR) [--kubernetes [--kubeconfig FILE] [--route-status on|off]]
                     [--listen 0.0.0.0:8080] [--admin 0.0.0.0:9990|off] [--trust-domain D] [--certificate-lifetime 24h]
                     [--log-level L] [--log-format json|plain]
  the control plane: the identity service (POST /v1/certify; --config DIR uses DIR/identity), and with
  --kubernetes the proxies' configuration streams (POST /v1/config, for skiff proxy --control) from the
  Kubernetes API — the Pod's service account, or --kubeconfig — with ServiceAccount tokens checked by
  TokenReview and route status written to the API. --admin: GET /live, /ready (the cluster listed), /metrics`,
  demo: `usage: skiff demo [--listen 127.0.0.1:4140] [--once]
  serve HTTP/2 from the wasm core and check it with the core's own client; stays up for curl/nghttp
  until Ctrl-C (--once: exit)`,
  version: `usage: skiff version
  print the version`,
};

const SUMMARY: Record<string, string> = {
  proxy: 'run a sidecar: inbound, outbound, admin server',
  await: 'run a command once the proxy is ready, then shut the proxy down (Jobs)',
  tap: 'live request summaries from a proxy',
  stat: 'golden metrics per route or peer from proxies\' admin servers',
  check: 'validate a config directory',
  authz: 'the effective inbound authorization of a workload; replay recorded traffic against a policy',
  identity: 'init the trust anchor and issuer; print a ServiceAccount token',
  control: 'the control plane: identity service; config streams from the Kubernetes API',
  demo: 'serve HTTP/2 from the wasm core and check it',
  version: 'print the version',
};

const usage = `skiff ${pkg.version} — a service-mesh sidecar proxy with a WebAssembly HTTP/2 core

usage: skiff <command> [flags]      skiff <command> --help: that command's flags

commands:
${Object.keys(COMMANDS).map((name) => `  ${name.padEnd(9)} ${SUMMARY[name]}`).join('\n')}

See README.md for the admin endpoints (/metrics, /dashboard, /tap, …) and the mesh's identity.`;

/** The --log-level and --log-format flags as a Logger (refusing values it does not know). */
async function loggerFrom(levelFlag: string, format: string): Promise<import('./log/logger.js').Logger> {
  const { Logger, parseLogLevel, LOG_LEVELS } = await import('./log/logger.js');
  const level = parseLogLevel(levelFlag);
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`--${level}`);
  if (format !== 'json' && format !== 'plain') throw new Error(`--log-format: expected json or plain, got '${format}'`);
  return new Logger({ level: level as 'info', format });
}

/** Whether `args` ask for help (before any `--`, after which they are another command's). */
function wantsHelp(args: string[]): boolean {
  const dash = args.indexOf('--');
  const own = dash < 0 ? args : args.slice(0, dash);
  return own.includes('--help') || own.includes('-h');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && Object.hasOwn(COMMANDS, command) && wantsHelp(rest)) {
    console.log(COMMANDS[command]);
    return 0;
  }
  switch (command) {
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        options: { listen: { type: 'string', default: process.env.SKIFF_LISTEN ?? '127.0.0.1:4140' }, once: { type: 'boolean', default: false } },
        strict: true,
      });
      const { runDemo } = await import('./cli/demo.js');
      return runDemo(values.listen!, values.once!);
    }
    case 'proxy': {
      const env = (k: string, d: string): string => process.env[`SKIFF_${k}`] ?? d;
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: 'string', default: process.env.SKIFF_CONFIG },
          control: { type: 'string', default: process.env.SKIFF_CONTROL },
          outbound: { type: 'string', default: env('OUTBOUND', '127.0.0.1:4140') },
          inbound: { type: 'string', default: env('INBOUND', '0.0.0.0:4143') },
          workload: { type: 'string', default: env('WORKLOAD', 'default/default') },
          'cluster-domain': { type: 'string', default: env('CLUSTER_DOMAIN', 'cluster.local') },
          'response-timeout': { type: 'string', default: process.env.SKIFF_RESPONSE_TIMEOUT },
          'detect-timeout': { type: 'string', default: env('DETECT_TIMEOUT', '10s') },
          'opaque-ports': { type: 'string', default: env('OPAQUE_PORTS', '') },
          app: { type: 'string', default: env('APP', '127.0.0.1:8080') },
          admin: { type: 'string', default: env('ADMIN', '127.0.0.1:4191') },
          'identity-addr': { type: 'string', default: process.env.SKIFF_IDENTITY_ADDR },
          'identity-token': { type: 'string', default: process.env.SKIFF_IDENTITY_TOKEN },
          'trust-anchors': { type: 'string', default: process.env.SKIFF_TRUST_ANCHORS },
          'trust-domain': { type: 'string', default: process.env.SKIFF_TRUST_DOMAIN },
          'log-level': { type: 'string', default: env('LOG_LEVEL', 'info') },
          'log-format': { type: 'string', default: env('LOG_FORMAT', 'json') },
          'access-log': { type: 'string', default: process.env.SKIFF_ACCESS_LOG },
          'admin-remote': { type: 'string', default: env('ADMIN_REMOTE', '') },
          metrics: { type: 'string', default: env('METRICS', 'on') },
          'metrics-retain-idle': { type: 'string', default: env('METRICS_RETAIN_IDLE', '10m') },
          'http1-max-connections': { type: 'string', default: process.env.SKIFF_HTTP1_MAX_CONNECTIONS },
          'http2-max-connections': { type: 'string', default: process.env.SKIFF_HTTP2_MAX_CONNECTIONS },
          'max-pending-requests': { type: 'string', default: process.env.SKIFF_MAX_PENDING_REQUESTS },
          'underscore-headers': { type: 'string', default: env('UNDERSCORE_HEADERS', 'allow') },
          'default-inbound-policy': { type: 'string', default: env('DEFAULT_INBOUND_POLICY', 'all-unauthenticated') },
          'cluster-networks': { type: 'string', default: process.env.SKIFF_CLUSTER_NETWORKS },
          'trust-loopback': { type: 'string', default: env('TRUST_LOOPBACK', 'off') },
        },
        strict: true,
      });
      const { startProxy } = await import('./proxy.js');
      const logger = await loggerFrom(values['log-level']!, values['log-format']!);
      const { REMOTE_ENDPOINTS } = await import('./admin/server.js');
      const adminRemote = values['admin-remote']!.split(',').map((s) => s.trim()).filter(Boolean);
      for (const r of adminRemote) if (!(REMOTE_ENDPOINTS as readonly string[]).includes(r)) throw new Error(`--admin-remote: expected some of ${REMOTE_ENDPOINTS.join(',')}, got '${r}'`);
      if (values.metrics !== 'on' && values.metrics !== 'off') throw new Error(`--metrics: expected on or off, got '${values.metrics}'`);
      let accessLog: ((s: object) => void) | undefined;
      const al = values['access-log'];
      if (al) {
        const { createWriteStream } = await import('node:fs');
        const out = al === '-' ? process.stdout : createWriteStream(al, { flags: 'a' });
        out.on('error', (err: Error) => logger.error('access log cannot be written', { path: al, error: err.message }));
        accessLog = (s) => { out.write(`${JSON.stringify({ type: 'access', ...s })}\n`); };
      }
      (await import('./cli/footprint.js')).holdYoungGeneration();
      const { 'cluster-domain': clusterDomain, 'response-timeout': rt, 'detect-timeout': dt, 'opaque-ports': op,
        'identity-addr': identityAddr, 'identity-token': identityToken, 'trust-anchors': anchors, 'trust-domain': trustDomain,
        'log-level': _l, 'log-format': _f, 'access-log': _a, 'admin-remote': _r, metrics, 'metrics-retain-idle': retainIdle,
        'http1-max-connections': h1Max, 'http2-max-connections': h2Max, 'max-pending-requests': maxPending, 'underscore-headers': underscore,
        'default-inbound-policy': defaultPolicy, 'cluster-networks': clusterNetworks, 'trust-loopback': trustLoopback, ...flags } = values;
      const { DEFAULT_POLICIES } = await import('./policy/model.js');
      if (!(DEFAULT_POLICIES as readonly string[]).includes(defaultPolicy!)) throw new Error(`--default-inbound-policy: expected one of ${DEFAULT_POLICIES.join(', ')}, got '${defaultPolicy}'`);
      if (trustLoopback !== 'on' && trustLoopback !== 'off') throw new Error(`--trust-loopback: expected on or off, got '${trustLoopback}'`);
      const networks = clusterNetworks === undefined ? undefined : clusterNetworks.split(',').map((x) => x.trim()).filter(Boolean);
      if (networks) {
        const { parseCidr } = await import('./config/policy.js');
        for (const n of networks) { const p = parseCidr(n); if (typeof p === 'string') throw new Error(`--cluster-networks: ${p}`); }
      }
      const count = (v: string | undefined, flag: string): number | undefined => {
        if (v === undefined) return undefined;
        if (!/^[1-9]\d{0,8}$/.test(v)) throw new Error(`--${flag}: expected a positive whole number, got '${v}'`);
        return Number(v);
      };
      if (underscore !== 'allow' && underscore !== 'drop' && underscore !== 'reject') throw new Error(`--underscore-headers: expected allow, drop or reject, got '${underscore}'`);
      const idFlags = [identityAddr ?? flags.control, identityToken, anchors];
      if (idFlags.some((v) => v !== undefined) && idFlags.some((v) => v === undefined)) {
        throw new Error(flags.control ? '--control needs --identity-token and --trust-anchors (a workload identity)' : '--identity-addr, --identity-token and --trust-anchors go together');
      }
      const { parseDuration } = await import('./config/duration.js');
      const { parsePortList } = await import('./outbound/discovery.js');
      const opaque = parsePortList(op!);
      if (typeof opaque === 'string') throw new Error(`--opaque-ports: ${opaque}`);
      // signals are taken from here on: one that arrives while the proxy starts drains it once started
      let proxy: Awaited<ReturnType<typeof startProxy>> | null = null;
      let signalled: string | null = null;
      const stop = (signal: string): void => {
        signalled ??= signal;
        if (proxy === null) return;
        logger.info('draining', { signal });
        void proxy.close();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      proxy = await startProxy({
        ...flags, clusterDomain, logger, accessLog, adminRemote: adminRemote as ('shutdown' | 'log-level' | 'tap' | 'config')[], metrics: metrics === 'on',
        metricsRetainIdleMs: parseDuration(retainIdle!, '--metrics-retain-idle'),
        responseTimeoutMs: rt === undefined ? undefined : parseDuration(rt, '--response-timeout'),
        detectTimeoutMs: parseDuration(dt!, '--detect-timeout'),
        opaquePorts: [...opaque],
        pools: { http1MaxConnections: count(h1Max, 'http1-max-connections'), http2MaxConnections: count(h2Max, 'http2-max-connections'), maxPending: count(maxPending, 'max-pending-requests') },
        underscoreHeaders: underscore,
        policy: { defaultInboundPolicy: defaultPolicy as 'deny', clusterNetworks: networks, trustLoopback: trustLoopback === 'on' },
        identity: identityToken === undefined ? undefined : { addr: identityAddr, tokenFile: identityToken, trustAnchorsFile: anchors!, trustDomain },
      });
      if (identityToken === undefined) logger.info('identity: none (plaintext; no identity flags given)');
      if (signalled !== null) stop(signalled);
      await proxy.closed; // a signal, or POST /shutdown on the admin server
      return 0;
    }
    case 'await': {
      const dash = rest.indexOf('--');
      const flags = dash < 0 ? rest : rest.slice(0, dash);
      const command = dash < 0 ? [] : rest.slice(dash + 1);
      const { values } = parseArgs({
        args: flags, strict: true,
        options: { admin: { type: 'string' }, timeout: { type: 'string', default: process.env.SKIFF_AWAIT_TIMEOUT ?? '2m' }, 'no-shutdown': { type: 'boolean', default: false } },
      });
      if (command.length === 0) { console.error('usage: skiff await [--admin HOST:PORT] [--timeout 2m] [--no-shutdown] -- CMD ARGS'); return 2; }
      const { runAwait } = await import('./cli/await.js');
      const { adminAddress } = await import('./cli/admin-client.js');
      const { parseDuration } = await import('./config/duration.js');
      return runAwait(command, { admin: adminAddress(values.admin), timeoutMs: parseDuration(values.timeout!, '--timeout'), noShutdown: values['no-shutdown']!, say: (l) => console.error(l) });
    }
    case 'tap': {
      const { values } = parseArgs({
        args: rest, strict: true,
        options: {
          admin: { type: 'string' }, direction: { type: 'string' }, method: { type: 'string' }, authority: { type: 'string' },
          path: { type: 'string' }, status: { type: 'string' }, identity: { type: 'string' }, limit: { type: 'string', default: '0' },
          json: { type: 'boolean', default: false },
        },
      });
      const { runTap } = await import('./cli/tap.js');
      const { adminAddress } = await import('./cli/admin-client.js');
      const { admin, json, limit, ...filters } = values;
      if (!/^\d+$/.test(limit!)) throw new Error(`--limit: expected a count, got '${limit}'`);
      const f: Record<string, string> = {};
      for (const [k, v] of Object.entries(filters)) if (typeof v === 'string') f[k] = k === 'direction' && v === 'in' ? 'inbound' : k === 'direction' && v === 'out' ? 'outbound' : v;
      return runTap({ admin: adminAddress(admin), filters: f, json: json!, limit: Number(limit), out: (l) => console.log(l) });
    }
    case 'stat': {
      const { values, positionals } = parseArgs({
        args: rest, strict: true, allowPositionals: true,
        options: { by: { type: 'string', default: 'route' }, watch: { type: 'boolean', default: false }, interval: { type: 'string', default: '2s' }, count: { type: 'string', default: '0' } },
      });
      const { runStat } = await import('./cli/stat.js');
      const { adminAddress } = await import('./cli/admin-client.js');
      const { parseDuration } = await import('./config/duration.js');
      const by = values.by!;
      if (by !== 'route' && by !== 'peer' && by !== 'authority' && by !== 'endpoint') throw new Error(`--by: expected route, peer, authority or endpoint, got '${by}'`);
      if (!/^\d+$/.test(values.count!)) throw new Error(`--count: expected a count, got '${values.count}'`);
      const admins = (positionals.length ? positionals : [undefined]).map((a) => adminAddress(a, 'ADMIN_ADDR'));
      return runStat({
        admins, by, watchMs: values.watch ? parseDuration(values.interval!, '--interval') : 0, count: Number(values.count),
        out: (t) => process.stdout.write(t), clear: values.watch! && process.stdout.isTTY === true,
      });
    }
    case 'check': {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true });
      if (positionals.length !== 1) { console.error('usage: skiff check DIR'); return 2; }
      const { loadDirectory } = await import('./config/directory.js');
      const r = loadDirectory(positionals[0]);
      for (const w of r.warnings) console.log(`warning: ${w}`);
      const all = [...r.errors, ...r.routeErrors].map(String);
      if (r.snapshot) {
        // routes as a controller would report them: not attached, or with backends that do not resolve
        const { routeStatuses, describeStatus } = await import('./route/status.js');
        for (const st of routeStatuses(r.snapshot)) {
          for (const { line, ok } of describeStatus(st)) {
            if (ok) console.log(`route: ${line}`);
            else all.push(`${st.route.source}:${st.route.line}: ${line}`);
          }
        }
      }
      if (r.snapshot) {
        // failure accrual annotations the proxies would ignore (accrual off for that Service)
        const { accrualPolicy } = await import('./outbound/accrual.js');
        for (const svc of r.snapshot.services.values()) {
          const p = accrualPolicy(svc.annotations);
          if (typeof p === 'string') all.push(`${svc.source}: Service ${svc.namespace}/${svc.name}: metadata.annotations: ${p} (failure accrual stays off for it)`);
        }
        const { policyReport } = await import('./policy/report.js');
        const report = policyReport(r.snapshot);
        for (const l of report.lines) console.log(`policy: ${l}`);
        all.push(...report.problems);
      }
      if (all.length === 0 && r.snapshot) {
        console.log(`${positionals[0]}: ${r.snapshot.objectCount} objects, valid`);
        return 0;
      }
      for (const e of all) console.error(e);
      console.error(`${positionals[0]}: ${all.length} problem${all.length === 1 ? '' : 's'}`);
      return 1;
    }
    case 'authz': {
      const replaying = rest[0] === 'replay';
      const { values, positionals } = parseArgs({
        args: replaying ? rest.slice(1) : rest, allowPositionals: true, strict: true,
        options: {
          workload: { type: 'string' }, port: { type: 'string' }, 'access-log': { type: 'string' },
          'default-inbound-policy': { type: 'string', default: 'all-unauthenticated' }, 'cluster-networks': { type: 'string' },
          'trust-loopback': { type: 'string', default: 'off' }, 'trust-domain': { type: 'string', default: 'cluster.local' },
        },
      });
      if (positionals.length !== 1 || !values.workload || (replaying && !values['access-log'])) { console.error(COMMANDS.authz); return 2; }
      const { runAuthz } = await import('./cli/authz.js');
      return runAuthz({
        dir: positionals[0], workload: values.workload, port: values.port, replayLog: replaying ? values['access-log'] : undefined,
        defaultPolicy: values['default-inbound-policy']!, clusterNetworks: values['cluster-networks'], trustLoopback: values['trust-loopback']!,
        trustDomain: values['trust-domain']!, out: (l) => console.log(l), err: (l) => console.error(l),
      });
    }
    case 'control': {
      const { values } = parseArgs({
        args: rest, strict: true,
        options: {
          identity: { type: 'string', default: process.env.SKIFF_IDENTITY_DIR },
          listen: { type: 'string', default: process.env.SKIFF_LISTEN ?? '0.0.0.0:8080' },
          'trust-domain': { type: 'string', default: process.env.SKIFF_TRUST_DOMAIN ?? 'cluster.local' },
          'certificate-lifetime': { type: 'string', default: process.env.SKIFF_CERTIFICATE_LIFETIME ?? '24h' },
          config: { type: 'string', default: process.env.SKIFF_CONFIG },
          kubernetes: { type: 'boolean', default: process.env.SKIFF_KUBERNETES === 'true' },
          kubeconfig: { type: 'string', default: process.env.SKIFF_KUBECONFIG },
          'route-status': { type: 'string', default: process.env.SKIFF_ROUTE_STATUS ?? 'on' },
          admin: { type: 'string', default: process.env.SKIFF_ADMIN ?? '0.0.0.0:9990' },
          'log-level': { type: 'string', default: process.env.SKIFF_LOG_LEVEL ?? 'info' },
          'log-format': { type: 'string', default: process.env.SKIFF_LOG_FORMAT ?? 'json' },
        },
      });
      // the identity files: --identity, or the identity/ folder of the control plane's --config directory
      const identityDir = values.identity ?? (values.config ? `${values.config.replace(/\/+$/, '')}/identity` : undefined);
      if (!identityDir) { console.error(COMMANDS.control); return 2; }
      if (values.kubeconfig !== undefined && !values.kubernetes) throw new Error('--kubeconfig goes with --kubernetes');
      if (values['route-status'] !== 'on' && values['route-status'] !== 'off') throw new Error(`--route-status: expected on or off, got '${values['route-status']}'`);
      const logger = await loggerFrom(values['log-level']!, values['log-format']!);
      const { parseDuration } = await import('./config/duration.js');
      const { parseHostPort } = await import('./config/address.js');
      const listen = parseHostPort(values.listen!, '--listen');
      let kubernetes;
      if (values.kubernetes) {
        const { KubeConfig } = await import('@kubernetes/client-node');
        const kc = new KubeConfig();
        // --kubeconfig, else $KUBECONFIG, ~/.kube/config or the Pod's service account (in a cluster)
        if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
        else kc.loadFromDefault();
        if (!kc.getCurrentCluster()) throw new Error('no Kubernetes cluster: give --kubeconfig, or run in a Pod with a service account');
        kubernetes = { kubeConfig: kc, writeStatus: values['route-status'] === 'on' };
        logger.info('reading the cluster', { server: kc.getCurrentCluster()!.server });
      }
      const { startControlPlane } = await import('./control/control-plane.js');
      const cp = await startControlPlane({
        identityDir, trustDomain: values['trust-domain'], listen, kubernetes,
        certificateLifetimeMs: parseDuration(values['certificate-lifetime']!, '--certificate-lifetime'),
        log: (lv, message, fields) => logger[lv](message, fields),
      });
      let admin: import('node:http').Server | null = null;
      if (values.admin !== 'off') {
        const at = parseHostPort(values.admin!, '--admin');
        admin = (await import('./control/control-admin.js')).createControlAdmin(cp);
        await new Promise<void>((resolve, reject) => { admin!.once('error', reject); admin!.listen(at.port, at.host, resolve); });
        const a = admin.address() as { address: string; port: number };
        logger.info(`admin on ${a.address}:${a.port}: /live /ready /metrics`);
      }
      logger.info(`skiff control on ${cp.address.host}:${cp.address.port}: identity service${kubernetes ? ' and config streams from the Kubernetes API' : ''} (trust domain ${values['trust-domain']})`);
      await new Promise<void>((resolve) => {
        const stop = (): void => { admin?.close(); admin?.closeAllConnections(); void cp.close().then(resolve); };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      return 0;
    }
    case 'identity': {
      const [sub, ...args] = rest;
      if (sub === 'token') {
        // skiff identity token [DIR] NAMESPACE/SERVICEACCOUNT: the token a proxy of that account presents;
        // DIR defaults to $SKIFF_IDENTITY_DIR
        if (args.length === 1 && process.env.SKIFF_IDENTITY_DIR) args.unshift(process.env.SKIFF_IDENTITY_DIR);
        if (args.length !== 2) { console.error('usage: skiff identity token [DIR] NAMESPACE/SERVICEACCOUNT (DIR: the identity init directory, or $SKIFF_IDENTITY_DIR)'); return 2; }
        const { readFileSync: read } = await import('node:fs');
        const { join } = await import('node:path');
        const { issueToken, parseServiceAccount, TOKEN_SECRET_FILE } = await import('./identity/token.js');
        const sa = parseServiceAccount(args[1]);
        if (typeof sa === 'string') { console.error(`skiff: ${sa}`); return 2; }
        console.log(issueToken(read(join(args[0], TOKEN_SECRET_FILE), 'utf8'), sa));
        return 0;
      }
      if (sub !== 'init') { console.error('usage: skiff identity init DIR [--trust-domain D] [--root-days N] [--issuer-days N] | skiff identity token DIR NAMESPACE/SA'); return 2; }
      const { values, positionals } = parseArgs({
        args, allowPositionals: true, strict: true,
        options: { 'trust-domain': { type: 'string' }, 'root-days': { type: 'string' }, 'issuer-days': { type: 'string' } },
      });
      if (positionals.length !== 1) { console.error('usage: skiff identity init DIR'); return 2; }
      const days = (v: string | undefined, flag: string): number | undefined => {
        if (v === undefined) return undefined;
        if (!/^\d+$/.test(v)) throw new Error(`--${flag}: expected a number of days, got '${v}'`);
        return Number(v);
      };
      const { initTrust } = await import('./identity/trust.js');
      const r = await initTrust(positionals[0], { trustDomain: values['trust-domain'], rootDays: days(values['root-days'], 'root-days'), issuerDays: days(values['issuer-days'], 'issuer-days') });
      console.log(`trust anchor: ${r.root.subject.replace(/\n/g, ', ')}, valid to ${r.root.validTo}`);
      console.log(`issuer:       ${r.issuer.subject.replace(/\n/g, ', ')}, valid to ${r.issuer.validTo}`);
      console.log(`wrote ${r.files.join(', ')} (0600); keep root.key offline once the issuer exists`);
      return 0;
    }
    case 'version':
    case '--version':
      console.log(pkg.version);
      return 0;
    case 'help':
      if (rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0])) { console.log(COMMANDS[rest[0]]); return 0; }
      console.log(usage);
      return 0;
    case undefined:
    case '--help':
    case '-h':
      console.log(usage);
      return 0;
    default:
      console.error(`skiff: unknown command '${command}'\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => { if (code !== 0 || process.exitCode === undefined) process.exitCode = code; },
  (err: Error) => {
    console.error(`skiff: ${err.message}`);
    process.exitCode = 1;
  },
);

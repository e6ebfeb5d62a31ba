// One request to the Kubernetes API server with a kubeconfig's credentials and TLS settings, JSON
// both ways. The informers have their own (client-node's watch); this is for lists, TokenReviews
// and status writes. Node's http(s) directly: client-node 1.x's generated clients would pull in a
// second HTTP stack and wrap every object in class instances we would turn back into JSON.
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** The API server answered with an error status (its Status message in `message`). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
  }
  override get name(): string { return 'ApiError'; }
}

export async function apiRequest(kc: KubeConfig, method: string, path: string, body?: unknown, contentType = 'application/json', timeoutMs = 30_000): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig names no current cluster');
  const url = new URL(path, cluster.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string | number> = { accept: 'application/json' };
  if (payload !== undefined) { headers['content-type'] = contentType; headers['content-length'] = Buffer.byteLength(payload); }
  const opts: https.RequestOptions = { method, headers };
  await kc.applyToHTTPSOptions(opts);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        let json: unknown;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        if (status >= 200 && status < 300) {
          if (json === undefined) reject(new Error(`${method} ${path}: the answer is not JSON`));
          else resolve(json);
          return;
        }
        const s = (json ?? {}) as { message?: string; reason?: string };
        reject(new ApiError(status, s.reason ?? '', `${method} ${path}: ${status} ${s.reason ?? ''}: ${s.message ?? text.slice(0, 200)}`));
      });
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs / 1000} s`)));
    req.end(payload);
  });
}

// Talking to a proxy's admin server from the other commands (await, tap, stat): plain HTTP/1.1 on
// the loopback or the pod network, with a timeout on every call.
import http from 'node:http';
import { parseHostPort, type HostPort } from '../config/address.js';

export const DEFAULT_ADMIN = '127.0.0.1:4191';

export function adminAddress(v: string | undefined, flag = '--admin'): HostPort {
  return parseHostPort(v ?? process.env.SKIFF_ADMIN ?? DEFAULT_ADMIN, flag);
}

export interface AdminResponse { status: number; body: string }

export function adminRequest(at: HostPort, method: string, path: string, timeoutMs = 5000, body?: string): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: at.host, port: at.port, method, path, timeout: timeoutMs, headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${at.host}:${at.port}${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

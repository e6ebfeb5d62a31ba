// Connecting a pooled upstream socket: within a time limit, with every failure (refused,
// unreachable, timed out) as one ConnectError whose code says which, reported once.
import type net from 'node:net';

export class ConnectError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
  override get name(): string { return 'ConnectError'; }
}

/**
 * Waits for `socket` to connect (or, for TLS, to finish its handshake): `connected` or `failed` is
 * called once. `what` names the peer in errors ("127.0.0.1:8080").
 */
export function whenConnected(socket: net.Socket, what: string, timeoutMs: number, connected: () => void, failed: (err: ConnectError) => void): void {
  let settled = false;
  const fail = (err: ConnectError): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    failed(err);
  };
  const timer = setTimeout(() => {
    socket.destroy();
    fail(new ConnectError(`connect to ${what} timed out`, 'ETIMEDOUT'));
  }, timeoutMs);
  socket.once('error', (err: NodeJS.ErrnoException) => fail(new ConnectError(`connect to ${what}: ${err.code ?? err.message}`, err.code ?? 'ECONNECT')));
  const done = (): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeAllListeners('error');
    connected();
  };
  if ((socket as net.Socket & { encrypted?: boolean }).encrypted) socket.once('secureConnect', done);
  else socket.once('connect', done);
}

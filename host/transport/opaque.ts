// Opaque TCP: bytes relayed both ways between an accepted connection and an upstream address,
// with backpressure (pipe) and half-close carried through. Used for ports marked opaque, for
// traffic that is not HTTP, and for HTTP/1.1 Upgrade tunnels once the upgrade is agreed.
import net from 'node:net';

export interface TunnelCounters {
  onClose?(bytesIn: number, bytesOut: number, error?: Error): void;
  /** Told of the upstream connection once it is established (metrics). */
  track?(upstream: net.Socket): void;
}

/** Relays `client` (with `initial` bytes already read from it) to host:port. */
export function tunnelTcp(client: net.Socket, initial: Buffer, host: string, port: number, counters: TunnelCounters = {}): void {
  const upstream = net.connect({ port, host, allowHalfOpen: true });
  let done = false;
  const finish = (err?: Error): void => {
    if (done) return;
    done = true;
    client.destroy();
    upstream.destroy();
    counters.onClose?.(client.bytesRead, client.bytesWritten, err);
  };
  upstream.once('connect', () => {
    counters.track?.(upstream);
    upstream.setNoDelay(true);
    if (initial.length > 0) upstream.write(initial);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  });
  upstream.on('error', finish);
  client.on('error', finish);
  client.once('close', () => finish());
  upstream.once('close', () => finish());
}

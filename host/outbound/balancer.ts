// Picks an endpoint for each request: power of two choices over the ready endpoints, taking the one
// with fewer requests in flight (cheap, and it steers away from slow or stuck endpoints at once).
// Endpoint state (in-flight count) is kept by address so it survives config updates.
import type { EndpointAddress } from './discovery.js';

export class EndpointState {
  inFlight = 0;
  failures = 0;
  /** What discovery says now (meshed, protocol, identity): refreshed by every update. */
  constructor(public address: EndpointAddress, readonly key: string) {}
}

export class Balancer {
  private endpoints: EndpointState[] = [];

  /** Replaces the endpoint set, keeping the state of endpoints that remain. */
  update(addresses: EndpointAddress[], states: Map<string, EndpointState>): void {
    this.endpoints = addresses.map((a) => {
      const key = `${a.host}:${a.port}`;
      let s = states.get(key);
      if (!s) {
        s = new EndpointState(a, key);
        states.set(key, s);
      } else s.address = a;
      return s;
    });
  }

  get size(): number { return this.endpoints.length; }

  pick(): EndpointState | null {
    const list = this.endpoints;
    const n = list.length;
    if (n === 0) return null;
    if (n === 1) return list[0];
    const i = (Math.random() * n) | 0;
    let j = (Math.random() * (n - 1)) | 0;
    if (j >= i) j++;
    const a = list[i], b = list[j];
    return a.inFlight <= b.inFlight ? a : b;
  }
}

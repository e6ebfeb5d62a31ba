// HOST:PORT values as the flags take them ("127.0.0.1:4140", "[::1]:4140", "0.0.0.0:4143").
export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(value: string, what: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:\s]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`${what}: expected HOST:PORT, got '${value}'`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}


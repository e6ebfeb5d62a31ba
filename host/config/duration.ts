// Durations as flags and Gateway API fields write them: "500ms", "10s", "2m", "1h", or a bare
// number of milliseconds.
export function parseDuration(value: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new Error(`${what}: expected a duration such as 500ms, 10s or 2m, got '${value}'`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

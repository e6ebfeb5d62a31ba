// Timing helpers for the benchmarks: run a workload repeatedly for a fixed time after a warm-up,
// several rounds, and report the median rate. Rates, not single timings: the machine is noisy.
export function rate(fn, { warmupMs = 300, roundMs = 700, rounds = 5 } = {}) {
  const deadline = performance.now() + warmupMs;
  while (performance.now() < deadline) fn();
  const rates = [];
  for (let r = 0; r < rounds; r++) {
    let units = 0;
    const start = performance.now();
    let now = start;
    while (now - start < roundMs) {
      units += fn();
      now = performance.now();
    }
    rates.push(units / ((now - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[rates.length >> 1];
}

export async function rateAsync(fn, { rounds = 5 } = {}) {
  await fn(); // warm-up
  const rates = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    const units = await fn();
    rates.push(units / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[rates.length >> 1];
}

export function fmt(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(1);
}

/** Prints a table: rows of [label, value, unit, ratio-to-first-or-named]. */
export function table(title, rows) {
  console.log(`\n${title}`);
  const w0 = Math.max(...rows.map((r) => r[0].length), 10);
  console.log(`  ${'implementation'.padEnd(w0)}  ${'rate'.padStart(12)}  ratio`);
  const base = rows.find((r) => r[3] === 'base') ?? rows[0];
  for (const [label, value, unit] of rows) {
    const ratio = value / base[1];
    console.log(`  ${label.padEnd(w0)}  ${(fmt(value) + unit).padStart(12)}  ${ratio.toFixed(2)}×`);
  }
}

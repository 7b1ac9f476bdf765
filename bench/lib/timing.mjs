// Warm-up, repetitions and summaries, the same for every side of a comparison.

/**
 * Times fn (sync, or async when it returns a promise): warm-up for `warmupMs` (at least 2 calls), then `reps`
 * repetitions of `inner` calls each, `inner` chosen from the warm-up so that one repetition lasts at least
 * `minRepMs` (short calls are not timed one by one). Returns the time per call of each repetition, in ms.
 */
export async function measure(fn, { reps = 7, minRepMs = 40, warmupMs = 300 } = {}) {
  const first = fn();
  const isAsync = first !== null && typeof first === 'object' && typeof first.then === 'function';
  if (isAsync) await first;
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  const t0 = now();
  let calls = 0;
  while (calls < 2 || now() - t0 < warmupMs) {
    if (isAsync) await fn();
    else fn();
    calls++;
  }
  const per = (now() - t0) / calls;
  const inner = Math.max(1, Math.ceil(minRepMs / Math.max(per, 1e-6)));
  const timesMs = [];
  for (let r = 0; r < reps; r++) {
    const s = now();
    if (isAsync) for (let i = 0; i < inner; i++) await fn();
    else for (let i = 0; i < inner; i++) fn();
    timesMs.push((now() - s) / inner);
  }
  return { timesMs, inner };
}

/** { median, min, max, reps } of a list of numbers. */
export function summary(values) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { median, min: s[0], max: s[n - 1], reps: n };
}

/** Formats a time given in microseconds with a sensible unit. */
export function fmtTime(us) {
  if (!Number.isFinite(us)) return '-';
  if (us < 10) return `${us.toFixed(2)} us`;
  if (us < 1000) return `${us.toFixed(1)} us`;
  if (us < 1e6) return `${(us / 1000).toFixed(2)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

// A progress bar on stderr while the benchmark runs: only when stderr is a TTY and not --quiet; nothing
// otherwise (logs and pipes get the table at the end, not progress lines).
export function createProgress({ total, enabled = process.stderr.isTTY === true }) {
  let done = 0;
  const started = Date.now();
  const draw = (label) => {
    if (!enabled) return;
    const width = 28;
    const filled = Math.round((width * done) / Math.max(1, total));
    const elapsed = (Date.now() - started) / 1000;
    const eta = done > 0 ? ((total - done) * elapsed) / done : null;
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${elapsed.toFixed(0)} s${eta === null ? '' : `, ~${eta.toFixed(0)} s left`}  ${label}`;
    const cols = process.stderr.columns || 100;
    process.stderr.write(`\r${line.slice(0, cols - 1).padEnd(cols - 1)}`);
  };
  return {
    /** Before a step: shows what runs now. */
    start(label) {
      draw(label);
    },
    /** After a step. */
    tick(label = '') {
      done++;
      draw(label);
    },
    end() {
      if (enabled) process.stderr.write(`\r${' '.repeat((process.stderr.columns || 100) - 1)}\r`);
    },
  };
}

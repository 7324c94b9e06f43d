/**
 * Progress over a known amount of work (the visualize step: each attribution method, layer, randomization step
 * and the class images, weighted by their estimated seconds from the model's measured cost). On a TTY a bar redrawn in place with an ETA; otherwise a
 * plain line at most every `every` seconds (CI logs), and always for the last unit.
 */
export interface WorkProgress {
  /** One unit done (`weight` of the total: its estimated seconds or passes); `what` names it (shown on the bar). */
  tick(what: string, weight?: number): void;
  /** The work is over: clear the bar (TTY). */
  end(): void;
  /**
   * The ETA shown when the work first reached 5 % and the seconds the rest then took (once `end` was called): how
   * far the first estimate a user sees was from the end.
   */
  etaAt5(): { eta: number; actual?: number } | undefined;
}

/**
 * The ETA is the estimate of the work left scaled by how fast the work has gone against its estimate — with a prior:
 * `prior` × total estimated seconds counted as done at the estimated rate. The first units carry one-off costs
 * (kernels compiled and operators packed on first use), so early on the measured rate alone overstates the rest;
 * the prior's weight fades as the work proceeds.
 */
export function workProgress({ label, total, stream = process.stderr, every = 15, now = () => performance.now(), prior = 0.1 }: {
  label: string;
  total: number;
  stream?: Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean };
  every?: number;
  now?: () => number;
  prior?: number;
}): WorkProgress {
  const tty = Boolean(stream.isTTY);
  const start = now();
  let done = 0;
  let lastLine = start;
  let at5: { eta: number; time: number; actual?: number } | undefined;
  const percent = () => Math.round((100 * done) / Math.max(1e-9, total));
  const eta = () => {
    const elapsed = (now() - start) / 1000;
    const p = prior * total;
    return done > 0 ? ((elapsed + p) / (done + p)) * (total - done) : 0;
  };
  return {
    tick(what, weight = 1) {
      done = Math.min(total, done + weight);
      if (!at5 && done >= 0.05 * total) at5 = { eta: eta(), time: now() };
      if (tty) {
        const width = 24;
        const filled = Math.round((done / Math.max(1e-9, total)) * width);
        stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent()} % eta ${eta().toFixed(0)}s ${what.slice(0, 40)}\x1b[K`);
      } else if (done >= total - 1e-9 || (now() - lastLine) / 1000 >= every) {
        lastLine = now();
        stream.write(`${label}: ${percent()} % (${what}), eta ${eta().toFixed(0)} s\n`);
      }
    },
    end() {
      if (tty) stream.write('\r\x1b[K');
      if (at5 && at5.actual == null) at5.actual = (now() - at5.time) / 1000;
    },
    etaAt5() {
      return at5 && { eta: at5.eta, actual: at5.actual };
    },
  };
}

/**
 * Progress over a known number of work units (the visualize step: one unit per attribution method, per layer,
 * per randomization step and for the class images). On a TTY a bar redrawn in place with an ETA; otherwise a
 * plain line at most every `every` seconds (CI logs), and always for the last unit.
 */
export interface WorkProgress {
  /** One unit done; `what` names it (shown on the bar). */
  tick(what: string): void;
  /** Clear the bar (TTY). */
  end(): void;
}

export function workProgress({ label, total, stream = process.stderr, every = 15, now = () => performance.now() }: {
  label: string;
  total: number;
  stream?: Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean };
  every?: number;
  now?: () => number;
}): WorkProgress {
  const tty = Boolean(stream.isTTY);
  const start = now();
  let done = 0;
  let lastLine = start;
  const eta = () => {
    const elapsed = (now() - start) / 1000;
    return done > 0 ? (elapsed / done) * (total - done) : 0;
  };
  return {
    tick(what) {
      done = Math.min(total, done + 1);
      if (tty) {
        const width = 24;
        const filled = Math.round((done / Math.max(1, total)) * width);
        stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} eta ${eta().toFixed(0)}s ${what.slice(0, 40)}\x1b[K`);
      } else if (done === total || (now() - lastLine) / 1000 >= every) {
        lastLine = now();
        stream.write(`${label}: ${done}/${total} units (${what}), eta ${eta().toFixed(0)} s\n`);
      }
    },
    end() {
      if (tty) stream.write('\r\x1b[K');
    },
  };
}

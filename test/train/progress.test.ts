/** Work-unit progress: bar with an ETA on a TTY, sparse plain lines otherwise (driven by a fake clock). */
import { describe, expect, it } from 'vitest';
import { workProgress } from '../../src/pipeline/progress.ts';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (s: string) => out.push(s) > 0 } };
}

describe('workProgress', () => {
  it('plain lines every 15 s and at the end, with the ETA from the mean unit time', () => {
    let t = 0;
    const { out, stream } = sink(false);
    const p = workProgress({ label: 'm: visualize', total: 10, stream, now: () => t, prior: 0 });
    for (let i = 1; i <= 10; i++) {
      t = i * 4000; // 4 s per unit
      p.tick(`layer ${i}`);
    }
    // Lines at 16 s (unit 4), 32 s (unit 8) and the last unit.
    expect(out).toEqual([
      'm: visualize: 40 % (layer 4), eta 24 s\n',
      'm: visualize: 80 % (layer 8), eta 8 s\n',
      'm: visualize: 100 % (layer 10), eta 0 s\n',
    ]);
  });

  it('weighs units by their estimated cost, so the ETA follows the work', () => {
    let t = 0;
    const { out, stream } = sink(false);
    // 100 estimated seconds: a 10-second unit, then a 90-second one.
    const p = workProgress({ label: 'm', total: 100, stream, now: () => t, every: 1, prior: 0 });
    t = 20_000; // the first unit took twice its estimate
    p.tick('saliency', 10);
    t = 200_000;
    p.tick('integrated-gradients', 90);
    expect(out).toEqual(['m: 10 % (saliency), eta 180 s\n', 'm: 100 % (integrated-gradients), eta 0 s\n']);
  });

  it('keeps the ETA shown when the work first reached 5 % and what the rest then took', () => {
    let t = 0;
    const { stream } = sink(false);
    const p = workProgress({ label: 'm', total: 100, stream, now: () => t, prior: 0 });
    t = 3000;
    p.tick('a', 3); // 3 %: not yet
    expect(p.etaAt5()).toBeUndefined();
    t = 6000;
    p.tick('b', 3); // 6 % after 6 s: 1 s per unit, 94 to go
    expect(p.etaAt5()).toEqual({ eta: 94, actual: undefined });
    t = 106_000;
    p.tick('c', 90); // the units' weights need not add up to the total
    expect(p.etaAt5()).toEqual({ eta: 94, actual: undefined });
    p.end();
    expect(p.etaAt5()).toEqual({ eta: 94, actual: 100 });
  });

  it('a prior at the estimated rate keeps a slow first unit from scaling the whole ETA', () => {
    let t = 0;
    const { out, stream } = sink(false);
    // 100 estimated seconds; the first 5 took 15 (three times the estimate: one-off costs), the rest goes as estimated.
    const p = workProgress({ label: 'm', total: 100, stream, now: () => t, every: 1 });
    t = 15_000;
    p.tick('first', 5);
    // (15 + 10) / (5 + 10) × 95 = 158 s, against 285 s from the first unit's rate alone and 95 s that remain.
    expect(out).toEqual(['m: 5 % (first), eta 158 s\n']);
    t = 110_000;
    p.tick('rest', 95);
    p.end();
    expect(p.etaAt5()).toEqual({ eta: 95 * 25 / 15, actual: 95 });
  });

  it('a bar redrawn in place on a TTY', () => {
    let t = 0;
    const { out, stream } = sink(true);
    const p = workProgress({ label: 'm', total: 4, stream, now: () => t, prior: 0 });
    t = 2000;
    p.tick('grad-cam');
    expect(out[0]).toBe(`\rm [${'#'.repeat(6)}${'.'.repeat(18)}] 25 % eta 6s grad-cam\x1b[K`);
    p.end();
    expect(out.at(-1)).toBe('\r\x1b[K');
  });
});

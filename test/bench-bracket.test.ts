/**
 * The bench's PyTorch reference is run before and after convlens's measurements and combined per rate by geometric
 * mean (scripts/bench-convnets.ts `bracket`), so a machine that drifts during the run does not favour either side.
 */
import { describe, expect, it } from 'vitest';
import { bracket } from '../scripts/bench-convnets.ts';

describe('bench: PyTorch bracketed around convlens', () => {
  it('takes the geometric mean of each rate and keeps the version and thread count', () => {
    const before = { 'gap-cnn': { train_img_per_s: 400, infer_img_per_s: 2000 }, torch: '1.13.0a0', threads: 2 } as never;
    const after = { 'gap-cnn': { train_img_per_s: 900, infer_img_per_s: 500 }, torch: '1.13.0a0', threads: 2 } as never;
    const out = bracket(before, after) as unknown as Record<string, Record<string, number> | string | number>;
    expect(out['gap-cnn']).toEqual({ train_img_per_s: 600, infer_img_per_s: 1000 });
    expect(out.torch).toBe('1.13.0a0');
    expect(out.threads).toBe(2);
  });

  it('keeps a rate the second run lacks as the first run measured it', () => {
    const out = bracket({ big: { infer_img_per_s: 5, gradcam_ms_per_img: 150 } }, { big: { infer_img_per_s: 20 } });
    expect(out.big).toEqual({ infer_img_per_s: 10, gradcam_ms_per_img: 150 });
  });
});

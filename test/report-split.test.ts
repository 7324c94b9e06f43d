/**
 * One loaded model split by sample over processes and machines (slow tier): --jobs 1, --jobs 2 and compute --shard
 * 1/2, 2/2 + merge give byte-identical report.json whatever the threads; a missing part is refused.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ATTRIBUTION_METHODS } from '../src/viz/registry.ts';
import { writeColourFixture } from './helpers/colour-model.ts';
import { runNode } from './helpers/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'convlens-split-'));

beforeAll(async () => {
  await writeColourFixture(dir);
});

describe('report on a loaded model, split by sample', () => {
  it('one model split by sample: --jobs 1, --jobs 2 and compute --shard 1/2, 2/2 + merge give the same report, whatever the threads', async () => {
    // One process (--jobs 1, or one CI shard) gives XNNPACK every core; parallel processes share them.
    const threads = (n: number) => new RegExp(`XNNPACK SIMD, ${n} threads?,`);
    const cores = availableParallelism();
    const tsx = resolve('node_modules/tsx/dist/cli.mjs');
    const model = ['--model', join(dir, 'colour', 'model.json'), '--data', join(dir, 'images'), '--no-cache'];
    const report = (out: string) => readFileSync(join(out, 'models/colour/report.json'), 'utf8');
    const one = await runNode([tsx, 'scripts/report.ts', ...model, '--jobs', '1', '--out', join(dir, 'split-1')], { CONVLENS_WORK_DIR: join(dir, 'split-w1') });
    expect(one.status, one.stderr).toBe(0);
    const two = await runNode([tsx, 'scripts/report.ts', ...model, '--jobs', '2', '--out', join(dir, 'split-2')], { CONVLENS_WORK_DIR: join(dir, 'split-w2') });
    expect(two.status, two.stderr).toBe(0);
    expect(two.stdout).toContain('1 model in 2 parallel processes');
    expect(one.stdout).toMatch(threads(cores));
    expect(two.stdout).toMatch(threads(Math.max(1, Math.floor(cores / 2))));
    for (const k of [1, 2]) {
      const shard = await runNode([tsx, 'scripts/report.ts', 'compute', ...model, '--shard', `${k}/2`, '--work-dir', join(dir, `shard-${k}`)]);
      expect(shard.status, shard.stderr).toBe(0);
      expect(shard.stdout).toMatch(threads(cores));
    }
    // Part 1 computes the model-wide views and so takes fewer samples; each part lists the samples it explained,
    // together every sample once, and leaves the others' attributions empty.
    const parts = [1, 2].map((k) => JSON.parse(readFileSync(join(dir, `shard-${k}`, 'manifest.json'), 'utf8')).models[0]);
    expect(parts.map((p) => ({ index: p.part.index, count: p.part.count }))).toEqual([{ index: 1, count: 2 }, { index: 2, count: 2 }]);
    expect(parts[1].layerViews).toEqual([]);
    expect(parts[0].layerViews.length).toBeGreaterThan(0);
    expect([...parts[0].part.explained, ...parts[1].part.explained].sort()).toEqual([0, 1]);
    expect(parts[1].part.explained.length).toBeGreaterThanOrEqual(parts[0].part.explained.length);
    for (const p of parts) {
      expect(p.samples.map((s: { attributions: unknown[] }, i: number) => s.attributions.length)).toEqual(p.samples.map((_: unknown, i: number) => (p.part.explained.includes(i) ? ATTRIBUTION_METHODS.length : 0)));
    }
    const merged = await runNode([tsx, 'scripts/report.ts', 'merge', join(dir, 'shard-1'), join(dir, 'shard-2'), '--out', join(dir, 'split-3')], { CONVLENS_WORK_DIR: join(dir, 'split-w3') });
    expect(merged.status, merged.stderr).toBe(0);
    expect(report(join(dir, 'split-2'))).toBe(report(join(dir, 'split-1')));
    expect(report(join(dir, 'split-3'))).toBe(report(join(dir, 'split-1')));
    const missing = await runNode([tsx, 'scripts/report.ts', 'merge', join(dir, 'shard-2'), '--out', join(dir, 'split-4')], { CONVLENS_WORK_DIR: join(dir, 'split-w4') });
    expect(missing.stderr).toMatch(/model 'colour' has parts 2\/2; merge the work dirs of all 2 shards/);
  }, 600_000);

});

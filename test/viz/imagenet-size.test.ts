/**
 * ImageNet-size models through the whole visualize step — every method with faithfulness, every layer's
 * activations, filters, activation maximization, the randomization check and class images — within the memory
 * plan: MobileNetV2 1.0 at 224x224 (2 photos) and VGG16 at 224x224 with its 138 M-parameter top (1 photo, the
 * one that ran out of heap before XNNPACK's packed weights were counted). No tensor leaks, peak RSS < 6 GiB.
 * Each runs in a child process (test/fixtures/explain-224.ts), whose peak RSS is its own. Slow by nature (~4 and
 * ~9 minutes on 2 cores).
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ATTRIBUTION_METHODS } from '../../src/viz/registry.ts';
import { runNode } from '../helpers/run.ts';

interface Explained {
  layers: number;
  limits: { forward: number; gradient: number };
  before: number;
  after: number;
  maxRssBytes: number;
  samples: Array<{ methods: string[]; deletion: number[]; extras: Array<Record<string, number>> }>;
  layerViews: number;
  actmaxLayers: string[];
  gridChannels: Record<string, number | undefined>;
  randomizationSteps: number;
  classMax: number;
  work: { heavy: boolean; skipped: unknown[]; notes: string[]; budget?: number; trimmed: Array<{ what: string; saved: number }> };
}

async function explain(model: string, photos: number, timeoutMs: number): Promise<Explained> {
  const run = await runNode([resolve('node_modules/tsx/dist/cli.mjs'), 'test/fixtures/explain-224.ts', model, String(photos)], {}, timeoutMs);
  expect(run.status, run.stderr).toBe(0);
  const r = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Explained;
  expect(r.after).toBe(r.before);
  expect(r.maxRssBytes).toBeLessThan(6 * 2 ** 30);
  expect(r.work.skipped).toEqual([]);
  for (const s of r.samples) expect(s.methods).toEqual(ATTRIBUTION_METHODS.map((m) => m.id));
  return r;
}

describe('ImageNet-size models, every view', () => {
  it('MobileNetV2 1.0 at 224x224, 2 photos', async () => {
    const r = await explain('mobilenetv2', 2, 900_000);
    expect(r.limits.gradient).toBeGreaterThan(1);
    for (const s of r.samples) expect(s.deletion.every((n) => n === 9)).toBe(true); // 8 quadratic steps
    // Score-CAM on 64 of out_relu's 1,280 channels, chosen by Grad-CAM weight.
    const scoreCam = r.samples[0].extras[ATTRIBUTION_METHODS.findIndex((m) => m.id === 'score-cam')];
    expect(scoreCam).toMatchObject({ channelsUsed: 64, layerChannels: 1280 });
    expect(r.layerViews).toBe(r.layers - 1);
    // The default budget (150 s on the reference machine, from the counted cost) trims the model-wide views first.
    expect(r.work.budget).toBe(150);
    expect(r.work.trimmed[0].what).toBe('deletion/insertion curves: 16 → 8 steps');
    expect(r.work.trimmed.map((t) => t.what)).toContain('randomization check: 2 → 1 sample');
    expect(r.actmaxLayers.length).toBeLessThanOrEqual(9);
    expect(r.randomizationSteps).toBeLessThanOrEqual(3);
    expect(r.work.heavy).toBe(true);
  }, 900_000);

  it('VGG16 with its top at 224x224, 1 photo', async () => {
    const r = await explain('vgg16', 1, 1_800_000);
    expect(r.actmaxLayers.length).toBeLessThanOrEqual(3);
    expect(r.randomizationSteps).toBeLessThanOrEqual(3);
    expect(r.classMax).toBeLessThanOrEqual(1);
    expect(r.work.trimmed.length).toBeGreaterThan(5);
  }, 1_800_000);
});

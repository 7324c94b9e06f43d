/**
 * Saliency, Grad-CAM and Integrated Gradients on LeNet-5 with fixed weights against float64 plain-loop
 * implementations (test/helpers/lenet-f64.ts), relative error ≤ 1e-4. The weights are trained for a few steps so
 * that ReLUs are both on and off.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradCam } from '../../src/viz/methods/grad-cam.ts';
import { integratedGradients } from '../../src/viz/methods/integrated-gradients.ts';
import { saliency } from '../../src/viz/methods/saliency.ts';
import { gradCamReference, integratedGradientsReference, reference, weightsOf } from '../helpers/lenet-f64.ts';
import { relError, useBackend } from '../helpers/backends.ts';
import { trainedLenet } from '../helpers/small-models.ts';

let model: tf.LayersModel;
let x: tf.Tensor4D;
const targets = [3, 7];

beforeAll(async () => {
  await useBackend('wasm');
  ({ model, x } = trainedLenet());
});

describe('float64 references on LeNet-5', () => {
  it('saliency = |∂logit/∂x|', () => {
    const W = weightsOf(model);
    const maps = saliency.attribute({ model, x, targets, seed: 0 }, {} as never).maps.arraySync() as number[][][];
    const px = x.arraySync() as number[][][][];
    for (let b = 0; b < 2; b++) {
      const ref = reference(W, px[b].flat(2), targets[b]);
      expect(relError(maps[b].flat(), Array.from(ref.dx, Math.abs))).toBeLessThan(1e-4);
    }
  });

  it('Grad-CAM at conv2d_1', () => {
    const W = weightsOf(model);
    const r = gradCam.attribute({ model, x, targets, seed: 0 }, {} as never);
    expect(r.lowRes!.shape).toEqual([2, 8, 8]);
    const low = r.lowRes!.arraySync() as number[][][];
    const px = x.arraySync() as number[][][][];
    for (let b = 0; b < 2; b++) {
      const ref = gradCamReference(reference(W, px[b].flat(2), targets[b]));
      expect(Math.max(...ref)).toBeGreaterThan(0);
      expect(relError(low[b].flat(), ref)).toBeLessThan(1e-4);
    }
  });

  it('Integrated Gradients (32 steps, black baseline)', () => {
    const W = weightsOf(model);
    const r = integratedGradients.attribute({ model, x, targets, seed: 0 }, { steps: 32, baseline: 'black' });
    const maps = r.maps.arraySync() as number[][][];
    const px = x.arraySync() as number[][][][];
    for (let b = 0; b < 2; b++) {
      const ref = integratedGradientsReference(W, px[b].flat(2), targets[b], 32);
      expect(relError(maps[b].flat(), ref)).toBeLessThan(1e-4);
    }
  });
});

/** One table-driven check over every registered method and two architectures: shape, range, determinism, leaks. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { lenet5 } from '../../src/models/lenet5.ts';
import { mobileNetV2 } from '../../src/models/mobilenet-v2.ts';
import { ATTRIBUTION_METHODS } from '../../src/viz/registry.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

const models = {
  lenet5: () => ({ model: lenet5({ seed: 1 }), shape: [28, 28, 1] }),
  mobilenetv2: () => ({ model: mobileNetV2({ inputShape: [32, 32, 3], alpha: 0.35, numClasses: 4, head: 'transfer' }), shape: [32, 32, 3] }),
};
const quick: Record<string, object> = {
  'smoothgrad-saliency': { samples: 4 },
  'integrated-gradients': { steps: 8 },
  'score-cam': { maxChannels: 16 },
  occlusion: { patch: 8, stride: 8 },
  rise: { masks: 16 },
};

describe.each(Object.entries(models))('every method on %s', (_, build) => {
  const { model, shape } = build();
  const x = tf.randomUniform([2, ...shape] as [number, number, number, number], 0, 1, "float32", 4) as tf.Tensor4D;
  it.each(ATTRIBUTION_METHODS.map((m) => [m.id, m] as const))('%s', (_id, method) => {
    const params = method.params.parse(quick[method.id] ?? {});
    const run = () => {
      const r = method.attribute({ model, x, targets: [1, 2], seed: 5 }, params as never);
      const values = Array.from(r.maps.dataSync());
      const shapeOut = r.maps.shape;
      tf.dispose([r.maps, r.channels, r.lowRes].filter(Boolean) as tf.Tensor[]);
      return { values, shapeOut, extras: r.extras };
    };
    const before = tf.memory().numTensors;
    const a = run();
    expect(tf.memory().numTensors, 'leaked tensors').toBe(before);
    expect(a.shapeOut).toEqual([2, shape[0], shape[1]]);
    expect(a.values.every(Number.isFinite)).toBe(true);
    if (!method.signed) expect(Math.min(...a.values)).toBeGreaterThanOrEqual(0);
    const b = run();
    expect(b.values).toEqual(a.values); // same seed → same bytes
  });
});

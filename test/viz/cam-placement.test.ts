/**
 * CAM upsampling puts each unit at the centre of its receptive field: for 'same' padding and 2x2 pooling that is
 * TensorFlow's half-pixel-centre bilinear resize (a reference computed another way); for 'valid' padding the
 * grid covers only the pixels its fields are centred on (TinyVGG: 26x26 units from pixel 7 to 57 of 64).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinyVgg } from '../../src/models/tiny-vgg.ts';
import { peak } from '../../src/viz/metrics/localization.ts';
import { layerPlacement, placeOnInput } from '../../src/viz/methods/cam.ts';
import { gradCam } from '../../src/viz/methods/grad-cam.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

function samePadded(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ name: 'c1', inputShape: [64, 64, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
  for (const i of [1, 2, 3]) {
    m.add(tf.layers.maxPooling2d({ name: `p${i}`, poolSize: 2 }));
    m.add(tf.layers.conv2d({ name: `c${i + 1}`, filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
  }
  m.add(tf.layers.globalAveragePooling2d({}));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  return m;
}

describe('placing CAM units on the input', () => {
  it("'same' padding with 2x2 pooling: units every 8 pixels from 4, equal to the half-pixel-centre bilinear resize", () => {
    const m = samePadded();
    const placement = layerPlacement(m, 'c4', [8, 8], [64, 64]);
    expect(placement).toEqual({ start: [4, 4], jump: [8, 8] });
    const low = tf.randomUniform([3, 8, 8], 0, 1, 'float32', 5) as tf.Tensor3D;
    const ours = placeOnInput(low, placement, [64, 64]).dataSync();
    const ref = tf.image.resizeBilinear(tf.expandDims(low, 3) as tf.Tensor4D, [64, 64], false, true).dataSync();
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
    expect(worst).toBeLessThan(1e-5);
    // The stretch most tools use (no half-pixel centres) differs by up to half a unit's shift.
    const stretch = tf.image.resizeBilinear(tf.expandDims(low, 3) as tf.Tensor4D, [64, 64]).dataSync();
    let shift = 0;
    for (let i = 0; i < ref.length; i++) shift = Math.max(shift, Math.abs(stretch[i] - ref[i]));
    expect(shift).toBeGreaterThan(0.05);
    m.dispose();
  });

  it("'valid' padding (TinyVGG relu_2_2): 26x26 units from pixel 7 every 2 pixels, constant beyond the outermost", () => {
    const m = tinyVgg({ inputShape: [64, 64, 3], numClasses: 5, seed: 1 });
    const placement = layerPlacement(m, 'relu_2_2', [26, 26], [64, 64]);
    expect(placement).toEqual({ start: [7, 7], jump: [2, 2] });
    for (const [i, j] of [[0, 0], [5, 20], [25, 25], [13, 2]]) {
      const one = new Float32Array(26 * 26);
      one[i * 26 + j] = 1;
      const map = placeOnInput(tf.tensor3d(one, [1, 26, 26]), placement, [64, 64]);
      const d = map.dataSync();
      // The unit's centre 7 + 2i lies between pixels 6 + 2i and 7 + 2i (centres at p + 0.5): both weigh 0.75 per
      // axis when inside the grid; at the grid's edge the held value reaches 1 over the outer pixels.
      const p = peak(d, 64);
      expect(Math.abs(p.y + 0.5 - (7 + 2 * i))).toBeLessThanOrEqual(i === 0 || i === 25 ? 7 : 0.5);
      expect(Math.abs(p.x + 0.5 - (7 + 2 * j))).toBeLessThanOrEqual(j === 0 || j === 25 ? 7 : 0.5);
      if (i > 0 && i < 25 && j > 0 && j < 25) {
        expect(d[(6 + 2 * i) * 64 + 6 + 2 * j]).toBeCloseTo(0.5625, 6);
        expect(d[(7 + 2 * i) * 64 + 7 + 2 * j]).toBeCloseTo(0.5625, 6);
      }
      // Pixels 0…6 hold the first unit's value; 58…63 the last one's.
      if (i === 0 && j === 0) expect(d[3 * 64 + 3]).toBe(1);
      if (i === 25 && j === 25) expect(d[60 * 64 + 61]).toBe(1);
      map.dispose();
    }
    m.dispose();
  });

  it('Grad-CAM maps of a valid-padded model come out placed (not stretched)', () => {
    const m = tinyVgg({ inputShape: [64, 64, 3], numClasses: 5, seed: 2 });
    const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const r = gradCam.attribute({ model: m, x, targets: [0, 1], seed: 0 }, {} as never);
    const expected = placeOnInput(r.lowRes!, { start: [7, 7], jump: [2, 2] }, [64, 64]).dataSync();
    expect(Array.from(r.maps.dataSync())).toEqual(Array.from(expected));
    tf.dispose([x, r.maps, r.lowRes!]);
    m.dispose();
  });

  it('a layer the receptive-field walk does not place falls back to an even spread', () => {
    const m = samePadded();
    expect(layerPlacement(m, 'not-a-layer', [4, 4], [64, 48])).toEqual({ start: [8, 6], jump: [16, 12] });
    m.dispose();
  });
});

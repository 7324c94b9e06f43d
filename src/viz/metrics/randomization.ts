/**
 * Cascading model randomization (Adebayo et al. 2018, "Sanity Checks for Saliency Maps", Sec. 3.1): re-initialise
 * the layers' weights from the top of the network down, one more layer at each step, and compare every
 * method's map with the trained model's by Spearman rank correlation of |attribution|. A method that explains
 * the model should decorrelate quickly; one whose maps survive randomisation (guided backprop) explains the
 * image, not the model. The model's own weights are restored afterwards.
 */
import * as tf from '@tensorflow/tfjs';
import { attributeInChunks } from '../attribute.ts';
import type { BatchLimits } from '../types.ts';
import type { AttributionMethod } from '../types.ts';

/** Spearman's ρ: Pearson correlation of the ranks (ties get their mean rank). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const rank = (v: ArrayLike<number>) => {
    const idx = Array.from({ length: v.length }, (_, i) => i).sort((i, j) => v[i] - v[j]);
    const r = new Float64Array(v.length);
    for (let i = 0; i < idx.length; ) {
      let j = i;
      while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
      for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const ra = rank(a);
  const rb = rank(b);
  const n = ra.length;
  const ma = ra.reduce((s, v) => s + v, 0) / n;
  const mb = rb.reduce((s, v) => s + v, 0) / n;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    cov += (ra[i] - ma) * (rb[i] - mb);
    va += (ra[i] - ma) ** 2;
    vb += (rb[i] - mb) ** 2;
  }
  return va === 0 || vb === 0 ? 0 : cov / Math.sqrt(va * vb);
}

export interface RandomizationStep {
  /** The layer randomised at this step (all layers above it are random too). */
  layer: string;
  /** Per method: Spearman ρ of |map| with the trained model's |map|, averaged over samples. */
  correlation: Record<string, number>;
  /** Per method and sample: the map [H·W] at this step. */
  maps: Record<string, Float32Array[]>;
}

/** Layers with weights, top (output) first. */
function weightedLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.filter((l) => l.trainableWeights.length > 0).reverse();
}

export function cascadingRandomization(
  model: tf.LayersModel,
  methods: Array<AttributionMethod<never>>,
  x: tf.Tensor4D,
  targets: number[],
  seed: number,
  paramsFor: (id: string) => Record<string, unknown>,
  /**
   * At most this many steps: a deep model's weighted layers are randomised in this many groups of about equal
   * size (top first), each step adding one group. LeNet-5's five weighted layers stay one per step.
   */
  maxSteps = 8,
  /** Called after the trained maps and after each step (progress). */
  onStep?: (what: string) => void,
  /** The CAM methods' layer (as in the report's maps). */
  camLayer?: string,
  /** The model's memory plan. */
  limits?: BatchLimits,
): { original: Record<string, Float32Array[]>; steps: RandomizationStep[] } {
  const [B, H, W] = x.shape;
  const mapsNow = (): Record<string, Float32Array[]> =>
    Object.fromEntries(
      methods.map((m) => {
        const v = attributeInChunks(m, { model, x, targets, seed, layer: camLayer, limits }, paramsFor(m.id)).maps;
        return [m.id, Array.from({ length: B }, (_, b) => v.slice(b * H * W, (b + 1) * H * W))];
      }),
    );
  // The trained weights wait in JS memory, not in the engine's heap: VGG16's 528 MB would otherwise sit there
  // twice (and XNNPACK keeps a packed copy of the live ones).
  const saved = model.getWeights().map((w) => ({ shape: w.shape, values: w.dataSync().slice() }));
  try {
    const original = mapsNow();
    onStep?.('randomization: trained maps');
    const steps: RandomizationStep[] = [];
    const layers = weightedLayers(model);
    const groups = Math.min(maxSteps, layers.length);
    let k = 0;
    for (let g = 1; g <= groups; g++) {
      const upTo = Math.ceil((layers.length * g) / groups);
      let layer = layers[k];
      for (; k < upTo; k++) {
        layer = layers[k];
        const names = layer.weights.map((v) => v.originalName ?? v.name);
        const fresh = layer.getWeights().map((w, i) =>
          tf.tidy(() => {
            // BatchNorm back to its initial state (γ = 1, β = 0, moving mean 0, variance 1): zeros would kill
            // every activation above it.
            if (/gamma|moving_variance/.test(names[i])) return tf.onesLike(w);
            // Weights: Glorot-like uniform with the layer's own scale; biases: zero (as at initialisation).
            if (w.rank === 1) return tf.zerosLike(w);
            const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
            const limit = Math.sqrt(6 / (fanIn + w.shape[w.rank - 1]));
            return tf.randomUniform(w.shape, -limit, limit, 'float32', seed * 100 + (k + 1) * 10 + i);
          }),
        );
        layer.setWeights(fresh);
        tf.dispose(fresh);
      }
      const maps = mapsNow();
      const correlation = Object.fromEntries(
        methods.map((m) => {
          const rs = maps[m.id].map((mp, b) => spearman(mp.map(Math.abs), original[m.id][b].map(Math.abs)));
          return [m.id, rs.reduce((s, v) => s + v, 0) / rs.length];
        }),
      );
      steps.push({ layer: layer.name, correlation, maps });
      onStep?.(`randomization: down to ${layer.name}`);
    }
    return { original, steps };
  } finally {
    const restored = saved.map((w) => tf.tensor(w.values, w.shape));
    model.setWeights(restored);
    tf.dispose(restored);
  }
}

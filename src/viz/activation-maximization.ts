/**
 * Activation maximization (Erhan et al. 2009; Simonyan et al. 2014 Sec. 2 for classes; Olah et al. 2017,
 * "Feature Visualization", for the regularisers): gradient ascent on the input from seeded noise, with
 * L2-normalised gradient steps (seeds 002/004), random jitter (an input modifier), and total-variation and
 * L2 penalties (regularisers). Objectives: the mean activation of one channel of a layer, or one class's
 * pre-softmax logit. Many objectives run as one batch: sample b maximises objective b.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../data/batches.ts';
import { foldedGraph } from '../engine/folded.ts';

/** What to maximise for one batch row. */
export type Objective = { kind: 'channel'; layer: string; channel: number } | { kind: 'class'; index: number };

/** A penalty per sample, subtracted (× weight) from the objective. */
export interface Regularizer {
  name: string;
  weight: number;
  /** [B] penalty values. */
  penalty(x: tf.Tensor4D): tf.Tensor1D;
}

/** Total variation: Σ |x(i+1, j) − x(i, j)| + |x(i, j+1) − x(i, j)|, per sample. */
export const totalVariation = (weight: number): Regularizer => ({
  name: 'tv',
  weight,
  penalty: (x) =>
    tf.tidy(() => {
      const [, H, W] = x.shape;
      const dy = tf.abs(tf.sub(tf.slice(x, [0, 1, 0, 0], [-1, H - 1, -1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, H - 1, -1, -1])));
      const dx = tf.abs(tf.sub(tf.slice(x, [0, 0, 1, 0], [-1, -1, W - 1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, -1, W - 1, -1])));
      return tf.add(tf.sum(dy, [1, 2, 3]), tf.sum(dx, [1, 2, 3])) as tf.Tensor1D;
    }),
});

/** L2 norm of the deviation from `center`, per sample. */
export const l2Penalty = (weight: number, center = 0.5): Regularizer => ({
  name: 'l2',
  weight,
  penalty: (x) => tf.tidy(() => tf.sum(tf.square(tf.sub(x, center)), [1, 2, 3]) as tf.Tensor1D),
});

/** Input modifier: a random circular shift by up to `pixels` in each direction, seeded per step. */
export interface Jitter {
  pixels: number;
}

export interface ActMaxOptions {
  steps: number;
  /** Step length in input units per step, applied to the L2-normalised gradient × √(H·W·C). */
  stepSize: number;
  range: [number, number];
  regularizers: Regularizer[];
  jitter?: Jitter;
  seed: number;
}

function roll(x: tf.Tensor4D, dy: number, dx: number): tf.Tensor4D {
  const [, H, W] = x.shape;
  const sy = ((dy % H) + H) % H;
  const sx = ((dx % W) + W) % W;
  let out = x;
  if (sy) out = tf.concat([tf.slice(out, [0, H - sy, 0, 0], [-1, sy, -1, -1]), tf.slice(out, [0, 0, 0, 0], [-1, H - sy, -1, -1])], 1);
  if (sx) out = tf.concat([tf.slice(out, [0, 0, W - sx, 0], [-1, -1, sx, -1]), tf.slice(out, [0, 0, 0, 0], [-1, -1, W - sx, -1])], 2);
  return out;
}

/** Σ_b objective_b(x_b): channel means or class logits. */
export function objectiveSum(model: tf.LayersModel, x: tf.Tensor4D, objectives: Objective[]): tf.Scalar {
  const layers = [...new Set(objectives.flatMap((o) => (o.kind === 'channel' ? [o.layer] : [])))];
  const needLogits = objectives.some((o) => o.kind === 'class');
  const { output, captured } = foldedGraph(model, x, { capture: layers, logits: needLogits, captureOnly: !needLogits, differentiable: true });
  const terms: tf.Tensor[] = [];
  objectives.forEach((o, b) => {
    if (o.kind === 'class') terms.push(tf.slice(output, [b, o.index], [1, 1]).reshape([]));
    else {
      const a = captured[o.layer];
      const k = a.shape[a.rank - 1] as number;
      const row = tf.slice(a, [b, ...new Array(a.rank - 1).fill(0)], [1, ...a.shape.slice(1)]);
      terms.push(tf.mean(tf.reshape(row, [-1, k]).slice([0, o.channel], [-1, 1])));
    }
  });
  return tf.addN(terms) as tf.Scalar;
}

export interface ActMaxResult {
  /** [B, H, W, C] images in input units. */
  images: tf.Tensor4D;
  /** Final objective value per row (activation mean or logit), without penalties. */
  values: number[];
}

export function maximize(model: tf.LayersModel, objectives: Objective[], opts: ActMaxOptions): ActMaxResult {
  const [, H, W, C] = model.inputs[0].shape as number[];
  const B = objectives.length;
  const [lo, hi] = opts.range;
  const mid = (lo + hi) / 2;
  const rand = mulberry32(opts.seed);
  let x = tf.tidy(() => tf.add(mid, tf.mul(tf.randomUniform([B, H, W, C], -1, 1, 'float32', opts.seed), 0.05 * (hi - lo)))) as tf.Tensor4D;
  const norm = Math.sqrt(H * W * C);
  for (let step = 0; step < opts.steps; step++) {
    const j = opts.jitter?.pixels ?? 0;
    const dy = j ? Math.floor(rand() * (2 * j + 1)) - j : 0;
    const dx = j ? Math.floor(rand() * (2 * j + 1)) - j : 0;
    const next = tf.tidy(() => {
      const g = tf.grad((v: tf.Tensor) => {
        const shifted = roll(v as tf.Tensor4D, dy, dx);
        let total: tf.Tensor = objectiveSum(model, shifted, objectives);
        for (const r of opts.regularizers) total = tf.sub(total, tf.mul(r.weight, tf.sum(r.penalty(v as tf.Tensor4D))));
        return total as tf.Scalar;
      })(x) as tf.Tensor4D;
      // L2-normalise each sample's gradient so every objective takes steps of the same length.
      const gNorm = tf.sqrt(tf.add(tf.sum(tf.square(g), [1, 2, 3], true), 1e-12));
      return tf.clipByValue(tf.add(x, tf.mul(tf.div(g, gNorm), opts.stepSize * norm)), lo, hi) as tf.Tensor4D;
    });
    x.dispose();
    x = next;
  }
  const values = tf.tidy(() => {
    const total: number[] = [];
    objectives.forEach((o, b) => {
      const xb = tf.slice(x, [b, 0, 0, 0], [1, H, W, C]) as tf.Tensor4D;
      total.push(objectiveSum(model, xb, [o]).dataSync()[0]);
    });
    return total;
  });
  return { images: x, values };
}

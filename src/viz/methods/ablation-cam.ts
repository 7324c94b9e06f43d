/**
 * Ablation-CAM (Desai & Ramaswamy 2020, Eq. 2–3; pytorch-grad-cam's AblationCAM): each channel's weight is the
 * share of the class score lost when that channel is zeroed, w_k = (S_c − S_c^(k)) / S_c, and the map is
 * ReLU(Σ_k w_k A^k). No gradient: the ablated copies of the layer's activations run through the layers after it
 * only (for most CNNs a pooling and the classifier; inside a residual block, the rest of the network with the
 * shortcut's output given), in batches of the memory plan's forward size. S_c is the
 * pre-softmax logit; where it is 0 the weight is the plain drop S_c − S_c^(k).
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { foldedGraph } from '../../engine/folded.ts';
import { tailInputs } from '../../engine/graph.ts';
import { passLimits } from '../target.ts';
import type { AttributionMethod } from '../types.ts';
import { camLayer, weightedCam } from './cam.ts';

export const ablationCamParams = z.object({
  /** At most this many ablated copies per pass through the layers after the CAM layer. */
  batchSize: z.number().int().min(1).default(512),
}).strict();
export type AblationCamParams = z.infer<typeof ablationCamParams>;

/**
 * The logits for activations `a` [n, h, w, K] of `layer`, through the layers after it only: what they read besides
 * `layer` (`side`: a residual shortcut, earlier features; one image's, repeated for the n copies) is given, not
 * recomputed from the input.
 */
function tailLogits(input: { model: tf.LayersModel; x: tf.Tensor4D }, layer: string, a: tf.Tensor4D, xs: tf.Tensor4D, side: Record<string, tf.Tensor>): tf.Tensor2D {
  const n = a.shape[0];
  const replace: Record<string, tf.Tensor> = { [layer]: a };
  for (const [name, t] of Object.entries(side)) replace[name] = n === 1 ? t : tf.tile(t, [n, ...new Array<number>(t.rank - 1).fill(1)]);
  return foldedGraph(input.model, xs, { replace, logits: true, differentiable: false }).output as tf.Tensor2D;
}

export const ablationCam: AttributionMethod<AblationCamParams> = {
  id: 'ablation-cam',
  title: 'Ablation-CAM',
  family: 'cam',
  signed: false,
  reference: 'Desai & Ramaswamy 2020, Eq. 2–3: w_k = (y_c − y_c^k) / y_c, L = ReLU(Σ_k w_k A^k)',
  params: ablationCamParams,
  // One pass for the activations; the K ablated copies go through the head only (counted as one pass).
  passes: () => ({ forward: 0, capture: 2, gradient: 0 }),
  attribute(input, params) {
    const { batchSize } = ablationCamParams.parse(params);
    const { x, targets } = input;
    const layer = camLayer(input);
    const sideNames = tailInputs(input.model, layer);
    const captured = tf.tidy(() => {
      const r = foldedGraph(input.model, x, { capture: [layer, ...sideNames], captureOnly: true, differentiable: false }).captured;
      return [layer, ...sideNames].map((n) => r[n]);
    });
    const A = captured[0] as tf.Tensor4D;
    const sides = captured.slice(1);
    if (A.rank !== 4) {
      tf.dispose(captured);
      throw new Error(`CAM layer '${layer}' has output rank ${A.rank}; it needs a spatial [B, h, w, K] output`);
    }
    const [B, h, w, K] = A.shape;
    const [, H, W, C] = x.shape;
    const perPass = Math.max(1, Math.min(batchSize, passLimits(x, input.limits).forward));
    const weights = new Float32Array(B * K);
    try {
      for (let b = 0; b < B; b++) {
        const t = targets[b];
        const ab = tf.slice(A, [b, 0, 0, 0], [1, h, w, K]) as tf.Tensor4D;
        const xb = tf.slice(x, [b, 0, 0, 0], [1, H, W, C]) as tf.Tensor4D;
        const side = Object.fromEntries(sideNames.map((name, i) => [name, tf.slice(sides[i], b, 1)]));
        try {
          const score = tf.tidy(() => tailLogits(input, layer, ab, xb, side).dataSync()[t]);
          for (let k0 = 0; k0 < K; k0 += perPass) {
            const n = Math.min(perPass, K - k0);
            const ablated = tf.tidy(() => {
              // Copy i zeroes channel k0 + i: keep = 1 − one-hot.
              const ones = new Float32Array(n * K).fill(1);
              for (let i = 0; i < n; i++) ones[i * K + k0 + i] = 0;
              const keep = tf.tensor4d(ones, [n, 1, 1, K]);
              const copies = tf.mul(ab, keep) as tf.Tensor4D;
              const logits = tailLogits(input, layer, copies, tf.tile(xb, [n, 1, 1, 1]) as tf.Tensor4D, side);
              return tf.squeeze(tf.slice(logits, [0, t], [n, 1]), [1]).dataSync();
            });
            for (let i = 0; i < n; i++) weights[b * K + k0 + i] = score === 0 ? score - ablated[i] : (score - ablated[i]) / score;
          }
        } finally {
          tf.dispose([ab, xb, ...Object.values(side)]);
        }
      }
      return tf.tidy(() => weightedCam(input, A, tf.tensor2d(weights, [B, K])));
    } finally {
      tf.dispose(captured);
    }
  },
};

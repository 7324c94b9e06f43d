/**
 * XGradCAM (Fu et al. 2020, Eq. 9; pytorch-grad-cam's XGradCAM): Grad-CAM with each channel's gradients averaged
 * under its own activation instead of uniformly, w_k = Σ_ij (A^k_ij / Σ_ab A^k_ab) · ∂S_c/∂A^k_ij, chosen so the
 * map satisfies the paper's sensitivity and conservation axioms; map = ReLU(Σ_k w_k A^k). A channel with no
 * activation gets weight 0 (the 1e-7 in the denominator, as pytorch-grad-cam).
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { AttributionMethod } from '../types.ts';
import { activationsAndGradients, weightedCam } from './cam.ts';

export const xGradCam: AttributionMethod<Record<string, never>> = {
  id: 'xgrad-cam',
  title: 'XGradCAM',
  family: 'cam',
  signed: false,
  reference: 'Fu et al. 2020, Eq. 9: w_k = Σ_ij (A^k_ij / Σ_ab A^k_ab) · g^k_ij',
  params: z.object({}).strict() as never,
  attribute(input) {
    return tf.tidy(() => {
      const { A, G } = activationsAndGradients(input);
      const weights = tf.div(tf.sum(tf.mul(G, A), [1, 2]), tf.add(tf.sum(A, [1, 2]), 1e-7)) as tf.Tensor2D;
      return weightedCam(input, A, weights);
    });
  },
};

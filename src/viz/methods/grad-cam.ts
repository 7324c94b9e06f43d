/**
 * Grad-CAM (Selvaraju et al. 2017, Eq. 1–2): channel weights α_k = (1/Z) Σ_ij ∂S_c/∂A^k_ij (global-average-pooled
 * gradients), map = ReLU(Σ_k α_k A^k), upsampled bilinearly to the input. S_c is the pre-softmax logit.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { AttributionMethod } from '../types.ts';
import { activationsAndGradients, weightedCam } from './cam.ts';

export const gradCam: AttributionMethod<Record<string, never>> = {
  id: 'grad-cam',
  title: 'Grad-CAM',
  family: 'cam',
  signed: false,
  reference: 'Selvaraju et al. 2017, Eq. 1: α_k = mean_ij ∂y_c/∂A^k_ij; Eq. 2: L = ReLU(Σ_k α_k A^k)',
  params: z.object({}).strict() as never,
  attribute(input) {
    return tf.tidy(() => {
      const { A, G } = activationsAndGradients(input);
      const weights = tf.mean(G, [1, 2]) as tf.Tensor2D;
      return weightedCam(input, A, weights);
    });
  },
};

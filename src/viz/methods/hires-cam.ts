/**
 * HiResCAM (Draelos & Carin 2020, Eq. 3; pytorch-grad-cam's HiResCAM): the gradient multiplies the activation
 * element-wise before the sum over channels, M = ReLU(Σ_k ∂S_c/∂A^k_ij · A^k_ij). For a model whose head is a global
 * average pool and one linear layer, the sum before the ReLU adds up exactly to the class score (× hw): the map
 * is the score's own decomposition over positions, which Grad-CAM's averaged weights are not.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { AttributionMethod } from '../types.ts';
import { activationsAndGradients, spatialCam } from './cam.ts';

export const hiResCam: AttributionMethod<Record<string, never>> = {
  id: 'hires-cam',
  title: 'HiResCAM',
  family: 'cam',
  signed: false,
  reference: 'Draelos & Carin 2020, Eq. 3: M = ReLU(Σ_k g^k_ij · A^k_ij)',
  params: z.object({}).strict() as never,
  attribute(input) {
    return tf.tidy(() => {
      const { A, G } = activationsAndGradients(input);
      return spatialCam(input, A, tf.sum(tf.mul(G, A), -1) as tf.Tensor3D);
    });
  },
};

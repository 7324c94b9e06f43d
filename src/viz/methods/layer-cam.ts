/**
 * LayerCAM (Jiang et al. 2021, Eq. 5–6; pytorch-grad-cam's LayerCAM): each position keeps its own weight, the
 * positive gradient there, instead of one weight per channel: M = ReLU(Σ_k ReLU(∂S_c/∂A^k_ij) · A^k_ij). On early
 * layers, where a channel's gradient varies across the image, this keeps the detail Grad-CAM averages away.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { AttributionMethod } from '../types.ts';
import { activationsAndGradients, spatialCam } from './cam.ts';

export const layerCam: AttributionMethod<Record<string, never>> = {
  id: 'layer-cam',
  title: 'LayerCAM',
  family: 'cam',
  signed: false,
  reference: 'Jiang et al. 2021, Eq. 5–6: M = ReLU(Σ_k ReLU(g^k_ij) · A^k_ij)',
  params: z.object({}).strict() as never,
  attribute(input) {
    return tf.tidy(() => {
      const { A, G } = activationsAndGradients(input);
      return spatialCam(input, A, tf.sum(tf.mul(tf.relu(G), A), -1) as tf.Tensor3D);
    });
  },
};

/**
 * Guided Grad-CAM (Selvaraju et al. 2017, Sec. 3.1): guided backpropagation ⊙ the Grad-CAM map upsampled and
 * scaled to [0, 1] per sample — fine detail from guided backprop, class-discrimination from Grad-CAM.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { AttributionMethod } from '../types.ts';
import { gradCam } from './grad-cam.ts';
import { guidedBackprop } from './guided-backprop.ts';

export const guidedGradCam: AttributionMethod<Record<string, never>> = {
  id: 'guided-grad-cam',
  title: 'Guided Grad-CAM',
  family: 'cam',
  signed: false,
  reference: 'Selvaraju et al. 2017, Sec. 3.1: guided backprop ⊙ upsampled Grad-CAM',
  params: z.object({}).strict() as never,
  passes: () => ({ forward: 0, gradient: 2 }),
  attribute(input) {
    return tf.tidy(() => {
      const cam = gradCam.attribute(input, {} as never);
      const gb = guidedBackprop.inputGradients(input, {} as never);
      const peak = tf.max(cam.maps, [1, 2], true);
      const scaled = tf.div(cam.maps, tf.maximum(peak, 1e-12));
      const channels = tf.mul(gb, tf.expandDims(scaled, -1)) as tf.Tensor4D;
      return { maps: tf.max(tf.abs(channels), -1) as tf.Tensor3D, channels, lowRes: cam.lowRes };
    });
  },
};

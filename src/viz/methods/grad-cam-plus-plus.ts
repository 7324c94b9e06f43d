/**
 * Grad-CAM++ (Chattopadhyay et al. 2018, Eq. 19 with the exponential score, so higher derivatives are powers of
 * the gradient): a^kc_ij = g² / (2g² + Σ_ab A^k_ab · g³), w_k = Σ_ij a^kc_ij · ReLU(g_ij), map = ReLU(Σ_k w_k A^k).
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { AttributionMethod } from '../types.ts';
import { activationsAndGradients, weightedCam } from './cam.ts';

export const gradCamPlusPlus: AttributionMethod<Record<string, never>> = {
  id: 'grad-cam-plus-plus',
  title: 'Grad-CAM++',
  family: 'cam',
  signed: false,
  reference: 'Chattopadhyay et al. 2018, Eq. 19: α = g² / (2g² + Σ_ab A_ab g³), w_k = Σ_ij α_ij ReLU(g_ij)',
  params: z.object({}).strict() as never,
  attribute(input) {
    return tf.tidy(() => {
      const { A, G } = activationsAndGradients(input);
      const g2 = tf.square(G);
      const g3 = tf.mul(g2, G);
      const sumA = tf.sum(A, [1, 2], true);
      const denom = tf.add(tf.mul(g2, 2), tf.mul(sumA, g3));
      // Where the denominator is 0 the coefficient is 0 (as in the reference implementation).
      const alpha = tf.where(tf.notEqual(denom, 0), tf.div(g2, tf.where(tf.notEqual(denom, 0), denom, tf.onesLike(denom))), tf.zerosLike(denom));
      const weights = tf.sum(tf.mul(alpha, tf.relu(G)), [1, 2]) as tf.Tensor2D;
      return weightedCam(input, A, weights);
    });
  },
};

/**
 * Gradient × input (Shrikumar et al. 2016, "Not Just a Black Box"): x ⊙ ∂S_c/∂x, summed over channels.
 * Signed: positive where the pixel's value pushes the class score up.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { InputGradientMethod } from '../types.ts';
import { saliency } from './saliency.ts';

export const gradientInput: InputGradientMethod<Record<string, never>> = {
  id: 'gradient-input',
  title: 'Gradient × input',
  family: 'gradient',
  signed: true,
  reference: 'Shrikumar et al. 2016: A_ij = Σ_c x_ijc · ∂S_c/∂x_ijc',
  params: z.object({}).strict() as never,
  inputGradients: saliency.inputGradients,
  reduce(x, g) {
    return tf.sum(tf.mul(x, g), -1) as tf.Tensor3D;
  },
  attribute(input) {
    return tf.tidy(() => {
      const g = this.inputGradients(input, {} as never);
      return { maps: this.reduce(input.x, g), channels: tf.mul(input.x, g) as tf.Tensor4D };
    });
  },
};

/**
 * Vanilla saliency (Simonyan, Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks", Sec. 3.1):
 * the map is max over channels of |∂S_c/∂x|, with S_c the target class's logit.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { targetScore } from '../target.ts';
import type { AttributionInput, InputGradientMethod } from '../types.ts';

export const saliency: InputGradientMethod<Record<string, never>> = {
  id: 'saliency',
  title: 'Vanilla saliency',
  family: 'gradient',
  signed: false,
  reference: 'Simonyan et al. 2014, Sec. 3.1: M_ij = max_c |∂S_c/∂x_ijc|',
  params: z.object({}).strict() as never,
  inputGradients({ model, x, targets }: AttributionInput): tf.Tensor4D {
    return tf.grad((v: tf.Tensor) => targetScore(model, v, targets))(x) as tf.Tensor4D;
  },
  reduce(_x, g) {
    return tf.max(tf.abs(g), -1) as tf.Tensor3D;
  },
  attribute(input) {
    return tf.tidy(() => {
      const g = this.inputGradients(input, {} as never);
      return { maps: this.reduce(input.x, g), channels: g };
    });
  },
};

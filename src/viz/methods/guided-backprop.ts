/**
 * Guided backpropagation (Springenberg et al. 2015, "Striving for Simplicity", Sec. 3.4, Fig. 1): through every
 * ReLU the gradient passes only where both the forward input and the incoming gradient are positive.
 * Implemented as a temporary override of the ReLU / ReLU6 / ClipByValue gradients, not a rewritten network
 * (inside tf.grad, tfjs unfuses conv+ReLU, so every ReLU goes through these gradients).
 * Adebayo et al. 2018 show its maps barely depend on the weights: see the trust checks.
 */
import * as tf from '@tensorflow/tfjs';
import { getGradient, registerGradient, unregisterGradient, type GradConfig } from '@tensorflow/tfjs';
import { z } from 'zod';
import { targetScore } from '../target.ts';
import type { AttributionInput, InputGradientMethod } from '../types.ts';
import { saliency } from './saliency.ts';

const positive = (t: tf.Tensor) => tf.cast(tf.greater(t, 0), 'float32');

const GUIDED: GradConfig[] = [
  { kernelName: 'Relu', inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.mul(tf.mul(dy as tf.Tensor, positive(x)), positive(dy as tf.Tensor)) }) },
  {
    kernelName: 'Relu6',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({
      x: () => tf.mul(tf.mul(dy as tf.Tensor, tf.mul(positive(x), tf.cast(tf.less(x, 6), 'float32'))), positive(dy as tf.Tensor)),
    }),
  },
  {
    kernelName: 'ClipByValue',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const { clipValueMin, clipValueMax } = attrs as unknown as { clipValueMin: number; clipValueMax: number };
      // Only ReLU-like clips (lower bound 0) are guided; other clips keep their ordinary gradient.
      const inside = tf.cast(tf.logicalAnd(tf.greater(x, clipValueMin), tf.less(x, clipValueMax)), 'float32');
      const guide = clipValueMin === 0 ? positive(dy as tf.Tensor) : tf.onesLike(x);
      return { x: () => tf.mul(tf.mul(dy as tf.Tensor, inside), guide) };
    },
  },
];

/** Run `f` with guided ReLU gradients, restoring the originals afterwards (also on error). */
export function withGuidedRelu<T>(f: () => T): T {
  const saved = GUIDED.map((g) => getGradient(g.kernelName));
  for (const g of GUIDED) {
    if (getGradient(g.kernelName)) unregisterGradient(g.kernelName);
    registerGradient(g);
  }
  try {
    return f();
  } finally {
    GUIDED.forEach((g, i) => {
      unregisterGradient(g.kernelName);
      if (saved[i]) registerGradient(saved[i]!);
    });
  }
}

export const guidedBackprop: InputGradientMethod<Record<string, never>> = {
  id: 'guided-backprop',
  title: 'Guided backpropagation',
  family: 'gradient',
  signed: false,
  reference: 'Springenberg et al. 2015, Sec. 3.4: R_i = (f_i > 0) · (R_{i+1} > 0) · R_{i+1} at every ReLU',
  params: z.object({}).strict() as never,
  inputGradients({ model, x, targets }: AttributionInput): tf.Tensor4D {
    return withGuidedRelu(() => tf.grad((v: tf.Tensor) => targetScore(model, v, targets))(x) as tf.Tensor4D);
  },
  // Same reduction and assembly as vanilla saliency; only the gradients differ.
  reduce: saliency.reduce,
  attribute: saliency.attribute,
};

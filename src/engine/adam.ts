/**
 * Adam with one fused kernel per variable where the backend has it (wasm: kernels/adam.ts), tfjs's own
 * AdamOptimizer elsewhere — the same update (Kingma & Ba 2015, tfjs's epsilon placement: lr · m̂ / (√v̂ + ε)),
 * the same moment variables (so getWeights / setWeights and the learning-rate setter work unchanged).
 * The bias corrections are kept as float32 products like tfjs's accBeta1/accBeta2 variables.
 */
import * as tf from '@tensorflow/tfjs';
import { getKernel, type NamedAttrMap } from '@tensorflow/tfjs';
import { ADAM, type AdamAttrs } from './kernels/adam.ts';

type Moment = { originalName: string; variable: tf.Variable };

export class FusedAdam extends tf.AdamOptimizer {
  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number) {
    super(learningRate, beta1, beta2, epsilon);
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    if (getKernel(ADAM, tf.getBackend()) == null) {
      super.applyGradients(variableGradients as never);
      return;
    }
    const self = this as unknown as {
      accBeta1: tf.Variable; accBeta2: tf.Variable; accumulatedFirstMoment: Moment[]; accumulatedSecondMoment: Moment[];
      beta1: number; beta2: number; epsilon: number; learningRate: number;
    };
    const list = Array.isArray(variableGradients)
      ? variableGradients.map((v) => ({ name: v.name, g: v.tensor }))
      : Object.entries(variableGradients).map(([name, g]) => ({ name, g }));
    const acc1 = self.accBeta1.dataSync()[0];
    const acc2 = self.accBeta2.dataSync()[0];
    const attrs: AdamAttrs = {
      lr: self.learningRate, beta1: self.beta1, beta2: self.beta2, epsilon: self.epsilon,
      c1: Math.fround(1 - acc1), c2: Math.fround(1 - acc2),
    };
    list.forEach(({ name, g }, i) => {
      const value = tf.engine().registeredVariables[name];
      self.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      self.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      if (g == null) return;
      const m = self.accumulatedFirstMoment[i].variable;
      const v = self.accumulatedSecondMoment[i].variable;
      const [x2, m2, v2] = tf.engine().runKernel(ADAM, { x: value, g, m, v }, attrs as unknown as NamedAttrMap) as tf.Tensor[];
      value.assign(x2);
      m.assign(m2);
      v.assign(v2);
      tf.dispose([x2, m2, v2]);
    });
    tf.tidy(() => {
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    this.incrementIterations();
  }
}

/** The training loop's optimizer: tf.train.adam's defaults (β1 0.9, β2 0.999, ε = the backend's epsilon). */
export function adam(learningRate: number): tf.AdamOptimizer {
  return new FusedAdam(learningRate);
}

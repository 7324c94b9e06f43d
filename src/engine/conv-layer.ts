/**
 * Keras's Conv2D layer under a gradient tape on the wasm engine, through tfjs's plain (unfused) ops: conv2d, bias
 * add, activation. tfjs-layers calls `tf.fused.conv2d`, whose custom gradient always computes the input gradient and
 * the filter gradient together. So in training a model's first convolution pays for the gradient of its input
 * images, which nothing uses (GAP CNN: 12 of ~200 ms per step at 64x64x3), and every gradient-based explanation
 * (saliency, Grad-CAM, integrated gradients, feature visualization: gradients for the input or a layer, never the
 * weights) pays for the gradient of every convolution's filter. The plain ops' gradients are taken only where the
 * tape needs them. Outputs are the same ops in the same order as tfjs's own unfused path (`fused.conv2d` itself
 * falls back to it under a tape when the activation is not linear). Without a tape (inference), with channels-first
 * data and on other backends tfjs's code runs.
 */
import * as tf from '@tensorflow/tfjs';

interface ConvLayer {
  rank: number;
  dataFormat: 'channelsFirst' | 'channelsLast';
  strides: number[];
  padding: 'valid' | 'same' | 'causal';
  dilationRate: number | number[];
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  activation: { apply(x: tf.Tensor): tf.Tensor } | null;
}

type Call = (this: ConvLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor;

let patched = false;

/** Route Conv2D's calls under a gradient tape through the unfused ops on wasm (idempotent). */
export function patchConv2D(): void {
  if (patched) return;
  const proto = Object.getPrototypeOf(tf.layers.conv2d({ filters: 1, kernelSize: 1 })) as { call: Call };
  const original = proto.call;
  proto.call = function (this: ConvLayer, inputs, kwargs) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (tf.engine().state.gradientDepth === 0 || this.rank !== 2 || this.dataFormat !== 'channelsLast' || this.padding === 'causal' || x.rank !== 4 || tf.getBackend() !== 'wasm') {
      return original.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const dilations = (typeof this.dilationRate === 'number' ? [this.dilationRate, this.dilationRate] : this.dilationRate) as [number, number];
      let y: tf.Tensor = tf.conv2d(x as tf.Tensor4D, this.kernel.read() as tf.Tensor4D, this.strides as [number, number], this.padding as 'valid' | 'same', 'NHWC', dilations);
      if (this.bias) y = tf.add(y, this.bias.read());
      return this.activation ? this.activation.apply(y) : y;
    });
  };
  patched = true;
}

/**
 * Keras's Conv2D layer in training on the wasm engine through tfjs's plain (unfused) ops: conv2d, bias add,
 * activation. tfjs-layers calls `tf.fused.conv2d`, whose custom gradient computes the input gradient and the filter
 * gradient together, so a model's first convolution also pays for the gradient of its input images, which nothing
 * uses (GAP CNN: 12 of ~200 ms per step at 64x64x3). The plain ops' gradients are taken only where the tape needs
 * them. Outputs are the same ops in the same order as tfjs's own unfused path (`fused.conv2d` itself falls back to
 * it under a gradient tape with a non-linear activation). Inference, channels-first data and other backends keep
 * tfjs's code.
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

/** Route Conv2D's training call through the unfused ops on wasm (idempotent). */
export function patchConv2D(): void {
  if (patched) return;
  const proto = Object.getPrototypeOf(tf.layers.conv2d({ filters: 1, kernelSize: 1 })) as { call: Call };
  const original = proto.call;
  proto.call = function (this: ConvLayer, inputs, kwargs) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!kwargs?.training || this.rank !== 2 || this.dataFormat !== 'channelsLast' || this.padding === 'causal' || x.rank !== 4 || tf.getBackend() !== 'wasm') {
      return original.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const dilations = (typeof this.dilationRate === 'number' ? [this.dilationRate, this.dilationRate] : this.dilationRate) as [number, number];
      let y: tf.Tensor = tf.conv2d(x as tf.Tensor4D, this.kernel.read() as tf.Tensor4D, this.strides as [number, number], this.padding, 'NHWC', dilations);
      if (this.bias) y = tf.add(y, this.bias.read());
      return this.activation ? this.activation.apply(y) : y;
    });
  };
  patched = true;
}

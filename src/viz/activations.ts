/**
 * Activations of every layer for a batch of samples in one pass, and per-channel statistics: mean, max, the
 * fraction of exact zeros, and dead channels (zero for every sample — a ReLU that never fires on this data).
 */
import * as tf from '@tensorflow/tfjs';
import { runGraph } from '../engine/graph.ts';

export interface ChannelStats {
  mean: number[];
  max: number[];
  zeroFraction: number[];
  dead: boolean[];
}

/** All layer outputs for x, as tensors (caller disposes). Input layers are skipped. */
export function allActivations(model: tf.LayersModel, x: tf.Tensor4D): Record<string, tf.Tensor> {
  const names = model.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => l.name);
  return tf.tidy(() => {
    const { captured } = runGraph(model, x, { capture: names });
    return captured;
  });
}

/** Statistics over samples and positions of each channel (last axis). values: [N, …, C] row-major. */
export function channelStats(values: Float32Array, channels: number): ChannelStats {
  const count = values.length / channels;
  const sum = new Float64Array(channels);
  const max = new Float64Array(channels).fill(-Infinity);
  const zeros = new Float64Array(channels);
  for (let i = 0, c = 0; i < values.length; i++, c = c + 1 === channels ? 0 : c + 1) {
    const v = values[i];
    sum[c] += v;
    if (v > max[c]) max[c] = v;
    if (v === 0) zeros[c]++;
  }
  return {
    mean: Array.from(sum, (s) => s / count),
    max: Array.from(max),
    zeroFraction: Array.from(zeros, (z) => z / count),
    dead: Array.from(zeros, (z) => z === count),
  };
}

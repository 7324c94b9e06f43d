/** Small helpers the plan and several views share. */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../../data/dataset.ts';
import { modelFlops } from '../../viz/budget.ts';

export const CONV = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D']);

/** Channels of a layer's output (its last axis). */
export function channelsOf(model: tf.LayersModel, name: string): number {
  const shape = model.getLayer(name).outputShape as (number | null)[];
  return Array.isArray(shape) && !Array.isArray(shape[0]) ? (shape[shape.length - 1] ?? 1) : 1;
}

/** Per layer: the share of the model's forward FLOPs spent up to and including it (activation maximization's cost). */
export function cumulativeFlops(model: tf.LayersModel): Map<string, number> {
  const total = Math.max(1, modelFlops(model));
  const out = new Map<string, number>();
  let sum = 0;
  for (const layer of model.layers) {
    sum += modelFlops({ layers: [layer] } as unknown as tf.LayersModel);
    out.set(layer.name, sum / total);
  }
  return out;
}

/** A black pixel in model units (byte 0 through the scaling), per channel: what deletion puts in. */
export function blackPixel(data: Dataset, C: number): number[] {
  return Array.from({ length: C }, (_, c) => (Array.isArray(data.offset) ? data.offset[c] : data.offset));
}

/** What the pointing game scores: signed maps as they are, magnitude maps by magnitude (as they are drawn). */
export function scored(method: { signed: boolean }, raw: Float32Array): Float32Array {
  return method.signed ? raw : raw.map(Math.abs);
}

/** Keras-style model summary rows from a tfjs LayersModel (the CLI's `summary`). */
import type * as tf from '@tensorflow/tfjs';

export interface SummaryRow {
  name: string;
  className: string;
  outputShape: (number | null)[];
  params: number;
}

export function summarize(model: tf.LayersModel): { layers: SummaryRow[]; totalParams: number; trainableParams: number } {
  const layers = model.layers.map((layer) => {
    const shape = layer.outputShape as (number | null)[];
    return { name: layer.name, className: layer.getClassName(), outputShape: shape.slice(1), params: layer.countParams() };
  });
  const trainableParams = model.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
  return { layers, totalParams: model.countParams(), trainableParams };
}

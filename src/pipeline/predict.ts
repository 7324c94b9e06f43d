/** Class probabilities for a whole dataset, in batches (for evaluation and sample selection). */
import * as tf from '@tensorflow/tfjs';
import { makeBatch } from '../data/batches.ts';
import type { Dataset } from '../data/dataset.ts';
import { forward } from '../engine/folded.ts';

/** [N, K] row-major probabilities. */
export function predictAll(model: tf.LayersModel, data: Dataset, batchSize = 1000): Float32Array {
  const out = new Float32Array(data.count * data.numClasses);
  for (let start = 0; start < data.count; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    const { x, y } = makeBatch(data, idx, data.scale, data.offset);
    const p = tf.tidy(() => (forward(model, x, { batchSize }) as tf.Tensor).dataSync());
    tf.dispose([x, y]);
    out.set(p, start * data.numClasses);
  }
  return out;
}

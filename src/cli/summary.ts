/** `convlens summary`: a Keras-style summary of any model convlens can load, as text or JSON. */
import type * as tf from '@tensorflow/tfjs';
import { summarize } from '../pipeline/summary.ts';

export interface SummaryJson {
  layers: Array<{ name: string; className: string; outputShape: (number | null)[]; params: number }>;
  totalParams: number;
  trainableParams: number;
}

export function summaryJson(model: tf.LayersModel): SummaryJson {
  const s = summarize(model);
  return { layers: s.layers, totalParams: s.totalParams, trainableParams: s.trainableParams };
}

/** Keras 2's `model.summary()` layout. */
export function summaryText(model: tf.LayersModel): string {
  const s = summaryJson(model);
  const shape = (o: (number | null)[]) => `(${['None', ...o.map((d) => (d == null ? 'None' : String(d)))].join(', ')})`;
  const w1 = Math.max(28, ...s.layers.map((l) => l.name.length + l.className.length + 5));
  const w2 = Math.max(26, ...s.layers.map((l) => shape(l.outputShape).length + 2));
  const rule = (c: string) => c.repeat(w1 + w2 + 11);
  const row = (a: string, b: string, c: string) => ` ${a.padEnd(w1)}${b.padEnd(w2)}${c}`;
  const lines = [`Model: "${model.name}"`, rule('_'), row('Layer (type)', 'Output Shape', 'Param #'), rule('=')];
  s.layers.forEach((l, i) => {
    lines.push(row(`${l.name} (${l.className})`, shape(l.outputShape), l.params.toLocaleString('en-US')));
    if (i < s.layers.length - 1) lines.push('');
  });
  lines.push(
    rule('='),
    `Total params: ${s.totalParams.toLocaleString('en-US')}`,
    `Trainable params: ${s.trainableParams.toLocaleString('en-US')}`,
    `Non-trainable params: ${(s.totalParams - s.trainableParams).toLocaleString('en-US')}`,
    rule('_'),
  );
  return lines.join('\n');
}

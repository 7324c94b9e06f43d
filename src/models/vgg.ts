/**
 * VGG16 and VGG19 (Simonyan & Zisserman 2014) with Keras's layer names (`block1_conv1`, …, `fc1`, `fc2`,
 * `predictions`). At 224x224x3 with the top and 1000 classes they have Keras's exact parameter counts:
 * VGG16 138,357,544; VGG19 143,667,240. Without the top (`includeTop: false`) they end at `block5_pool`,
 * the base used for fine-tuning; `head: 'transfer'` puts a small classifier on that base.
 */
import * as tf from '@tensorflow/tfjs';
import { seededInitializers } from './init.ts';

export interface VggOptions {
  depth: 16 | 19;
  inputShape?: [number, number, number];
  numClasses?: number;
  includeTop?: boolean;
  /** 'transfer': no ImageNet top; GAP → dropout 0.5 → dense softmax on the base (Keras's transfer-learning guide). */
  head?: 'transfer';
  seed?: number;
}

/** Convolutions per block: VGG16 2-2-3-3-3, VGG19 2-2-4-4-4. */
const BLOCKS: Record<16 | 19, number[]> = { 16: [2, 2, 3, 3, 3], 19: [2, 2, 4, 4, 4] };
const FILTERS = [64, 128, 256, 512, 512];

export function vgg({ depth, inputShape = [224, 224, 3], numClasses = 1000, includeTop = true, head, seed = 0 }: VggOptions): tf.LayersModel {
  const init = seededInitializers(seed);
  const model = tf.sequential({ name: `vgg${depth}` });
  BLOCKS[depth].forEach((convs, b) => {
    for (let c = 0; c < convs; c++) {
      model.add(
        tf.layers.conv2d({
          name: `block${b + 1}_conv${c + 1}`,
          ...(b === 0 && c === 0 ? { inputShape } : {}),
          filters: FILTERS[b],
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          ...init(),
        }),
      );
    }
    model.add(tf.layers.maxPooling2d({ name: `block${b + 1}_pool`, poolSize: 2, strides: 2 }));
  });
  if (head === 'transfer') {
    model.add(tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }));
    model.add(tf.layers.dropout({ name: 'head_dropout', rate: 0.5, seed: seed + 1 }));
    model.add(tf.layers.dense({ name: 'predictions', units: numClasses, activation: 'softmax', ...init() }));
  } else if (includeTop) {
    model.add(tf.layers.flatten({ name: 'flatten' }));
    model.add(tf.layers.dense({ name: 'fc1', units: 4096, activation: 'relu', ...init() }));
    model.add(tf.layers.dense({ name: 'fc2', units: 4096, activation: 'relu', ...init() }));
    model.add(tf.layers.dense({ name: 'predictions', units: numClasses, activation: 'softmax', ...init() }));
  }
  return model;
}

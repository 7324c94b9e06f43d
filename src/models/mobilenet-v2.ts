/**
 * MobileNetV2 (Sandler et al. 2018) as Keras builds it, layer for layer and name for name: `Conv1`, `bn_Conv1`,
 * `Conv1_relu`, `expanded_conv_depthwise`, …, `block_1_expand`, `block_1_pad`, `block_1_depthwise`, …, `Conv_1`,
 * `out_relu`. Width multiplier `alpha`, any input size; with the ImageNet top at 224 and alpha 1.0 it has Keras's
 * 3,538,984 parameters. `head: 'transfer'` replaces the top with a transfer-learning classifier:
 * GAP → BN → Dropout → Dense 128 (L2) → BN → ReLU → Dense n (L2) → BN → softmax.
 */
import * as tf from '@tensorflow/tfjs';

export interface MobileNetV2Options {
  inputShape?: [number, number, number];
  alpha?: number;
  numClasses?: number;
  /** 'imagenet': GAP → Dense softmax (`predictions`); 'none': ends at `out_relu`; 'transfer': GAP → BN → dropout → dense 128 → BN → ReLU → dense → BN → softmax. */
  head?: 'imagenet' | 'none' | 'transfer';
  dropout?: number;
  l2?: number;
  /**
   * BatchNorm momentum of the moving statistics. Keras uses 0.999, tuned for ImageNet-length training; a model
   * trained from scratch for a few hundred steps needs ~0.9 or its inference-mode statistics stay at their
   * initial values.
   */
  bnMomentum?: number;
  seed?: number;
}

/** Keras's `_make_divisible`: round channels to a multiple of 8, never dropping more than 10 %. */
export function makeDivisible(v: number, divisor = 8): number {
  let next = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (next < 0.9 * v) next += divisor;
  return next;
}

/** [expansion, output filters, stride] per inverted-residual block, block ids 0–16. */
const BLOCKS: Array<[number, number, number]> = [
  [1, 16, 1],
  [6, 24, 2], [6, 24, 1],
  [6, 32, 2], [6, 32, 1], [6, 32, 1],
  [6, 64, 2], [6, 64, 1], [6, 64, 1], [6, 64, 1],
  [6, 96, 1], [6, 96, 1], [6, 96, 1],
  [6, 160, 2], [6, 160, 1], [6, 160, 1],
  [6, 320, 1],
];

type T = tf.SymbolicTensor;

export function mobileNetV2({
  inputShape = [224, 224, 3],
  alpha = 1.0,
  numClasses = 1000,
  head = 'imagenet',
  dropout = 0.5,
  l2 = 1e-4,
  bnMomentum = 0.999,
  seed = 0,
}: MobileNetV2Options = {}): tf.LayersModel {
  let seq = seed * 1000;
  const glorot = () => tf.initializers.glorotUniform({ seed: ++seq });
  const bn = (name: string) => tf.layers.batchNormalization({ name, epsilon: 1e-3, momentum: bnMomentum });
  const relu6 = (name: string) => tf.layers.reLU({ name, maxValue: 6 });

  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x = tf.layers
    .conv2d({ name: 'Conv1', filters: makeDivisible(32 * alpha), kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: glorot() })
    .apply(input) as T;
  x = bn('bn_Conv1').apply(x) as T;
  x = relu6('Conv1_relu').apply(x) as T;

  BLOCKS.forEach(([expansion, filters, stride], id) => {
    const inChannels = x.shape[3] as number;
    const outChannels = makeDivisible(Math.trunc(filters * alpha));
    const prefix = id === 0 ? 'expanded_conv_' : `block_${id}_`;
    const shortcut = x;
    if (id > 0) {
      x = tf.layers.conv2d({ name: `${prefix}expand`, filters: expansion * inChannels, kernelSize: 1, padding: 'same', useBias: false, kernelInitializer: glorot() }).apply(x) as T;
      x = bn(`${prefix}expand_BN`).apply(x) as T;
      x = relu6(`${prefix}expand_relu`).apply(x) as T;
    }
    if (stride === 2) {
      // Keras's correct_pad: pad (0, 1) on even sizes, (1, 1) on odd ones, so 'valid' matches TF's 'same'.
      const [h, w] = [x.shape[1] as number, x.shape[2] as number];
      x = tf.layers.zeroPadding2d({ name: `${prefix}pad`, padding: [[h % 2, 1], [w % 2, 1]] }).apply(x) as T;
    }
    x = tf.layers
      .depthwiseConv2d({ name: `${prefix}depthwise`, kernelSize: 3, strides: stride, padding: stride === 1 ? 'same' : 'valid', useBias: false, depthwiseInitializer: glorot() })
      .apply(x) as T;
    x = bn(`${prefix}depthwise_BN`).apply(x) as T;
    x = relu6(`${prefix}depthwise_relu`).apply(x) as T;
    x = tf.layers.conv2d({ name: `${prefix}project`, filters: outChannels, kernelSize: 1, padding: 'same', useBias: false, kernelInitializer: glorot() }).apply(x) as T;
    x = bn(`${prefix}project_BN`).apply(x) as T;
    if (inChannels === outChannels && stride === 1) x = tf.layers.add({ name: `${prefix}add` }).apply([shortcut, x]) as T;
  });

  const lastFilters = alpha > 1.0 ? makeDivisible(1280 * alpha) : 1280;
  x = tf.layers.conv2d({ name: 'Conv_1', filters: lastFilters, kernelSize: 1, useBias: false, kernelInitializer: glorot() }).apply(x) as T;
  x = bn('Conv_1_bn').apply(x) as T;
  x = relu6('out_relu').apply(x) as T;

  if (head === 'imagenet') {
    x = tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x) as T;
    x = tf.layers.dense({ name: 'predictions', units: numClasses, activation: 'softmax', kernelInitializer: glorot() }).apply(x) as T;
  } else if (head === 'transfer') {
    const reg = () => tf.regularizers.l2({ l2 });
    x = tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x) as T;
    x = tf.layers.batchNormalization({ name: 'head_bn_1', momentum: bnMomentum }).apply(x) as T;
    x = tf.layers.dropout({ name: 'head_dropout', rate: dropout, seed: ++seq }).apply(x) as T;
    x = tf.layers.dense({ name: 'head_dense', units: 128, kernelRegularizer: reg(), kernelInitializer: glorot() }).apply(x) as T;
    x = tf.layers.batchNormalization({ name: 'head_bn_2', momentum: bnMomentum }).apply(x) as T;
    x = tf.layers.reLU({ name: 'head_relu' }).apply(x) as T;
    x = tf.layers.dense({ name: 'logits', units: numClasses, kernelRegularizer: reg(), kernelInitializer: glorot() }).apply(x) as T;
    x = tf.layers.batchNormalization({ name: 'head_bn_3', momentum: bnMomentum }).apply(x) as T;
    x = tf.layers.activation({ name: 'predictions', activation: 'softmax' }).apply(x) as T;
  }
  return tf.model({ inputs: input, outputs: x, name: `mobilenetv2_${alpha}_${inputShape[0]}` });
}

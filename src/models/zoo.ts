/** The model zoo: one registry of architectures by name, each a function returning a tfjs LayersModel. */
import type * as tf from '@tensorflow/tfjs';
import { gapCnn, type GapCnnOptions } from './gap-cnn.ts';
import { lenet5 } from './lenet5.ts';
import { mnistCnn } from './mnist-cnn.ts';
import { mobileNetV2, type MobileNetV2Options } from './mobilenet-v2.ts';
import { randomCnn } from './random-cnn.ts';
import { tinyVgg } from './tiny-vgg.ts';
import { vgg } from './vgg.ts';

export interface ZooOptions {
  inputShape: [number, number, number];
  numClasses: number;
  seed: number;
  /** Architecture-specific options (MobileNetV2: alpha, head, dropout, l2, bnMomentum; VGG: includeTop; gap-cnn: blocks, bnMomentum). */
  extra?: Record<string, unknown>;
}

export const ZOO: Record<string, (o: ZooOptions) => tf.LayersModel> = {
  lenet5: (o) => lenet5(o),
  'mnist-cnn': (o) => mnistCnn(o),
  'random-cnn': (o) => randomCnn(o),
  'tiny-vgg': (o) => tinyVgg(o),
  'gap-cnn': (o) => gapCnn({ ...o, ...(o.extra as GapCnnOptions) }),
  vgg16: (o) => vgg({ ...o, depth: 16, ...(o.extra as object) }),
  vgg19: (o) => vgg({ ...o, depth: 19, ...(o.extra as object) }),
  mobilenetv2: (o) => mobileNetV2({ ...o, ...(o.extra as MobileNetV2Options) }),
};

export type ZooName = keyof typeof ZOO;

export function buildZooModel(name: string, o: ZooOptions): tf.LayersModel {
  const build = ZOO[name];
  if (build == null) throw new Error(`unknown architecture '${name}'; the zoo has ${Object.keys(ZOO).join(', ')}`);
  return build(o);
}

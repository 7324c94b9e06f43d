/**
 * The one dataset interface every source produces: uint8 pixels that become floats in a declared range,
 * integer labels, class names, a stable id per sample (the same across runs), and — for synthetic data — the
 * ground-truth object masks. Splits are seeded and deterministic.
 */
import type { ImageArrays } from './batches.ts';
import { seededPermutation } from './batches.ts';
import { FASHION_MNIST_CLASSES, locateFashionMnist, readMnistSplit } from './idx.ts';

export interface Dataset extends ImageArrays {
  name: string;
  classes: string[];
  /** Stable per-sample ids, e.g. `fashion-mnist/test/17`, `shapes-1-5`, `cats/001.jpg`. */
  ids: string[];
  /** Floats fed to a model: byte · scale + offset (per channel when arrays), inside `range`. */
  scale: number | number[];
  offset: number | number[];
  range: [number, number];
  /** Ground-truth object masks [N, H, W] (1 = object), when the source knows them. */
  masks?: Uint8Array;
}

/**
 * How pixels become model inputs, by name. '/255' → [0, 1] (default); '[-1,1]', alias 'tf' → Keras's
 * preprocess_input mode 'tf' (MobileNet, Teachable Machine); 'caffe' → BGR with ImageNet's channel means
 * subtracted, unscaled (VGG16/19, ResNet50); 'torch' → [0, 1] then each channel standardised by ImageNet's
 * mean and std (DenseNet, PyTorch models). The modes and numbers are Keras's imagenet_utils.preprocess_input's.
 */
export const SCALINGS = ['/255', '[-1,1]', 'tf', 'caffe', 'torch'] as const;
/** PyTorch's transforms.Normalize(mean, std) after ToTensor: (pixel / 255 − mean) / std, per channel. */
export interface Normalize {
  mean: number[];
  std: number[];
}
export type Scaling = (typeof SCALINGS)[number] | Normalize;

/**
 * A scaling as the CLI and config write it: one of SCALINGS, or `mean=0.485,0.456,0.406/std=0.229,0.224,0.225`
 * (Normalize's arguments). `where` names the option in the error.
 */
export function parseScaling(value: string, where: string): Scaling {
  if ((SCALINGS as readonly string[]).includes(value)) return value as Scaling;
  const m = /^mean=([^/]+)\/std=(.+)$/.exec(value.replace(/\s+/g, ''));
  if (m) {
    const nums = (t: string) => t.split(',').map(Number);
    const normalize = { mean: nums(m[1]), std: nums(m[2]) };
    checkNormalize(normalize, where);
    return normalize;
  }
  throw new Error(`${where}: expected one of ${SCALINGS.map((k) => `'${k}'`).join(', ')} or mean=a,b,c/std=d,e,f (PyTorch's Normalize), found '${value}'`);
}

/** Finite means, positive standard deviations, one or three of each and as many of both. */
export function checkNormalize(n: Normalize, where: string, channels?: number): void {
  const ok = n.mean.length === n.std.length && (n.mean.length === 1 || n.mean.length === 3) && n.mean.every(Number.isFinite) && n.std.every((v) => Number.isFinite(v) && v > 0);
  if (!ok) throw new Error(`${where}: mean and std need 1 or 3 values each (std > 0), as transforms.Normalize takes them; found mean [${n.mean}], std [${n.std}]`);
  if (channels != null && n.mean.length !== 1 && n.mean.length !== channels) throw new Error(`${where}: ${n.mean.length} means and stds for a model with ${channels} input channel${channels > 1 ? 's' : ''}`);
}

export function scaling(kind: Scaling): Pick<Dataset, 'scale' | 'offset' | 'range' | 'bgr'> {
  if (typeof kind === 'object') {
    // One value for every channel, or one per channel.
    const { mean, std } = kind;
    const lo = mean.map((m, c) => -m / std[c]);
    const hi = mean.map((m, c) => (1 - m) / std[c]);
    const range: [number, number] = [Math.min(...lo), Math.max(...hi)];
    if (mean.length === 1) return { scale: 1 / (255 * std[0]), offset: lo[0], range };
    return { scale: std.map((v) => 1 / (255 * v)), offset: lo, range };
  }
  if (kind === '[-1,1]' || kind === 'tf') return { scale: 1 / 127.5, offset: -1, range: [-1, 1] };
  if (kind === 'caffe') {
    // Model channel c is the photo's channel 2 − c (BGR); means in BGR order.
    const mean = [103.939, 116.779, 123.68];
    return { scale: [1, 1, 1], offset: mean.map((m) => -m), range: [-Math.max(...mean), 255 - Math.min(...mean)], bgr: true };
  }
  if (kind === 'torch') {
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const lo = mean.map((m, c) => -m / std[c]);
    const hi = mean.map((m, c) => (1 - m) / std[c]);
    return { scale: std.map((s) => 1 / (255 * s)), offset: lo, range: [Math.min(...lo), Math.max(...hi)] };
  }
  return { scale: 1 / 255, offset: 0, range: [0, 1] };
}

/** Model inputs → display bytes (RGB), inverting the dataset's scaling channel by channel. */
export function inputBytes(values: ArrayLike<number>, data: Pick<Dataset, 'scale' | 'offset' | 'bgr'>, channels: number): Uint8Array {
  const s = Array.from({ length: channels }, (_, c) => (Array.isArray(data.scale) ? data.scale[c] : (data.scale as number)));
  const o = Array.from({ length: channels }, (_, c) => (Array.isArray(data.offset) ? data.offset[c] : (data.offset as number)));
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = i % channels;
    const byte = Math.max(0, Math.min(255, Math.round((values[i] - o[c]) / s[c])));
    out[data.bgr ? i - c + (channels - 1 - c) : i] = byte;
  }
  return out;
}

/** The samples at `indices`, ids and masks included. */
export function subsetDataset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const [H, W, C] = ds.shape;
  const size = H * W * C;
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  const masks = ds.masks ? new Uint8Array(indices.length * H * W) : undefined;
  const ids: string[] = [];
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    images.set(ds.images.subarray(k * size, (k + 1) * size), i * size);
    labels[i] = ds.labels[k];
    masks?.set(ds.masks!.subarray(k * H * W, (k + 1) * H * W), i * H * W);
    ids.push(ds.ids[k]);
  }
  return { ...ds, name, images, labels, masks, ids, count: indices.length };
}

/**
 * A seeded split into training and validation (Keras's validation_split after a seeded shuffle); the same
 * seed always sends the same samples to validation. `validation` is a fraction (0–1) or a count.
 */
export function splitDataset(ds: Dataset, validation: number, seed: number): { train: Dataset; validation: Dataset } {
  const count = validation < 1 ? Math.round(ds.count * validation) : Math.round(validation);
  if (!(count > 0 && count < ds.count)) {
    throw new Error(`${ds.name}: validation split of ${validation} leaves no training or no validation samples (${ds.count} samples)`);
  }
  const order = seededPermutation(ds.count, seed);
  return {
    train: subsetDataset(ds, order.slice(count).sort(), `${ds.name}/train`),
    validation: subsetDataset(ds, order.slice(0, count).sort(), `${ds.name}/validation`),
  };
}

/** Fashion-MNIST as a Dataset (see locateFashionMnist for where it is found). */
export function fashionMnist(split: 'train' | 'test', dir?: string): Dataset {
  const s = readMnistSplit(locateFashionMnist(dir), split);
  return {
    name: `fashion-mnist/${split}`,
    images: s.images,
    labels: s.labels,
    count: s.count,
    shape: [s.height, s.width, 1],
    numClasses: FASHION_MNIST_CLASSES.length,
    classes: [...FASHION_MNIST_CLASSES],
    ids: Array.from({ length: s.count }, (_, i) => `fashion-mnist/${split}/${i}`),
    ...scaling('/255'),
  };
}

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
  /** Floats fed to a model: byte · scale + offset, inside `range`. */
  scale: number;
  offset: number;
  range: [number, number];
  /** Ground-truth object masks [N, H, W] (1 = object), when the source knows them. */
  masks?: Uint8Array;
}

/** Scalings by name: '/255' → [0, 1] (default), '[-1,1]' → MobileNet's preprocess_input. */
export function scaling(kind: '/255' | '[-1,1]'): Pick<Dataset, 'scale' | 'offset' | 'range'> {
  return kind === '[-1,1]' ? { scale: 1 / 127.5, offset: -1, range: [-1, 1] } : { scale: 1 / 255, offset: 0, range: [0, 1] };
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

/**
 * Seeded shuffling and batching of uint8 image arrays into float tensors, built in JS and copied to the
 * backend once per batch (cutting batches out of one big backend tensor costs a full copy on wasm).
 */
import * as tf from '@tensorflow/tfjs';

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; same seed → same sequence on every platform. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates permutation of 0..n-1 from a seed. */
export function seededPermutation(n: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

export interface ImageArrays {
  /** uint8 pixels, [N, H, W, C] row-major (RGB). */
  images: Uint8Array;
  /** The model takes BGR (Keras's 'caffe' preprocessing): channels are reversed on the way in. */
  bgr?: boolean;
  labels: Uint8Array | Int32Array;
  count: number;
  shape: [number, number, number];
  numClasses: number;
}

/**
 * Batch `indices` as x [n, H, W, C] float32 (pixel · scale + offset, per channel when they are arrays; channels
 * reversed first when `data.bgr`) and one-hot y [n, numClasses]. Default scaling maps bytes to [0, 1].
 */
export function makeBatch(
  data: ImageArrays,
  indices: ArrayLike<number>,
  scale: number | number[] = 1 / 255,
  offset: number | number[] = 0,
): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const [H, W, C] = data.shape;
  const size = H * W * C;
  const n = indices.length;
  const s = Array.from({ length: C }, (_, c) => (Array.isArray(scale) ? scale[c] : scale));
  const o = Array.from({ length: C }, (_, c) => (Array.isArray(offset) ? offset[c] : offset));
  const xs = new Float32Array(n * size);
  const ys = new Float32Array(n * data.numClasses);
  for (let i = 0; i < n; i++) {
    const idx = indices[i];
    const src = data.images.subarray(idx * size, (idx + 1) * size);
    const base = i * size;
    for (let k = 0, c = 0; k < size; k++, c = c + 1 === C ? 0 : c + 1) xs[base + k] = src[data.bgr ? k + C - 1 - 2 * c : k] * s[c] + o[c];
    ys[i * data.numClasses + data.labels[idx]] = 1;
  }
  return { x: tf.tensor4d(xs, [n, H, W, C]), y: tf.tensor2d(ys, [n, data.numClasses]) };
}

/** Copy the samples at `indices` into a new ImageArrays. */
export function subset<T extends ImageArrays>(data: T, indices: ArrayLike<number>): ImageArrays {
  const [H, W, C] = data.shape;
  const size = H * W * C;
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const idx = indices[i];
    images.set(data.images.subarray(idx * size, (idx + 1) * size), i * size);
    labels[i] = data.labels[idx];
  }
  return { images, labels, count: indices.length, shape: data.shape, numClasses: data.numClasses };
}

/**
 * A seeded train/validation split (Keras's `validation_split` with a shuffle first): the same seed always
 * puts the same samples in validation. Returns the positions too, so sample ids can follow.
 */
export function splitSeeded(
  data: ImageArrays,
  validationCount: number,
  seed: number,
): { train: ImageArrays; validation: ImageArrays; trainIndex: Int32Array; validationIndex: Int32Array } {
  if (!(validationCount > 0 && validationCount < data.count)) {
    throw new Error(`validation split: need 0 < count < ${data.count}, got ${validationCount}`);
  }
  const order = seededPermutation(data.count, seed);
  const validationIndex = order.slice(0, validationCount).sort();
  const trainIndex = order.slice(validationCount).sort();
  return { train: subset(data, trainIndex), validation: subset(data, validationIndex), trainIndex, validationIndex };
}

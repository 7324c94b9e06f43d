/**
 * Seeded data augmentation as Keras's preprocessing layers do it (Keras's RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
 * RandomContrast): per-sample random parameters drawn from (seed, step), applied to a float batch in one
 * projective transform per sample (tf.image.transform, reflect fill) plus a contrast stretch.
 * Shapes: x [B, H, W, C] → [B, H, W, C].
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from './batches.ts';

/** A per-batch transform of the float input batch (augmentation), seeded by step. */
export type BatchTransform = (x: tf.Tensor4D, step: number) => tf.Tensor4D;

export interface AugmentOptions {
  seed: number;
  /** Mirror left–right with probability 1/2. */
  flip?: boolean;
  /** Rotation as a fraction of a full turn: angle ∈ [−rotation, rotation] · 2π (Keras RandomRotation factor). */
  rotation?: number;
  /** Zoom factor range: scale ∈ [1 − zoom, 1 + zoom]. */
  zoom?: number;
  /** Translation as a fraction of height/width: shift ∈ [−translation, translation]. */
  translation?: number;
  /** Contrast factor range: (x − mean) · f + mean with f ∈ [1 − contrast, 1 + contrast], per image and channel. */
  contrast?: number;
}

/** The transform parameters of one sample, exposed for tests. */
export interface SampleParams {
  flip: boolean;
  angle: number;
  scale: number;
  tx: number;
  ty: number;
  contrast: number;
}

export function sampleParams(o: AugmentOptions, step: number, count: number, height: number, width: number): SampleParams[] {
  const rand = mulberry32((o.seed * 0x9e3779b1 + step * 0x85ebca6b) >>> 0);
  const uniform = (r: number) => (rand() * 2 - 1) * r;
  return Array.from({ length: count }, () => ({
    flip: o.flip ? rand() < 0.5 : false,
    angle: uniform(o.rotation ?? 0) * 2 * Math.PI,
    scale: 1 + uniform(o.zoom ?? 0),
    tx: uniform(o.translation ?? 0) * width,
    ty: uniform(o.translation ?? 0) * height,
    contrast: 1 + uniform(o.contrast ?? 0),
  }));
}

/** Output→input mapping of one sample as tf.image.transform's 8 numbers. */
export function transformRow(p: SampleParams, height: number, width: number): number[] {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const c = Math.cos(p.angle) / p.scale;
  const s = Math.sin(p.angle) / p.scale;
  const f = p.flip ? -1 : 1;
  // M = R(angle) / scale · diag(f, 1): rotate and zoom about the centre, mirror x first.
  const m00 = c * f;
  const m01 = -s;
  const m10 = s * f;
  const m11 = c;
  return [m00, m01, cx - m00 * cx - m01 * cy - p.tx, m10, m11, cy - m10 * cx - m11 * cy - p.ty, 0, 0];
}

export function augmenter(o: AugmentOptions): BatchTransform {
  return (x, step) =>
    tf.tidy(() => {
      const [B, H, W] = x.shape;
      const params = sampleParams(o, step, B, H, W);
      let y: tf.Tensor4D = x;
      const geometric = params.some((p) => p.flip || p.angle !== 0 || p.scale !== 1 || p.tx !== 0 || p.ty !== 0);
      if (geometric) {
        const transforms = tf.tensor2d(params.flatMap((p) => transformRow(p, H, W)), [B, 8]);
        y = tf.image.transform(y, transforms, 'bilinear', 'reflect');
      }
      if (params.some((p) => p.contrast !== 1)) {
        const mean = tf.mean(y, [1, 2], true);
        const f = tf.tensor4d(params.map((p) => p.contrast), [B, 1, 1, 1]);
        y = tf.add(tf.mul(tf.sub(y, mean), f), mean);
      }
      return y;
    });
}

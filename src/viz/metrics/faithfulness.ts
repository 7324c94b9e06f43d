/**
 * Deletion and insertion curves (Petsiuk, Das & Saenko 2018, "RISE", Sec. 4.1), with the protocol that makes them
 * separate methods:
 * - Pixels are ordered by attribution, most important first. Deletion replaces them, a fraction at a time, with a
 *   *blurred copy* of the image (or black, `baseline: 'black'`) and records the target-class probability: a
 *   faithful map makes it fall fast (low AUC). Insertion starts from the blurred copy and restores the pixels in
 *   the same order (high AUC). RISE's paper inserts into a blurred image; a black image is so far from the training
 *   data that the prediction collapses after the first few pixels whatever the order, and every method ties.
 * - The fractions are spaced quadratically, (j / steps)², so most points fall where the curve moves: 16 steps put
 *   7 of their 15 inner points in the first 20 % of the pixels (even steps: 3). The AUC is the trapezoid rule over the fraction axis, in [0, 1].
 * - Every sample also gets the same curves for two maps that know nothing about the model — a random pixel order
 *   and the image's edges (Sobel magnitude) — the bar a method must beat.
 * All inner points of a curve run as one batch per sample, split into forward passes of the memory plan's size;
 * the end points (the image and the all-baseline image) are shared across methods.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../../data/batches.ts';
import { blurImage, pixelOrder, trapezoid } from './removal.ts';
import { type RoadCurves, roadCurves } from './road.ts';
import { forward } from '../../engine/folded.ts';

export interface Curves {
  /** ROAD's MoRF and LeRF curves (src/viz/metrics/road.ts), when computed. */
  road?: RoadCurves;
  deletion: number[];
  insertion: number[];
  deletionAuc: number;
  insertionAuc: number;
  /** The fraction of pixels changed at each point (the curves' x axis). */
  fractions: number[];
}

export type FaithfulnessBaseline = 'blur' | 'black';

/** `steps` + 1 fractions from 0 to 1, spaced quadratically: dense where the curves move. */
export function curveFractions(steps: number): number[] {
  return Array.from({ length: steps + 1 }, (_, j) => (j / steps) ** 2);
}

/** What removed pixels become: the blurred image, or one value per channel (black in model units). */
export function baselineImage(pixels: ArrayLike<number>, H: number, W: number, C: number, baseline: FaithfulnessBaseline, black: number[]): Float32Array {
  if (baseline === 'blur') return blurImage(pixels, H, W, C);
  return Float32Array.from({ length: H * W * C }, (_, i) => black[i % C]);
}

/** A random pixel order as a map (uniform values from the seed): the first baseline a method must beat. */
export function randomMap(pixels: number, seed: number): Float32Array {
  const rand = mulberry32((seed ^ 0xdec0de) >>> 0);
  return Float32Array.from({ length: pixels }, () => rand());
}

/** The image's edges: the Sobel gradient magnitude summed over channels (edges held): the second baseline. */
export function sobelMap(pixels: ArrayLike<number>, H: number, W: number, C: number): Float32Array {
  const at = (y: number, x: number, c: number) => pixels[(Math.min(H - 1, Math.max(0, y)) * W + Math.min(W - 1, Math.max(0, x))) * C + c];
  const out = new Float32Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let m = 0;
      for (let c = 0; c < C; c++) {
        const gx = at(y - 1, x + 1, c) + 2 * at(y, x + 1, c) + at(y + 1, x + 1, c) - at(y - 1, x - 1, c) - 2 * at(y, x - 1, c) - at(y + 1, x - 1, c);
        const gy = at(y + 1, x - 1, c) + 2 * at(y + 1, x, c) + at(y + 1, x + 1, c) - at(y - 1, x - 1, c) - 2 * at(y - 1, x, c) - at(y - 1, x + 1, c);
        m += Math.hypot(gx, gy);
      }
      out[y * W + x] = m;
    }
  }
  return out;
}

/** The curves' shared end points: the target's probability on the image and on the all-baseline image. */
export interface CurveEnds {
  original: number;
  baseline: number;
}

/** Both end points in one forward pass of two images (shared by every method's curves for this sample). */
export function curveEnds(model: tf.LayersModel, x: tf.Tensor4D, target: number, fill: Float32Array): CurveEnds {
  const [, H, W, C] = x.shape;
  const [original, base] = tf.tidy(() => {
    const p = forward(model, tf.concat([x, tf.tensor4d(fill, [1, H, W, C])]), { batchSize: 2 }) as tf.Tensor2D;
    return Array.from(tf.squeeze(tf.slice(p, [0, target], [2, 1]), [1]).dataSync());
  });
  return { original, baseline: base };
}

export interface CurveOptions {
  /** Fractions of pixels changed, from 0 to 1 (`curveFractions`). */
  fractions: number[];
  /** The all-baseline image [H·W·C] that removed pixels take (`baselineImage`). */
  fill: Float32Array;
  /** Images per forward pass (the memory plan's forward limit). */
  batchSize?: number;
  /** The end points from `curveEnds`, to share them across methods. */
  ends?: CurveEnds;
}

/**
 * x: one sample [1, H, W, C] in model units; map: its attribution [H·W]. The first and last points of both
 * curves are the image and the all-baseline image whatever the map, so only the inner fractions run:
 * 2 · (points − 2) images per map when `ends` is shared.
 */
export function deletionInsertion(model: tf.LayersModel, x: tf.Tensor4D, map: ArrayLike<number>, target: number, opts: CurveOptions): Curves {
  const [, H, W, C] = x.shape;
  const { fractions, fill } = opts;
  const ends = opts.ends ?? curveEnds(model, x, target, fill);
  const order = pixelOrder(map);
  const pixels = x.dataSync();
  const inner = fractions.slice(1, -1);
  const n = inner.length;
  const del = new Float32Array(n * H * W * C);
  const ins = new Float32Array(n * H * W * C);
  for (let j = 0; j < n; j++) {
    const k = Math.round(inner[j] * H * W);
    const base = j * H * W * C;
    del.set(pixels, base);
    ins.set(fill, base);
    for (let r = 0; r < k; r++) {
      const p = order[r] * C;
      for (let c = 0; c < C; c++) {
        del[base + p + c] = fill[p + c];
        ins[base + p + c] = pixels[p + c];
      }
    }
  }
  const probs = n === 0 ? [] : tf.tidy(() => {
    const batch = tf.concat([tf.tensor4d(del, [n, H, W, C]), tf.tensor4d(ins, [n, H, W, C])]);
    const p = forward(model, batch, { batchSize: Math.max(1, Math.min(2 * n, opts.batchSize ?? Infinity)) }) as tf.Tensor2D;
    return Array.from(tf.squeeze(tf.slice(p, [0, target], [2 * n, 1]), [1]).dataSync());
  });
  const deletion = [ends.original, ...probs.slice(0, n), ends.baseline];
  const insertion = [ends.baseline, ...probs.slice(n), ends.original];
  return { deletion, insertion, deletionAuc: trapezoid(deletion, fractions), insertionAuc: trapezoid(insertion, fractions), fractions };
}

/**
 * One sample's faithfulness: its fill image and curve end points computed once, then curves for any number of
 * maps, and the two model-blind baselines (random order, Sobel edges). Owns a copy of the sample (dispose()).
 */
export class SampleCurves {
  private readonly x: tf.Tensor4D;
  readonly fill: Float32Array;
  private readonly ends: CurveEnds;
  constructor(
    private readonly model: tf.LayersModel,
    x: tf.Tensor4D,
    private readonly target: number,
    private readonly opts: { fractions: number[]; baseline: FaithfulnessBaseline; black: number[]; batchSize?: number; seed: number; road?: { range: [number, number] } },
  ) {
    this.x = tf.clone(x);
    const [, H, W, C] = x.shape;
    this.fill = baselineImage(this.x.dataSync(), H, W, C, opts.baseline, opts.black);
    this.ends = curveEnds(model, this.x, target, this.fill);
  }

  /** Deletion and insertion curves, and ROAD's when the options ask for them. */
  curves(map: ArrayLike<number>): Curves {
    const c = deletionInsertion(this.model, this.x, map, this.target, { fractions: this.opts.fractions, fill: this.fill, batchSize: this.opts.batchSize, ends: this.ends });
    if (!this.opts.road) return c;
    return { ...c, road: roadCurves(this.model, this.x, map, this.target, { range: this.opts.road.range, seed: this.opts.seed, batchSize: this.opts.batchSize }) };
  }

  /** The bar a method must beat: a random pixel order and the image's edges. */
  baselines(): { random: Curves; edges: Curves } {
    const [, H, W, C] = this.x.shape;
    return { random: this.curves(randomMap(H * W, this.opts.seed)), edges: this.curves(sobelMap(this.x.dataSync(), H, W, C)) };
  }

  dispose(): void {
    this.x.dispose();
  }
}

/**
 * What a pass through a model costs, counted from its architecture — never from a clock, so the same model and
 * config are sized alike on every machine. Each layer contributes, per image, its multiply-adds by kind (dense
 * convolutions, depthwise convolutions, dense layers) and the values it writes (batch norm, activations, Add,
 * padding and pooling are all memory traffic), and, per batched call, a fixed overhead (one kernel launch and its
 * bookkeeping per op: what makes 158 thin layers at batch 2 slower than their FLOPs say). The coefficients, in
 * milliseconds on the reference machine (one engine thread, as each process of the report runs), are data:
 * cost-table.json, written by `scripts/calibrate-cost.ts` from timed passes of models of every shape the field
 * uses.
 */
import type * as tf from '@tensorflow/tfjs';
import table from './cost-table.json' with { type: 'json' };

export type PassKind = 'forward' | 'gradient';

/** The counted work of a pass: per image (multiply-adds by kind, values written) and per call (layers). */
export interface Work {
  conv: number;
  depthwise: number;
  dense: number;
  values: number;
  layers: number;
}

/** Milliseconds per unit of each count; `call` is per batched call whatever the layers. */
export interface Coefficients {
  conv: number;
  depthwise: number;
  dense: number;
  values: number;
  layer: number;
  call: number;
}

export interface CostTable {
  /** Where the coefficients were measured. */
  reference: string;
  /**
   * How much slower each pass runs when the report's two processes compute side by side (memory traffic, the
   * image encoder's threads) than alone, where the coefficients were timed: measured on a Teachable Machine
   * model's attributions (197 s beside the other process against 140 s estimated alone).
   */
  parallel?: number;
  forward: Coefficients;
  gradient: Coefficients;
}

export const COST_TABLE: CostTable = table;

const product = (s: ReadonlyArray<number | null>) => s.reduce<number>((a, b) => a * (b ?? 1), 1);
const NO_WORK = new Set(['InputLayer', 'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'Flatten', 'Reshape']);

/** The counts of one layer for one image. */
export function layerWork(layer: tf.layers.Layer): Work {
  const cls = layer.getClassName();
  const out = layer.outputShape as (number | null)[];
  const none = { conv: 0, depthwise: 0, dense: 0, values: 0, layers: 0 };
  if (NO_WORK.has(cls) || !Array.isArray(out) || Array.isArray(out[0])) return none;
  const cfg = layer.getConfig() as { kernelSize?: number[] | number };
  const k = Array.isArray(cfg.kernelSize) ? cfg.kernelSize : [cfg.kernelSize ?? 1, cfg.kernelSize ?? 1];
  const inShape = (layer.inboundNodes[0]?.inputShapes as (number | null)[][] | (number | null)[] | undefined);
  const first = Array.isArray(inShape?.[0]) ? (inShape as (number | null)[][])[0] : (inShape as (number | null)[] | undefined);
  const cin = first ? (first[first.length - 1] ?? 1) : 1;
  const positions = product(out.slice(1, -1));
  const cout = out[out.length - 1] ?? 1;
  const values = product(out.slice(1));
  const work = { ...none, values, layers: 1 };
  if (cls === 'Conv2D') work.conv = positions * k[0] * k[1] * cin * cout;
  else if (cls === 'DepthwiseConv2D') work.depthwise = positions * k[0] * k[1] * cout;
  else if (cls === 'SeparableConv2D') Object.assign(work, { depthwise: positions * k[0] * k[1] * cin, conv: positions * cin * cout });
  else if (cls === 'Dense') work.dense = cin * values;
  return work;
}

const add = (a: Work, b: Work): Work => ({ conv: a.conv + b.conv, depthwise: a.depthwise + b.depthwise, dense: a.dense + b.dense, values: a.values + b.values, layers: a.layers + b.layers });

/** The counts of a whole model, or of its layers up to and including `upTo` (a truncated pass). */
export function modelWork(model: tf.LayersModel, upTo?: string): Work {
  let total: Work = { conv: 0, depthwise: 0, dense: 0, values: 0, layers: 0 };
  for (const layer of model.layers) {
    total = add(total, layer instanceof Object && 'layers' in layer && Array.isArray((layer as tf.LayersModel).layers) ? modelWork(layer as tf.LayersModel) : layerWork(layer));
    if (layer.name === upTo) break;
  }
  return total;
}

/** Milliseconds of one call of `batch` images on the reference machine. */
export function passMs(work: Work, kind: PassKind, batch: number, t: CostTable = COST_TABLE): number {
  const c = t[kind];
  const k = t.parallel ?? 1;
  const perImage = c.conv * work.conv + c.depthwise * work.depthwise + c.dense * work.dense + c.values * work.values;
  return k * (batch * perImage + c.layer * work.layers + c.call);
}

/**
 * Milliseconds per image when images go through in calls of up to `batch` (the per-call overhead shared out): what
 * a view's count of image-passes is multiplied by.
 */
export function msPerImage(work: Work, kind: PassKind, batch: number, t: CostTable = COST_TABLE): number {
  const b = Math.max(1, batch);
  return passMs(work, kind, b, t) / b;
}

/**
 * Milliseconds of one step of feature visualization (Lucid's Fourier parametrisation: an inverse DFT as matrix
 * products, colour decorrelation, pad, scale, rotation and jitter, Adam) on `images` H×W×C images, outside the
 * model's own gradient pass: the DFT products grow as H·W·(H+W)·C per image, the transforms' ops per step with
 * the pixels. Measured on the reference machine: ~86 ms per image and ~25 ms per step at 224×224×3, ~2.5 and ~5 ms
 * at 32×32×3.
 */
export function featureStepMs(shape: [number, number, number], images: number): number {
  const [H, W, C] = shape;
  return (COST_TABLE.parallel ?? 1) * (images * (1.28e-6 * H * W * (H + W) * C + 2) + 4 + 1.4e-4 * H * W * C);
}

/**
 * Milliseconds of feature visualization of `objectives` up to layer `upTo` (undefined: the whole model), `steps`
 * steps, in calls of at most `batch` objectives.
 */
export function featureMs(model: tf.LayersModel, upTo: string | undefined, objectives: number, steps: number, batch: number, t: CostTable = COST_TABLE): number {
  if (objectives <= 0 || steps <= 0) return 0;
  const shape = model.inputs[0].shape.slice(1) as [number, number, number];
  const work = modelWork(model, upTo);
  const b = Math.max(1, Math.min(batch, objectives));
  const full = Math.floor(objectives / b);
  const rest = objectives - full * b;
  const call = (n: number) => passMs(work, 'gradient', n, t) + featureStepMs(shape, n);
  return steps * (full * call(b) + (rest > 0 ? call(rest) : 0));
}

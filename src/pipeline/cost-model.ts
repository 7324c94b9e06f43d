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
/** A pass as the table prices it: `forwardOrt` is a forward pass on ONNX Runtime (engine/ort/runtime.ts). */
export type PricedKind = PassKind | 'forwardOrt';

/** The counted work of a pass: per image (multiply-adds by kind, values written) and per call (layers). */
export interface Work {
  /** Multiply-adds of convolutions with few channels (either side < 128) or 1x1 filters. */
  conv: number;
  /** Multiply-adds of spatial convolutions with ≥ 128 channels on both sides (Winograd and the product kernels at their most efficient: VGG, ResNet's last stages). */
  wide: number;
  depthwise: number;
  dense: number;
  values: number;
  layers: number;
}

/** Milliseconds per unit of each count; `call` is per batched call whatever the layers. */
export interface Coefficients {
  conv: number;
  /** Per wide multiply-add (default: `conv`). */
  wide?: number;
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
   * How much slower the memory-bound part of each pass (values written, depthwise, per-op overhead) runs when the
   * report's two processes compute side by side than alone, where the coefficients were timed: measured on a
   * Teachable Machine model's attributions (197 s beside the other process against 140 s estimated alone).
   */
  parallel?: number;
  /** Forward passes on the tfjs engine (wasm). */
  forward: Coefficients;
  gradient: Coefficients;
  /** Forward passes on ONNX Runtime's CPU kernels, one intra-op thread (absent: priced as `forward`). */
  forwardOrt?: Coefficients;
  /** Ms per weight to write a model as ONNX and open its session (again after every weight change). */
  ortSessionWeight?: number;
  /** Feature visualization's own work per step (featureStepMs): per image DFT product and pixel, and per step. */
  feature: { dft: number; pixel: number; step: number };
  /**
   * What a method costs beyond its passes, per method id: `inputValue` ms per input value of each image it passes
   * (SmoothGrad's noise, occlusion's and RISE's masks, Score-CAM's masked copies, made in JS), `camValue` ms per value
   * of the CAM layer per channel (Ablation-CAM zeroes each channel in turn), `gradientScale` for gradient passes
   * that cannot run folded (guided backprop guides every ReLU). Fitted from the per-method milliseconds a report
   * records against the passes' estimate, so measured with two processes side by side (no `parallel` factor).
   */
  methods?: Record<string, { inputValue?: number; camValue?: number; gradientScale?: number }>;
  /** Ms per input value of each deletion/insertion image (the blend, the order, the copy). */
  curveInputValue?: number;
  /** Ms per input value of each ROAD image (noisy linear imputation by over-relaxation sweeps), timed alone. */
  roadInputValue?: number;
  /**
   * The estimate's factor by the report's layout on the reference machine: the coefficients are calibrated for two
   * processes side by side; one process alone (both cores to its engine) takes `'1'` of that.
   */
  layout?: Record<string, number>;
  /** Ms per activation value drawn into a grid (standardised, coloured, encoded). */
  drawValue?: number;
  /**
   * Dataset examples: ms per channel's picture, a base and per input value (twenty tiles cut, marked, scaled,
   * encoded), and per activation value scanned (each image's peak and mean per kept channel).
   */
  exampleChannel?: { base: number; inputValue: number; scanValue: number };
}

export const COST_TABLE: CostTable = table;

const product = (s: ReadonlyArray<number | null>) => s.reduce<number>((a, b) => a * (b ?? 1), 1);
const NO_WORK = new Set(['InputLayer', 'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'Flatten', 'Reshape']);

/** The counts of one layer for one image. */
export function layerWork(layer: tf.layers.Layer): Work {
  const cls = layer.getClassName();
  const out = layer.outputShape as (number | null)[];
  const none = { conv: 0, wide: 0, depthwise: 0, dense: 0, values: 0, layers: 0 };
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
  if (cls === 'Conv2D') work[k[0] * k[1] > 1 && Math.min(cin, cout) >= 128 ? 'wide' : 'conv'] = positions * k[0] * k[1] * cin * cout;
  else if (cls === 'DepthwiseConv2D') work.depthwise = positions * k[0] * k[1] * cout;
  else if (cls === 'SeparableConv2D') Object.assign(work, { depthwise: positions * k[0] * k[1] * cin, conv: positions * cin * cout });
  else if (cls === 'Dense') work.dense = cin * values;
  return work;
}

const add = (a: Work, b: Work): Work => ({ conv: a.conv + b.conv, wide: a.wide + b.wide, depthwise: a.depthwise + b.depthwise, dense: a.dense + b.dense, values: a.values + b.values, layers: a.layers + b.layers });

/** The counts of a whole model, or of its layers up to and including `upTo` (a truncated pass). */
const counted = new WeakMap<tf.LayersModel, Map<string, Work>>();

export function modelWork(model: tf.LayersModel, upTo?: string): Work {
  let cache = counted.get(model);
  if (!cache) counted.set(model, (cache = new Map()));
  const key = upTo ?? '\u0000all';
  let work = cache.get(key);
  if (!work) cache.set(key, (work = countWork(model, upTo)));
  return work;
}

function countWork(model: tf.LayersModel, upTo?: string): Work {
  let total: Work = { conv: 0, wide: 0, depthwise: 0, dense: 0, values: 0, layers: 0 };
  for (const layer of model.layers) {
    total = add(total, layer instanceof Object && 'layers' in layer && Array.isArray((layer as tf.LayersModel).layers) ? modelWork(layer as tf.LayersModel) : layerWork(layer));
    if (layer.name === upTo) break;
  }
  return total;
}

/** Milliseconds of one call of `batch` images on the reference machine. */
export function passMs(work: Work, kind: PricedKind, batch: number, t: CostTable = COST_TABLE): number {
  const c = t[kind] ?? t.forward;
  // Two processes side by side slow each other's memory traffic (values, depthwise, per-op overhead), not the
  // multiply-adds of compute-bound products (VGG16's passes run at the same speed either way).
  const k = t.parallel ?? 1;
  const macs = c.conv * work.conv + (c.wide ?? c.conv) * work.wide + c.dense * work.dense;
  const memory = c.depthwise * work.depthwise + c.values * work.values;
  return batch * (macs + k * memory) + k * (c.layer * work.layers + c.call);
}

/**
 * Milliseconds per image when images go through in calls of up to `batch` (the per-call overhead shared out): what
 * a view's count of image-passes is multiplied by.
 */
export function msPerImage(work: Work, kind: PricedKind, batch: number, t: CostTable = COST_TABLE): number {
  const b = Math.max(1, batch);
  return passMs(work, kind, b, t) / b;
}

/**
 * Milliseconds of one step of feature visualization (Lucid's Fourier parametrisation: an inverse DFT as matrix
 * products, colour decorrelation, pad, scale, rotation and jitter, Adam) on `images` H×W×C images, outside the
 * model's own gradient pass: the DFT products grow as H·W·(H+W)·C per image, the transforms with the pixels, and
 * each step has its ops' fixed cost. The coefficients are the table's `feature` (calibrated with the passes).
 */
export function featureStepMs(shape: [number, number, number], images: number, t: CostTable = COST_TABLE): number {
  const [H, W, C] = shape;
  const f = t.feature;
  return (t.parallel ?? 1) * (images * (f.dft * H * W * (H + W) * C + f.pixel * H * W * C) + f.step);
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
  const call = (n: number) => passMs(work, 'gradient', n, t) + featureStepMs(shape, n, t);
  return steps * (full * call(b) + (rest > 0 ? call(rest) : 0));
}

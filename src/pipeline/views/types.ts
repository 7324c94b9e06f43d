/**
 * The contract of a view — one kind of picture or number the visualize step computes for a model (attribution
 * maps, the pointing game, layer activations, dataset examples, the randomization check, class images). Each
 * view is one file in this folder, listed once in ./registry.ts: what it needs comes in the `ViewContext` (the
 * model, the samples, the plan with every size and parameter, the asset writer), its estimated passes feed the
 * progress ETA and the `budget`, and what it computes goes into the context's samples and result, from which
 * the manifest is written and the pages render it.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../../data/dataset.ts';
import type { LayerView, ModelReport } from '../../manifest/schema.ts';
import type { Raster } from '../../render/image.ts';
import type { BatchLimits } from '../../viz/types.ts';
import type { FeatureImages } from '../../viz/feature-visualization.ts';
import type { Objective } from '../../viz/activation-maximization.ts';
import type { AttributionMethod, Passes } from '../../viz/types.ts';
import type { AssetWriter } from '../assets.ts';
import type { VisualizeOptions } from '../visualize-options.ts';
import type { CostShape, Rates, Sizing, Trim } from '../work.ts';
import type { CostTable } from '../cost-model.ts';

export type Method = AttributionMethod<never>;

/** Everything the views of one model will do: sized to the model, trimmed by a budget, then read by the views. */
/**
 * The visualize step's plan (plan.ts makes it, the budget trims it, every view reads it), grouped by who reads
 * each field: what every view shares, then one group per view. A view's `cost` and `run` read its own group and
 * the shared one.
 */
export type Plan = SharedPlan & AttributionsPlan & LayersPlan & DatasetExamplesPlan & RandomizationPlan & LocalizationPlan & ClassImagesPlan;

/** Read by every view and by the step itself (visualize.ts, plan.ts): the model, its cost, the budget, the parts. */
export interface SharedPlan {
  opts: VisualizeOptions;
  size: Sizing;
  flops: number;
  /** Milliseconds per image of the views' forward and gradient passes on the reference machine (the cost model). */
  rates: Rates;
  /** Ms to write the model as ONNX and open an ONNX Runtime session (after each weight change); 0 on tfjs. */
  sessionMs: number;
  /** The same in calls of `batch` images (a few samples at once: the per-call overhead weighs more). */
  ratesAt(batch: number): Rates;
  /** The cost model's coefficients. */
  costTable: CostTable;
  /** Processes the report runs in on the reference machine. */
  processes: number;
  /** Seconds the work was trimmed to fit (undefined: `budget: false`). */
  budget?: number;
  classifier: boolean;
  camLayer?: string;
  /** The methods' cost shape: the [H, W] input and the CAM layer's channels. */
  shape: CostShape;
  /** Images per forward and gradient pass (the memory plan). */
  limits?: BatchLimits;
  /** The model's predictions on the samples: probabilities and arg max. */
  probs: Float32Array;
  predicted: number[];
  /** Positions of the samples this part explains. */
  explained: number[];
  /** Whether this part computes the model-wide views. */
  modelViews: boolean;
  notes: string[];
  skipped: Array<{ what: string; why: string }>;
  trimmed: Trim[];
}

/** The attribution methods with their faithfulness curves (views/attributions.ts). */
export interface AttributionsPlan {
  methods: Method[];
  paramsOf: Map<string, Record<string, unknown>>;
  faithfulness: { steps: number };
  road: boolean;
  /** Forward passes of one map's curves. */
  curvePasses(): number;
}

/** Activations, filters and activation maximization per layer (views/layers.ts). */
export interface LayersPlan {
  /** Layers to show (config `layers`); undefined: all. */
  wanted?: Set<string>;
  actmax: { maxChannels: number; steps: number; maxLayers?: number };
  convLayers: string[];
  /** Conv layers that get activation maximization. */
  maxLayers: Set<string>;
  featureMethod: 'fourier' | 'pixel';
  /** Activation-grid values drawn (JS work, one forward unit per 100,000). */
  drawn: number;
  /** Share of the model's FLOPs up to each layer. */
  layerFraction: Map<string, number>;
}

/** The test images that excite each channel most (views/dataset-examples.ts). */
export interface DatasetExamplesPlan {
  exampleLayers: string[];
  exampleImages: number;
}

/** The cascading randomization check (views/randomization.ts). */
export interface RandomizationPlan {
  randomization: { samples: number; steps: number };
  /** Parameters inside the randomization check and the pointing game (cheaper unless the config set them). */
  checkParamsOf(id: string): Record<string, unknown>;
}

/** The pointing game on test images with masks (views/localization.ts; also reads `checkParamsOf`). */
export interface LocalizationPlan {
  localizationImages: number;
}

/** Class images: feature visualizations of the output classes (views/class-images.ts). */
export interface ClassImagesPlan {
  classSteps(): number;
  /** Class images take at least this many steps (128; 0 once the budget cut it). */
  classStepFloor: number;
  /** Class images to draw (the first `classImages` of `classList`). */
  classList: number[];
  classImages: number;
}

/** What a view runs with, and where it puts its results. */
export interface ViewContext {
  plan: Plan;
  model: tf.LayersModel;
  data: Dataset;
  seed: number;
  limits?: BatchLimits;
  out: AssetWriter;
  /** The report's samples in model units [S, H, W, C]. */
  x: tf.Tensor4D;
  sampleIndices: number[];
  sampleSlugs: string[];
  sampleRaster(s: number): Raster;
  /** The samples' manifest entries; the attribution view fills their attributions and baselines. */
  samples: ModelReport['samples'];
  result: {
    layerViews: LayerView[];
    localization?: ModelReport['localization'];
    randomization?: ModelReport['randomization'];
    classMax: ModelReport['classMax'];
  };
  /** Feature images (Fourier or pixel-space ascent) for objectives, rows grouped by objective. */
  feature(objectives: Objective[], steps?: number): FeatureImages;
  /** Progress weight of passes (estimated seconds, or FLOP units when nothing was measured). */
  unit(p: Passes): number;
  tick(what: string, weight: number): void;
  /** Log the seconds since the last stage. */
  stage(what: string): void;
}

export interface View {
  id: string;
  /** 'sample': every part runs it on its samples; 'model': model-wide, part 1 only. */
  scope: 'sample' | 'model';
  /** Where the site shows what it writes (the page and section that render it). */
  section: string;
  enabled(plan: Plan): boolean;
  /** Estimated passes of the whole view with the plan as it stands (all images counted). */
  cost(plan: Plan, ctx: { sampleCount: number; layerCount: number }): Passes;
  run(ctx: ViewContext): void | Promise<void>;
}

/**
 * A method's passes run `batch` images per call (the samples at once) rather than the views' usual batches: the
 * extra per-call overhead, in ms, of methods with a few passes per sample (the many-pass ones batch their steps).
 */
export function smallBatchMs(plan: Plan, p: Passes, batch: number): number {
  if (p.forward + (p.capture ?? 0) + p.gradient > 3) return 0;
  const at = plan.ratesAt(batch);
  return Math.max(0, p.forward * (at.forward - plan.rates.forward) + (p.capture ?? 0) * (at.capture - plan.rates.capture) + p.gradient * (at.gradient - plan.rates.gradient));
}

export const addPasses = (a: Passes, b: Passes): Passes => ({ forward: a.forward + b.forward, gradient: a.gradient + b.gradient, capture: (a.capture ?? 0) + (b.capture ?? 0), ms: (a.ms ?? 0) + (b.ms ?? 0) });
export const scalePasses = (a: Passes, k: number): Passes => ({ forward: a.forward * k, gradient: a.gradient * k, capture: (a.capture ?? 0) * k, ms: (a.ms ?? 0) * k });

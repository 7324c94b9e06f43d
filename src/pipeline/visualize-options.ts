/**
 * What the visualize step (visualize.ts) is asked to do for one model, and what it reports back: the options the
 * plan (plan.ts) and every view (views/) read, the default budget, each view's estimated and actual seconds.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import type { ModelCost } from '../viz/budget.ts';
import type { FaithfulnessBaseline } from '../viz/metrics/faithfulness.ts';
import type { BatchLimits } from '../viz/types.ts';
import type { CostTable } from './cost-model.ts';

export interface VisualizeOptions {
  model: tf.LayersModel;
  slug: string;
  /** Test data the samples come from. */
  data: Dataset;
  /** Dataset indices of the samples to explain. */
  sampleIndices: number[];
  /** public/ folder; assets go to <publicDir>/generated/<slug>/. */
  publicDir: string;
  seed: number;
  /** Parameters per method id (defaults otherwise). */
  methodParams?: Record<string, object>;
  /**
   * Activation maximization: channels per conv layer, ascent steps, layers; `method` 'fourier' (Lucid's
   * parametrisation, the default) or 'pixel'; `images` per channel (2–4 with a diversity term; Fourier only).
   */
  actmax?: { maxChannels: number; steps: number; maxLayers?: number; method?: 'fourier' | 'pixel'; images?: number };
  /** Run the attribution methods (classifiers only). */
  attributions?: boolean;
  /** Progress lines (seconds per stage). */
  log?: (line: string) => void;
  /** Attribution methods not to run (config `methods: { id: false }`). */
  skipMethods?: string[];
  /** Layers to show (config `layers`); default all. */
  layers?: 'all' | string[];
  /** Steps of the cascading randomization (default 8). */
  randomizationSteps?: number;
  /** The CAM methods' layer (default: the last conv layer's output after its activation). */
  camLayer?: string;
  /**
   * Test images on which every method's pointing game and mask energy are scored, when the data carry object
   * masks (default 100; 0 = only the report's samples).
   */
  localizationImages?: number;
  /** Where the work-unit progress goes (default stderr: a bar on a TTY, sparse lines otherwise). */
  progressStream?: NodeJS.WriteStream;
  /**
   * One part of a model split over machines by sample (`--shard k/n` on a loaded model): attributions only for
   * the samples at positions i with i mod count = index − 1; the model-wide views (layers, randomization,
   * class images, localization) only in part 1. `merge` joins the parts.
   */
  part?: { index: number; count: number };
  /** The model's measured cost (src/viz/budget.ts): progress ETA in seconds, and the `budget` trims. */
  cost?: ModelCost;
  /** Images per forward and gradient pass (the memory plan); 0 means not even one image fits. */
  limits?: BatchLimits;
  /** Bytes the memory plan allowed a batch (shown on the model page). */
  memory?: number;
  /**
   * Seconds the views should take on the reference machine (config/CLI `budget`; default DEFAULT_BUDGET; false: no
   * trim); the cuts are listed on the model page.
   */
  budget?: number | false;
  /** Processes the report runs in on the reference machine (1: alone with both cores; 2: side by side). */
  processes?: number;
  /** The cost model's coefficients (default: src/pipeline/cost-table.json; tests pass a fixed one). */
  costTable?: CostTable;
  /** Each view's estimated and actual seconds in this process, and the progress ETA at 5 % against the rest's seconds. */
  onTimes?: (times: ViewTimes, etaAt5?: { eta: number; actual: number }) => void;
  /** Dataset examples: test images scanned (0: none), images per list, channels per layer (see defaultExampleChannels). */
  datasetExamples?: { images?: number; k?: number; maxChannels?: number };
  /** What deleted pixels become in the deletion/insertion curves (default 'blur', RISE's protocol). */
  faithfulnessBaseline?: FaithfulnessBaseline;
  /** ROAD's curves (imputed removals) beside deletion/insertion; default: on for models under HEAVY_FLOPS. */
  road?: boolean;
}

/** Estimated (cost model) and actual seconds per view. */
export type ViewTimes = Record<string, { estimated: number; actual: number }>;

/**
 * Seconds the views take by default on the reference machine (2 cores): a loaded model's report splits its samples
 * over two processes; 150 s of views keep a small model's whole report within three minutes and a 224-pixel one's
 * within five, its loading, evaluation and site included.
 */
export const DEFAULT_BUDGET = 150;

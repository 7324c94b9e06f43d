/**
 * One model's report, whatever the model: build (from the zoo) or load, train with the cache when asked,
 * evaluate when it classifies the test data, and run the visualize step. The default report's models are
 * specs for this function (src/pipeline/default-report.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import type { ModelReport } from '../manifest/schema.ts';
import { forwardEngine, loadOrt, ortWanted, releaseSession } from '../engine/ort/runtime.ts';
import { cacheKey, dataFingerprint, trainWithCache } from '../train/cache.ts';
import { type AugmentOptions, augmenter } from '../data/augment.ts';
import { bestCheckpoint, cosineDecay, earlyStopping, learningRateSchedule, progress, type Monitor, unfreezeFrom } from '../train/callbacks.ts';
import { evaluate, fit } from '../train/fit.ts';
import { replicaThreads } from '../train/parallel.ts';
import { evaluateProbabilities } from '../viz/evaluation.ts';
import { batchLimits, formatBytes, measureCost, memoryBudget } from '../viz/budget.ts';
import type { BatchLimits } from '../viz/types.ts';
import { predictAll } from './predict.ts';
import { dataPreview, learningCharts, mistakeGallery } from './preview.ts';
import { layerSummaries, pickSamples, visualize } from './visualize.ts';

export interface TrainingSpec {
  train: Dataset;
  validation: Dataset;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Keep the best epoch by this metric (default val_acc). */
  checkpoint?: Monitor;
  /** Cosine decay of the learning rate to 5 % over the epochs. */
  cosine?: boolean;
  /** Seeded augmentation of the training batches (Keras's random flip/rotation/zoom/translation/contrast layers). */
  augment?: Omit<AugmentOptions, 'seed'>;
  /** Stop when validation loss has not improved for this many epochs (Keras EarlyStopping); the best epoch is kept. */
  patience?: number;
  /** Data-parallel replicas (src/train/parallel.ts; default 1): part of the result, so of the training's identity. */
  replicas?: number;
  /**
   * A second phase after the (frozen-base) first: layers from `from` on become trainable — BatchNormalization
   * layers stay frozen, in inference mode, as Keras's fine-tuning guide does — and train `epochs` more at
   * `learningRate`.
   */
  fineTune?: { from: string; epochs: number; learningRate: number };
}

export interface ModelSpec {
  slug: string;
  title: string;
  architecture: string;
  description: string;
  /** Architecture identity for the cache key (zoo name and options). */
  identity: unknown;
  build: () => tf.LayersModel | Promise<tf.LayersModel>;
  /** Omitted: the model is shown with its initial weights (the untrained 4-layer CNN). */
  training?: TrainingSpec;
  /** Test data: samples come from here; evaluated when `classifier`. */
  test: Dataset;
  /** The model's outputs are the test data's classes (so evaluation and attributions apply). */
  classifier: boolean;
  /** k sigmoid units: each class its own probability; a sample's page lists every class above 0.5. */
  multiLabel?: boolean;
  seed: number;
  /** Activation maximisation: channels per conv layer, ascent steps, and at most this many conv layers. */
  actmax?: { maxChannels: number; steps: number; maxLayers?: number; method?: 'fourier' | 'pixel'; images?: number };
  /** Which samples to explain (default: the first of each class, then the 2 most confident mistakes). */
  samples?: { perClass: number; mistakes: number; ids?: string[] };
  /** Per attribution method: parameters, or false to skip it. */
  methods?: Record<string, false | Record<string, unknown>>;
  /** Layers to show (default all). */
  layers?: 'all' | string[];
  /** Where this model sits in the config (`models[2]`), for error messages. */
  configKey?: string;
  /** Training/validation data carry a shortcut the test data lack (shown as the cheating-model check). */
  shortcut?: boolean;
  /** Steps of the cascading randomization check (deep models: fewer, larger groups of layers). */
  randomizationSteps?: number;
  /**
   * Only the architecture: summary, diagram and layer pages with shapes, parameters, receptive fields and config
   * (no evaluation, activations or explanations). For very large models such as VGG16 with its top.
   */
  summaryOnly?: boolean;
  /** The CAM methods' layer (default: the last conv layer's output after its activation). */
  camLayer?: string;
  /** Test images for the pointing game and mask energy of every method (data with masks; default 100). */
  localizationImages?: number;
  /**
   * False for a flat folder of the user's photos: no labels, so no accuracy, confusion matrix, per-class metrics
   * or mistakes anywhere; every photo (up to the limit) is explained. Default true.
   */
  labeled?: boolean;
  /** The data's name on the pages (default: the test set's name up to its first '/'). */
  dataName?: string;
  /** Photos of an unlabeled folder left out by the limit (the page says so). */
  omittedSamples?: number;
  /** This run's part of a model split by sample over shards (src/pipeline/shards.ts). */
  part?: { index: number; count: number };
  /** Bytes a batch may hold (config `memory`, MiB × 2^20); default: three quarters of the engine's free heap. */
  memory?: number;
  /** Seconds the optional work should fit in (config/CLI `budget`; false: no trim). */
  budget?: number | false;
  /** Deletion/insertion curves: what removed pixels become (default 'blur'). */
  faithfulnessBaseline?: 'blur' | 'black';
  /** ROAD curves (default: on for small models). */
  road?: boolean;
  /** Dataset examples: images scanned, images per list, channels per layer. */
  datasetExamples?: { images?: number; k?: number; maxChannels?: number };
}

/** Dataset indices of the samples to explain: explicit ids, or the class-balanced pick plus mistakes. */
export function chooseSamples(spec: Pick<ModelSpec, 'samples' | 'configKey'>, test: Dataset, probs: Float32Array | undefined): number[] {
  const s = spec.samples;
  if (s?.ids) {
    const index = new Map(test.ids.map((id, i) => [id, i]));
    return s.ids.map((id, k) => {
      const i = index.get(id);
      if (i == null) {
        throw new Error(`samples.ids[${k}]: no sample '${id}' in ${test.name}${spec.configKey ? ` (${spec.configKey})` : ''}; ids look like ${test.ids.slice(0, 3).join(', ')}`);
      }
      return i;
    });
  }
  const perClass = s?.perClass ?? 1;
  return probs ? pickSamples(test, probs, perClass, s?.mistakes ?? 2) : pickSamples(test, new Float32Array(0), perClass, 0);
}

export interface RunContext {
  backend: string;
  publicDir: string;
  cacheDir?: string;
  /** Where computed reports are cached (default .cache/reports). */
  reportCacheDir?: string;
  noCache?: boolean;
  log?: (line: string) => void;
  /** Seconds per stage, filled in per model (for the closing summary; not part of the manifest). */
  timings?: Record<string, { train: number; evaluate: number; visualize: number }>;
  /** Processes the report runs in on the reference machine (shards.ts referenceProcesses; default 1). */
  processes?: number;
}

type History = NonNullable<ModelReport['training']>['history'];

/**
 * The model, built or loaded, trained first when the spec asks for it (with the training cache: replicas change
 * the result, batch norm per shard, so their count is part of the key; the threads each gets are not).
 */
async function trainedModel(spec: ModelSpec, ctx: RunContext): Promise<{ model: tf.LayersModel; history: History }> {
  const t = spec.training;
  if (!t) return { model: await spec.build(), history: [] };
  const replicas = t.replicas ?? 1;
  const key = cacheKey({
    model: spec.identity,
    data: [dataFingerprint(t.train), dataFingerprint(t.validation), dataFingerprint(spec.test)],
    training: {
      epochs: t.epochs, batchSize: t.batchSize, learningRate: t.learningRate, optimizer: 'adam', checkpoint: t.checkpoint ?? 'val_acc', cosine: t.cosine ?? false,
      ...(t.augment ? { augment: t.augment } : {}), ...(t.patience ? { patience: t.patience } : {}), ...(t.fineTune ? { fineTune: t.fineTune } : {}),
    },
    seed: spec.seed,
    backend: ctx.backend,
    ...(replicas > 1 ? { replicas } : {}),
  });
  const result = await trainWithCache({ dir: ctx.cacheDir ?? '.cache/models', key, noCache: ctx.noCache, build: spec.build, train: (m) => train(m, spec, t, ctx) });
  if (result.cached) ctx.log?.(`${spec.slug}: trained model loaded from the cache (${key})`);
  return { model: result.model, history: result.history };
}

/** The spec's training of `m`: the first phase, then the fine-tuning phase if any; the history of both. */
function train(m: tf.LayersModel, spec: ModelSpec, t: TrainingSpec, ctx: RunContext): History {
  const { slug } = spec;
  const replicas = t.replicas ?? 1;
  const replicaEngineThreads = replicaThreads(replicas);
  if (replicas > 1) ctx.log?.(`${slug}: training in ${replicas} data-parallel replicas (worker threads, ${replicaEngineThreads} engine thread${replicaEngineThreads > 1 ? 's' : ''} each)`);
  const phase = (epochs: number, learningRate: number, seed: number, label: string) =>
    fit(m, t.train, {
      epochs,
      batchSize: t.batchSize,
      seed,
      learningRate,
      validation: t.validation,
      scale: t.train.scale,
      offset: t.train.offset,
      augment: t.augment ? augmenter({ ...t.augment, seed }) : undefined,
      workers: replicas,
      workerThreads: replicaEngineThreads,
      workersRequired: `${spec.configKey ? `${spec.configKey}: ` : ''}training.replicas is ${replicas}, but its replicas cannot start; set training.replicas to 1 (or remove it) to train in one thread`,
      log: ctx.log,
      callbacks: [
        bestCheckpoint({ monitor: t.checkpoint ?? 'val_acc' }),
        ...(t.patience ? [earlyStopping({ monitor: 'val_loss', patience: t.patience })] : []),
        ...(t.cosine ? [learningRateSchedule(cosineDecay(epochs, 0.05))] : []),
        progress({ label, stepsPerEpoch: Math.ceil(t.train.count / t.batchSize) }),
      ],
    });
  const first = phase(t.epochs, t.learningRate, spec.seed, slug);
  const all = [...first];
  if (t.fineTune) {
    unfreezeFrom(m, t.fineTune.from);
    all.push(...phase(t.fineTune.epochs, t.fineTune.learningRate, spec.seed + 1, `${slug} fine-tune from ${t.fineTune.from}`));
  }
  return all.map((h, i) => ({ epoch: i + 1, loss: h.loss, acc: h.acc, val_loss: h.val_loss, val_acc: h.val_acc, ...(i >= first.length ? { phase: 'fine-tune' as const } : {}) }));
}

/** An input too small for the architecture leaves layers with empty outputs (pooling down to 0x0): said, naming the layer. */
function checkOutputShapes(model: tf.LayersModel, spec: ModelSpec): void {
  for (const layer of model.layers) {
    const shape = layer.outputShape as (number | null)[];
    if (Array.isArray(shape) && !Array.isArray(shape[0]) && shape.some((d) => d === 0)) {
      throw new Error(`${spec.configKey ? `${spec.configKey}: ` : ''}layer '${layer.name}' of ${spec.slug} has an empty output [${shape.map(String)}]: the input ${JSON.stringify(spec.test.shape)} is too small for this architecture; use larger images`);
    }
  }
}

/** What every report has, the summary-only ones included: names, data counts and the layer summary. */
function architectureReport(spec: ModelSpec, model: tf.LayersModel): ModelReport {
  const { test } = spec;
  const t = spec.training;
  const summary = layerSummaries(model);
  return {
    slug: spec.slug, title: spec.title, architecture: spec.architecture, description: spec.description,
    ...(spec.multiLabel ? { multiLabel: true } : {}),
    dataset: {
      name: spec.dataName ?? test.name.split('/')[0],
      classes: test.classes, trainCount: t?.train.count ?? 0,
      validationCount: t?.validation.count ?? 0, testCount: test.count, ...(spec.shortcut ? { shortcut: true } : {}),
      labeled: spec.labeled !== false, omitted: spec.omittedSamples ?? 0,
    },
    layers: summary,
    totalParams: model.countParams(),
    trainableParams: summary.reduce((n, l) => n + l.trainableParams, 0),
    samples: [], layerViews: [], classMax: [],
  };
}

/** The model's cost, measured once (passes' time and bytes), and the batches the memory plan allows. */
async function memoryPlan(model: tf.LayersModel, spec: ModelSpec, ctx: RunContext) {
  const cost = await measureCost(model, spec.classifier);
  const memory = memoryBudget(cost, spec.memory);
  const limits = batchLimits(cost, memory);
  ctx.log?.(`${spec.slug}: ${(cost.flops / 1e9).toFixed(2)} GFLOPs per image; a gradient pass holds ${formatBytes(cost.gradient.bytesPerImage)} per image; batches of ${limits.forward} (forward) and ${limits.gradient} (gradient) within ${formatBytes(memory)}`);
  const engine = forwardEngine(model);
  // ONNX Runtime is installed but cannot run this model: say which layer keeps its forward passes on tfjs.
  if (engine.kind === 'tfjs' && typeof loadOrt() !== 'string' && ortWanted()) ctx.log?.(`${spec.slug}: forward passes on the tfjs engine — ${engine.reason}`);
  if (limits.forward === 0) {
    throw new Error(`${spec.configKey ?? spec.slug}: one image's forward pass needs ${formatBytes(cost.forward.fixedBytes + cost.forward.bytesPerImage)}, more than the ${formatBytes(memory)} left beside the model's ${formatBytes(cost.weightBytes)} of weights in the engine's 4 GiB heap; use a smaller input size or a smaller model`);
  }
  return { cost, memory, limits };
}

/** Accuracy, loss, top-k, the confusion matrix and the mistakes' gallery on labeled test data; the probabilities. */
async function evaluation(model: tf.LayersModel, spec: ModelSpec, ctx: RunContext, limits: BatchLimits): Promise<{ evaluation?: ModelReport['evaluation']; probs?: Float32Array }> {
  const { test, slug } = spec;
  if (!spec.classifier || spec.labeled === false) return {};
  const { loss } = evaluate(model, test, Math.min(500, limits.forward), test.scale, test.offset);
  const probs = predictAll(model, test, Math.min(1000, limits.forward));
  const ev = evaluateProbabilities(probs, test.labels, test.numClasses, { mistakesPerCell: 4 });
  const mistakes = await mistakeGallery(ev.mistakes, test, ctx.publicDir, slug);
  return { evaluation: { testAccuracy: ev.accuracy, testLoss: loss, topK: ev.topK, confusion: ev.confusion, perClass: ev.perClass, mistakes }, probs };
}

export async function modelReport(spec: ModelSpec, ctx: RunContext): Promise<ModelReport> {
  const { slug, test } = spec;
  const t = spec.training;
  const clock = { start: performance.now(), trained: 0, evaluated: 0 };
  const { model, history } = await trainedModel(spec, ctx);
  clock.trained = performance.now();
  try {
    checkOutputShapes(model, spec);
    if (spec.summaryOnly) {
      if (ctx.timings) ctx.timings[slug] = { train: (clock.trained - clock.start) / 1000, evaluate: 0, visualize: 0 };
      return architectureReport(spec, model);
    }
    const { cost, memory, limits } = await memoryPlan(model, spec, ctx);
    const { evaluation: evaluated, probs } = await evaluation(model, spec, ctx, limits);
    const samples = chooseSamples(spec, test, probs);
    if (samples.length === 0) throw new Error(`${spec.configKey ?? slug}: no samples to explain (samples.perClass and samples.mistakes are 0)`);
    clock.evaluated = performance.now();
    const views = await visualize({
      model, slug, data: test, sampleIndices: samples, publicDir: ctx.publicDir, seed: spec.seed,
      attributions: spec.classifier, actmax: spec.actmax, log: ctx.log,
      methodParams: Object.fromEntries(Object.entries(spec.methods ?? {}).filter(([, v]) => v !== false)) as Record<string, object>,
      skipMethods: Object.entries(spec.methods ?? {}).filter(([, v]) => v === false).map(([k]) => k),
      layers: spec.layers,
      randomizationSteps: spec.randomizationSteps,
      camLayer: spec.camLayer,
      localizationImages: spec.localizationImages,
      part: spec.part,
      cost, limits, memory, budget: spec.budget, processes: ctx.processes, faithfulnessBaseline: spec.faithfulnessBaseline, road: spec.road, datasetExamples: spec.datasetExamples,
    });
    const { explained, ...viewFields } = views;
    ctx.log?.(`${slug}: visualizations of ${views.samples.length} samples and ${views.layerViews.length} layers in ${((performance.now() - clock.evaluated) / 1000).toFixed(1)} s`);
    if (ctx.timings) {
      ctx.timings[slug] = {
        train: (clock.trained - clock.start) / 1000,
        evaluate: (clock.evaluated - clock.trained) / 1000,
        visualize: (performance.now() - clock.evaluated) / 1000,
      };
    }
    const base = architectureReport(spec, model);
    return {
      ...base,
      dataset: { ...base.dataset, preview: await dataPreview(t?.train ?? test, 15, ctx.publicDir, slug, t ? 'training images' : spec.labeled === false ? 'photos' : 'test images') },
      training: t && {
        epochs: t.epochs, batchSize: t.batchSize, learningRate: t.learningRate, seed: spec.seed, history,
        charts: learningCharts(history, ctx.publicDir, slug),
      },
      evaluation: evaluated,
      ...viewFields,
      ...(spec.part && spec.part.count > 1 ? { part: { ...spec.part, explained } } : {}),
    };
  } finally {
    releaseSession(model);
    model.dispose();
  }
}

/**
 * The visualize step for one model: pick samples, run every attribution method on them (batched), capture every
 * layer's activations, draw filters, and write images + .npy arrays under public/generated/<model>/ with their
 * manifest entries.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { nestingOf } from '../models/flatten.ts';
import { makeBatch } from '../data/batches.ts';
import { type Dataset, inputBytes } from '../data/dataset.ts';
import type { Asset, LayerView, ModelReport } from '../manifest/schema.ts';
import { uniqueSlugs } from '../manifest/slug.ts';
import { colorize } from '../render/colormap.ts';
import { asRgb, encode, grid, overlay, type Raster, upscaleFor } from '../render/image.ts';
import { minMax, normalizeMap, standardizeChannel } from '../render/normalize.ts';
import { npyBytes } from '../render/npy.ts';
import { l2Penalty, maximize, type Objective, totalVariation } from '../viz/activation-maximization.ts';
import { type FeatureImages, featureImages } from '../viz/feature-visualization.ts';
import { allActivations, channelStats } from '../viz/activations.ts';
import { blurSigma, curveFractions, type FaithfulnessBaseline, SampleCurves } from '../viz/metrics/faithfulness.ts';
import { ROAD_FRACTIONS } from '../viz/metrics/road.ts';
import { localization, localizationBenchmark, pointingTolerance } from '../viz/metrics/localization.ts';
import { predictedClasses } from '../viz/target.ts';
import { cascadingRandomization } from '../viz/metrics/randomization.ts';
import { defaultCamLayer, isSpatial } from '../viz/graph.ts';
import { receptiveFields } from '../viz/receptive-field.ts';
import { ATTRIBUTION_METHODS } from '../viz/registry.ts';
import { attributeInChunks } from '../viz/attribute.ts';
import { type BatchLimits, formatBytes, type ModelCost, modelFlops } from '../viz/budget.ts';
import { AssetWriter } from './assets.ts';
import { datasetExamplesView, defaultExampleChannels } from './views/dataset-examples.ts';
import { workProgress } from './progress.ts';
import { gradientFactor, methodPasses, passSeconds, sizing, type Trim, trimToBudget } from './work.ts';

const CONV = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D']);


/** Which conv layers get activation maximisation: all, or `maxLayers` spread evenly (first and last included). */
export function actmaxLayers(names: string[], maxLayers?: number): Set<string> {
  if (maxLayers == null || maxLayers >= names.length) return new Set(names);
  if (maxLayers <= 0) return new Set();
  if (maxLayers === 1) return new Set([names[names.length - 1]]);
  return new Set(Array.from({ length: maxLayers }, (_, i) => names[Math.round((i * (names.length - 1)) / (maxLayers - 1))]));
}

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
  /** Seconds the optional work should fit in (config/CLI `budget`); trims are listed on the model page. */
  budget?: number;
  /** Dataset examples: test images scanned (0: none), images per list, channels per layer (see defaultExampleChannels). */
  datasetExamples?: { images?: number; k?: number; maxChannels?: number };
  /** What deleted pixels become in the deletion/insertion curves (default 'blur', RISE's protocol). */
  faithfulnessBaseline?: FaithfulnessBaseline;
  /** ROAD's curves (imputed removals) beside deletion/insertion; default: on for models under HEAVY_FLOPS. */
  road?: boolean;
}

type Views = Pick<ModelReport, 'samples' | 'layerViews' | 'camLayer' | 'classMax' | 'randomization' | 'localization' | 'work'> & { explained?: number[] };

/**
 * The positions (of `samples` samples) part `index` of `count` explains. Part 1 also computes the model-wide views,
 * worth `views` samples of work (a FLOPs estimate, so every part computes the same split): it takes fewer samples,
 * the others share the rest round-robin.
 */
export function partPositions(samples: number, part: { index: number; count: number } | undefined, views = 0): number[] {
  const all = Array.from({ length: samples }, (_, i) => i);
  if (!part || part.count <= 1) return all;
  const first = Math.max(0, Math.min(samples, Math.round((samples + views) / part.count - views)));
  const rest = all.slice(0, samples - first);
  const mine = part.index === 1 ? all.slice(samples - first) : rest.filter((_, i) => i % (part.count - 1) === part.index - 2);
  return mine;
}

/** A deterministic class-balanced pick: the first test sample of each class, then the most confident mistakes. */
export function pickSamples(data: Dataset, probs: Float32Array, perClass = 1, mistakes = 2): number[] {
  const K = data.numClasses;
  const chosen: number[] = [];
  for (let k = 0; k < K; k++) {
    let found = 0;
    for (let i = 0; i < data.count && found < perClass; i++) {
      if (data.labels[i] === k) {
        chosen.push(i);
        found++;
      }
    }
  }
  const wrong: Array<{ i: number; p: number }> = [];
  for (let i = 0; i < data.count; i++) {
    const row = probs.subarray(i * K, (i + 1) * K);
    let pred = 0;
    for (let k = 1; k < K; k++) if (row[k] > row[pred]) pred = k;
    if (pred !== data.labels[i]) wrong.push({ i, p: row[pred] });
  }
  wrong.sort((a, b) => b.p - a.p || a.i - b.i);
  for (const w of wrong.slice(0, mistakes)) if (!chosen.includes(w.i)) chosen.push(w.i);
  return chosen;
}

/** Layer rows for the manifest: summary, graph edges, config, receptive fields. */
export function layerSummaries(model: tf.LayersModel): ModelReport['layers'] {
  const fields = receptiveFields(model);
  const slugs = uniqueSlugs(model.layers.map((l) => l.name));
  const nesting = nestingOf(model);
  return model.layers.map((layer, i) => {
    const shape = layer.outputShape as (number | null)[];
    const node = layer.inboundNodes[0];
    const f = fields.get(layer.name);
    return {
      name: layer.name,
      slug: slugs[i],
      className: layer.getClassName(),
      outputShape: shape.slice(1),
      params: layer.countParams(),
      trainableParams: layer.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0),
      inbound: ((node?.inboundLayers ?? []) as tf.layers.Layer[]).map((l) => l.name),
      config: JSON.parse(JSON.stringify(layer.getConfig())) as Record<string, unknown>,
      field: f ? { rf: f.rf, jump: f.jump, start: f.start, global: f.global } : undefined,
      parents: nesting?.get(layer.name) ?? [],
    };
  });
}

export async function visualize(opts: VisualizeOptions): Promise<Views> {
  const { model, data, sampleIndices, seed } = opts;
  const out = new AssetWriter(opts.publicDir, opts.slug);
  const [H, W, C] = data.shape;
  const sampleSlugs = uniqueSlugs(sampleIndices.map((i) => data.ids[i]));
  const classifier = opts.attributions ?? true;
  if (opts.camLayer != null) {
    const l = model.layers.find((x) => x.name === opts.camLayer);
    if (!l || !isSpatial(l)) {
      throw new Error(`camLayer: '${opts.camLayer}' is not a layer with a spatial output in ${model.name}; its spatial layers are ${model.layers.filter(isSpatial).map((x) => x.name).join(', ')}`);
    }
  }
  const names = new Set(model.layers.map((l) => l.name));
  const wanted = opts.layers && opts.layers !== 'all' ? new Set(opts.layers) : undefined;
  for (const name of wanted ?? []) {
    if (!names.has(name)) throw new Error(`layers: the model ${model.name} has no layer '${name}'; its layers are ${[...names].join(', ')}`);
  }
  const camLayer = classifier ? opts.camLayer ?? defaultCamLayer(model) : undefined;
  const camChannels = camLayer ? ((model.getLayer(camLayer).outputShape as number[])[3] ?? 1) : 1;

  // Work sized to the model: defaults from its FLOPs, batches from its memory plan.
  const flops = opts.cost?.flops ?? modelFlops(model);
  const size = sizing(flops, [H, W], { actmax: opts.actmax, randomizationSteps: opts.randomizationSteps });
  const limits = opts.limits;
  const notes: string[] = [];
  const skipped: Array<{ what: string; why: string }> = [];
  const gradientsFit = !limits || limits.gradient > 0;
  const forwardFits = !limits || limits.forward > 0;
  const heldBy = (kind: 'gradient' | 'forward') =>
    `one image's ${kind} pass needs more than the ${formatBytes(opts.memory ?? 0)} the memory plan allows (raise \`memory\` in the config, or use a smaller input size)`;
  let methods = ATTRIBUTION_METHODS.filter((m) => !opts.skipMethods?.includes(m.id));
  if (classifier && !gradientsFit) {
    // Methods that take a gradient pass cannot run; the forward-only ones (occlusion, RISE, EigenCAM, Ablation-CAM) can.
    const needsGradient = (m: (typeof methods)[number]) => methodPasses(m, m.params.parse({}) as Record<string, unknown>, { input: [H, W], channels: camChannels }).gradient > 0;
    for (const m of methods.filter(needsGradient)) skipped.push({ what: m.title, why: heldBy('gradient') });
    methods = methods.filter((m) => !needsGradient(m));
  }
  if (classifier && !forwardFits) {
    for (const m of methods) skipped.push({ what: m.title, why: heldBy('forward') });
    methods = [];
  }
  const paramsOf = new Map(methods.map((m) => [m.id, m.params.parse({ ...size.methodParams[m.id], ...opts.methodParams?.[m.id] }) as Record<string, unknown>]));
  /** Parameters inside the randomization check and the pointing game: cheaper, unless the config set the method's own. */
  const checkParamsOf = (id: string) => (opts.methodParams?.[id] == null && size.randomizationParams[id] ? { ...paramsOf.get(id)!, ...size.randomizationParams[id] } : paramsOf.get(id)!);
  const listed = (p: Record<string, unknown>) => Object.entries(p).map(([k, v]) => `${k} ${String(v)}`).join(', ');
  if (size.tier > 0) {
    notes.push(`${(flops / 1e9).toFixed(2)} GFLOPs per image: a ${size.tier === 2 ? 'very ' : ''}large model, so the defaults scale down (the config's own settings win).`);
    for (const [id, p] of Object.entries(size.methodParams)) {
      const m = methods.find((x) => x.id === id);
      if (m && opts.methodParams?.[id] == null) notes.push(`${m.title}: ${listed(p)}.`);
    }
    notes.push(`Deletion and insertion curves: ${size.faithfulnessSteps} steps.`);
    const cheaper = Object.entries(size.randomizationParams).filter(([id]) => methods.some((m) => m.id === id) && opts.methodParams?.[id] == null);
    notes.push(`Randomization check: ${size.randomization.samples} sample, layers in ${size.randomization.steps} groups${cheaper.length ? `; inside it ${cheaper.map(([id, p]) => `${methods.find((m) => m.id === id)!.title} with ${listed(p)}`).join(' and ')}` : ''}.`);
  }
  if (size.tier === 0 && methods.some((m) => m.id === 'rise') && opts.methodParams?.rise == null) {
    notes.push(`RISE: ${String(checkParamsOf('rise').masks)} masks in the randomization check and the pointing game, ${String(paramsOf.get('rise')!.masks)} on the samples.`);
  }
  /** What the pointing game scores: signed maps as they are, magnitude maps by magnitude (as they are drawn). */
  const scored = (method: (typeof methods)[number], raw: Float32Array) => (method.signed ? raw : raw.map(Math.abs));
  const actmax = { ...size.actmax };
  const convLayers = model.layers.filter((l) => CONV.has(l.getClassName()) && isSpatial(l)).map((l) => l.name);
  let maxLayers = actmaxLayers(convLayers, actmax.maxLayers);
  if (!gradientsFit && maxLayers.size > 0) {
    skipped.push({ what: 'Activation maximization', why: heldBy('gradient') });
    maxLayers = new Set();
  }
  /** Feature images for objectives: display bytes per row (rows grouped by objective, `images` each). */
  const featureMethod = opts.actmax?.method ?? 'fourier';
  const feature = (objectives: Objective[], steps = actmax.steps) => featureImages(model, objectives, { method: featureMethod, steps, seed, data, images: opts.actmax?.images },
    (objs) => maximize(model, objs, { ...actmaxOptions(), steps }), (values) => inputBytes(values, data, C));
  /** Class images are few: on small models they get at least 128 steps (the Fourier parametrisation needs them). */
  const classSteps = () => (size.tier === 0 ? Math.max(actmax.steps, 128) : actmax.steps);
  const actmaxOptions = () => ({
    steps: actmax.steps, stepSize: 0.01, range: data.range, seed,
    regularizers: [totalVariation(0.05), l2Penalty(0.01, (data.range[0] + data.range[1]) / 2)], jitter: { pixels: 1 },
  });
  const faithfulness = { steps: size.faithfulnessSteps };
  // ROAD imputes every removed pixel (a linear solve per curve point, in JS): on by default for small models only.
  const road = opts.road ?? size.tier === 0;
  /** Forward passes of one map's curves: deletion and insertion's inner points, ROAD's MoRF and LeRF points. */
  const curvePasses = () => 2 * (faithfulness.steps - 1) + (road ? 2 * ROAD_FRACTIONS.length : 0);
  if (!road && opts.road == null) notes.push('ROAD curves: off for a large model (set `faithfulness.road: true` to compute them).');
  const weighted = model.layers.filter((l) => l.trainableWeights.length > 0).length;
  const randomization = { samples: Math.min(size.randomization.samples, sampleIndices.length), steps: Math.min(size.randomization.steps, weighted) };
  if (classifier && !gradientsFit && methods.length > 0) notes.push('Randomization check: only the methods without a gradient pass could run.');
  const part = opts.part && opts.part.count > 1 ? opts.part : undefined;
  const modelViews = !part || part.index === 1;
  const localizationImages = modelViews && classifier && data.masks ? Math.min(opts.localizationImages ?? 100, data.count) : 0;
  let classImages = 0;

  // The cost of every unit of work, in passes per image: forward passes, and gradient passes (× the fraction of
  // the model's FLOPs the pass goes through, for activation maximization of an early layer).
  const shape = { input: [H, W] as [number, number], channels: camChannels };
  const layerFraction = cumulativeFlops(model);
  const methodCost = (m: (typeof methods)[number]) => methodPasses(m, paramsOf.get(m.id)!, shape);
  const sampleCost = () => methods.reduce((t, m) => {
    const p = methodCost(m);
    return { forward: t.forward + p.forward + curvePasses(), gradient: t.gradient + p.gradient };
  }, { forward: 3 + 2 * curvePasses(), gradient: 0 }); // + the end points and the two baselines' curves
  const randomizationCost = () => methods.reduce((t, m) => {
    const p = methodPasses(m, checkParamsOf(m.id), shape);
    return { forward: t.forward + p.forward * randomization.samples * (randomization.steps + 1), gradient: t.gradient + p.gradient * randomization.samples * (randomization.steps + 1) };
  }, { forward: 0, gradient: 0 });
  const actmaxCost = () => ({
    forward: 0,
    gradient: [...maxLayers].reduce((t, name) => t + (layerFraction.get(name) ?? 1) * Math.min(actmax.maxChannels, channelsOf(model, name)) * actmax.steps, 0) + classImages * classSteps(),
  });
  // Activation grids are JS work (standardise, colour, tile, encode): ~0.6 µs per drawn value on this 2-core
  // machine, counted as one forward-pass unit per 100,000 values.
  const drawn = model.layers.reduce((t, l) => {
    const shape = l.outputShape as (number | null)[];
    if (!isSpatial(l) || (wanted && !wanted.has(l.name))) return t;
    return t + (shape[1] ?? 1) * (shape[2] ?? 1) * Math.min(shape[3] ?? 1, size.gridChannels);
  }, 0);
  const exampleLayers = convLayers.filter((name) => !wanted || wanted.has(name));
  const exampleImages = exampleLayers.length > 0 ? Math.min(opts.datasetExamples?.images ?? size.exampleImages, data.count) : 0;
  const layerCost = () => ({ forward: sampleIndices.length * (2 + drawn / 1e5) + exampleImages, gradient: 0 });
  const viewCost = () => {
    const r = randomizationCost();
    const a = actmaxCost();
    const l = layerCost();
    return { forward: r.forward + a.forward + l.forward, gradient: r.gradient + a.gradient + l.gradient };
  };
  const factor = gradientFactor(model.layers);
  const flopUnits = (p: { forward: number; gradient: number }) => p.forward + factor * p.gradient;

  // Class images: every class on small heads; on many classes, the classes the samples are predicted as.
  const probs = classifier ? predictProbs(model, data, sampleIndices, limits) : new Float32Array(sampleIndices.length * data.numClasses);
  const K = data.numClasses;
  const predicted = sampleIndices.map((_, s) => {
    const row = probs.subarray(s * K, (s + 1) * K);
    let p = 0;
    for (let k = 1; k < K; k++) if (row[k] > row[p]) p = k;
    return p;
  });
  const classList = !classifier || !gradientsFit ? [] : K <= size.classImages ? data.classes.map((_, k) => k) : [...new Set(predicted)].slice(0, size.classImages);
  if (classifier && K > size.classImages && classList.length > 0) notes.push(`Class images: ${classList.length === 1 ? 'the class the samples are all predicted as' : `the ${classList.length} classes the samples are predicted as`}, of ${K}.`);
  classImages = classList.length;
  if (size.tier > 0 && maxLayers.size > 0) notes.push(`Activation maximization: ${actmax.maxChannels} channels of ${maxLayers.size} conv layers, ${actmax.steps} steps.`);

  // The budget: trim optional work while the estimate (measured seconds per pass) exceeds it.
  const cost = opts.cost;
  const seconds = (p: { forward: number; gradient: number }, images = 1) => (cost ? passSeconds(cost, p, images) : 0);
  // Which samples this part explains: from counted passes before any budget trim, so every part agrees.
  const explained = partPositions(sampleIndices.length, part, flopUnits(viewCost()) / Math.max(1, flopUnits(sampleCost())));
  const estimate = () => seconds(sampleCost(), explained.length) + (modelViews ? seconds(viewCost()) : 0);
  let trimmed: Trim[] = [];
  if (opts.budget != null && cost) {
    const cut = (what: string, apply: () => void): Trim | undefined => {
      const before = estimate();
      apply();
      const saved = before - estimate();
      return saved > 0 ? { what, saved } : undefined;
    };
    trimmed = trimToBudget(estimate, opts.budget, [
      () => (actmax.steps > 16 ? cut(`activation maximization: ${actmax.steps} → 16 steps`, () => (actmax.steps = 16)) : undefined),
      () => (maxLayers.size > 2 ? cut(`activation maximization: ${maxLayers.size} → 2 conv layers`, () => (maxLayers = actmaxLayers(convLayers, 2))) : undefined),
      () => (actmax.maxChannels > 2 ? cut(`activation maximization: ${actmax.maxChannels} → 2 channels per layer`, () => (actmax.maxChannels = 2)) : undefined),
      () => (classImages > 0 ? cut(`class images: all ${classImages} dropped`, () => (classImages = 0)) : undefined),
      () => (randomization.steps > 2 ? cut(`randomization check: ${randomization.steps} → 2 groups of layers`, () => (randomization.steps = 2)) : undefined),
      () => (randomization.samples > 1 ? cut(`randomization check: ${randomization.samples} → 1 sample`, () => (randomization.samples = 1)) : undefined),
      () => (faithfulness.steps > 4 ? cut(`deletion/insertion curves: ${faithfulness.steps} → 4 steps`, () => (faithfulness.steps = 4)) : undefined),
      () => tuneParam('integrated-gradients', 'steps', 8, 'Integrated Gradients'),
      () => tuneParam('smoothgrad-saliency', 'samples', 4, 'SmoothGrad'),
      () => (maxLayers.size > 0 ? cut('activation maximization: dropped', () => (maxLayers = new Set())) : undefined),
      () => (randomization.steps > 0 ? cut('randomization check: dropped', () => (randomization.steps = 0)) : undefined),
    ]);
    function tuneParam(id: string, key: string, to: number, title: string): Trim | undefined {
      const p = paramsOf.get(id);
      if (!p || typeof p[key] !== 'number' || (p[key] as number) <= to || opts.methodParams?.[id]?.[key as never] != null) return undefined;
      return cut(`${title}: ${String(p[key])} → ${to} ${key}`, () => paramsOf.set(id, { ...p, [key]: to }));
    }
  }
  const classesShown = classList.slice(0, classImages);
  // Progress in estimated seconds (or passes when nothing was measured): the ETA follows the work, not the count.
  const unit = (p: { forward: number; gradient: number }, images = 1) => (cost ? seconds(p, images) : flopUnits(p) * images) || 1e-3;
  const perLayer = unit(layerCost()) / Math.max(1, model.layers.length);
  const units = (classifier ? methods.reduce((t, m) => t + unit({ forward: methodCost(m).forward + curvePasses(), gradient: methodCost(m).gradient }, explained.length), 0) : 0)
    + (localizationImages > 0 ? methods.reduce((t, m) => t + unit(methodPasses(m, checkParamsOf(m.id), shape), localizationImages), 0) : 0)
    + (modelViews ? perLayer * model.layers.length + unit(actmaxCost()) + (classifier ? unit(randomizationCost()) : 0) : 0);
  const bar = workProgress({ label: `${opts.slug}: visualize`, total: units, stream: opts.progressStream });
  if (cost) opts.log?.(`${opts.slug}: estimated ${Math.round(estimate())} s of work (${(flops / 1e9).toFixed(2)} GFLOPs per image; ${cost.forward.msPerImage.toFixed(0)} ms per forward and ${cost.gradient.msPerImage.toFixed(0)} ms per gradient pass per image)`);
  let clock = performance.now();
  const stage = (what: string) => {
    const now = performance.now();
    opts.log?.(`${opts.slug}: ${what} in ${((now - clock) / 1000).toFixed(1)} s`);
    clock = now;
  };
  const work = (): ModelReport['work'] => ({
    flops, heavy: size.tier > 0, batch: { forward: limits?.forward ?? 0, gradient: limits?.gradient ?? 0 }, memory: opts.memory ?? 0,
    notes, ...(opts.budget != null ? { budget: opts.budget } : {}), trimmed, skipped,
    featureVisualization: { method: featureMethod, steps: actmax.steps, ...(classifier ? { classSteps: classSteps() } : {}) },
    ...(classifier ? { faithfulness: { baseline: opts.faithfulnessBaseline ?? 'blur', ...((opts.faithfulnessBaseline ?? 'blur') === 'blur' ? { blurSigma: blurSigma(H, W) } : {}), steps: faithfulness.steps, road } } : {}),
  });
  const { x } = (() => {
    const b = makeBatch(data, sampleIndices, data.scale, data.offset);
    b.y.dispose();
    return b;
  })();
  try {
    const pixels = x.dataSync();
    const sampleRaster = (s: number): Raster => ({
      data: inputBytes(pixels.subarray(s * H * W * C, (s + 1) * H * W * C), data, C),
      width: W,
      height: H,
      channels: C as 1 | 3,
    });

    // Attributions: every method on this part's samples, a memory-sized chunk at a time, explaining the predicted class.
    const perSample = sampleIndices.map(() => [] as ModelReport['samples'][number]['attributions']);
    /** Each sample's fill image and curve end points, shared by every method's curves and the baselines. */
    const curvesOf = new Map<number, SampleCurves>();
    const fractions = curveFractions(faithfulness.steps);
    const sampleCurves = (s: number) => {
      let c = curvesOf.get(s);
      if (!c) {
        const xs = tf.slice(x, [s, 0, 0, 0], [1, H, W, C]) as tf.Tensor4D;
        c = new SampleCurves(model, xs, predicted[s], { fractions, baseline: opts.faithfulnessBaseline ?? 'blur', black: blackPixel(data, C), batchSize: limits?.forward, seed: seed + s, ...(road ? { road: { range: data.range } } : {}) });
        xs.dispose();
        curvesOf.set(s, c);
      }
      return c;
    };
    const xe = explained.length === sampleIndices.length ? x : (tf.gather(x, explained) as tf.Tensor4D);
    for (const method of classifier && explained.length > 0 ? methods : []) {
      const params = paramsOf.get(method.id)!;
      const t0 = performance.now();
      const r = attributeInChunks(method, { model, x: xe, targets: explained.map((s) => predicted[s]), keys: explained, seed, layer: camLayer, limits }, params);
      const ms = (performance.now() - t0) / explained.length;
      const maps = r.maps;
      explained.forEach((s, e) => {
        const raw = maps.slice(e * H * W, (e + 1) * H * W);
        const norm = normalizeMap(raw, method.signed);
        const heat = colorize(norm.values, method.signed ? 'rdbu' : method.family === 'cam' ? 'turbo' : 'viridis', method.signed);
        const picture = method.family === 'cam' ? overlay(sampleRaster(s), heat, 0.5) : { data: heat, width: W, height: H, channels: 3 as const };
        const extras: Record<string, number> = Object.fromEntries(Object.entries(r.extras).map(([k, v]) => [k, v[e]]));
        if (data.masks) {
          // Ground truth known (synthetic shapes): does the map point at the object?
          const mask = data.masks.subarray(sampleIndices[s] * H * W, (sampleIndices[s] + 1) * H * W);
          const loc = localization(scored(method, raw), mask, W, pointingTolerance(W));
          extras.pointingHit = loc.hit ? 1 : 0;
          extras.energyInside = loc.energyInside;
        }
        const f = sampleCurves(s).curves(raw);
        perSample[s].push({
          method: method.id,
          image: out.image(`samples/${sampleSlugs[s]}/${method.id}`, picture, `${method.title} for ${data.ids[sampleIndices[s]]}, class ${data.classes[predicted[s]]}`, s === 0 && method.id === 'grad-cam' ? 'png' : 'webp'),
          npy: out.npy(`samples/${sampleSlugs[s]}/${method.id}`, raw, [H, W]),
          scale: norm.scale,
          params,
          layer: method.family === 'cam' ? camLayer : undefined,
          extras,
          faithfulness: f,
          milliseconds: ms,
        });
      });
      bar.tick(method.id, unit({ forward: methodCost(method).forward + curvePasses(), gradient: methodCost(method).gradient }, explained.length));
    }

    // The bar each method must beat, per sample: a random pixel order and the image's edges.
    const baselinesOf = new Map([...curvesOf].map(([s, c]) => [s, c.baselines()]));
    for (const c of curvesOf.values()) c.dispose();
    if (xe !== x) xe.dispose();
    if (classifier) stage(`${methods.length} attribution methods × ${explained.length} samples with faithfulness`);
    // Localization over many test images: a pointing game on 7 samples says little.
    let localizationResult: ModelReport['localization'];
    if (localizationImages > 0) {
      // Each chunk of test images is batched and predicted once, then explained by every method.
      const chunks = new Map<number, { x: tf.Tensor4D; targets: number[] }>();
      const chunkAt = (start: number, n: number) => {
        let c = chunks.get(start);
        if (c == null) {
          const b = makeBatch(data, Array.from({ length: n }, (_, i) => start + i), data.scale, data.offset);
          b.y.dispose();
          c = { x: b.x, targets: predictedClasses(model, b.x, limits) };
          chunks.set(start, c);
        }
        return c;
      };
      try {
        localizationResult = localizationBenchmark({
          masks: data.masks!, labels: data.labels, width: W, height: H, count: localizationImages, chunk: 25,
          methods: methods.map((m) => m.id),
          attribute: (id, start, n) => {
            const method = methods.find((m) => m.id === id)!;
            const { x: xc, targets } = chunkAt(start, n);
            const r = attributeInChunks(method, { model, x: xc, targets, seed, layer: camLayer, limits }, checkParamsOf(id));
            return { maps: scored(method, r.maps), predicted: targets };
          },
          onMethod: (id) => bar.tick(`pointing game ${id}`, unit(methodPasses(methods.find((m) => m.id === id)!, checkParamsOf(id), shape), localizationImages)),
        });
      } finally {
        tf.dispose([...chunks.values()].map((c) => c.x));
      }
      stage(`pointing game and mask energy of ${methods.length} methods on ${localizationImages} test images`);
    }
    const samples: ModelReport['samples'] = sampleIndices.map((index, s) => {
      const row = Array.from(probs.subarray(s * K, (s + 1) * K));
      const top = !classifier ? [] : row
        .map((p, k) => ({ index: k, label: data.classes[k], probability: p }))
        .sort((a, b) => b.probability - a.probability || a.index - b.index)
        .slice(0, 5);
      return {
        id: data.ids[index],
        slug: sampleSlugs[s],
        label: data.labels[index],
        predicted: classifier ? predicted[s] : -1,
        probability: classifier ? row[predicted[s]] : 0,
        top,
        image: out.image(`samples/${sampleSlugs[s]}/input`, sampleRaster(s), data.labels[index] >= 0 ? `Input ${data.ids[index]}, true class ${data.classes[data.labels[index]]}` : `Photo ${data.ids[index]}`),
        attributions: perSample[s],
        ...(baselinesOf.has(s) ? { baselines: baselinesOf.get(s) } : {}),
      };
    });

    if (!modelViews) {
      // Another part computes the layers, randomization and class images.
      bar.end();
      await out.flush();
      return { samples, layerViews: [], camLayer, classMax: [], localization: undefined, work: work(), explained };
    }
    const layerViews = layerViewsOf({
      model, data, x, samples, out, wanted, limits: limits ?? { forward: sampleIndices.length, gradient: sampleIndices.length },
      gridChannels: size.gridChannels, channelImages: size.channelImages, maxLayers, actmax, feature, perObjective: Math.max(1, opts.actmax?.images ?? 1), tick: (what) => bar.tick(what, perLayer),
      onActmax: (what, p) => bar.tick(what, unit(p)), layerFraction,
    });
    if (Number.isFinite(size.gridChannels) && model.layers.some((l) => channelsOf(model, l.name) > size.gridChannels && isSpatial(l))) {
      notes.push(`Activation grids: the first ${size.gridChannels} channels of wider layers (the statistics table lists every channel).`);
    }
    stage(`activations, filters and activation maximization of ${layerViews.length} layers`);
    if (exampleImages > 0) {
      const slugOf = new Map(uniqueSlugs(model.layers.map((l) => l.name)).map((sl, i) => [model.layers[i].name, sl]));
      const examples = datasetExamplesView({
        model, data, out, layers: exampleLayers.map((name) => ({ name, slug: slugOf.get(name)! })),
        channels: opts.datasetExamples?.maxChannels ?? defaultExampleChannels(exampleLayers.map((name) => channelsOf(model, name))),
        images: exampleImages, k: opts.datasetExamples?.k ?? 5, batch: Math.max(1, limits?.gradient ?? 64),
      });
      for (const view of layerViews) {
        const e = examples.get(view.layer);
        if (e) view.datasetExamples = e;
      }
      stage(`dataset examples of ${examples.size} conv layers over ${exampleImages} test images`);
    }
    if (!classifier) {
      bar.end();
      await out.flush();
      return { samples, layerViews, camLayer, classMax: [], localization: localizationResult, work: work(), explained };
    }
    // Sanity check: cascading randomization on the first samples, every method.
    let randomizationView: ModelReport['randomization'];
    if (randomization.steps > 0 && methods.length > 0) {
      const nr = randomization.samples;
      const xr = tf.slice(x, [0, 0, 0, 0], [nr, H, W, C]) as tf.Tensor4D;
      const perStep = unit(randomizationCost()) / (randomization.steps + 1);
      const rnd = cascadingRandomization(model, [...methods], xr, predicted.slice(0, nr), seed, checkParamsOf, randomization.steps, (what) => bar.tick(what, perStep), camLayer, limits);
      xr.dispose();
      stage(`cascading randomization (${rnd.steps.length} steps × ${methods.length} methods)`);
      const mapImage = (rel: string, m: Float32Array, id: string, alt: string) => {
        const method = ATTRIBUTION_METHODS.find((a) => a.id === id)!;
        const heat = colorize(normalizeMap(m, method.signed).values, method.signed ? 'rdbu' : method.family === 'cam' ? 'turbo' : 'viridis', method.signed);
        return out.image(rel, { data: heat, width: W, height: H, channels: 3 }, alt);
      };
      randomizationView = {
        sample: samples[0].slug,
        original: Object.fromEntries(methods.map((m) => [m.id, mapImage(`randomization/${m.id}-trained`, rnd.original[m.id][0], m.id, `${m.title} of the trained model for ${samples[0].id}`)])),
        steps: rnd.steps.map((st, k) => ({
          layer: st.layer,
          correlation: st.correlation,
          images: Object.fromEntries(methods.map((m) => [m.id, mapImage(`randomization/${m.id}-step-${k + 1}`, st.maps[m.id][0], m.id, `${m.title} after randomising ${st.layer} and the layers above it`)])),
        })),
      };
    }
    // Each shown class's logit, maximised from noise, a memory-sized batch of classes at a time.
    const classMax: ModelReport['classMax'] = [];
    const classChunk = Math.max(1, limits?.gradient ?? classesShown.length);
    for (let c0 = 0; c0 < classesShown.length; c0 += classChunk) {
      const chunk = classesShown.slice(c0, c0 + classChunk);
      const cm = feature(chunk.map((index) => ({ kind: 'class' as const, index })), classSteps());
      const per = cm.rows / chunk.length;
      chunk.forEach((index, i) => {
        classMax.push({
          index,
          value: cm.values[i * per],
          image: out.image(`classes/actmax-${index}`, { data: cm.bytes.subarray(i * per * H * W * C, (i * per + 1) * H * W * C), width: W, height: H, channels: C as 1 | 3 }, `Input that maximises the ${data.classes[index]} logit`),
        });
      });
    }
    bar.tick('class images', unit({ forward: 0, gradient: classesShown.length * classSteps() }));
    bar.end();
    await out.flush();
    stage('class maximization and image encoding');
    return { samples, layerViews, camLayer, classMax, randomization: randomizationView, localization: localizationResult, work: work(), explained };
  } finally {
    x.dispose();
  }
}

/** A black pixel in model units (byte 0 through the scaling), per channel: what deletion puts in. */
function blackPixel(data: Dataset, C: number): number[] {
  return Array.from({ length: C }, (_, c) => (Array.isArray(data.offset) ? data.offset[c] : data.offset));
}

/** Class probabilities of the samples, predicted in forward passes of the memory plan's size. */
function predictProbs(model: tf.LayersModel, data: Dataset, sampleIndices: number[], limits?: BatchLimits): Float32Array {
  const out = new Float32Array(sampleIndices.length * data.numClasses);
  const n = Math.max(1, limits?.forward ?? sampleIndices.length);
  for (let s0 = 0; s0 < sampleIndices.length; s0 += n) {
    const b = makeBatch(data, sampleIndices.slice(s0, s0 + n), data.scale, data.offset);
    const p = tf.tidy(() => (model.predict(b.x, { batchSize: n }) as tf.Tensor).dataSync() as Float32Array);
    tf.dispose([b.x, b.y]);
    out.set(p, s0 * data.numClasses);
  }
  return out;
}

/** Channels of a layer's output (its last axis). */
function channelsOf(model: tf.LayersModel, name: string): number {
  const shape = model.getLayer(name).outputShape as (number | null)[];
  return Array.isArray(shape) && !Array.isArray(shape[0]) ? (shape[shape.length - 1] ?? 1) : 1;
}

/** Per layer: the share of the model's forward FLOPs spent up to and including it (activation maximization's cost). */
function cumulativeFlops(model: tf.LayersModel): Map<string, number> {
  const total = Math.max(1, modelFlops(model));
  const out = new Map<string, number>();
  let sum = 0;
  for (const layer of model.layers) {
    sum += modelFlops({ layers: [layer] } as unknown as tf.LayersModel);
    out.set(layer.name, sum / total);
  }
  return out;
}

interface LayerViewInput {
  model: tf.LayersModel;
  data: Dataset;
  x: tf.Tensor4D;
  samples: ModelReport['samples'];
  out: AssetWriter;
  wanted?: Set<string>;
  limits: BatchLimits;
  gridChannels: number;
  /** Full-size images of the first channels (sample 0). */
  channelImages: number;
  maxLayers: Set<string>;
  actmax: { maxChannels: number; steps: number };
  /** Feature images for objectives (Fourier or pixel-space ascent), rows grouped by objective. */
  feature: (objectives: Objective[]) => FeatureImages;
  /** Images per channel. */
  perObjective: number;
  tick: (what: string) => void;
  onActmax: (what: string, passes: { forward: number; gradient: number }) => void;
  layerFraction: Map<string, number>;
}

/**
 * Every layer's view: activation grids and fused maps per sample, channel statistics over all samples, filters,
 * and activation maximization. Activations are captured a memory-sized chunk of samples at a time (one pass keeps
 * every layer's output) and copied out, so the heap holds one chunk's activations at once.
 */
function layerViewsOf(v: LayerViewInput): LayerView[] {
  const { model, data, x, samples, out, wanted } = v;
  const [H, W, C] = data.shape;
  const S = x.shape[0];
  const layerSlugs = uniqueSlugs(model.layers.map((l) => l.name));
  const chunk = Math.max(1, v.limits.gradient);
  const values = new Map<string, { shape: number[]; data: Float32Array }>();
  for (let s0 = 0; s0 < S; s0 += chunk) {
    const n = Math.min(chunk, S - s0);
    const xs = n === S ? x : (tf.slice(x, [s0, 0, 0, 0], [n, H, W, C]) as tf.Tensor4D);
    const acts = allActivations(model, xs);
    try {
      for (const [name, a] of Object.entries(acts)) {
        if (wanted && !wanted.has(name)) continue;
        const per = a.size / n;
        let entry = values.get(name);
        if (!entry) {
          entry = { shape: [S, ...a.shape.slice(1)], data: new Float32Array(per * S) };
          values.set(name, entry);
        }
        entry.data.set(a.dataSync() as Float32Array, s0 * per);
      }
    } finally {
      tf.dispose(Object.values(acts));
      if (xs !== x) xs.dispose();
    }
  }
  const layerViews: LayerView[] = [];
  model.layers.forEach((layer, li) => {
    v.tick(layer.name);
    const a = values.get(layer.name);
    if (!a) return;
    values.delete(layer.name);
    const view: LayerView = { layer: layer.name, grids: [], channels: [], fused: [], vectors: [], actmax: [] };
    const lslug = layerSlugs[li];
    if (a.shape.length === 4) {
      const [, h, w, k] = a.shape;
      view.stats = channelStats(a.data, k);
      const shown = Math.min(k, v.gridChannels);
      const columns = Math.ceil(Math.sqrt(shown));
      samples.forEach((sample, s) => {
        const tiles: Raster[] = [];
        const fusedMap = new Float32Array(h * w);
        for (let c = 0; c < k; c++) {
          const ch = new Float32Array(h * w);
          for (let p = 0; p < h * w; p++) {
            ch[p] = a.data[((s * h * w + p) * k) + c];
            fusedMap[p] += ch[p];
          }
          if (c >= shown) continue;
          tiles.push({ data: colorize(Float32Array.from(standardizeChannel(ch), (t) => t / 255), 'viridis'), width: w, height: h, channels: 3 });
          if (s === 0 && c < v.channelImages) {
            view.channels.push(out.image(`layers/${lslug}/channel-${c}`, tiles[c], `${layer.name} channel ${c} for ${samples[0].id}`));
          }
        }
        view.grids.push({
          sample: sample.slug,
          image: out.image(`layers/${lslug}/grid-${sample.slug}`, grid(tiles, columns, 1), shown < k ? `The first ${shown} of ${k} channels of ${layer.name} for ${sample.id}` : `All ${k} channels of ${layer.name} for ${sample.id}`, s === 0 ? 'png' : 'webp'),
          columns,
          tile: [w, h],
          ...(shown < k ? { channels: shown } : {}),
        });
        view.fused.push({
          sample: sample.slug,
          image: out.image(`layers/${lslug}/fused-${sample.slug}`, { data: colorize(minMax(fusedMap), 'viridis'), width: w, height: h, channels: 3 }, `Sum of the channels of ${layer.name} for ${sample.id}`),
        });
      });
    } else if (a.shape.length === 2) {
      const units = a.shape[1];
      view.stats = channelStats(a.data, units);
      view.vectors = samples.map((sample, s) => ({ sample: sample.slug, values: Array.from(a.data.subarray(s * units, (s + 1) * units)) }));
    }
    const filters = filterImage(layer);
    if (filters) view.filters = out.image(`layers/${lslug}/filters`, filters.raster, `${filters.what} of ${layer.name}`, 'png');
    if (CONV.has(layer.getClassName()) && a.shape.length === 4 && v.maxLayers.has(layer.name)) {
      const k = Math.min(a.shape[3], v.actmax.maxChannels);
      const per = Math.max(1, Math.floor(v.limits.gradient / v.perObjective / Math.max(1e-6, v.layerFraction.get(layer.name) ?? 1)));
      for (let c0 = 0; c0 < k; c0 += per) {
        const channels = Array.from({ length: Math.min(per, k - c0) }, (_, i) => c0 + i);
        const r = v.feature(channels.map((c) => ({ kind: 'channel' as const, layer: layer.name, channel: c })));
        const n = r.rows / channels.length;
        channels.forEach((c, i) => {
          for (let j = 0; j < n; j++) {
            const row = i * n + j;
            view.actmax.push({
              channel: c,
              value: r.values[row],
              image: out.image(`layers/${lslug}/actmax-${c}${j > 0 ? `-${j + 1}` : ''}`, { data: r.bytes.subarray(row * H * W * C, (row + 1) * H * W * C), width: W, height: H, channels: C as 1 | 3 }, `Input that maximises ${layer.name} channel ${c}${n > 1 ? ` (image ${j + 1} of ${n})` : ''}`),
            });
          }
        });
      }
      v.onActmax(`actmax ${layer.name}`, { forward: 0, gradient: k * v.actmax.steps * (v.layerFraction.get(layer.name) ?? 1) });
    }
    layerViews.push(view);
  });
  return layerViews;
}

/**
 * Kernels as pictures: a first layer with 3 input channels as RGB tiles (min–max per filter),
 * otherwise one grayscale tile per (input channel, filter) — rows are input channels — and depthwise
 * kernels one tile per channel.
 */
export function filterImage(layer: tf.layers.Layer): { raster: Raster; what: string } | undefined {
  const cls = layer.getClassName();
  if (cls !== 'Conv2D' && cls !== 'DepthwiseConv2D') return undefined;
  const kernel = layer.getWeights()[0];
  const [kh, kw, cin, cout] = kernel.shape;
  const v = kernel.dataSync();
  const at = (i: number, j: number, c: number, o: number) => v[((i * kw + j) * cin + c) * cout + o];
  if (cls === 'Conv2D' && cin === 3) {
    const tiles = Array.from({ length: cout }, (_, o) => {
      const rgb = new Float32Array(kh * kw * 3);
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let c = 0; c < 3; c++) rgb[(i * kw + j) * 3 + c] = at(i, j, c, o);
      return { data: Uint8Array.from(minMax(rgb), (t) => Math.round(t * 255)), width: kw, height: kh, channels: 3 as const };
    });
    return { raster: grid(tiles, Math.min(16, cout), 1), what: `${cout} RGB filters` };
  }
  const rows = Math.min(cin, 32);
  const cols = Math.min(cout, 32);
  const tiles: Raster[] = [];
  for (let c = 0; c < rows; c++) {
    for (let o = 0; o < cols; o++) {
      const k = new Float32Array(kh * kw);
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) k[i * kw + j] = at(i, j, c, o);
      tiles.push(asRgb({ data: Uint8Array.from(minMax(k), (t) => Math.round(t * 255)), width: kw, height: kh, channels: 1 }));
    }
  }
  const what = cls === 'DepthwiseConv2D' ? `Depthwise kernels (${rows} channels × ${cols} multipliers)` : `Kernels (rows: ${rows} input channels, columns: ${cols} filters)`;
  return { raster: grid(tiles, cols, 1), what };
}


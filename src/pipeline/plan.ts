/**
 * The visualize step's plan for one model: the options checked, the methods that can run within the memory plan
 * and their parameters, every size (from the model's FLOPs), the samples this part explains, and the `budget`'s
 * trims — everything the views read. The views' own `cost` functions give the estimate.
 */
import type * as tf from '@tensorflow/tfjs';
import { makeBatch } from '../data/batches.ts';
import type { Dataset } from '../data/dataset.ts';
import type { ModelReport } from '../manifest/schema.ts';
import { type BatchLimits, formatBytes, modelFlops } from '../viz/budget.ts';
import { defaultCamLayer, isSpatial } from '../viz/graph.ts';
import { blurSigma } from '../viz/metrics/faithfulness.ts';
import { ROAD_FRACTIONS } from '../viz/metrics/road.ts';
import { ATTRIBUTION_METHODS } from '../viz/registry.ts';
import { sizing, type Sizing, trimToBudget, type Trim, methodPasses } from './work.ts';
import type { Method, Plan } from './views/types.ts';
import { CONV, cumulativeFlops } from './views/util.ts';
import { actmaxLayers, type VisualizeOptions } from './visualize.ts';
import { forward } from '../engine/folded.ts';

/** The config's camLayer and layers name layers the model has (with a spatial output for the CAM layer). */
export function checkLayers(opts: Pick<VisualizeOptions, 'model' | 'camLayer' | 'layers'>): Set<string> | undefined {
  const { model } = opts;
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
  return wanted;
}

/** The methods that fit the memory plan (the forward-only ones when no gradient pass fits), with why others do not. */
function chooseMethods(opts: VisualizeOptions, classifier: boolean, shape: Plan['shape'], skipped: Plan['skipped']): Method[] {
  const limits = opts.limits;
  const heldBy = (kind: 'gradient' | 'forward') =>
    `one image's ${kind} pass needs more than the ${formatBytes(opts.memory ?? 0)} the memory plan allows (raise \`memory\` in the config, or use a smaller input size)`;
  let methods = ATTRIBUTION_METHODS.filter((m) => !opts.skipMethods?.includes(m.id));
  if (classifier && limits && limits.gradient <= 0) {
    const needsGradient = (m: Method) => methodPasses(m, m.params.parse({}) as Record<string, unknown>, shape).gradient > 0;
    for (const m of methods.filter(needsGradient)) skipped.push({ what: m.title, why: heldBy('gradient') });
    methods = methods.filter((m) => !needsGradient(m));
  }
  if (classifier && limits && limits.forward <= 0) {
    for (const m of methods) skipped.push({ what: m.title, why: heldBy('forward') });
    methods = [];
  }
  return methods;
}

/** Class probabilities of the samples, predicted in forward passes of the memory plan's size. */
function predictProbs(model: tf.LayersModel, data: Dataset, sampleIndices: number[], limits?: BatchLimits): Float32Array {
  const out = new Float32Array(sampleIndices.length * data.numClasses);
  const n = Math.max(1, limits?.forward ?? sampleIndices.length);
  for (let s0 = 0; s0 < sampleIndices.length; s0 += n) {
    const b = makeBatch(data, sampleIndices.slice(s0, s0 + n), data.scale, data.offset);
    const p = (forward(model, b.x, { batchSize: n }) as tf.Tensor);
    out.set(p.dataSync() as Float32Array, s0 * data.numClasses);
    p.dispose();
    b.x.dispose();
    b.y.dispose();
  }
  return out;
}

/** What the model's size changed from the defaults, for the model page. */
function sizeNotes(plan: Plan): void {
  const { size, methods, opts, notes } = plan;
  const listed = (p: Record<string, unknown>) => Object.entries(p).map(([k, v]) => `${k} ${String(v)}`).join(', ');
  if (size.tier > 0) {
    notes.push(`${(plan.flops / 1e9).toFixed(2)} GFLOPs per image: a ${size.tier === 2 ? 'very ' : ''}large model, so the defaults scale down (the config's own settings win).`);
    for (const [id, p] of Object.entries(size.methodParams)) {
      const m = methods.find((x) => x.id === id);
      if (m && opts.methodParams?.[id] == null) notes.push(`${m.title}: ${listed(p)}.`);
    }
    notes.push(`Deletion and insertion curves: ${size.faithfulnessSteps} steps.`);
    const cheaper = Object.entries(size.randomizationParams).filter(([id]) => methods.some((m) => m.id === id) && opts.methodParams?.[id] == null);
    notes.push(`Randomization check: ${size.randomization.samples} sample, layers in ${size.randomization.steps} groups${cheaper.length ? `; inside it ${cheaper.map(([id, p]) => `${methods.find((m) => m.id === id)!.title} with ${listed(p)}`).join(' and ')}` : ''}.`);
  }
  if (size.tier === 0 && methods.some((m) => m.id === 'rise') && opts.methodParams?.rise == null) {
    notes.push(`RISE: ${String(plan.checkParamsOf('rise').masks)} masks in the randomization check and the pointing game, ${String(plan.paramsOf.get('rise')!.masks)} on the samples.`);
  }
  if (!plan.road && opts.road == null && plan.classifier) notes.push('ROAD curves: off for a large model (set `faithfulness.road: true` to compute them).');
  if (plan.classifier && plan.limits?.gradient === 0 && methods.length > 0) notes.push('Randomization check: only the methods without a gradient pass could run.');
  const K = opts.data.numClasses;
  if (plan.classifier && K > size.classImages && plan.classList.length > 0) notes.push(`Class images: ${plan.classList.length === 1 ? 'the class the samples are all predicted as' : `the ${plan.classList.length} classes the samples are predicted as`}, of ${K}.`);
  if (size.tier > 0 && plan.maxLayers.size > 0) notes.push(`Activation maximization: ${plan.actmax.maxChannels} channels of ${plan.maxLayers.size} conv layers, ${plan.actmax.steps} steps.`);
}

/** Activation-grid values drawn over the shown spatial layers. */
function drawnValues(model: tf.LayersModel, wanted: Set<string> | undefined, size: Sizing): number {
  return model.layers.reduce((t, l) => {
    const shape = l.outputShape as (number | null)[];
    if (!isSpatial(l) || (wanted && !wanted.has(l.name))) return t;
    return t + (shape[1] ?? 1) * (shape[2] ?? 1) * Math.min(shape[3] ?? 1, size.gridChannels);
  }, 0);
}

export function makePlan(opts: VisualizeOptions): Plan {
  const { model, data, sampleIndices } = opts;
  const [H, W] = data.shape;
  const classifier = opts.attributions ?? true;
  const wanted = checkLayers(opts);
  const camLayer = classifier ? opts.camLayer ?? defaultCamLayer(model) : undefined;
  const shape = { input: [H, W] as [number, number], channels: camLayer ? ((model.getLayer(camLayer).outputShape as number[])[3] ?? 1) : 1 };
  const flops = opts.cost?.flops ?? modelFlops(model);
  const size = sizing(flops, [H, W], { actmax: opts.actmax, randomizationSteps: opts.randomizationSteps });
  const skipped: Plan['skipped'] = [];
  const methods = chooseMethods(opts, classifier, shape, skipped);
  const paramsOf = new Map(methods.map((m) => [m.id, m.params.parse({ ...size.methodParams[m.id], ...opts.methodParams?.[m.id] }) as Record<string, unknown>]));
  const gradientsFit = !opts.limits || opts.limits.gradient > 0;
  const convLayers = model.layers.filter((l) => CONV.has(l.getClassName()) && isSpatial(l)).map((l) => l.name);
  const actmax = { ...size.actmax };
  const part = opts.part && opts.part.count > 1 ? opts.part : undefined;
  const modelViews = !part || part.index === 1;
  const probs = classifier ? predictProbs(model, data, sampleIndices, opts.limits) : new Float32Array(sampleIndices.length * data.numClasses);
  const K = data.numClasses;
  const predicted = sampleIndices.map((_, s) => {
    const row = probs.subarray(s * K, (s + 1) * K);
    let p = 0;
    for (let k = 1; k < K; k++) if (row[k] > row[p]) p = k;
    return p;
  });
  const classList = !classifier || !gradientsFit ? [] : K <= size.classImages ? data.classes.map((_, k) => k) : [...new Set(predicted)].slice(0, size.classImages);
  const exampleLayers = convLayers.filter((name) => !wanted || wanted.has(name));
  const faithfulness = { steps: size.faithfulnessSteps };
  const road = opts.road ?? size.tier === 0;
  const plan: Plan = {
    opts, size, flops, classifier, camLayer, shape, wanted, methods, paramsOf, limits: opts.limits,
    checkParamsOf: (id) => (opts.methodParams?.[id] == null && size.randomizationParams[id] ? { ...paramsOf.get(id)!, ...size.randomizationParams[id] } : paramsOf.get(id)!),
    actmax, convLayers, maxLayers: gradientsFit ? actmaxLayers(convLayers, actmax.maxLayers) : new Set(),
    featureMethod: opts.actmax?.method ?? 'fourier',
    classSteps: () => (size.tier === 0 ? Math.max(actmax.steps, 128) : actmax.steps),
    faithfulness, road, curvePasses: () => 2 * (faithfulness.steps - 1) + (road ? 2 * ROAD_FRACTIONS.length : 0),
    randomization: { samples: Math.min(size.randomization.samples, sampleIndices.length), steps: Math.min(size.randomization.steps, model.layers.filter((l) => l.trainableWeights.length > 0).length) },
    localizationImages: classifier && data.masks ? Math.min(opts.localizationImages ?? 100, data.count) : 0,
    exampleLayers, exampleImages: exampleLayers.length > 0 ? Math.min(opts.datasetExamples?.images ?? size.exampleImages, data.count) : 0,
    drawn: drawnValues(model, wanted, size), layerFraction: cumulativeFlops(model),
    classList, classImages: classList.length, probs, predicted, explained: [], modelViews,
    notes: [], skipped, trimmed: [],
  };
  if (!gradientsFit && actmaxLayers(convLayers, actmax.maxLayers).size > 0) {
    skipped.push({ what: 'Activation maximization', why: `one image's gradient pass needs more than the ${formatBytes(opts.memory ?? 0)} the memory plan allows (raise \`memory\` in the config, or use a smaller input size)` });
  }
  sizeNotes(plan);
  return plan;
}

/**
 * Trim optional work while the estimate (measured seconds per pass) exceeds the budget, in a fixed order; each cut
 * is listed with the seconds it saves. The samples' own maps are never cut.
 */
export function applyBudget(plan: Plan, budget: number, estimate: () => number): Trim[] {
  const { actmax, randomization, faithfulness, paramsOf, opts } = plan;
  const cut = (what: string, apply: () => void): Trim | undefined => {
    const before = estimate();
    apply();
    const saved = before - estimate();
    return saved > 0 ? { what, saved } : undefined;
  };
  const tuneParam = (id: string, key: string, to: number, title: string): Trim | undefined => {
    const p = paramsOf.get(id);
    if (!p || typeof p[key] !== 'number' || (p[key] as number) <= to || opts.methodParams?.[id]?.[key as never] != null) return undefined;
    return cut(`${title}: ${String(p[key])} → ${to} ${key}`, () => paramsOf.set(id, { ...p, [key]: to }));
  };
  return trimToBudget(estimate, budget, [
    () => (actmax.steps > 16 ? cut(`activation maximization: ${actmax.steps} → 16 steps`, () => (actmax.steps = 16)) : undefined),
    () => (plan.maxLayers.size > 2 ? cut(`activation maximization: ${plan.maxLayers.size} → 2 conv layers`, () => (plan.maxLayers = actmaxLayers(plan.convLayers, 2))) : undefined),
    () => (actmax.maxChannels > 2 ? cut(`activation maximization: ${actmax.maxChannels} → 2 channels per layer`, () => (actmax.maxChannels = 2)) : undefined),
    () => (plan.classImages > 0 ? cut(`class images: all ${plan.classImages} dropped`, () => (plan.classImages = 0)) : undefined),
    () => (randomization.steps > 2 ? cut(`randomization check: ${randomization.steps} → 2 groups of layers`, () => (randomization.steps = 2)) : undefined),
    () => (randomization.samples > 1 ? cut(`randomization check: ${randomization.samples} → 1 sample`, () => (randomization.samples = 1)) : undefined),
    () => (faithfulness.steps > 4 ? cut(`deletion/insertion curves: ${faithfulness.steps} → 4 steps`, () => (faithfulness.steps = 4)) : undefined),
    () => tuneParam('integrated-gradients', 'steps', 8, 'Integrated Gradients'),
    () => tuneParam('smoothgrad-saliency', 'samples', 4, 'SmoothGrad'),
    () => (plan.maxLayers.size > 0 ? cut('activation maximization: dropped', () => (plan.maxLayers = new Set())) : undefined),
    () => (randomization.steps > 0 ? cut('randomization check: dropped', () => (randomization.steps = 0)) : undefined),
  ]);
}

/** The model page's "How the work was sized" and the protocols the pages describe. */
export function workSummary(plan: Plan): ModelReport['work'] {
  const { opts, size } = plan;
  const [H, W] = opts.data.shape;
  const baseline = opts.faithfulnessBaseline ?? 'blur';
  return {
    flops: plan.flops, heavy: size.tier > 0, batch: { forward: plan.limits?.forward ?? 0, gradient: plan.limits?.gradient ?? 0 }, memory: opts.memory ?? 0,
    notes: plan.notes, ...(opts.budget != null ? { budget: opts.budget } : {}), trimmed: plan.trimmed, skipped: plan.skipped,
    featureVisualization: { method: plan.featureMethod, steps: plan.actmax.steps, ...(plan.classifier ? { classSteps: plan.classSteps() } : {}) },
    ...(plan.classifier ? { faithfulness: { baseline, ...(baseline === 'blur' ? { blurSigma: blurSigma(H, W) } : {}), steps: plan.faithfulness.steps, road: plan.road } } : {}),
  };
}


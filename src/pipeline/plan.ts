/**
 * The visualize step's plan for one model: the options checked, the methods that can run within the memory plan
 * and their parameters, every size (from the model's FLOPs), the samples this part explains, and the `budget`'s
 * trims — everything the views read. The views' own `cost` functions give the estimate.
 */
import type * as tf from '@tensorflow/tfjs';
import { makeBatch } from '../data/batches.ts';
import type { Dataset } from '../data/dataset.ts';
import type { ModelReport } from '../manifest/schema.ts';
import { formatBytes, modelFlops } from '../viz/budget.ts';
import type { BatchLimits } from '../viz/types.ts';
import { defaultCamLayer, isSpatial } from '../viz/graph.ts';
import { blurSigma } from '../viz/metrics/removal.ts';
import { ROAD_FRACTIONS } from '../viz/metrics/road.ts';
import { ATTRIBUTION_METHODS } from '../viz/registry.ts';
import { COST_TABLE, modelWork, msPerImage } from './cost-model.ts';
import { sizing, type Rates, type Sizing, trimToBudget, type Trim, methodPasses } from './work.ts';
import type { Method, Plan } from './views/types.ts';
import { CONV, cumulativeFlops } from './views/util.ts';
import type { VisualizeOptions } from './visualize-options.ts';
import { forward } from '../engine/folded.ts';
import { forwardEngine } from '../engine/ort/runtime.ts';

/** Which conv layers get activation maximisation: all, or `maxLayers` spread evenly (first and last included). */
export function actmaxLayers(names: string[], maxLayers?: number): Set<string> {
  if (maxLayers == null || maxLayers >= names.length) return new Set(names);
  if (maxLayers <= 0) return new Set();
  if (maxLayers === 1) return new Set([names[names.length - 1]]);
  return new Set(Array.from({ length: maxLayers }, (_, i) => names[Math.round((i * (names.length - 1)) / (maxLayers - 1))]));
}

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

/** What the page should say of the defaults the plan keeps. */
function sizeNotes(plan: Plan): void {
  const { methods, notes } = plan;
  if (plan.classifier && plan.limits?.gradient === 0 && methods.length > 0) notes.push('Randomization check: only the methods without a gradient pass could run.');
}

/** After the budget's cuts: the notes they leave for the model page (what the page shows). */
export function finishPlan(plan: Plan): void {
  const K = plan.opts.data.numClasses;
  if (plan.methods.some((m) => m.id === 'rise') && plan.opts.methodParams?.rise == null && plan.checkParamsOf('rise').masks !== plan.paramsOf.get('rise')!.masks) {
    plan.notes.push(`RISE: ${String(plan.checkParamsOf('rise').masks)} masks in the randomization check and the pointing game, ${String(plan.paramsOf.get('rise')!.masks)} on the samples.`);
  }
  if (plan.classifier && K > plan.classImages && plan.classImages > 0) plan.notes.push(`Class images: ${plan.classImages === 1 ? 'the class the samples are predicted as first' : `the ${plan.classImages} classes the samples are predicted as first`}, of ${K}.`);
  if (!plan.road && plan.opts.road == null && plan.classifier) plan.notes.push('ROAD curves: off (set `faithfulness.road: true` to compute them).');
}

/** Activation-grid values drawn over the shown spatial layers. */
function drawnValues(model: tf.LayersModel, wanted: Set<string> | undefined, size: Sizing): number {
  return model.layers.reduce((t, l) => {
    const shape = l.outputShape as (number | null)[];
    if (!isSpatial(l) || (wanted && !wanted.has(l.name))) return t;
    return t + (shape[1] ?? 1) * (shape[2] ?? 1) * Math.min(shape[3] ?? 1, size.gridChannels);
  }, 0);
}

/** Classes by how many samples are predicted as each (ties: lower index first). */
function byFrequency(predicted: number[]): number[] {
  const count = new Map<number, number>();
  for (const p of predicted) count.set(p, (count.get(p) ?? 0) + 1);
  return [...count.keys()].sort((a, b) => count.get(b)! - count.get(a)! || a - b);
}

/**
 * Milliseconds per image of the views' forward and gradient passes, from the cost model: calls of up to 16 images
 * forward and 8 with a gradient (what the views' batches mostly hold), within the memory plan.
 */
export function passRates(model: tf.LayersModel, limits?: BatchLimits, table = COST_TABLE): Rates {
  const work = modelWork(model);
  const batch = Math.min(16, limits?.forward || 16);
  const capture = msPerImage(work, 'forward', batch, table);
  return {
    forward: forwardEngine(model).kind === 'onnxruntime' ? msPerImage(work, 'forwardOrt', batch, table) : capture,
    gradient: msPerImage(work, 'gradient', Math.min(8, limits?.gradient || 8), table),
    capture,
  };
}

export function makePlan(opts: VisualizeOptions): Plan {
  const { model, data, sampleIndices } = opts;
  const [H, W] = data.shape;
  const classifier = opts.attributions ?? true;
  const wanted = checkLayers(opts);
  const camLayer = classifier ? opts.camLayer ?? defaultCamLayer(model) : undefined;
  const camShape = camLayer ? (model.getLayer(camLayer).outputShape as number[]) : [1, 1, 1, 1];
  const shape = { input: [H, W] as [number, number], channels: camShape[3] ?? 1, values: H * W * data.shape[2], camValues: (camShape[1] ?? 1) * (camShape[2] ?? 1) * (camShape[3] ?? 1) };
  const flops = opts.cost?.flops ?? modelFlops(model);
  const size = sizing({ actmax: opts.actmax, randomizationSteps: opts.randomizationSteps });
  const rates = passRates(model, opts.limits, opts.costTable);
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
  // Every class up to classImages; more classes: the samples' predicted ones, most frequent first.
  const classList = !classifier || !gradientsFit ? [] : K <= size.classImages ? data.classes.map((_, k) => k) : byFrequency(predicted).slice(0, size.classImages);
  const exampleLayers = convLayers.filter((name) => !wanted || wanted.has(name));
  const faithfulness = { steps: size.faithfulnessSteps };
  const road = opts.road ?? true;
  const plan: Plan = {
    opts, size, flops, rates, sessionMs: forwardEngine(model).kind === 'onnxruntime' ? model.countParams() * ((opts.costTable ?? COST_TABLE).ortSessionWeight ?? 0) : 0, processes: Math.max(1, opts.processes ?? 1), ratesAt: (b) => passRates(model, { forward: Math.max(1, b), gradient: Math.max(1, b) }, opts.costTable), costTable: opts.costTable ?? COST_TABLE, classifier, camLayer, shape, wanted, methods, paramsOf, limits: opts.limits,
    checkParamsOf: (id) => (opts.methodParams?.[id] == null && size.randomizationParams[id] ? { ...paramsOf.get(id)!, ...size.randomizationParams[id] } : paramsOf.get(id)!),
    actmax, convLayers, maxLayers: gradientsFit ? actmaxLayers(convLayers, actmax.maxLayers) : new Set(),
    featureMethod: opts.actmax?.method ?? 'fourier',
    classSteps: () => Math.max(actmax.steps, plan.classStepFloor), classStepFloor: 128,
    faithfulness, road, curvePasses: () => 2 * (faithfulness.steps - 1) + (plan.road ? 2 * ROAD_FRACTIONS.length : 0),
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

/** The plan's fields the budget's cuts change, copied. */
function snapshot(plan: Plan) {
  return {
    actmax: { ...plan.actmax }, randomization: { ...plan.randomization }, faithfulness: { ...plan.faithfulness }, paramsOf: new Map(plan.paramsOf),
    maxLayers: plan.maxLayers, classList: plan.classList, classImages: plan.classImages, classStepFloor: plan.classStepFloor, road: plan.road,
    exampleImages: plan.exampleImages, drawn: plan.drawn, gridChannels: plan.size.gridChannels, channelImages: plan.size.channelImages,
    randomizationParams: { ...plan.size.randomizationParams },
  };
}

function restore(plan: Plan, s: ReturnType<typeof snapshot>): void {
  Object.assign(plan.actmax, s.actmax);
  Object.assign(plan.randomization, s.randomization);
  Object.assign(plan.faithfulness, s.faithfulness);
  plan.paramsOf.clear();
  for (const [k, v] of s.paramsOf) plan.paramsOf.set(k, v);
  Object.assign(plan, { maxLayers: s.maxLayers, classList: s.classList, classImages: s.classImages, classStepFloor: s.classStepFloor, road: s.road, exampleImages: s.exampleImages, drawn: s.drawn });
  Object.assign(plan.size, { gridChannels: s.gridChannels, channelImages: s.channelImages, randomizationParams: s.randomizationParams });
}

/**
 * Activation maximization's layers when only `k` of them fit: the ones nearest the output (what the classes are
 * made of) and a third of them from the start (edges and colours), in the model's order.
 */
export function actmaxKeep(names: string[], k: number): Set<string> {
  if (k >= names.length) return new Set(names);
  const early = Math.floor(k / 3);
  return new Set([...names.slice(0, early), ...names.slice(names.length - (k - early))]);
}

/**
 * Trim optional work while the estimate (seconds on the reference machine, from the counted cost) exceeds the
 * budget, least valued first: extra curve steps and ROAD, class images, the randomization cascade's depth,
 * activation maximization (the layers nearest the output and a few early ones kept longest), dataset examples and
 * grid channels, and last the samples' own method parameters (IG steps, SmoothGrad copies, RISE masks, occlusion
 * patches) — never a sample's maps, curves or top 5. A setting the config made is never cut. Each cut is listed
 * with the seconds it saves.
 */
export function applyBudget(plan: Plan, budget: number, estimate: () => number): Trim[] {
  const { actmax, randomization, faithfulness, paramsOf, opts, size } = plan;
  const [H, W] = opts.data.shape;
  // A cut that saves nothing (sample work while the model-wide views decide the wall time) is undone.
  const cut = (what: string, apply: () => void): Trim | undefined => {
    const before = estimate();
    const state = snapshot(plan);
    apply();
    const saved = before - estimate();
    if (saved > 1e-9) return { what, saved };
    restore(plan, state);
    return undefined;
  };
  const userSet = (id: string, key: string) => opts.methodParams?.[id]?.[key as never] != null;
  const tuneParam = (id: string, key: string, to: number, title: string): Trim | undefined => {
    const p = paramsOf.get(id);
    if (!p || typeof p[key] !== 'number' || (p[key] as number) <= to || userSet(id, key)) return undefined;
    return cut(`${title}: ${String(p[key])} → ${to} ${key}`, () => paramsOf.set(id, { ...p, [key]: to }));
  };
  const checkParam = (id: string, key: string, to: number, title: string): Trim | undefined => {
    const now = plan.checkParamsOf(id)?.[key];
    if (!plan.methods.some((m) => m.id === id) || typeof now !== 'number' || now <= to || userSet(id, key)) return undefined;
    return cut(`randomization check and pointing game: ${title} with ${to} ${key}`, () => (size.randomizationParams[id] = { ...size.randomizationParams[id], [key]: to }));
  };
  const ownActmax = opts.actmax != null;
  const actmaxSteps = (to: number) => () => (!ownActmax && actmax.steps > to && plan.maxLayers.size > 0 ? cut(`activation maximization: ${actmax.steps} → ${to} steps`, () => (actmax.steps = to)) : undefined);
  const actmaxChannels = (to: number) => () => (!ownActmax && actmax.maxChannels > to && plan.maxLayers.size > 0 ? cut(`activation maximization: ${actmax.maxChannels} → ${to} channels per layer`, () => (actmax.maxChannels = to)) : undefined);
  const actmaxLayerCount = (to: number) => () => (!ownActmax && plan.maxLayers.size > to ? cut(`activation maximization: ${plan.maxLayers.size} → ${to} conv layers (the last ${to - Math.floor(to / 3)} and the first ${Math.floor(to / 3)})`, () => (plan.maxLayers = actmaxKeep([...plan.maxLayers], to))) : undefined);
  const examples = (to: number) => () => (opts.datasetExamples?.images == null && plan.exampleImages > to ? cut(to === 0 ? 'dataset examples: dropped' : `dataset examples: ${plan.exampleImages} → ${to} test images scanned`, () => (plan.exampleImages = to)) : undefined);
  const curveSteps = (to: number) => () => (faithfulness.steps > to ? cut(`deletion/insertion curves: ${faithfulness.steps} → ${to} steps`, () => (faithfulness.steps = to)) : undefined);
  const classes = (to: number) => () => (plan.classImages > to ? cut(to === 0 ? 'class images: dropped' : `class images: ${plan.classImages} → ${to === 1 ? "the class" : `the ${to} classes`} predicted most often`, () => {
    plan.classList = byFrequency(plan.predicted).slice(0, to).sort((a, b) => a - b);
    plan.classImages = Math.min(to, plan.classList.length);
  }) : undefined);
  const ownRandomization = opts.randomizationSteps != null;
  return trimToBudget(estimate, budget, [
    curveSteps(8),
    () => (plan.road && opts.road == null ? cut('ROAD curves: off', () => (plan.road = false)) : undefined),
    () => (plan.classImages > 0 && plan.classStepFloor > actmax.steps ? cut(`class images: ${plan.classSteps()} → ${actmax.steps} steps`, () => (plan.classStepFloor = 0)) : undefined),
    classes(4),
    () => (randomization.samples > 1 ? cut(`randomization check: ${randomization.samples} → 1 sample`, () => (randomization.samples = 1)) : undefined),
    () => (!ownRandomization && randomization.steps > 3 ? cut(`randomization check: ${randomization.steps} → 3 groups of layers`, () => (randomization.steps = 3)) : undefined),
    () => checkParam('rise', 'masks', 50, 'RISE'),
    () => checkParam('integrated-gradients', 'steps', 12, 'Integrated Gradients'),
    () => checkParam('smoothgrad-saliency', 'samples', 6, 'SmoothGrad'),
    classes(1),
    actmaxSteps(48),
    actmaxChannels(8),
    actmaxLayerCount(9),
    actmaxSteps(24),
    actmaxChannels(4),
    actmaxLayerCount(3),
    classes(0),
    () => (!ownRandomization && randomization.steps > 2 ? cut(`randomization check: ${randomization.steps} → 2 groups of layers`, () => (randomization.steps = 2)) : undefined),
    examples(300),
    () => (size.gridChannels > 64 ? cut('activation grids: the first 64 channels of each layer', () => { size.gridChannels = 64; size.channelImages = 16; plan.drawn = drawnValues(opts.model, plan.wanted, size); }) : undefined),
    examples(100),
    () => (!ownActmax && plan.maxLayers.size > 0 ? cut('activation maximization: dropped', () => (plan.maxLayers = new Set())) : undefined),
    () => (!ownRandomization && randomization.steps > 0 ? cut('randomization check: dropped', () => (randomization.steps = 0)) : undefined),
    examples(0),
    // The samples' own maps stay; their parameters scale down (the page of each sample says how well IG converged).
    () => tuneParam('rise', 'masks', 300, 'RISE'),
    () => tuneParam('integrated-gradients', 'steps', 32, 'Integrated Gradients'),
    () => tuneParam('smoothgrad-saliency', 'samples', 16, 'SmoothGrad'),
    () => {
      const p = paramsOf.get('occlusion');
      const side = Math.max(2, Math.round(Math.min(H, W) / 8));
      if (!p || userSet('occlusion', 'patch') || userSet('occlusion', 'stride') || p.stride === side) return undefined;
      return cut(`Occlusion: ${side}-pixel patches side by side (stride ${side})`, () => paramsOf.set('occlusion', { ...p, patch: side, stride: side }));
    },
    () => tuneParam('integrated-gradients', 'steps', 20, 'Integrated Gradients'),
    () => tuneParam('smoothgrad-saliency', 'samples', 10, 'SmoothGrad'),
    () => tuneParam('score-cam', 'maxChannels', 16, 'Score-CAM'),
    () => tuneParam('rise', 'masks', 100, 'RISE'),
    curveSteps(6),
    () => tuneParam('integrated-gradients', 'steps', 12, 'Integrated Gradients'),
    () => tuneParam('smoothgrad-saliency', 'samples', 6, 'SmoothGrad'),
    curveSteps(4),
  ]);
}

/** The model page's "How the work was sized" and the protocols the pages describe. */
export function workSummary(plan: Plan): ModelReport['work'] {
  const { opts } = plan;
  const [H, W] = opts.data.shape;
  const baseline = opts.faithfulnessBaseline ?? 'blur';
  return {
    flops: plan.flops, heavy: plan.trimmed.length > 0, batch: { forward: plan.limits?.forward ?? 0, gradient: plan.limits?.gradient ?? 0 }, memory: opts.memory ?? 0,
    notes: plan.notes, ...(plan.budget != null ? { budget: plan.budget } : {}), trimmed: plan.trimmed, skipped: plan.skipped,
    featureVisualization: { method: plan.featureMethod, steps: plan.actmax.steps, ...(plan.classifier ? { classSteps: plan.classSteps() } : {}) },
    ...(plan.classifier ? { faithfulness: { baseline, ...(baseline === 'blur' ? { blurSigma: blurSigma(H, W) } : {}), steps: plan.faithfulness.steps, road: plan.road } } : {}),
  };
}


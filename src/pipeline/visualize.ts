/**
 * The visualize step for one model: a plan sized to the model (./plan.ts), then every view of ./views/registry.ts
 * in turn — attribution maps with their faithfulness, the pointing game, every layer's activations and filters,
 * dataset examples, the randomization check, class images — writing images and .npy arrays under
 * public/generated/<model>/ with their manifest entries.
 */
import type * as tf from '@tensorflow/tfjs';
import { nestingOf } from '../models/flatten.ts';
import { makeBatch } from '../data/batches.ts';
import { type Dataset, inputBytes } from '../data/dataset.ts';
import type { ModelReport } from '../manifest/schema.ts';
import { uniqueSlugs } from '../manifest/slug.ts';
import type { Raster } from '../render/image.ts';
import { l2Penalty, maximize, type Objective, totalVariation } from '../viz/activation-maximization.ts';
import { featureImages } from '../viz/feature-visualization.ts';
import { receptiveFields } from '../viz/receptive-field.ts';
import type { ModelCost } from '../viz/budget.ts';
import type { BatchLimits } from '../viz/types.ts';
import type { FaithfulnessBaseline } from '../viz/metrics/faithfulness.ts';
import type { Passes } from '../viz/types.ts';
import { AssetWriter } from './assets.ts';
import { DEFAULT_BUDGET, type ViewTimes, type VisualizeOptions } from './visualize-options.ts';
import type { CostTable } from './cost-model.ts';
import { applyBudget, finishPlan, makePlan, workSummary } from './plan.ts';
import { workProgress } from './progress.ts';
import { sampleCost } from './views/attributions.ts';
import { VIEWS } from './views/registry.ts';
import type { Plan, ViewContext } from './views/types.ts';
import { passSeconds } from './work.ts';

/**
 * Wall seconds of a model's views on the reference machine: two processes share the samples, the first also runs
 * the model-wide views (the plan's explained samples are all of them).
 */
export function wallSeconds(plan: Plan, sizes: { sampleCount: number; layerCount: number }): number {
  let model = 0;
  let samples = 0;
  for (const v of VIEWS) {
    if (!v.enabled(plan)) continue;
    const s = viewSeconds(plan, v.cost(plan, sizes));
    if (v.scope === 'model') model += s;
    else samples += s;
  }
  return plan.processes > 1 ? Math.max(model, (model + samples) / plan.processes) : model + samples;
}

/**
 * Seconds of a view's passes and work on the reference machine in the report's layout: the table is calibrated for
 * two processes side by side; one process alone (both cores to its engine, no neighbour) runs `layout['1']` of that.
 */
export function viewSeconds(plan: Plan, p: Passes): number {
  return passSeconds(plan.rates, p) * (plan.processes > 1 ? 1 : plan.costTable.layout?.['1'] ?? 1);
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
  const { model, data, sampleIndices } = opts;
  const plan = makePlan(opts);
  const sizes = { sampleCount: sampleIndices.length, layerCount: model.layers.length };
  const seconds = (p: Passes) => viewSeconds(plan, p);
  const active = () => VIEWS.filter((v) => (v.scope === 'sample' || plan.modelViews) && v.enabled(plan));
  const part = opts.part && opts.part.count > 1 ? opts.part : undefined;
  const all = Array.from({ length: sampleIndices.length }, (_, i) => i);
  // The budget sizes the whole model (every part computes the same plan): its model-wide views and all its samples.
  plan.explained = all;
  plan.budget = opts.budget === false ? undefined : opts.budget ?? DEFAULT_BUDGET;
  if (plan.budget != null) plan.trimmed = applyBudget(plan, plan.budget, () => wallSeconds(plan, sizes));
  finishPlan(plan);
  // Which samples this part explains, from the counted cost, so every part agrees (part 1 also runs the model-wide views).
  const modelWide = () => VIEWS.filter((v) => v.scope === 'model' && v.enabled(plan)).reduce((t, v) => t + seconds(v.cost(plan, sizes)), 0);
  plan.explained = partPositions(sampleIndices.length, part, modelWide() / Math.max(1e-9, seconds(sampleCost(plan))));
  // Progress in estimated seconds: the ETA follows the work, not the count.
  const unit = (p: Passes) => seconds(p) || 1e-3;
  const views = active();
  const estimates = views.map((v) => seconds(v.cost(plan, sizes)));
  const bar = workProgress({ label: `${opts.slug}: visualize`, total: estimates.reduce((a, b) => a + b, 0), stream: opts.progressStream });
  opts.log?.(`${opts.slug}: estimated ${Math.round(estimates.reduce((a, b) => a + b, 0))} s of work in this process (${(plan.flops / 1e9).toFixed(2)} GFLOPs per image; ${plan.rates.forward.toFixed(1)} ms per forward and ${plan.rates.gradient.toFixed(1)} ms per gradient pass per image on the reference machine)${plan.trimmed.length ? `; ${plan.trimmed.length} cuts to fit ${plan.budget} s` : ''}`);
  let clock = performance.now();
  const stage = (what: string) => {
    const now = performance.now();
    opts.log?.(`${opts.slug}: ${what} in ${((now - clock) / 1000).toFixed(1)} s`);
    clock = now;
  };
  const out = new AssetWriter(opts.publicDir, opts.slug);
  const { x } = (() => {
    const b = makeBatch(data, sampleIndices, data.scale, data.offset);
    b.y.dispose();
    return b;
  })();
  try {
    const ctx = viewContext(opts, plan, x, out, { unit, tick: (what, weight) => bar.tick(what, weight), stage });
    const timing: ViewTimes = {};
    for (const [i, view] of views.entries()) {
      const t0 = performance.now();
      await view.run(ctx);
      timing[view.id] = { estimated: Number(estimates[i].toFixed(1)), actual: Number(((performance.now() - t0) / 1000).toFixed(1)) };
    }
    bar.end();
    const at5 = bar.etaAt5();
    const etaNote = at5?.actual != null ? `; ETA at 5 % ${at5.eta.toFixed(0)} s, the rest took ${at5.actual.toFixed(0)} s` : '';
    opts.log?.(`${opts.slug}: views, estimated → took: ${Object.entries(timing).map(([id, t]) => `${id} ${t.estimated} → ${t.actual} s`).join(', ')}${etaNote}`);
    opts.onTimes?.(timing, at5?.actual != null ? { eta: Number(at5.eta.toFixed(1)), actual: Number(at5.actual.toFixed(1)) } : undefined);
    await out.flush();
    const { layerViews, localization, randomization, classMax } = ctx.result;
    return { samples: ctx.samples, layerViews, camLayer: plan.camLayer, classMax, randomization, localization, work: workSummary(plan), explained: plan.explained };
  } finally {
    x.dispose();
  }
}

/** The views' context: the samples' manifest entries (attributions to be filled), rasters and feature images. */
function viewContext(opts: VisualizeOptions, plan: Plan, x: tf.Tensor4D, out: AssetWriter, hooks: Pick<ViewContext, 'unit' | 'tick' | 'stage'>): ViewContext {
  const { model, data, sampleIndices, seed } = opts;
  const [H, W, C] = data.shape;
  const K = data.numClasses;
  const sampleSlugs = uniqueSlugs(sampleIndices.map((i) => data.ids[i]));
  const pixels = x.dataSync();
  const sampleRaster = (s: number): Raster => ({ data: inputBytes(pixels.subarray(s * H * W * C, (s + 1) * H * W * C), data, C), width: W, height: H, channels: C as 1 | 3 });
  const samples: ModelReport['samples'] = sampleIndices.map((index, s) => {
    const row = Array.from(plan.probs.subarray(s * K, (s + 1) * K));
    const top = !plan.classifier ? [] : row
      .map((p, k) => ({ index: k, label: data.classes[k], probability: p }))
      .sort((a, b) => b.probability - a.probability || a.index - b.index)
      .slice(0, 5);
    return {
      id: data.ids[index],
      slug: sampleSlugs[s],
      label: data.labels[index],
      predicted: plan.classifier ? plan.predicted[s] : -1,
      probability: plan.classifier ? row[plan.predicted[s]] : 0,
      top,
      ...(plan.classifier ? { probabilities: row.map((p) => Number(p.toPrecision(6))) } : {}),
      image: out.image(`samples/${sampleSlugs[s]}/input`, sampleRaster(s), data.labels[index] >= 0 ? `Input ${data.ids[index]}, true class ${data.classes[data.labels[index]]}` : `Photo ${data.ids[index]}`),
      attributions: [],
    };
  });
  const actmaxOptions = (steps: number) => ({
    steps, stepSize: 0.01, range: data.range, seed,
    regularizers: [totalVariation(0.05), l2Penalty(0.01, (data.range[0] + data.range[1]) / 2)], jitter: { pixels: 1 },
  });
  const feature = (objectives: Objective[], steps = plan.actmax.steps) => featureImages(model, objectives, { method: plan.featureMethod, steps, seed, data, images: opts.actmax?.images },
    (objs) => maximize(model, objs, actmaxOptions(steps)), (values) => inputBytes(values, data, C));
  return {
    plan, model, data, seed, limits: opts.limits, out, x, sampleIndices, sampleSlugs, sampleRaster, samples,
    result: { layerViews: [], classMax: [] }, feature, ...hooks,
  };
}

export { filterImage } from './views/layers.ts';

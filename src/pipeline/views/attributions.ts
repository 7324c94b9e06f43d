/**
 * The attribution view: every method on this part's samples, a memory-sized chunk at a time, explaining the
 * predicted class; per map its picture, .npy, pointing-game hit (when the data carry masks), deletion/insertion
 * (and ROAD) curves; per sample the model-blind baselines' curves (random order, Sobel edges).
 */
import * as tf from '@tensorflow/tfjs';
import { colorize } from '../../render/colormap.ts';
import { overlay } from '../../render/image.ts';
import { normalizeMap } from '../../render/normalize.ts';
import { attributeInChunks } from '../../viz/attribute.ts';
import { curveFractions, SampleCurves } from '../../viz/metrics/faithfulness.ts';
import { localization, pointingTolerance } from '../../viz/metrics/localization.ts';
import { ROAD_FRACTIONS } from '../../viz/metrics/road.ts';
import type { Passes } from '../../viz/types.ts';
import { methodPasses } from '../work.ts';
import { addPasses, type Method, smallBatchMs, type Plan, scalePasses, type View, type ViewContext } from './types.ts';
import { blackPixel, scored } from './util.ts';

/** The curves of `maps` maps beyond their passes: deletion/insertion images blended in JS, ROAD's imputed. */
function curveMs(plan: Plan, maps: number): number {
  const t = plan.costTable;
  const values = plan.shape.values ?? 0;
  const road = plan.road ? 2 * ROAD_FRACTIONS.length * values * (t.roadInputValue ?? 0) * (t.parallel ?? 1) : 0;
  return maps * (2 * (plan.faithfulness.steps - 1) * values * (t.curveInputValue ?? 0) + road);
}

/** Passes of one method on one sample, curves included. */
function methodSampleCost(plan: Plan, m: Method): Passes {
  const p = methodPasses(m, plan.paramsOf.get(m.id)!, plan.shape, plan.costTable);
  const batch = Math.min(plan.explained.length, plan.limits?.gradient || Infinity);
  return { forward: p.forward + plan.curvePasses(), gradient: p.gradient, ms: (p.ms ?? 0) + curveMs(plan, 1) + smallBatchMs(plan, p, batch) };
}

/** Passes of one sample: every method with its curves, the curves' end points and the two baselines' curves. */
export function sampleCost(plan: Plan): Passes {
  // The random order's and the Sobel edges' curves, and the curves' end points.
  return plan.methods.reduce<Passes>((t, m) => addPasses(t, methodSampleCost(plan, m)), { forward: 3 + 2 * plan.curvePasses(), gradient: 0, ms: curveMs(plan, 2) });
}

/** The sample's curves helper (fill image and end points computed once, shared by every method). */
function curvesFor(ctx: ViewContext, cache: Map<number, SampleCurves>, s: number): SampleCurves {
  let c = cache.get(s);
  if (c) return c;
  const { plan, data, x, model } = ctx;
  const [, H, W, C] = x.shape;
  const xs = tf.slice(x, [s, 0, 0, 0], [1, H, W, C]) as tf.Tensor4D;
  c = new SampleCurves(model, xs, plan.predicted[s], {
    fractions: curveFractions(plan.faithfulness.steps), baseline: plan.opts.faithfulnessBaseline ?? 'blur', black: blackPixel(data, C),
    batchSize: ctx.limits?.forward, seed: ctx.seed + s, ...(plan.road ? { road: { range: data.range } } : {}),
  });
  xs.dispose();
  cache.set(s, c);
  return c;
}

/** One method's maps on the explained samples, each turned into its manifest entry. */
function explainWith(ctx: ViewContext, method: Method, xe: tf.Tensor4D, cache: Map<number, SampleCurves>): void {
  const { plan, data, out, sampleIndices, sampleSlugs } = ctx;
  const [, H, W] = ctx.x.shape;
  const params = plan.paramsOf.get(method.id)!;
  const t0 = performance.now();
  const r = attributeInChunks(method, { model: ctx.model, x: xe, targets: plan.explained.map((s) => plan.predicted[s]), keys: plan.explained, seed: ctx.seed, layer: plan.camLayer, limits: ctx.limits }, params);
  const ms = (performance.now() - t0) / plan.explained.length;
  plan.explained.forEach((s, e) => {
    const raw = r.maps.slice(e * H * W, (e + 1) * H * W);
    const norm = normalizeMap(raw, method.signed);
    const heat = colorize(norm.values, method.signed ? 'rdbu' : method.family === 'cam' ? 'turbo' : 'viridis', method.signed);
    const picture = method.family === 'cam' ? overlay(ctx.sampleRaster(s), heat, 0.5) : { data: heat, width: W, height: H, channels: 3 as const };
    const extras: Record<string, number> = Object.fromEntries(Object.entries(r.extras).map(([k, v]) => [k, v[e]]));
    if (data.masks) {
      // Ground truth known (synthetic shapes): does the map point at the object?
      const loc = localization(scored(method, raw), data.masks.subarray(sampleIndices[s] * H * W, (sampleIndices[s] + 1) * H * W), W, pointingTolerance(W));
      extras.pointingHit = loc.hit ? 1 : 0;
      extras.energyInside = loc.energyInside;
    }
    ctx.samples[s].attributions.push({
      method: method.id,
      image: out.image(`samples/${sampleSlugs[s]}/${method.id}`, picture, `${method.title} for ${data.ids[sampleIndices[s]]}, class ${data.classes[plan.predicted[s]]}`, s === 0 && method.id === 'grad-cam' ? 'png' : 'webp'),
      npy: out.npy(`samples/${sampleSlugs[s]}/${method.id}`, raw, [H, W]),
      scale: norm.scale,
      params,
      layer: method.family === 'cam' ? plan.camLayer : undefined,
      extras,
      faithfulness: curvesFor(ctx, cache, s).curves(raw),
      milliseconds: ms,
    });
  });
}

export const attributionsView: View = {
  id: 'attributions',
  scope: 'sample',
  section: 'models/<model>/samples/<sample>/ (every map, its AUCs and the baselines), methods/<method>/ (MethodExamples), methods/ (TrustSummary)',
  enabled: (plan) => plan.classifier && plan.explained.length > 0 && plan.methods.length > 0,
  cost: (plan) => scalePasses(sampleCost(plan), plan.explained.length),
  run(ctx) {
    const { plan, x } = ctx;
    const cache = new Map<number, SampleCurves>();
    const xe = plan.explained.length === ctx.sampleIndices.length ? x : (tf.gather(x, plan.explained) as tf.Tensor4D);
    try {
      for (const method of plan.methods) {
        explainWith(ctx, method, xe, cache);
        ctx.tick(method.id, ctx.unit(scalePasses(methodSampleCost(plan, method), plan.explained.length)));
      }
      // The bar each method must beat, per sample: a random pixel order and the image's edges.
      for (const [s, c] of cache) ctx.samples[s].baselines = c.baselines();
    } finally {
      for (const c of cache.values()) c.dispose();
      if (xe !== x) xe.dispose();
    }
    ctx.stage(`${plan.methods.length} attribution methods × ${plan.explained.length} samples with faithfulness`);
  },
};

/**
 * The localization view (data with object masks): every method's pointing game and energy inside the object over
 * many test images — a pointing game on 7 samples says little. Each chunk of test images is batched and predicted
 * once, then explained by every method with the checks' parameters.
 */
import * as tf from '@tensorflow/tfjs';
import { makeBatch } from '../../data/batches.ts';
import { attributeInChunks } from '../../viz/attribute.ts';
import { localizationBenchmark } from '../../viz/metrics/localization.ts';
import { predictedClasses } from '../../viz/target.ts';
import { methodPasses } from '../work.ts';
import { addPasses, scalePasses, type View } from './types.ts';
import { scored } from './util.ts';

export const localizationView: View = {
  id: 'localization',
  scope: 'model',
  section: 'models/<model>/#localization, methods/ (TrustSummary: pointing game and energy)',
  enabled: (plan) => plan.localizationImages > 0 && plan.methods.length > 0,
  cost: (plan) => plan.methods.reduce((t, m) => addPasses(t, scalePasses(methodPasses(m, plan.checkParamsOf(m.id), plan.shape, plan.costTable), plan.localizationImages)), { forward: 0, gradient: 0 }),
  run(ctx) {
    const { plan, data, model, limits } = ctx;
    const [, H, W] = ctx.x.shape;
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
      ctx.result.localization = localizationBenchmark({
        masks: data.masks!, labels: data.labels, width: W, height: H, count: plan.localizationImages, chunk: 25,
        methods: plan.methods.map((m) => m.id),
        attribute: (id, start, n) => {
          const method = plan.methods.find((m) => m.id === id)!;
          const { x, targets } = chunkAt(start, n);
          const r = attributeInChunks(method, { model, x, targets, seed: ctx.seed, layer: plan.camLayer, limits }, plan.checkParamsOf(id));
          return { maps: scored(method, r.maps), predicted: targets };
        },
        onMethod: (id) => ctx.tick(`pointing game ${id}`, ctx.unit(scalePasses(methodPasses(plan.methods.find((m) => m.id === id)!, plan.checkParamsOf(id), plan.shape, plan.costTable), plan.localizationImages))),
      });
    } finally {
      tf.dispose([...chunks.values()].map((c) => c.x));
    }
    ctx.stage(`pointing game and mask energy of ${plan.methods.length} methods on ${plan.localizationImages} test images`);
  },
};

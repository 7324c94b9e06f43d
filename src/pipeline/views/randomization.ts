/**
 * The randomization view (Adebayo et al. 2018): every method's map of the first samples as the model's layers are
 * re-initialised from the top, with the Spearman ρ against the trained model's map at each step.
 */
import * as tf from '@tensorflow/tfjs';
import { colorize } from '../../render/colormap.ts';
import { normalizeMap } from '../../render/normalize.ts';
import { cascadingRandomization } from '../../viz/metrics/randomization.ts';
import { methodPasses } from '../work.ts';
import type { Passes } from '../../viz/types.ts';
import { addPasses, smallBatchMs, scalePasses, type View } from './types.ts';

export const randomizationView: View = {
  id: 'randomization',
  scope: 'model',
  section: 'methods/<method>/#sanity-<model> (the strip), methods/ (TrustSummary: ρ and verdict)',
  enabled: (plan) => plan.classifier && plan.randomization.steps > 0 && plan.methods.length > 0,
  cost: (plan) => plan.methods.reduce<Passes>((t, m) => {
    const p = methodPasses(m, plan.checkParamsOf(m.id), plan.shape, plan.costTable);
    const n = plan.randomization.samples;
    return addPasses(t, scalePasses({ ...p, ms: (p.ms ?? 0) + smallBatchMs(plan, p, n) }, n * (plan.randomization.steps + 1)));
    // Each step's new weights make a new ONNX Runtime session for the methods' forward passes.
  }, { forward: 0, gradient: 0, ms: plan.methods.some((m) => methodPasses(m, plan.checkParamsOf(m.id), plan.shape).forward > 0) ? plan.randomization.steps * plan.sessionMs : 0 }),
  run(ctx) {
    const { plan, x, out, samples } = ctx;
    const [, H, W, C] = x.shape;
    const methods = plan.methods;
    const n = plan.randomization.samples;
    const xr = tf.slice(x, [0, 0, 0, 0], [n, H, W, C]) as tf.Tensor4D;
    const perStep = ctx.unit(randomizationView.cost(plan, { sampleCount: samples.length, layerCount: 0 })) / (plan.randomization.steps + 1);
    const rnd = cascadingRandomization(ctx.model, [...methods], xr, plan.predicted.slice(0, n), ctx.seed, plan.checkParamsOf, plan.randomization.steps, (what) => ctx.tick(what, perStep), plan.camLayer, ctx.limits);
    xr.dispose();
    ctx.stage(`cascading randomization (${rnd.steps.length} steps × ${methods.length} methods)`);
    const mapImage = (rel: string, m: Float32Array, id: string, alt: string) => {
      const method = methods.find((a) => a.id === id)!;
      const heat = colorize(normalizeMap(m, method.signed).values, method.signed ? 'rdbu' : method.family === 'cam' ? 'turbo' : 'viridis', method.signed);
      return out.image(rel, { data: heat, width: W, height: H, channels: 3 }, alt);
    };
    ctx.result.randomization = {
      sample: samples[0].slug,
      original: Object.fromEntries(methods.map((m) => [m.id, mapImage(`randomization/${m.id}-trained`, rnd.original[m.id][0], m.id, `${m.title} of the trained model for ${samples[0].id}`)])),
      steps: rnd.steps.map((st, k) => ({
        layer: st.layer,
        correlation: st.correlation,
        images: Object.fromEntries(methods.map((m) => [m.id, mapImage(`randomization/${m.id}-step-${k + 1}`, st.maps[m.id][0], m.id, `${m.title} after randomising ${st.layer} and the layers above it`)])),
      })),
    };
  },
};

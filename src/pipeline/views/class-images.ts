/** The class-image view: each shown class's logit maximised (feature visualization), a memory-sized batch at a time. */
import { featureMs } from '../cost-model.ts';
import type { View } from './types.ts';

export const classImagesView: View = {
  id: 'class-images',
  scope: 'model',
  section: 'models/<model>/#class-visualization',
  enabled: (plan) => plan.classifier && plan.classImages > 0,
  cost: (plan) => ({ forward: 0, gradient: 0, ms: featureMs(plan.opts.model, undefined, plan.classImages * Math.max(1, plan.opts.actmax?.images ?? 1), plan.classSteps(), Math.max(1, plan.limits?.gradient ?? plan.classImages), plan.costTable) }),
  run(ctx) {
    const { plan, data, out } = ctx;
    const [H, W, C] = data.shape;
    const shown = plan.classList.slice(0, plan.classImages);
    const chunkSize = Math.max(1, ctx.limits?.gradient ?? shown.length);
    for (let c0 = 0; c0 < shown.length; c0 += chunkSize) {
      const chunk = shown.slice(c0, c0 + chunkSize);
      const cm = ctx.feature(chunk.map((index) => ({ kind: 'class' as const, index })), plan.classSteps());
      const per = cm.rows / chunk.length;
      chunk.forEach((index, i) => {
        ctx.result.classMax.push({
          index,
          value: cm.values[i * per],
          image: out.image(`classes/actmax-${index}`, { data: cm.bytes.subarray(i * per * H * W * C, (i * per + 1) * H * W * C), width: W, height: H, channels: C as 1 | 3 }, `Input that maximises the ${data.classes[index]} logit`),
        });
      });
    }
    ctx.tick('class images', ctx.unit(classImagesView.cost(plan, { sampleCount: 0, layerCount: 0 })));
    ctx.stage('class images');
  },
};

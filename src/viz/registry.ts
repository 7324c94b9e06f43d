/** Every attribution method convlens computes, in display order. A new method is a file plus a line here. */
import { gradCam } from './methods/grad-cam.ts';
import { gradCamPlusPlus } from './methods/grad-cam-plus-plus.ts';
import { gradientInput } from './methods/gradient-input.ts';
import { guidedBackprop } from './methods/guided-backprop.ts';
import { guidedGradCam } from './methods/guided-grad-cam.ts';
import { integratedGradients } from './methods/integrated-gradients.ts';
import { occlusion } from './methods/occlusion.ts';
import { saliency } from './methods/saliency.ts';
import { scoreCam } from './methods/score-cam.ts';
import { smoothGrad } from './methods/smoothgrad.ts';
import type { AttributionMethod } from './types.ts';

export const ATTRIBUTION_METHODS: readonly AttributionMethod<never>[] = [
  saliency,
  gradientInput,
  guidedBackprop,
  smoothGrad(saliency),
  integratedGradients,
  gradCam,
  gradCamPlusPlus,
  scoreCam,
  guidedGradCam,
  occlusion,
] as AttributionMethod<never>[];

export function getMethod(id: string): AttributionMethod<never> {
  const m = ATTRIBUTION_METHODS.find((x) => x.id === id);
  if (!m) throw new Error(`unknown method '${id}'; known: ${ATTRIBUTION_METHODS.map((x) => x.id).join(', ')}`);
  return m;
}

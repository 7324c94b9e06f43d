/** Every attribution method convlens computes, in display order. A new method is a file plus a line here. */
import { ablationCam } from './methods/ablation-cam.ts';
import { eigenCam } from './methods/eigen-cam.ts';
import { gradCam } from './methods/grad-cam.ts';
import { gradCamPlusPlus } from './methods/grad-cam-plus-plus.ts';
import { gradientInput } from './methods/gradient-input.ts';
import { guidedBackprop } from './methods/guided-backprop.ts';
import { guidedGradCam } from './methods/guided-grad-cam.ts';
import { hiResCam } from './methods/hires-cam.ts';
import { integratedGradients } from './methods/integrated-gradients.ts';
import { layerCam } from './methods/layer-cam.ts';
import { occlusion } from './methods/occlusion.ts';
import { rise } from './methods/rise.ts';
import { saliency } from './methods/saliency.ts';
import { scoreCam } from './methods/score-cam.ts';
import { smoothGrad } from './methods/smoothgrad.ts';
import { xGradCam } from './methods/xgrad-cam.ts';
import type { AttributionMethod } from './types.ts';

export const ATTRIBUTION_METHODS: readonly AttributionMethod<never>[] = [
  saliency,
  gradientInput,
  guidedBackprop,
  smoothGrad(saliency),
  integratedGradients,
  gradCam,
  gradCamPlusPlus,
  xGradCam,
  layerCam,
  hiResCam,
  eigenCam,
  scoreCam,
  ablationCam,
  guidedGradCam,
  occlusion,
  rise,
] as AttributionMethod<never>[];

export function getMethod(id: string): AttributionMethod<never> {
  const m = ATTRIBUTION_METHODS.find((x) => x.id === id);
  if (!m) throw new Error(`unknown method '${id}'; known: ${ATTRIBUTION_METHODS.map((x) => x.id).join(', ')}`);
  return m;
}

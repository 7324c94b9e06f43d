/**
 * Work sized to the model. Two parts:
 * - Defaults that scale: a model whose forward pass costs ≥ HEAVY_FLOPS per image (MobileNetV2 1.0 at 224x224),
 *   and more so one ≥ VERY_HEAVY_FLOPS (VGG16), gets fewer IG steps, SmoothGrad copies and deletion/insertion
 *   steps, side-by-side occlusion patches, a grouped randomization cascade on one sample with cheaper parameters,
 *   capped activation maximization and activation grids, and class images only for the classes its samples are
 *   predicted as. The rule reads the counted multiply-adds, never a clock, so the same
 *   model and config always give the same report.
 * - A cost estimate of every view (passes × the measured milliseconds per image), shown in the progress ETA,
 *   and a `budget` in seconds that trims optional work, cheapest loss first, listing each cut for the model page.
 *   A budget makes the report depend on the machine's speed; without one nothing depends on it.
 */
import type { ModelCost } from '../viz/budget.ts';
import type { AttributionMethod, Passes } from '../viz/types.ts';

/**
 * Forward FLOPs per image from which a model counts as large (MobileNetV2 α0.35 at 64x64: 0.02 G; MobileNetV2 1.0
 * at 224: 0.62 G) and very large (VGG16 at 224: 31 G; ResNet50: 8 G).
 */
export const HEAVY_FLOPS = 0.25e9;
export const VERY_HEAVY_FLOPS = 4e9;

/**
 * Ratio of a gradient pass's time to a forward pass's, for the split of a model's samples over processes (which
 * every process must compute alike, so from the architecture, not a clock). Measured on the wasm engine: ~3.2 for
 * VGG16 at 224 (3.3 vs 1.05 s per image), ~6 for MobileNetV2 (330 vs 55 ms), whose depthwise, BatchNorm and
 * ReLU6 gradients are many small slow kernels: 3 plus 4.5 × the share of such layers (MobileNetV2: 0.65).
 */
export function gradientFactor(layers: ReadonlyArray<{ getClassName(): string }>): number {
  const small = layers.filter((l) => ['BatchNormalization', 'ReLU', 'DepthwiseConv2D', 'Activation', 'Add'].includes(l.getClassName())).length;
  return 3 + (4.5 * small) / Math.max(1, layers.length);
}

export interface Sizing {
  /** 0: small, 1: large, 2: very large (see HEAVY_FLOPS). */
  tier: 0 | 1 | 2;
  /** Method parameters the size sets (the config's own parameters override them). */
  methodParams: Record<string, Record<string, unknown>>;
  /**
   * Cheaper parameters inside the checks that run every method on more images: the randomization check (once per
   * step) and the pointing game (on up to 100 test images). RISE's masks are the costliest even on small models.
   */
  randomizationParams: Record<string, Record<string, unknown>>;
  /** Deletion/insertion steps per curve. */
  faithfulnessSteps: number;
  /** Cascading randomization: samples and groups of layers. */
  randomization: { samples: number; steps: number };
  actmax: { maxChannels: number; steps: number; maxLayers?: number };
  /** Channels drawn in each activation grid (the statistics table lists all). */
  gridChannels: number;
  /** Full-size images of the first channels per layer (for #channel-N links). */
  channelImages: number;
  /** Class images: all classes up to this many, else the samples' predicted classes (at most this many). */
  classImages: number;
  /** Dataset examples: test images scanned per model. */
  exampleImages: number;
}

/**
 * The defaults for a model of `flops` forward FLOPs per image on [H, W] inputs; `actmax` and `randomizationSteps`
 * as the spec sets them (the spec's win).
 */
export function sizing(flops: number, input: [number, number], spec: { actmax?: Sizing['actmax']; randomizationSteps?: number } = {}): Sizing {
  if (flops < HEAVY_FLOPS) {
    return {
      tier: 0,
      // RISE: 500 masks on the samples (8x8 cells on a 64-pixel image), 100 in the checks that run every method on
      // more images (their scores need the map's peak and mass, not its detail).
      methodParams: { rise: { masks: 500 } },
      randomizationParams: { rise: { masks: 100 } },
      faithfulnessSteps: 16,
      randomization: { samples: 2, steps: spec.randomizationSteps ?? 8 },
      actmax: spec.actmax ?? { maxChannels: 16, steps: 96 },
      gridChannels: Infinity,
      channelImages: 64,
      classImages: 16,
      exampleImages: 1000,
    };
  }
  const side = Math.min(...input);
  if (flops < VERY_HEAVY_FLOPS) {
    // Occlusion: the usual eighth-of-the-side patch, but side by side (64 positions at 224 instead of 225).
    const patch = Math.max(2, Math.round(side / 8));
    return {
      tier: 1,
      // The IG paper uses 20–300 steps (Captum 50); the completeness gap each sample's page reports says how
      // well 20 did. On MobileNetV2 at 224 (wasm, 2 cores) a sample then costs ~28 s instead of ~75 s.
      methodParams: { 'integrated-gradients': { steps: 20 }, 'smoothgrad-saliency': { samples: 10 }, occlusion: { patch, stride: patch }, rise: { masks: 300 } },
      randomizationParams: { 'integrated-gradients': { steps: 12 }, 'smoothgrad-saliency': { samples: 6 }, rise: { masks: 50 } },
      faithfulnessSteps: 8,
      randomization: { samples: 1, steps: Math.min(spec.randomizationSteps ?? 3, 3) },
      actmax: spec.actmax ?? { maxChannels: 4, steps: 24, maxLayers: 3 },
      gridChannels: 64,
      channelImages: 16,
      classImages: 8,
      exampleImages: 300,
    };
  }
  const patch = Math.max(2, Math.round(side / 4));
  return {
    tier: 2,
    methodParams: {
      'integrated-gradients': { steps: 12 }, 'smoothgrad-saliency': { samples: 6 }, 'score-cam': { maxChannels: 16 },
      // RISE: one forward pass per mask (~1 s each on VGG16 here).
      occlusion: { patch, stride: patch }, rise: { masks: 64 },
    },
    randomizationParams: { 'integrated-gradients': { steps: 6 }, 'smoothgrad-saliency': { samples: 4 }, rise: { masks: 24 } },
    faithfulnessSteps: 4,
    randomization: { samples: 1, steps: Math.min(spec.randomizationSteps ?? 2, 2) },
    actmax: spec.actmax ?? { maxChannels: 2, steps: 12, maxLayers: 2 },
    gridChannels: 64,
    channelImages: 16,
    classImages: 1,
    exampleImages: 100,
  };
}

/** Estimated seconds of one unit of work, with what it is. */
export interface Unit {
  id: string;
  seconds: number;
}

export function passSeconds(cost: ModelCost, p: Passes, images = 1): number {
  return (images * (p.forward * cost.forward.msPerImage + p.gradient * cost.gradient.msPerImage)) / 1000;
}

/** Passes per sample of a method with its parameters, on an [H, W] input whose CAM layer has `channels`. */
export function methodPasses(method: AttributionMethod<never>, params: Record<string, unknown>, shape: { input: [number, number]; channels: number }): Passes {
  return method.passes?.(params as never, shape) ?? { forward: 0, gradient: 1 };
}

/** One trim the budget made, for the model page: what was cut and the seconds it saved (estimated). */
export interface Trim {
  what: string;
  saved: number;
}

/**
 * Cuts, in order, each tried only while the estimate exceeds the budget: fewer activation-maximization images,
 * fewer class images, a shorter randomization cascade, coarser deletion/insertion curves, fewer IG steps and
 * SmoothGrad copies. Each cut is a function returning its saving and a description, or undefined when it does not
 * apply. The samples' own attribution maps are never cut.
 */
export function trimToBudget(estimate: () => number, budget: number, cuts: Array<() => Trim | undefined>): Trim[] {
  const done: Trim[] = [];
  for (const cut of cuts) {
    if (estimate() <= budget) break;
    const t = cut();
    if (t) done.push(t);
  }
  return done;
}

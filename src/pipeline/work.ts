/**
 * Work sized to the model: the full defaults (sizing), an estimate of every view in seconds of the reference
 * machine from the counted cost of its passes (./cost-model.ts), and cuts that trim optional work, least valued
 * first, until the estimate fits the budget (300 s by default). Nothing here reads a clock, so the same model and
 * config give the same report on any machine.
 */
import type { AttributionMethod, Passes } from '../viz/types.ts';

export interface Sizing {
  /**
   * Method parameters the sizing sets (the config's own parameters override them): the full defaults, which the
   * budget's last cuts scale down.
   */
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
 * The full defaults, whatever the model; `actmax` and `randomizationSteps` as the spec sets them (the spec's win).
 * What a model's size cannot afford is cut afterwards by the budget (plan.ts), from the counted cost.
 */
export function sizing(spec: { actmax?: Sizing['actmax']; randomizationSteps?: number } = {}): Sizing {
  return {
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

/** Estimated seconds of one unit of work, with what it is. */
export interface Unit {
  id: string;
  seconds: number;
}

/** Milliseconds per image of a forward and of a gradient pass, as the views' batches run them. */
export interface Rates {
  forward: number;
  gradient: number;
}

export function passSeconds(rates: Rates, p: Passes, images = 1): number {
  return (images * (p.forward * rates.forward + p.gradient * rates.gradient + (p.ms ?? 0))) / 1000;
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

/**
 * Work sized to the model: the full defaults (sizing), an estimate of every view in seconds of the reference
 * machine from the counted cost of its passes (./cost-model.ts), and cuts that trim optional work, least valued
 * first, until the estimate fits the budget (300 s by default). Nothing here reads a clock, so the same model and
 * config give the same report on any machine.
 */
import type { AttributionMethod, Passes } from '../viz/types.ts';
import { COST_TABLE, type CostTable } from './cost-model.ts';

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
  /** A forward pass that reads intermediate activations (the tfjs engine's forward rate). */
  capture: number;
}

export function passSeconds(rates: Rates, p: Passes, images = 1): number {
  return (images * (p.forward * rates.forward + (p.capture ?? 0) * rates.capture + p.gradient * rates.gradient + (p.ms ?? 0))) / 1000;
}

/** What a method's cost depends on: the [H, W] input and its values (H·W·C), the CAM layer's channels and values. */
export interface CostShape {
  input: [number, number];
  channels: number;
  values?: number;
  camValues?: number;
}

/**
 * Passes per sample of a method with its parameters, with the work it does beyond them (the table's per-method
 * terms) in `ms`.
 */
export function methodPasses(method: AttributionMethod<never>, params: Record<string, unknown>, shape: CostShape, table: CostTable = COST_TABLE): Passes {
  const p = method.passes?.(params as never, shape) ?? { forward: 0, gradient: 1 };
  const extra = table.methods?.[method.id];
  if (!extra) return p;
  const ms = (p.ms ?? 0) + (extra.inputValue ?? 0) * (p.forward + p.gradient) * (shape.values ?? 0) + (extra.camValue ?? 0) * shape.channels * (shape.camValues ?? 0);
  return { forward: p.forward, gradient: p.gradient * (extra.gradientScale ?? 1), ...(p.capture ? { capture: p.capture } : {}), ms };
}

/** One trim the budget made, for the model page: what was cut and the seconds it saved (estimated). */
export interface Trim {
  what: string;
  saved: number;
}

/**
 * Cuts, least valued first: while the estimate exceeds the budget, the first cut (in this order) that still applies
 * and saves time is made. A cut returns its saving and a description, or undefined when it does not apply or saves
 * nothing now (it undoes itself then, and is tried again after later cuts: sample work saves wall time only once
 * the model-wide views no longer decide it). The samples' own attribution maps are never cut.
 */
export function trimToBudget(estimate: () => number, budget: number, cuts: Array<() => Trim | undefined>): Trim[] {
  const done: Trim[] = [];
  const made = new Set<number>();
  while (estimate() > budget) {
    const i = cuts.findIndex((cut, k) => {
      if (made.has(k)) return false;
      const t = cut();
      if (t) done.push(t);
      return t != null;
    });
    if (i < 0) break;
    made.add(i);
  }
  return done;
}

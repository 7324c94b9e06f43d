/**
 * The trust numbers the site derives from a model's report, shared by the method pages and the trust summary:
 * each method's mean deletion AUC with its rank among the methods, and its randomization ρ per step.
 */
import type { ModelReport } from './schema.ts';

export interface DeletionRank {
  /** Mean deletion AUC over the samples that have faithfulness (lower: the map found what the model uses). */
  mean: number;
  samples: number;
  /** 1-based, lowest mean first (ties keep the manifest's method order). */
  rank: number;
}

/** Mean deletion and insertion AUCs over a model's samples. */
export interface CurveMeans {
  deletion: number;
  insertion: number;
  samples: number;
}

/** Mean ROAD areas (MoRF: lower is better; LeRF: higher) of a method, or of a baseline ('random' | 'edges'). */
export function roadMeans(model: ModelReport, id: string): { morf: number; lerf: number } | undefined {
  const isBaseline = id === 'random' || id === 'edges';
  const curves = model.samples.flatMap((s) => {
    const r = isBaseline ? s.baselines?.[id as 'random' | 'edges'].road : s.attributions.find((a) => a.method === id)?.faithfulness?.road;
    return r ? [r] : [];
  });
  if (curves.length === 0) return undefined;
  return { morf: curves.reduce((t, r) => t + r.morfAuc, 0) / curves.length, lerf: curves.reduce((t, r) => t + r.lerfAuc, 0) / curves.length };
}

/** Mean AUCs of the two model-blind baselines (random order, Sobel edges), over the samples that have them. */
export function baselineMeans(model: ModelReport): { random: CurveMeans; edges: CurveMeans } | undefined {
  const withB = model.samples.filter((s) => s.baselines);
  if (withB.length === 0) return undefined;
  const mean = (key: 'random' | 'edges'): CurveMeans => ({
    deletion: withB.reduce((t, s) => t + s.baselines![key].deletionAuc, 0) / withB.length,
    insertion: withB.reduce((t, s) => t + s.baselines![key].insertionAuc, 0) / withB.length,
    samples: withB.length,
  });
  return { random: mean('random'), edges: mean('edges') };
}

/** A method's mean deletion and insertion AUCs over the samples that have curves. */
export function methodMeans(model: ModelReport, methodId: string): CurveMeans | undefined {
  const xs = model.samples.flatMap((s) => s.attributions.filter((a) => a.method === methodId && a.faithfulness));
  if (xs.length === 0) return undefined;
  return {
    deletion: xs.reduce((t, a) => t + a.faithfulness!.deletionAuc, 0) / xs.length,
    insertion: xs.reduce((t, a) => t + a.faithfulness!.insertionAuc, 0) / xs.length,
    samples: xs.length,
  };
}

/**
 * Whether a method beats a baseline: a lower mean deletion AUC *and* a higher mean insertion AUC. Beating the
 * random order is the least a map must do; beating the edges shows it knows more than where the image changes.
 */
export function beats(method: CurveMeans, baseline: CurveMeans): boolean {
  return method.deletion < baseline.deletion && method.insertion > baseline.insertion;
}

/** Mean deletion AUC and rank of every method (of `methodIds`) this model ran with faithfulness. */
export function deletionRanking(model: ModelReport, methodIds: string[]): Map<string, DeletionRank> {
  const rows = methodIds.map((id) => {
    const xs = model.samples.flatMap((s) => s.attributions.filter((a) => a.method === id && a.faithfulness));
    return { id, samples: xs.length, mean: xs.reduce((t, a) => t + a.faithfulness!.deletionAuc, 0) / Math.max(1, xs.length) };
  }).filter((r) => r.samples > 0).sort((a, b) => a.mean - b.mean);
  return new Map(rows.map((r, i) => [r.id, { mean: r.mean, samples: r.samples, rank: i + 1 }]));
}

/** The method's Spearman ρ with the trained model's map at each randomization step, if the check ran it. */
export function rhoCurve(model: ModelReport, methodId: string): number[] | undefined {
  const steps = model.randomization?.steps;
  if (!steps?.length || steps.some((st) => st.correlation[methodId] == null)) return undefined;
  return steps.map((st) => st.correlation[methodId]);
}

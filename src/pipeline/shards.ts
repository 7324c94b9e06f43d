/**
 * Work splitting. The unit is one model: its training, evaluation and every visualization run in one process
 * (a trained model cannot be shared between CI machines without shipping its weights, and training dominates) —
 * except a loaded model, which every machine can load from the same file: its samples are split over the shards
 * (`splitBySample`), part 1 also computing the model-wide views, and `merge` joins the parts.
 * `--shard k/n` keeps the models assigned to shard k; the assignment is greedy by estimated cost (largest
 * first, to the least-loaded shard), deterministic, and independent of which shard asks. `merge` joins the
 * shards' outputs; the local `report` runs its shards in parallel processes, one per core.
 */
import type { ModelSpec } from './model-report.ts';

export interface SpecEntry {
  slug: string;
  /** Estimated seconds on this engine (only used to balance shards). */
  cost: number;
  /** Part of the report when no --only names models. */
  inDefault: boolean;
  make: () => ModelSpec | Promise<ModelSpec>;
  /**
   * A cheap, complete description of what `make` builds (options, seed, data stamps), without loading data: the
   * report cache's key. Omitted: never cached (a loaded model file may change under the same path).
   */
  recipe?: () => unknown;
  /**
   * One model whose samples can be split over shards (a loaded model: every machine loads the same file), rather
   * than given whole to one shard.
   */
  splitBySample?: boolean;
  /** Samples a split model explains (cheap to count: files, not images), to size the local split. */
  sampleCount?: () => number;
  /**
   * Samples a local process should get at least, when the samples are split over processes (default 4: a
   * process costs seconds to start and load the model; a large model's samples cost more than that, so 1).
   */
  samplesPerJob?: () => number;
  /** The part of a split model this entry computes (set by selectEntries). */
  part?: Shard;
}

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** Cores of the reference machine the default budget is sized for. */
export const REFERENCE_CORES = 2;

/**
 * The processes a report of these models runs in on the reference machine (2 cores) — what its estimates assume,
 * whatever this machine has, so the budget's cuts are the same everywhere: several models side by side; one loaded
 * model split by sample when each process gets `samplesPerJob` of them (default `perJob`); else one process.
 */
export function referenceProcesses(entries: ReadonlyArray<Pick<SpecEntry, 'splitBySample' | 'sampleCount' | 'samplesPerJob'>>, perJob: number): number {
  if (entries.length > 1) return REFERENCE_CORES;
  const e = entries[0];
  if (!e?.splitBySample) return 1;
  return Math.max(1, Math.min(REFERENCE_CORES, Math.floor((e.sampleCount?.() ?? 0) / (e.samplesPerJob?.() ?? perJob))));
}

/** "k/n" with 1 ≤ k ≤ n. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--shard: expected k/n such as 1/2, found '${text}'`);
  const [index, count] = [Number(m[1]), Number(m[2])];
  if (count < 1 || index < 1 || index > count) throw new Error(`--shard ${text}: k must be between 1 and n (found k=${index}, n=${count})`);
  return { index, count };
}

/** Shard index (1-based) per slug, balancing the estimated costs. */
export function assignShards(entries: ReadonlyArray<Pick<SpecEntry, 'slug' | 'cost'>>, count: number): Map<string, number> {
  const load = new Array<number>(count).fill(0);
  const out = new Map<string, number>();
  const order = entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => b.e.cost - a.e.cost || a.i - b.i);
  for (const { e } of order) {
    let best = 0;
    for (let k = 1; k < count; k++) if (load[k] < load[best]) best = k;
    load[best] += e.cost;
    out.set(e.slug, best + 1);
  }
  return out;
}

/** The entries of one run: --only (or the default set), then the shard's part, in their original order. */
export function selectEntries(entries: SpecEntry[], opts: { only?: string[]; shard?: Shard }): SpecEntry[] {
  if (opts.only) {
    const known = new Set(entries.map((e) => e.slug));
    const unknown = opts.only.filter((s) => !known.has(s));
    if (unknown.length) throw new Error(`--only ${unknown.join(',')}: no such model (models: ${[...known].join(', ')})`);
  }
  const chosen = entries.filter((e) => (opts.only ? opts.only.includes(e.slug) : e.inDefault));
  if (!opts.shard) return chosen;
  const shard = opts.shard;
  const whole = chosen.filter((e) => !e.splitBySample);
  const assigned = assignShards(whole, shard.count);
  return chosen.flatMap((e) => {
    if (!e.splitBySample) return assigned.get(e.slug) === shard.index ? [e] : [];
    if (shard.count === 1) return [e];
    // Every shard computes its part of a split model: its share of the samples (part 1 also the model-wide views).
    return [{
      ...e,
      part: shard,
      recipe: e.recipe && (() => ({ whole: e.recipe!(), part: shard })),
      make: async () => ({ ...(await e.make()), part: shard }),
    }];
  });
}

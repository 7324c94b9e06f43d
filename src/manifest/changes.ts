/**
 * changes.json: what a report changed against the previous one (`convlens report --compare <site>`). The pipeline
 * writes it beside the manifest and at the site's root; the What changed pages and the home page's summary read it.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { Asset } from './schema.ts';

const Prediction = z.object({ label: z.string().nullable(), probability: z.number() });

export const ModelChanges = z.object({
  id: z.string(),
  title: z.string(),
  /** compared: both reports read; new / removed: the model is in one report only; unreadable: see `note`. */
  status: z.enum(['compared', 'new', 'removed', 'unreadable']),
  note: z.string().optional(),
  /** Samples whose top-1 class changed, matched by id. */
  flipped: z.array(z.object({ sample: z.string(), slug: z.string().optional(), before: Prediction, after: Prediction })).default([]),
  /** The largest changes of the probability of each sample's (new) top-1 class. */
  probabilityChanges: z.array(z.object({ sample: z.string(), slug: z.string().optional(), label: z.string(), before: z.number(), after: z.number() })).default([]),
  samples: z.object({ compared: z.number().int().nonnegative(), added: z.array(z.string()), removed: z.array(z.string()) }).default({ compared: 0, added: [], removed: [] }),
  /** Labeled sets: accuracy, each class's recall and the confusion matrix's changed cells, before → after. */
  accuracy: z.object({ before: z.number(), after: z.number() }).optional(),
  recall: z.array(z.object({ class: z.string(), before: z.number(), after: z.number() })).default([]),
  confusion: z.array(z.object({ true: z.string(), predicted: z.string(), before: z.number().int(), after: z.number().int() })).default([]),
  /** Per method: how far the maps agree (Spearman ρ of the arrays, median over samples) and how many peaks moved. */
  explanations: z.array(z.object({ method: z.string(), title: z.string(), samples: z.number().int().nonnegative(), spearman: z.number(), minSpearman: z.number(), peakMoved: z.number().int().nonnegative() })).default([]),
  /** Samples whose evidence moved most: the method's old map (redrawn from the old array) beside the new one. */
  moved: z.array(z.object({ sample: z.string(), slug: z.string(), method: z.string(), spearman: z.number(), peakMoved: z.boolean(), before: Asset, after: Asset })).default([]),
  /** Mean deletion / insertion AUC per method over the compared samples, before → after. */
  faithfulness: z.array(z.object({ method: z.string(), deletion: z.tuple([z.number(), z.number()]), insertion: z.tuple([z.number(), z.number()]) })).default([]),
  /** Pointing game per method (synthetic sets with object masks), before → after. */
  pointing: z.array(z.object({ method: z.string(), before: z.number(), after: z.number() })).default([]),
  architecture: z.object({
    added: z.array(z.object({ name: z.string(), className: z.string(), outputShape: z.array(z.number().nullable()), params: z.number() })),
    removed: z.array(z.object({ name: z.string(), className: z.string(), outputShape: z.array(z.number().nullable()), params: z.number() })),
    changed: z.array(z.object({ name: z.string(), before: z.string(), after: z.string() })),
    params: z.tuple([z.number(), z.number()]),
  }).optional(),
});
export type ModelChanges = z.infer<typeof ModelChanges>;

export const Changes = z.object({
  version: z.literal(1),
  /** What was compared against: a URL as given, or a folder's name (never a path of the build machine). */
  previous: z.string(),
  /** compared: a previous report was read; unavailable: none could be (first run, unreachable, not a convlens site). */
  status: z.enum(['compared', 'unavailable']),
  note: z.string().optional(),
  models: z.array(ModelChanges),
});
export type Changes = z.infer<typeof Changes>;

/** Where the pipeline writes changes.json and the site reads it; CONVLENS_CHANGES moves it. */
export const CHANGES_PATH = process.env.CONVLENS_CHANGES ?? 'content/generated/changes.json';

/** The comparison of this build, or undefined when the report was built without --compare. */
export function siteChanges(path = CHANGES_PATH): Changes | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = Changes.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path}: invalid changes file at ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

/** Whether a model's comparison found anything to say. */
export function hasChanges(m: ModelChanges): boolean {
  return m.status !== 'compared' || m.flipped.length > 0 || m.confusion.length > 0 || m.moved.some((x) => x.spearman < 0.9) ||
    (m.architecture != null && (m.architecture.added.length + m.architecture.removed.length + m.architecture.changed.length > 0)) ||
    m.samples.added.length + m.samples.removed.length > 0 || (m.accuracy != null && m.accuracy.before !== m.accuracy.after);
}

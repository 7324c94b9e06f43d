/**
 * `convlens report --compare <previous site>`: this report against an earlier one, model by model (matched by id),
 * sample by sample (by id) and map by map (by sample and method). Both sides are read as report.json — this run's
 * from its manifest, the previous one's from the site — so a site of any convlens version compares the same way.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import type { Changes, ModelChanges } from '../../manifest/changes.ts';
import { REPORT_JSON_VERSION, reportJson } from '../../manifest/report-json.ts';
import type { Manifest, ModelReport } from '../../manifest/schema.ts';
import { colorize } from '../../render/colormap.ts';
import { overlay, type Raster } from '../../render/image.ts';
import { normalizeMap } from '../../render/normalize.ts';
import { parseNpy } from '../../render/npy.ts';
import { spearman } from '../../viz/metrics/randomization.ts';
import { ATTRIBUTION_METHODS } from '../../viz/registry.ts';
import { AssetWriter } from '../assets.ts';
import { type PreviousSite, PreviousUnavailable, previousJson } from './previous.ts';

/** What `--compare` reads of a report.json: the fields every version since the first holds, the newer ones optional. */
const Layer = z.object({ name: z.string(), className: z.string(), outputShape: z.array(z.number().nullable()), params: z.number() });
const ReportFile = z.object({
  version: z.number().int().optional(),
  model: z.string(),
  title: z.string().optional(),
  dataset: z.object({ classes: z.array(z.string()), labeled: z.boolean().optional() }),
  layers: z.array(Layer),
  totalParams: z.number(),
  metrics: z.object({ accuracy: z.number(), perClass: z.array(z.object({ class: z.string(), recall: z.number() })).default([]) }).nullish(),
  confusionMatrix: z.array(z.array(z.number())).nullish(),
  methods: z.array(z.object({ id: z.string(), title: z.string() })).default([]),
  localization: z.object({ methods: z.record(z.object({ pointing: z.number() })) }).nullish(),
  samples: z.array(z.object({
    id: z.string(),
    slug: z.string().optional(),
    file: z.string(),
    predicted: z.string().nullable(),
    probability: z.number(),
    top: z.array(z.object({ label: z.string(), probability: z.number() })),
    probabilities: z.array(z.number()).optional(),
    faithfulness: z.record(z.object({ deletionAuc: z.number(), insertionAuc: z.number() })).default({}),
    maps: z.record(z.string()).optional(),
  })),
});
type ReportFile = z.infer<typeof ReportFile>;
type SampleFile = ReportFile['samples'][number];

/** The previous site's models: its index (report.json at the root), else its build-info.json, else `fallback`. */
async function previousModels(site: PreviousSite, fallback: string[]): Promise<string[]> {
  const index = (await previousJson(site, 'report.json')) as { models?: Array<{ id?: unknown }> } | undefined;
  if (index?.models) return index.models.map((m) => String(m.id));
  const info = (await previousJson(site, 'build-info.json')) as { models?: Record<string, unknown> } | undefined;
  if (info?.models) return Object.keys(info.models);
  return fallback;
}

/** The site root's index of its models (what a later `--compare` lists first). */
export function reportIndex(manifest: Manifest): object {
  return { version: REPORT_JSON_VERSION, models: manifest.models.map((m) => ({ id: m.slug, title: m.title, report: `models/${m.slug}/report.json` })) };
}

export interface CompareContext {
  manifest: Manifest;
  /** This run's public folder (its generated/ holds the new maps and inputs; the old maps are drawn into it). */
  publicDir: string;
  site: PreviousSite;
  log?: (line: string) => void;
}

/** Compare every model of `manifest` with the previous site's; an unreadable previous site gives status 'unavailable'. */
export async function compareWithPrevious(ctx: CompareContext): Promise<Changes> {
  const { manifest, site } = ctx;
  try {
    const before = await previousModels(site, manifest.models.map((m) => m.slug));
    const models: ModelChanges[] = [];
    let found = 0;
    for (const model of manifest.models) {
      const raw = before.includes(model.slug) ? await previousJson(site, `models/${model.slug}/report.json`) : undefined;
      if (raw === undefined) {
        models.push({ ...empty(model.slug, model.title), status: 'new' });
        continue;
      }
      found++;
      models.push(await compareModel(ctx, model, raw));
    }
    for (const id of before.filter((id) => !manifest.models.some((m) => m.slug === id))) models.push({ ...empty(id, id), status: 'removed' });
    if (found === 0 && !models.some((m) => m.status === 'removed')) {
      return { version: 1, previous: site.label, status: 'unavailable', note: `${site.label} holds no convlens report (no models/<model>/report.json): a first run, or not a convlens site`, models: [] };
    }
    return { version: 1, previous: site.label, status: 'compared', models };
  } catch (err) {
    if (err instanceof PreviousUnavailable) return { version: 1, previous: site.label, status: 'unavailable', note: err.message, models: [] };
    throw err;
  }
}

function empty(id: string, title: string): ModelChanges {
  return { id, title, status: 'compared', flipped: [], probabilityChanges: [], samples: { compared: 0, added: [], removed: [] }, recall: [], confusion: [], explanations: [], moved: [], faithfulness: [], pointing: [] };
}

async function compareModel(ctx: CompareContext, model: ModelReport, raw: unknown): Promise<ModelChanges> {
  const now = ReportFile.parse(JSON.parse(JSON.stringify(reportJson(model, ctx.manifest))));
  const parsed = ReportFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const version = (raw as { version?: unknown })?.version;
    return {
      ...empty(model.slug, model.title), status: 'unreadable',
      note: `the previous report.json (version ${version ?? 1}) cannot be read by this convlens (report.json version ${REPORT_JSON_VERSION}): ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    };
  }
  const old = parsed.data;
  const notes: string[] = [];
  if ((old.version ?? 1) > REPORT_JSON_VERSION) notes.push(`the previous report.json is version ${old.version}, newer than this convlens's ${REPORT_JSON_VERSION}: what both hold is compared`);
  if (!old.samples.some((s) => s.probabilities) && old.samples.some((s) => s.top.length > 0)) notes.push(`the previous report${old.version == null ? ' (report.json version 1)' : ''} kept only each sample's top ${old.samples[0]?.top.length ?? 5}: a probability outside it is not compared`);
  const out: ModelChanges = { ...empty(model.slug, model.title), ...predictions(old, now), ...labeled(old, now), architecture: architecture(old, now) };
  const maps = await explanations(ctx, model, old, now, notes);
  Object.assign(out, maps, { faithfulness: faithfulness(old, now), pointing: pointing(old, now) });
  if (notes.length) out.note = notes.join('; ');
  return out;
}

const byId = (r: ReportFile) => new Map(r.samples.map((s) => [s.id, s]));

/** A sample's probability of the class named `label`: from every class's probability, else from its top k. */
function probabilityOf(r: ReportFile, s: SampleFile, label: string): number | undefined {
  const k = r.dataset.classes.indexOf(label);
  if (s.probabilities && k >= 0) return s.probabilities[k];
  return s.top.find((t) => t.label === label)?.probability;
}

function predictions(old: ReportFile, now: ReportFile): Pick<ModelChanges, 'flipped' | 'probabilityChanges' | 'samples'> {
  const before = byId(old);
  const flipped: ModelChanges['flipped'] = [];
  const changes: ModelChanges['probabilityChanges'] = [];
  let compared = 0;
  for (const s of now.samples) {
    const o = before.get(s.id);
    if (!o) continue;
    compared++;
    if (o.predicted !== s.predicted) flipped.push({ sample: s.id, slug: s.slug, before: { label: o.predicted, probability: o.probability }, after: { label: s.predicted, probability: s.probability } });
    if (s.predicted == null) continue;
    const p = probabilityOf(old, o, s.predicted);
    if (p != null && Math.abs(s.probability - p) > 1e-6) changes.push({ sample: s.id, slug: s.slug, label: s.predicted, before: p, after: s.probability });
  }
  changes.sort((a, b) => Math.abs(b.after - b.before) - Math.abs(a.after - a.before) || a.sample.localeCompare(b.sample));
  const nowIds = new Set(now.samples.map((s) => s.id));
  return {
    flipped,
    probabilityChanges: changes.slice(0, 10),
    samples: { compared, added: now.samples.filter((s) => !before.has(s.id)).map((s) => s.id), removed: old.samples.filter((s) => !nowIds.has(s.id)).map((s) => s.id) },
  };
}

function labeled(old: ReportFile, now: ReportFile): Pick<ModelChanges, 'accuracy' | 'recall' | 'confusion'> {
  if (!old.metrics || !now.metrics) return { recall: [], confusion: [] };
  const recallBefore = new Map(old.metrics.perClass.map((p) => [p.class, p.recall]));
  const recall = now.metrics.perClass.flatMap((p) => {
    const b = recallBefore.get(p.class);
    return b != null && Math.abs(b - p.recall) > 1e-9 ? [{ class: p.class, before: b, after: p.recall }] : [];
  });
  const confusion: ModelChanges['confusion'] = [];
  const oc = old.confusionMatrix;
  const nc = now.confusionMatrix;
  if (oc && nc) {
    const oi = new Map(old.dataset.classes.map((c, i) => [c, i]));
    now.dataset.classes.forEach((t, i) => now.dataset.classes.forEach((p, j) => {
      const bi = oi.get(t);
      const bj = oi.get(p);
      const before = bi != null && bj != null ? (oc[bi]?.[bj] ?? 0) : 0;
      if (before !== nc[i][j]) confusion.push({ true: t, predicted: p, before, after: nc[i][j] });
    }));
  }
  return { accuracy: { before: old.metrics.accuracy, after: now.metrics.accuracy }, recall, confusion };
}

function architecture(old: ReportFile, now: ReportFile): NonNullable<ModelChanges['architecture']> {
  const describe = (l: z.infer<typeof Layer>) => `${l.className} [${l.outputShape.map((d) => d ?? '?').join(', ')}] ${l.params.toLocaleString('en-US')} params`;
  const before = new Map(old.layers.map((l) => [l.name, l]));
  const after = new Map(now.layers.map((l) => [l.name, l]));
  const pick = (l: z.infer<typeof Layer>) => ({ name: l.name, className: l.className, outputShape: l.outputShape, params: l.params });
  return {
    added: now.layers.filter((l) => !before.has(l.name)).map(pick),
    removed: old.layers.filter((l) => !after.has(l.name)).map(pick),
    changed: now.layers.flatMap((l) => {
      const b = before.get(l.name);
      return b && describe(b) !== describe(l) ? [{ name: l.name, before: describe(b), after: describe(l) }] : [];
    }),
    params: [old.totalParams, now.totalParams],
  };
}

/** The map of a sample and method in a report: its own record (version 2), else where every version wrote it. */
function mapPath(s: SampleFile, method: string): string {
  return s.maps?.[method] ?? s.file.replace(/\/[^/]+$/, `/${method}.npy`);
}

/**
 * Spearman's ρ of two maps (4 decimals); 1 for identical maps, constant ones included (a map without any ordering,
 * such as occlusion's on a saturated prediction, agrees with itself; against a map that has one, ρ is 0).
 */
export function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = a.length === b.length;
  for (let i = 0; same && i < a.length; i++) same = a[i] === b[i];
  return same ? 1 : Number(spearman(a, b).toFixed(4));
}

/** The peak (largest value) moved by more than an eighth of the image's larger side. */
export function peakMoved(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number): boolean {
  const argmax = (v: ArrayLike<number>) => {
    let best = 0;
    for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
    return [Math.floor(best / width), best % width];
  };
  const [ya, xa] = argmax(a);
  const [yb, xb] = argmax(b);
  return Math.hypot(ya - yb, xa - xb) > Math.max(width, height) / 8;
}

interface Pair { sample: string; slug: string; method: string; rho: number; moved: boolean; old: Float32Array | Float64Array; shape: number[] }

async function explanations(ctx: CompareContext, model: ModelReport, old: ReportFile, now: ReportFile, notes: string[]): Promise<Pick<ModelChanges, 'explanations' | 'moved'>> {
  const before = byId(old);
  const jobs: Array<() => Promise<Pair | undefined>> = [];
  let sizeNote = false;
  const unreadable = new Set<string>();
  for (const s of model.samples) {
    const o = before.get(s.id);
    if (!o) continue;
    for (const a of s.attributions) {
      if (o.maps ? !o.maps[a.method] : !old.methods.some((m) => m.id === a.method)) continue;
      jobs.push(async () => {
        const bytes = await ctx.site.bytes(mapPath(o, a.method));
        if (!bytes) return undefined;
        let prev: ReturnType<typeof parseNpy>;
        try {
          prev = parseNpy(bytes);
        } catch (err) {
          unreadable.add(`${mapPath(o, a.method)} (${(err as Error).message})`);
          return undefined;
        }
        const cur = parseNpy(readFileSync(join(ctx.publicDir, a.npy)));
        if (prev.data.length !== cur.data.length) {
          sizeNote = true;
          return undefined;
        }
        const [H, W] = cur.shape;
        return { sample: s.id, slug: s.slug, method: a.method, rho: agreement(prev.data, cur.data), moved: peakMoved(prev.data, cur.data, W, H), old: prev.data, shape: cur.shape };
      });
    }
  }
  const pairs = (await inParallel(jobs, 8)).filter((p): p is Pair => p != null);
  if (unreadable.size) notes.push(`${unreadable.size} previous map${unreadable.size > 1 ? 's' : ''} could not be read, e.g. ${[...unreadable][0]}`);
  if (sizeNote) notes.push('some maps changed size (a new input size): those are not compared');
  const titles = new Map(ATTRIBUTION_METHODS.map((m) => [m.id, m.title]));
  const methods = [...new Set(pairs.map((p) => p.method))];
  const summary = methods.map((method) => {
    const rs = pairs.filter((p) => p.method === method);
    const sorted = rs.map((p) => p.rho).sort((a, b) => a - b);
    const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    return { method, title: titles.get(method) ?? method, samples: rs.length, spearman: Number(median.toFixed(4)), minSpearman: sorted[0], peakMoved: rs.filter((p) => p.moved).length };
  });
  const flipped = new Set(now.samples.filter((s) => before.get(s.id) && before.get(s.id)!.predicted !== s.predicted).map((s) => s.id));
  return { explanations: summary, moved: await movedMost(ctx, model, pairs, flipped) };
}

/**
 * Old map redrawn beside the new one for up to six samples: the flipped ones first, then those whose map changed
 * most (ρ < 0.99); each with its least-agreeing method.
 */
async function movedMost(ctx: CompareContext, model: ModelReport, pairs: Pair[], flipped: Set<string>): Promise<ModelChanges['moved']> {
  const worst = new Map<string, Pair>();
  for (const p of pairs) if ((p.rho < 0.99 || flipped.has(p.sample)) && (!worst.has(p.sample) || p.rho < worst.get(p.sample)!.rho)) worst.set(p.sample, p);
  const rank = (p: Pair) => (flipped.has(p.sample) ? 0 : 1);
  const chosen = [...worst.values()].sort((a, b) => rank(a) - rank(b) || a.rho - b.rho || a.sample.localeCompare(b.sample)).slice(0, 6);
  const writer = new AssetWriter(ctx.publicDir, `${model.slug}/changes`);
  const out: ModelChanges['moved'] = [];
  for (const p of chosen) {
    const s = model.samples.find((x) => x.id === p.sample)!;
    const now = s.attributions.find((a) => a.method === p.method)!;
    const info = ATTRIBUTION_METHODS.find((m) => m.id === p.method);
    const [H, W] = p.shape;
    const norm = normalizeMap(p.old, info?.signed ?? false);
    const heat = colorize(norm.values, info?.signed ? 'rdbu' : info?.family === 'cam' ? 'turbo' : 'viridis', info?.signed);
    const picture = info?.family === 'cam' ? overlay(await inputRaster(ctx.publicDir, s.image.src, W, H), heat, 0.5) : { data: heat, width: W, height: H, channels: 3 as const };
    const before = writer.image(`${p.slug}-${p.method}`, picture, `${info?.title ?? p.method} for ${s.id} in the previous report`);
    out.push({ sample: p.sample, slug: p.slug, method: p.method, spearman: p.rho, peakMoved: p.moved, before, after: now.image });
  }
  await writer.flush();
  return out;
}

/** A sample's input picture (as the site shows it) at the map's size, RGB. */
async function inputRaster(publicDir: string, src: string, width: number, height: number): Promise<Raster> {
  const data = await sharp(join(publicDir, src)).removeAlpha().toColourspace('srgb').resize(width, height, { kernel: 'nearest' }).raw().toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, channels: 3 };
}

function faithfulness(old: ReportFile, now: ReportFile): ModelChanges['faithfulness'] {
  const before = byId(old);
  const methods = [...new Set(now.samples.flatMap((s) => Object.keys(s.faithfulness)))];
  return methods.flatMap((method) => {
    const both = now.samples.flatMap((s) => {
      const o = before.get(s.id)?.faithfulness[method];
      const n = s.faithfulness[method];
      return o && n ? [[o, n] as const] : [];
    });
    if (!both.length) return [];
    const mean = (f: (x: (typeof both)[number]) => number) => Number((both.reduce((t, x) => t + f(x), 0) / both.length).toFixed(4));
    return [{ method, deletion: [mean(([o]) => o.deletionAuc), mean(([, n]) => n.deletionAuc)], insertion: [mean(([o]) => o.insertionAuc), mean(([, n]) => n.insertionAuc)] }];
  });
}

function pointing(old: ReportFile, now: ReportFile): ModelChanges['pointing'] {
  const o = old.localization?.methods;
  const n = now.localization?.methods;
  if (!o || !n) return [];
  return Object.entries(n).flatMap(([method, v]) => (o[method] ? [{ method, before: o[method].pointing, after: v.pointing }] : []));
}

/** Run `jobs` with at most `limit` at once, results in order. */
async function inParallel<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]();
    }
  }));
  return out;
}

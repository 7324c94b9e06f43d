/**
 * The computed report of one model (its manifest entry and generated assets), content-addressed like the training
 * cache: the key hashes the model and training identity, the test data, every option that shapes the
 * visualizations, the seed, the engine, and the source code that computes them. A rerun with nothing changed
 * copies the entry back instead of recomputing (the warm default report); any change recomputes.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { ModelReport } from '../manifest/schema.ts';
import { canonicalJson } from '../train/cache.ts';
import { modelReport, type RunContext } from './model-report.ts';
import type { SpecEntry } from './shards.ts';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let codeHash: string | undefined;

/** sha256 over the compute code (src/ without the site), so that a code change recomputes every report. */
export function computeCodeHash(): string {
  if (codeHash) return codeHash;
  const h = createHash('sha256');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
  for (const file of walk(SRC).filter((f) => !/[/\\](pages|components|site)[/\\]/.test(f)).sort()) {
    h.update(relative(SRC, file)).update(readFileSync(file));
  }
  codeHash = h.digest('hex');
  return codeHash;
}

export function reportKey(parts: unknown): string {
  return createHash('sha256')
    .update(canonicalJson({ parts, code: computeCodeHash(), tfjs: tf.version.tfjs }))
    .digest('hex')
    .slice(0, 32);
}

/** Name, size and modification time of every file under `dir` (a data set's identity without reading it). */
export function fileStamps(dir: string): Array<[string, number, number]> {
  const out: Array<[string, number, number]> = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const st = statSync(p);
        out.push([relative(dir, p), st.size, Math.round(st.mtimeMs)]);
      }
    }
  };
  walk(dir);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Copy a tree by hard links where the file system allows (the cache and the work dir share a disk), else copies. */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const a = join(from, e.name);
    const b = join(to, e.name);
    if (e.isDirectory()) linkTree(a, b);
    else {
      try {
        linkSync(a, b);
      } catch {
        cpSync(a, b);
      }
    }
  }
}

/** The entry's report key, or undefined when it has no recipe or the recipe cannot be read (then make() reports why). */
export function entryKey(entry: SpecEntry, backend: string, processes = 1): string | undefined {
  if (!entry.recipe) return undefined;
  try {
    // The reference layout sizes the default budget's cuts (one process, or models side by side).
    return reportKey({ slug: entry.slug, recipe: entry.recipe(), backend, ...(processes !== 1 ? { processes } : {}) });
  } catch {
    return undefined;
  }
}

export const REPORT_CACHE = '.cache/reports';

export function hasCachedReport(entry: SpecEntry, backend: string, dir = REPORT_CACHE, processes = 1): boolean {
  const key = entryKey(entry, backend, processes);
  return key != null && existsSync(join(dir, key, 'report.json'));
}

/** The entry's report: from the cache when its recipe and the code are unchanged, else computed and stored. */
export async function cachedModelReport(entry: SpecEntry, ctx: RunContext): Promise<ModelReport> {
  const dir = ctx.reportCacheDir ?? REPORT_CACHE;
  const key = entryKey(entry, ctx.backend, ctx.processes);
  if (key && !ctx.noCache) {
    const hit = loadCachedReport(dir, key, ctx.publicDir, entry.slug);
    if (hit) {
      ctx.log?.(`${entry.slug}: report loaded from the cache (${key}); nothing that shapes it changed`);
      if (ctx.timings) ctx.timings[entry.slug] = { train: 0, evaluate: 0, visualize: 0 };
      return hit;
    }
  }
  const report = await modelReport(await entry.make(), ctx);
  if (key) saveCachedReport(dir, key, report, ctx.publicDir);
  return report;
}

/** The cached report for `key`, with its assets linked into `<publicDir>/generated/<slug>`; undefined on a miss. */
export function loadCachedReport(dir: string, key: string, publicDir: string, slug: string): ModelReport | undefined {
  const entry = join(dir, key);
  if (!existsSync(join(entry, 'report.json'))) return undefined;
  const parsed = ModelReport.safeParse(JSON.parse(readFileSync(join(entry, 'report.json'), 'utf8')));
  if (!parsed.success || parsed.data.slug !== slug) return undefined;
  const target = join(publicDir, 'generated', slug);
  rmSync(target, { recursive: true, force: true });
  if (existsSync(join(entry, 'assets'))) linkTree(join(entry, 'assets'), target);
  return parsed.data;
}

/** Store a computed report and its assets under `key` (written aside, then renamed into place). */
export function saveCachedReport(dir: string, key: string, report: ModelReport, publicDir: string): void {
  const entry = join(dir, key);
  const tmp = `${entry}.writing-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const assets = join(publicDir, 'generated', report.slug);
  if (existsSync(assets)) linkTree(assets, join(tmp, 'assets'));
  writeFileSync(join(tmp, 'report.json'), JSON.stringify(report));
  rmSync(entry, { recursive: true, force: true });
  renameSync(tmp, entry);
}

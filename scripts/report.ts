/**
 * `npm run report`: run the pipeline (engine → data → train → evaluate → manifest), then build the site
 * into a temporary folder and swap it into `--out` (default dist/). A failed run exits non-zero and leaves
 * the previous site untouched.
 *
 * Options: --backend <node-gpu|node|wasm|cpu>, --out <dir>, --epochs <n> (default 5), --seed <n>, --no-cache,
 * --only <model,…> (slugs of the default report), --model <model.json|.h5|.keras> --data <image folder>
 * [--classes a,b,…] [--scale /255|[-1,1]] (explain your own model instead of the default report),
 * --shard k/n (compute only this shard's models), --work-dir <dir> (where compute writes), --jobs <n> (models
 * computed in parallel processes; default one per core). `merge <work dirs…>` joins shards and builds the site.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/engine/backend.ts';
import { writeManifest } from '../src/manifest/write.ts';
import { MANIFEST_PATH, readManifest } from '../src/manifest/read.ts';
import { reportJson } from '../src/manifest/report-json.ts';
import { addCspToSite } from '../src/site/csp.ts';
import { loadConfig } from '../src/config/load.ts';
import { Config } from '../src/config/schema.ts';
import { configEntries } from '../src/config/specs.ts';
import { loadedModelSlug, loadedModelSpec } from '../src/pipeline/loaded-model.ts';
import { mergeManifests } from '../src/pipeline/merge.ts';
import { cachedModelReport, hasCachedReport } from '../src/pipeline/report-cache.ts';
import { parseShard, selectEntries, type SpecEntry } from '../src/pipeline/shards.ts';
import type { Manifest } from '../src/manifest/schema.ts';
import { ATTRIBUTION_METHODS } from '../src/viz/registry.ts';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (v == null || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}

function fail(message: string): never {
  throw new Error(message);
}

function intOption(name: string, fallback: number): number {
  const v = option(name);
  if (v == null) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${name}: expected an integer, found '${v}'`);
  return n;
}

/** The environment minus what switches Astro/Vite out of a production build (NODE_ENV, a test runner's flags). */
function withoutNodeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const drop = new Set(['NODE_ENV', 'TEST', 'DEV', 'PROD', 'MODE', 'BASE_URL', 'SSR']);
  return Object.fromEntries(Object.entries(env).filter(([k]) => !drop.has(k) && !k.startsWith('VITEST')));
}

/** Build the site into a fresh folder next to `out`, add `extra` files, then replace `out` with it. */
function buildSite(out: string, extra: Record<string, string> = {}): void {
  const tmp = `${out}.building-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const astro = spawnSync(process.execPath, [resolve('node_modules/astro/astro.js'), 'build'], {
    stdio: 'inherit',
    // Without NODE_ENV and test-runner flags: under vitest (NODE_ENV=test, DEV=1, MODE=test) Astro renders pages as
    // in development (no search); unset, `astro build` uses production throughout.
    env: {
      ...withoutNodeEnv(process.env), CONVLENS_OUT_DIR: tmp, ASTRO_TELEMETRY_DISABLED: '1',
      CONVLENS_MANIFEST: resolve(PATHS.manifest), CONVLENS_PUBLIC_DIR: resolve(PATHS.publicDir),
    },
  });
  if (astro.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`astro build failed (exit ${astro.status}); the previous site in ${out} is untouched`);
  }
  addCspToSite(tmp);
  for (const [rel, text] of Object.entries(extra)) {
    mkdirSync(dirname(join(tmp, rel)), { recursive: true });
    writeFileSync(join(tmp, rel), text);
  }
  const old = `${out}.old-${process.pid}`;
  if (existsSync(out)) renameSync(out, old);
  renameSync(tmp, out);
  rmSync(old, { recursive: true, force: true });
}

/**
 * Where generated files go. By default inside the project (content/generated, public/generated); with
 * --work-dir or CONVLENS_WORK_DIR (tests, shards) in that folder, so a test run never replaces the developer's
 * last report data.
 */
interface Paths {
  publicDir: string;
  manifest: string;
  buildInfo: string;
}
function pathsFor(work: string | undefined): Paths {
  if (!work) return { publicDir: 'public', manifest: MANIFEST_PATH, buildInfo: 'content/generated/build-info.json' };
  const publicDir = join(work, 'public');
  // The site's static files travel with the generated ones.
  mkdirSync(publicDir, { recursive: true });
  cpSync('public', publicDir, { recursive: true, filter: (src) => !src.includes('generated') });
  return { publicDir, manifest: join(work, 'manifest.json'), buildInfo: join(work, 'build-info.json') };
}
const WORK_OPTION = option('work-dir') ?? process.env.CONVLENS_WORK_DIR;
const PATHS = pathsFor(WORK_OPTION ? resolve(WORK_OPTION) : undefined);

interface ModelTimes {
  train: number;
  evaluate: number;
  visualize: number;
  /** tf.memory().numTensors after the model's report minus before it: 0 when nothing leaked. */
  tensorsLeaked?: number;
}
interface BuildInfo {
  engine: string;
  computeSeconds: number;
  /** Peak resident memory of each computing process, in bytes. */
  peakRssBytes?: number[];
  builtAt: string;
  node: string;
  models: Record<string, ModelTimes>;
  attributionMilliseconds: Record<string, Record<string, number>>;
}

/** --config (validated), or the defaults; CLI options override the config's. */
let CONFIG: Config | undefined;
async function config(): Promise<Config> {
  if (CONFIG) return CONFIG;
  const file = option('config');
  CONFIG = file ? await loadConfig(file) : Config.parse({});
  return CONFIG;
}

/** The models this run may compute: a loaded model (--model), the config's models, or the default report's. */
async function specEntries(): Promise<SpecEntry[]> {
  const c = await config();
  const seed = option('seed') != null ? intOption('seed', c.seed) : c.seed;
  const modelPath = option('model');
  if (modelPath) {
    const dataDir = option('data') ?? fail('--model needs --data <image folder>');
    // Loaded when computed, after the engine is selected (not on tfjs's default backend).
    const opts = { modelPath, dataDir, classes: option('classes')?.split(','), scaling: option('scale') === '[-1,1]' ? '[-1,1]' as const : '/255' as const, seed };
    return [{ slug: loadedModelSlug(modelPath), cost: 1, inDefault: true, make: () => loadedModelSpec(opts) }];
  }
  return configEntries({ ...c, seed }, { epochs: option('epochs') != null ? intOption('epochs', 5) : undefined });
}

/** Options a parent passes on to its shard processes. */
function passThrough(): string[] {
  const out: string[] = [];
  for (const name of ['backend', 'epochs', 'seed', 'config']) {
    const v = option(name);
    if (v != null) out.push(`--${name}`, v);
  }
  if (process.argv.includes('--no-cache')) out.push('--no-cache');
  return out;
}

/** The pipeline: engine → data → train/load → evaluate → visualize → manifest (+ build info). */
async function compute(): Promise<void> {
  const t0 = performance.now();
  const shardText = option('shard');
  const shard = shardText ? parseShard(shardText) : undefined;
  const chosen = selectEntries(await specEntries(), { only: option('only')?.split(','), shard });
  let jobs = shard ? 1 : intOption('jobs', Math.max(1, Math.min(availableParallelism(), chosen.length)));
  if (jobs > 1 && !process.argv.includes('--no-cache')) {
    // Everything cached (a warm rerun): one process is faster than starting several.
    const engine = await selectBackend({ cli: option('backend'), env: process.env.CONVLENS_BACKEND, config: (await config()).backend });
    if (chosen.every((e) => hasCachedReport(e, engine.id))) jobs = 1;
  }
  if (jobs > 1 && chosen.length > 1 && !option('model')) {
    await computeInParallel(chosen.map((e) => e.slug), jobs);
  } else {
    await computeHere(chosen, shard);
  }
  const info = JSON.parse(readFileSync(PATHS.buildInfo, 'utf8')) as BuildInfo;
  info.computeSeconds = Number(((performance.now() - t0) / 1000).toFixed(2));
  writeFileSync(PATHS.buildInfo, `${JSON.stringify(info, null, 2)}\n`);
  printSummary(readManifest(PATHS.manifest), info, PATHS.publicDir);
  console.log(`report: compute ${info.computeSeconds.toFixed(1)} s`);
}

/** Compute `entries` in this process into PATHS. */
async function computeHere(entries: SpecEntry[], shard?: { index: number; count: number }): Promise<void> {
  const t0 = performance.now();
  const engine = await selectBackend({ cli: option('backend'), env: process.env.CONVLENS_BACKEND, config: (await config()).backend });
  console.log(engine.line);
  if (shard) console.log(`report: shard ${shard.index}/${shard.count}: ${entries.map((e) => e.slug).join(', ') || 'no models'}`);
  // Generated assets are rebuilt from scratch: stale images from an earlier run must not leak into the site.
  rmSync(join(PATHS.publicDir, 'generated'), { recursive: true, force: true });
  const models = [];
  const timings: Record<string, ModelTimes> = {};
  for (const entry of entries) {
    const tensors = tf.memory().numTensors;
    models.push(await cachedModelReport(entry, {
      backend: engine.id, publicDir: PATHS.publicDir, noCache: process.argv.includes('--no-cache'), log: (line) => console.log(line), timings,
    }));
    timings[entry.slug].tensorsLeaked = tf.memory().numTensors - tensors;
  }
  const methods = ATTRIBUTION_METHODS.map(({ id, title, family, signed, reference }) => ({ id, title, family, signed, reference }));
  writeManifest({ version: 1, engine: { backend: engine.id, line: engine.line }, methods, models }, PATHS.manifest);
  const info: BuildInfo = {
    engine: engine.line,
    computeSeconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    peakRssBytes: [process.resourceUsage().maxRSS * 1024],
    builtAt: new Date().toISOString(),
    node: process.version,
    models: timings,
    attributionMilliseconds: Object.fromEntries(
      models.map((m) => [m.slug, Object.fromEntries(m.samples[0]?.attributions.map((a) => [a.method, Number(a.milliseconds.toFixed(3))]) ?? [])]),
    ),
  };
  mkdirSync(dirname(PATHS.buildInfo), { recursive: true });
  writeFileSync(PATHS.buildInfo, `${JSON.stringify(info, null, 2)}\n`);
}

/** Run `jobs` shard processes (one model or more each) at once, then merge their outputs into PATHS. */
async function computeInParallel(slugs: string[], jobs: number): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'convlens-shards-'));
  try {
    console.log(`report: ${slugs.length} models in ${jobs} parallel processes`);
    const dirs = Array.from({ length: jobs }, (_, i) => join(root, `shard-${i + 1}`));
    const children: ChildProcess[] = [];
    // The first shard that fails stops the others: its error is the run's, and waiting for them is wasted time.
    const stopOthers = () => children.forEach((c) => c.exitCode == null && c.kill('SIGTERM'));
    const runs = dirs.map((dir, i) =>
      runShard([resolve('scripts/report.ts'), 'compute', '--shard', `${i + 1}/${jobs}`, '--work-dir', dir, '--only', slugs.join(','), ...passThrough()], `[${i + 1}/${jobs}] `, children)
        .then((code) => {
          if (code !== 0) stopOthers();
          return code;
        }),
    );
    const codes = await Promise.all(runs);
    const failed = codes.map((c, i) => (c === 0 ? 0 : i + 1)).filter((i) => i > 0);
    if (failed.length) throw new Error(`shard ${failed.join(', ')} of ${jobs} stopped (the first error is above); nothing was replaced`);
    mergeInto(dirs, slugs);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** One child process running this script, its lines prefixed; resolves to its exit code. */
function runShard(args: string[], prefix: string, children: ChildProcess[]): Promise<number> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [resolve('node_modules/tsx/dist/cli.mjs'), ...args], {
      env: { ...process.env, CONVLENS_WORK_DIR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const pipe = (from: NodeJS.ReadableStream, to: NodeJS.WriteStream) => {
      let rest = '';
      from.on('data', (d: Buffer) => {
        const lines = (rest + d.toString()).split(/\r?\n|\r/);
        rest = lines.pop() ?? '';
        for (const line of lines) if (line) to.write(`${prefix}${line}\n`);
      });
      from.on('end', () => rest && to.write(`${prefix}${rest}\n`));
    };
    pipe(child.stdout, process.stdout);
    pipe(child.stderr, process.stderr);
    child.on('error', reject);
    child.on('close', (code) => done(code ?? 1));
  });
}

/** Join shard work dirs into PATHS: one manifest, every model's assets, combined build info. */
function mergeInto(dirs: string[], order?: string[]): void {
  const manifests: Manifest[] = [];
  const infos: BuildInfo[] = [];
  for (const dir of dirs) {
    const m = join(dir, 'manifest.json');
    if (!existsSync(m)) throw new Error(`${dir}: no manifest.json; is it a shard's --work-dir after \`convlens compute --shard k/n\`?`);
    manifests.push(readManifest(m));
    const info = join(dir, 'build-info.json');
    if (existsSync(info)) infos.push(JSON.parse(readFileSync(info, 'utf8')) as BuildInfo);
  }
  const merged = mergeManifests(manifests, order);
  const generated = join(PATHS.publicDir, 'generated');
  rmSync(generated, { recursive: true, force: true });
  mkdirSync(generated, { recursive: true });
  for (const dir of dirs) {
    const from = join(dir, 'public', 'generated');
    if (existsSync(from)) cpSync(from, generated, { recursive: true });
  }
  writeManifest(merged, PATHS.manifest);
  const info: BuildInfo = {
    engine: [...new Set(infos.map((i) => i.engine))].join(' | '),
    computeSeconds: Math.max(0, ...infos.map((i) => i.computeSeconds)),
    peakRssBytes: infos.flatMap((i) => i.peakRssBytes ?? []),
    builtAt: new Date().toISOString(),
    node: process.version,
    models: Object.assign({}, ...infos.map((i) => i.models ?? {})),
    attributionMilliseconds: Object.assign({}, ...infos.map((i) => i.attributionMilliseconds ?? {})),
  };
  mkdirSync(dirname(PATHS.buildInfo), { recursive: true });
  writeFileSync(PATHS.buildInfo, `${JSON.stringify(info, null, 2)}\n`);
}

/** Closing summary: one row per model (accuracy, seconds per stage, pages, assets, bytes). */
function printSummary(manifest: Manifest, info: BuildInfo, publicDir: string): void {
  for (const m of manifest.models) {
    const acc = m.evaluation ? `test accuracy ${(m.evaluation.testAccuracy * 100).toFixed(2)} %` : 'untrained feature extractor';
    console.log(`report: ${m.title}: ${acc}, ${m.layers.length} layers, ${m.samples.length} samples`);
  }
  console.log('\nmodel                     accuracy   train s   eval s   visualize s   pages   assets      bytes');
  for (const m of manifest.models) {
    const t = info.models?.[m.slug] ?? { train: 0, evaluate: 0, visualize: 0 };
    const dir = join(publicDir, 'generated', m.slug);
    const files = existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((f) => /\.(png|webp|svg|npy)$/.test(f)) : [];
    const bytes = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    const pages = 1 + m.layers.length + (m.evaluation ? m.samples.length + 1 : 0);
    console.log(
      `${m.slug.slice(0, 25).padEnd(25)} ${(m.evaluation ? `${(m.evaluation.testAccuracy * 100).toFixed(2)} %` : '—').padStart(9)}` +
        ` ${t.train.toFixed(1).padStart(9)} ${t.evaluate.toFixed(1).padStart(8)} ${t.visualize.toFixed(1).padStart(13)}` +
        ` ${String(pages).padStart(7)} ${String(files.length).padStart(8)} ${String(bytes).padStart(10)}`,
    );
  }
}

/** The site from the manifest and assets of the last compute, swapped atomically into --out. */
function site(): void {
  const t0 = performance.now();
  const out = resolve(option('out') ?? CONFIG?.out ?? 'dist');
  const manifest = readManifest(PATHS.manifest);
  const extra: Record<string, string> = {};
  for (const model of manifest.models) extra[`models/${model.slug}/report.json`] = `${JSON.stringify(reportJson(model, manifest), null, 2)}\n`;
  if (existsSync(PATHS.buildInfo)) extra['build-info.json'] = readFileSync(PATHS.buildInfo, 'utf8');
  buildSite(out, extra);
  console.log(`report: site ${((performance.now() - t0) / 1000).toFixed(1)} s · ${out}`);
}

/**
 * `report` (default) = compute + site; `compute` and `site` run one half; `merge <dirs…>` joins shards' work
 * dirs and builds the site (convlens CLI subcommands).
 */
async function main(): Promise<void> {
  const mode = ['compute', 'site', 'report', 'merge'].includes(process.argv[2]) ? process.argv[2] : 'report';
  if (mode === 'merge') {
    const dirs: string[] = [];
    for (let i = 3; i < process.argv.length; i++) {
      if (process.argv[i].startsWith('--')) i++;
      else dirs.push(resolve(process.argv[i]));
    }
    if (dirs.length === 0) throw new Error('merge needs the work dirs of the shards: convlens merge shard-1 shard-2 … [--out dist]');
    await config();
    mergeInto(dirs);
    site();
    return;
  }
  await config(); // a bad config fails before any work
  if (mode !== 'site') await compute();
  if (mode !== 'compute') site();
}

main().catch((err) => {
  console.error(`convlens report failed: ${(err as Error).message}`);
  if (process.env.CONVLENS_DEBUG) console.error((err as Error).stack);
  process.exit(1);
});

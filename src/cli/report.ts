/**
 * `convlens report | compute | site | merge`: run the pipeline (engine → data → train/load → evaluate →
 * visualize → manifest), then build the site into a temporary folder and swap it into `--out`. A failed run
 * exits non-zero and leaves the previous site untouched. Paths follow src/home.ts: the package is only read;
 * generated files go to the working directory's `.convlens/` (or, in convlens's own checkout, where they
 * always went).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type EngineInfo, selectBackend } from '../engine/backend.ts';
import { dependencyFile, type Home, homeFor, PACKAGE_ROOT } from '../home.ts';
import { writeManifest } from '../manifest/write.ts';
import { readManifest } from '../manifest/read.ts';
import { reportJson } from '../manifest/report-json.ts';
import { addCspToSite } from '../site/csp.ts';
import { findConfig, loadConfig } from '../config/load.ts';
import { Config } from '../config/schema.ts';
import { configEntries, sizeOptions } from '../config/specs.ts';
import { loadedModelEntry, MIN_SAMPLES_PER_JOB } from '../pipeline/loaded-model.ts';
import { mergeManifests } from '../pipeline/merge.ts';
import { cachedModelReport, hasCachedReport } from '../pipeline/report-cache.ts';
import { parseShard, referenceProcesses, selectEntries, type SpecEntry } from '../pipeline/shards.ts';
import type { Manifest } from '../manifest/schema.ts';
import { ATTRIBUTION_METHODS } from '../viz/registry.ts';
import { intValue, type Parsed, UsageError } from './args.ts';
import { joinBase, siteBase } from '../site/base.ts';
import { Changes } from '../manifest/changes.ts';
import { compareWithPrevious, reportIndex } from '../pipeline/compare/compare.ts';
import { changesMarkdown } from '../pipeline/compare/markdown.ts';
import { openPrevious, PreviousUnavailable, previousLabel } from '../pipeline/compare/previous.ts';

type Values = Parsed['values'];

/** The environment minus what switches Astro/Vite out of a production build (NODE_ENV, a test runner's flags). */
function withoutNodeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const drop = new Set(['NODE_ENV', 'TEST', 'DEV', 'PROD', 'MODE', 'BASE_URL', 'SSR']);
  return Object.fromEntries(Object.entries(env).filter(([k]) => !drop.has(k) && !k.startsWith('VITEST')));
}

/** Where generated files go: the home's places, or --work-dir (tests, shards) with the same inner layout. */
interface Paths {
  publicDir: string;
  manifest: string;
  buildInfo: string;
  /** This build's comparison with the previous report (--compare), beside the manifest. */
  changes: string;
}
function pathsFor(home: Home, work: string | undefined): Paths {
  const paths = work
    ? { publicDir: join(work, 'public'), manifest: join(work, 'manifest.json'), buildInfo: join(work, 'build-info.json') }
    : { publicDir: home.publicDir, manifest: home.manifest, buildInfo: home.buildInfo };
  const withChanges = { ...paths, changes: join(dirname(paths.manifest), 'changes.json') };
  if (work || !home.own) {
    // The site's static files (favicon) travel with the generated ones: the package folder is never written.
    mkdirSync(paths.publicDir, { recursive: true });
    cpSync(join(PACKAGE_ROOT, 'public'), paths.publicDir, { recursive: true, filter: (src) => !src.includes('generated') });
  }
  return withChanges;
}

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

/** One run of the command: its options, home, paths and config. */
export class ReportRun {
  readonly home: Home;
  readonly paths: Paths;
  private config?: Config;
  private configFile?: string;

  constructor(readonly mode: 'report' | 'compute' | 'site' | 'merge', readonly values: Values, readonly positionals: string[] = []) {
    this.home = homeFor(process.cwd());
    const work = this.str('work-dir') ?? (process.env.CONVLENS_WORK_DIR || undefined);
    this.paths = pathsFor(this.home, work ? resolve(work) : undefined);
  }

  private str(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }
  private flag(name: string): boolean {
    return this.values[name] === true;
  }

  /** --config, else convlens.config.* in the working directory, else the defaults. */
  async loadConfig(): Promise<Config> {
    if (this.config) return this.config;
    this.configFile = this.str('config') ?? findConfig(this.home.cwd);
    this.config = this.configFile ? await loadConfig(this.configFile) : Config.parse({});
    return this.config;
  }

  /** The config with --budget applied. */
  private sized(c: Config): Config {
    const b = this.str('budget');
    if (b == null) return c;
    if (b === 'off' || b === 'false') return { ...c, budget: false };
    const budget = Number(b);
    if (!(budget > 0)) throw new UsageError(`--budget: expected seconds (a positive number) or 'off', got '${b}'`);
    return { ...c, budget };
  }

  private seed(c: Config): number {
    return intValue(this.values, 'seed', c.seed)!;
  }

  /** The models this run may compute: a loaded model (--model), the config's models, or the default report's. */
  async specEntries(): Promise<SpecEntry[]> {
    const c = await this.loadConfig();
    const modelPath = this.str('model');
    if (modelPath) {
      const dataDir = this.str('data') ?? fail('--model needs --data <image folder>');
      return [loadedModelEntry({
        modelPath, dataDir, classes: this.str('classes'), scaling: this.str('scale'), seed: this.seed(c),
        samplesMax: intValue(this.values, 'samples', c.samples.max), cwd: this.home.cwd,
      }, { samples: c.samples, methods: c.methods, layers: c.layers, ...sizeOptions(this.sized(c)) })];
    }
    if (this.str('data')) throw new UsageError('--data goes with --model (a model file to explain); in a config, models[].data');
    if (!c.models && !this.home.own) {
      throw new UsageError(
        `no convlens.config.ts in ${this.home.cwd}: run \`npx convlens init\` to write one, or explain a model directly with ` +
          '`npx convlens report --model model.json --data photos/`',
      );
    }
    return configEntries({ ...this.sized(c), seed: this.seed(c), samples: { ...c.samples, max: intValue(this.values, 'samples', c.samples.max)! } }, { epochs: intValue(this.values, 'epochs') }, this.configFile ? dirname(resolve(this.configFile)) : this.home.cwd);
  }

  /** Options a parent passes on to its shard processes. */
  private passThrough(): string[] {
    const out: string[] = [];
    for (const name of ['backend', 'epochs', 'seed', 'config', 'model', 'data', 'classes', 'scale', 'samples', 'budget']) {
      const v = this.str(name);
      if (v != null) out.push(`--${name}`, v);
    }
    if (this.flag('no-cache')) out.push('--no-cache');
    return out;
  }

  private engineInfo?: EngineInfo;

  private async engine(): Promise<EngineInfo> {
    this.engineInfo ??= await selectBackend({ cli: this.str('backend'), env: process.env.CONVLENS_BACKEND, config: (await this.loadConfig()).backend });
    return this.engineInfo;
  }

  /** Processes of this report on the reference machine (set by compute). */
  private processes = 1;

  /** The pipeline into this run's paths, in this process or in parallel shard processes. */
  async compute(): Promise<void> {
    const t0 = performance.now();
    const shardText = this.str('shard');
    const shard = shardText ? parseShard(shardText) : undefined;
    const only = this.str('only')?.split(',');
    const all = await this.specEntries();
    const chosen = selectEntries(all, { only, shard });
    // What the estimates assume: the processes of this report on the reference machine (never this machine's cores).
    this.processes = referenceProcesses(only ? all.filter((e) => only.includes(e.slug)) : all, MIN_SAMPLES_PER_JOB);
    // One process per core, at most one per model — or, for a loaded model, its samples split over the cores when
    // each process gets at least MIN_SAMPLES_PER_JOB of them (a process costs seconds to start and load the model;
    // a large model's sample costs more than that, and its first process also computes the model-wide views).
    const splittable = chosen.some((e) => e.splitBySample);
    const splitJobs = Math.max(1, ...chosen.filter((e) => e.splitBySample).map((e) => Math.floor(countSamples(e) / (e.samplesPerJob?.() ?? MIN_SAMPLES_PER_JOB))));
    let jobs = shard ? 1 : intValue(this.values, 'jobs', Math.max(1, Math.min(availableParallelism(), Math.max(chosen.length, splittable ? splitJobs : 1))))!;
    if (jobs > 1 && !this.flag('no-cache')) {
      // Everything cached (a warm rerun): one process is faster than starting several.
      const engine = await this.engine();
      if (chosen.every((e) => hasCachedReport(e, engine.id, this.home.reportCache, this.processes))) jobs = 1;
    }
    if (jobs > 1 && (chosen.length > 1 || splittable)) await this.computeInParallel(chosen.map((e) => e.slug), jobs);
    else {
      // Alone on the machine (one model, a CI shard, or --jobs 1): XNNPACK gets every core this process may use
      // (CONVLENS_THREADS=auto), unless CONVLENS_THREADS says otherwise or the engine already started.
      if (!process.env.CONVLENS_THREADS?.trim() && !this.engineInfo) process.env.CONVLENS_THREADS = 'auto';
      await this.computeHere(chosen, shard);
    }
    const info = JSON.parse(readFileSync(this.paths.buildInfo, 'utf8')) as BuildInfo;
    info.computeSeconds = Number(((performance.now() - t0) / 1000).toFixed(2));
    writeFileSync(this.paths.buildInfo, `${JSON.stringify(info, null, 2)}\n`);
    printSummary(readManifest(this.paths.manifest), info, this.paths.publicDir);
    console.log(`report: compute ${info.computeSeconds.toFixed(1)} s`);
  }

  /** Compute `entries` in this process. */
  private async computeHere(entries: SpecEntry[], shard?: { index: number; count: number }): Promise<void> {
    const t0 = performance.now();
    const engine = await this.engine();
    console.log(engine.line);
    if (shard) console.log(`report: shard ${shard.index}/${shard.count}: ${entries.map((e) => e.slug).join(', ') || 'no models'}`);
    // Generated assets are rebuilt from scratch: stale images from an earlier run must not leak into the site.
    rmSync(join(this.paths.publicDir, 'generated'), { recursive: true, force: true });
    const models = [];
    const timings: Record<string, ModelTimes> = {};
    for (const entry of entries) {
      const tensors = tf.memory().numTensors;
      models.push(await cachedModelReport(entry, {
        backend: engine.id, publicDir: this.paths.publicDir, noCache: this.flag('no-cache'), log: (line) => console.log(line), timings, processes: this.processes,
        cacheDir: this.home.modelCache, reportCacheDir: this.home.reportCache,
      }));
      timings[entry.slug].tensorsLeaked = tf.memory().numTensors - tensors;
    }
    const methods = ATTRIBUTION_METHODS.map(({ id, title, family, signed, reference }) => ({ id, title, family, signed, reference }));
    writeManifest({ version: 1, engine: { backend: engine.id, line: engine.line }, methods, models }, this.paths.manifest);
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
    mkdirSync(dirname(this.paths.buildInfo), { recursive: true });
    writeFileSync(this.paths.buildInfo, `${JSON.stringify(info, null, 2)}\n`);
  }

  /** Run `jobs` shard processes at once, then merge their outputs. */
  private async computeInParallel(slugs: string[], jobs: number): Promise<void> {
    const root = mkdtempSync(join(tmpdir(), 'convlens-shards-'));
    try {
      console.log(`report: ${slugs.length} model${slugs.length > 1 ? 's' : ''} in ${jobs} parallel processes`);
      const dirs = Array.from({ length: jobs }, (_, i) => join(root, `shard-${i + 1}`));
      const children: ChildProcess[] = [];
      // The first shard that fails stops the others: its error is the run's, and waiting for them is wasted time.
      const stopOthers = () => children.forEach((c) => c.exitCode == null && c.kill('SIGTERM'));
      const runs = dirs.map((dir, i) =>
        runShard(['compute', '--shard', `${i + 1}/${jobs}`, '--work-dir', dir, '--only', slugs.join(','), ...this.passThrough()], `[${i + 1}/${jobs}] `, children, jobs)
          .then((code) => {
            if (code !== 0) stopOthers();
            return code;
          }),
      );
      const codes = await Promise.all(runs);
      const failed = codes.map((c, i) => (c === 0 ? 0 : i + 1)).filter((i) => i > 0);
      if (failed.length) throw new Error(`shard ${failed.join(', ')} of ${jobs} stopped (the first error is above); nothing was replaced`);
      this.mergeInto(dirs, slugs, true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }

  /** Join shard work dirs: one manifest, every model's assets (moved out of `dirs` when `move`), combined build info. */
  mergeInto(dirs: string[], order?: string[], move = false): void {
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
    const generated = join(this.paths.publicDir, 'generated');
    rmSync(generated, { recursive: true, force: true });
    mkdirSync(generated, { recursive: true });
    for (const dir of dirs) {
      const from = join(dir, 'public', 'generated');
      if (!existsSync(from)) continue;
      // Our own shard folders are moved (one rename per model folder, where the file system allows), a user's
      // shard work dirs (`convlens merge`) copied.
      for (const entry of readdirSync(from)) {
        if (move && !existsSync(join(generated, entry))) {
          try {
            renameSync(join(from, entry), join(generated, entry));
            continue;
          } catch {
            // another file system: copy below
          }
        }
        cpSync(join(from, entry), join(generated, entry), { recursive: true });
      }
    }
    writeManifest(merged, this.paths.manifest);
    const info: BuildInfo = {
      engine: [...new Set(infos.map((i) => i.engine))].join(' | '),
      computeSeconds: Math.max(0, ...infos.map((i) => i.computeSeconds)),
      peakRssBytes: infos.flatMap((i) => i.peakRssBytes ?? []),
      builtAt: new Date().toISOString(),
      node: process.version,
      models: mergeTimes(infos.map((i) => i.models ?? {})),
      // A split model's first sample is explained by part 1: keep the non-empty timings.
      attributionMilliseconds: Object.assign({}, ...infos.flatMap((i) => Object.entries(i.attributionMilliseconds ?? {}).filter(([, ms]) => Object.keys(ms).length > 0).map(([k, ms]) => ({ [k]: ms })))),
    };
    mkdirSync(dirname(this.paths.buildInfo), { recursive: true });
    writeFileSync(this.paths.buildInfo, `${JSON.stringify(info, null, 2)}\n`);
  }

  /** The site from the manifest and assets of the last compute, swapped atomically into --out. */
  async site(): Promise<void> {
    const t0 = performance.now();
    const out = resolve(this.str('out') ?? this.config?.out ?? 'dist');
    const manifest = readManifest(this.paths.manifest);
    const extra: Record<string, string> = {};
    for (const model of manifest.models) extra[`models/${model.slug}/report.json`] = `${JSON.stringify(reportJson(model, manifest), null, 2)}\n`;
    extra['report.json'] = `${JSON.stringify(reportIndex(manifest), null, 2)}\n`;
    if (existsSync(this.paths.buildInfo)) extra['build-info.json'] = readFileSync(this.paths.buildInfo, 'utf8');
    const { base, site } = siteBase(this.str('base'), process.env.CONVLENS_SITE_URL);
    const changes = await this.compare(manifest);
    if (changes) {
      extra['changes.json'] = `${JSON.stringify(changes, null, 2)}\n`;
      // Links into the published site when its address is known (CI), else relative to the site's root.
      const link = (path: string) => (process.env.CONVLENS_SITE_URL ? `${site}${joinBase(base, path)}` : path.replace(/^\//, ''));
      extra['changes.md'] = changesMarkdown(changes, link);
    }
    buildSite(out, extra, {
      CONVLENS_MANIFEST: resolve(this.paths.manifest), CONVLENS_PUBLIC_DIR: resolve(this.paths.publicDir), CONVLENS_CHANGES: resolve(this.paths.changes),
      CONVLENS_BASE: base, CONVLENS_SITE_URL: site, ...(this.home.own ? {} : { CONVLENS_SRC_DIR: join(PACKAGE_ROOT, 'src') }),
    }, this.home.siteRoot);
    console.log(`report: site ${((performance.now() - t0) / 1000).toFixed(1)} s · ${out}${base !== '/' ? ` (served under ${base})` : ''}`);
  }

  /**
   * --compare <site>: this report against the previous one, written beside the manifest (the pages read it) with
   * the old maps it shows drawn under generated/<model>/changes/. Without --compare, an earlier comparison's files
   * are removed so that no page shows a stale one.
   */
  private async compare(manifest: Manifest): Promise<Changes | undefined> {
    rmSync(this.paths.changes, { force: true });
    for (const m of manifest.models) rmSync(join(this.paths.publicDir, 'generated', m.slug, 'changes'), { recursive: true, force: true });
    const spec = this.str('compare');
    if (!spec) return undefined;
    const t0 = performance.now();
    let changes: Changes;
    try {
      changes = await compareWithPrevious({ manifest, publicDir: this.paths.publicDir, site: openPrevious(spec, this.home.cwd) });
    } catch (err) {
      if (!(err instanceof PreviousUnavailable)) throw err;
      changes = { version: 1, previous: previousLabel(spec), status: 'unavailable', note: err.message, models: [] };
    }
    changes = Changes.parse(changes); // the schema the pages and CI read
    writeFileSync(this.paths.changes, `${JSON.stringify(changes, null, 2)}\n`);
    console.log(`report: compare ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (changes.status === 'unavailable') console.log(`report: no comparison: ${changes.note}`);
    else {
      for (const m of changes.models) {
        const what = m.status === 'compared' ? `${m.flipped.length} prediction${m.flipped.length === 1 ? '' : 's'} flipped of ${m.samples.compared}` : m.status;
        console.log(`report: compared ${m.id} with ${changes.previous}: ${what}${m.note ? ` (${m.note})` : ''}`);
      }
    }
    return changes;
  }

  async run(): Promise<void> {
    if (this.mode === 'merge') {
      if (this.positionals.length === 0) throw new UsageError('merge needs the work dirs of the shards: convlens merge shard-1 shard-2 … [--out dist]');
      await this.loadConfig();
      this.mergeInto(this.positionals.map((p) => resolve(p)));
      await this.site();
      return;
    }
    await this.loadConfig(); // a bad config fails before any work
    if (this.mode !== 'compute') checkDependencies(this.home.siteRoot);
    if (this.mode !== 'site') await this.compute();
    if (this.mode !== 'compute') await this.site();
  }
}



/** Seconds per stage of each model; the parts of a split model ran side by side, so the longest part counts. */
function mergeTimes(parts: Array<Record<string, ModelTimes>>): Record<string, ModelTimes> {
  const out: Record<string, ModelTimes> = {};
  for (const times of parts) {
    for (const [slug, t] of Object.entries(times)) {
      const o = out[slug];
      out[slug] = o ? {
        train: Math.max(o.train, t.train), evaluate: Math.max(o.evaluate, t.evaluate), visualize: Math.max(o.visualize, t.visualize),
        tensorsLeaked: (o.tensorsLeaked ?? 0) + (t.tensorsLeaked ?? 0),
      } : t;
    }
  }
  return out;
}

/** A split model's sample count, or 0 when its folder cannot be read (loading it will then say why). */
function countSamples(e: SpecEntry): number {
  try {
    return e.sampleCount?.() ?? 0;
  } catch {
    return 0;
  }
}

function fail(message: string): never {
  throw new UsageError(message);
}

/** Build the site into a fresh folder next to `out`, add `extra` files, then replace `out` with it. */
function buildSite(out: string, extra: Record<string, string>, env: Record<string, string>, root: string): void {
  const tmp = `${out}.building-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  // The package's config, pages, components and content; Astro writes only under `root` (its types and caches)
  // and to the output folder (Astro joins --config to --root, so it is given relative to it). It runs in the working directory: Astro puts its server build in <cwd>/.astro/
  // when the output folder lies outside the working directory.
  mkdirSync(root, { recursive: true });
  checkDependencies(root);
  const astro = spawnSync(process.execPath, [dependencyFile('astro', 'astro.js'), 'build', '--root', root, '--config', relative(root, join(PACKAGE_ROOT, 'astro.config.mjs'))], {
    stdio: 'inherit',
    cwd: process.cwd(),
    // Without NODE_ENV and test-runner flags: under vitest (NODE_ENV=test, DEV=1, MODE=test) Astro renders pages as
    // in development (no search); unset, `astro build` uses production throughout.
    env: { ...withoutNodeEnv(process.env), CONVLENS_OUT_DIR: tmp, ASTRO_TELEMETRY_DISABLED: '1', ...env },
  });
  if (astro.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`astro build failed (exit ${astro.status}); the previous site in ${out} is untouched`);
  }
  // Astro's content-layer build files, which it leaves in the output folder when that lies outside the root: not site files.
  for (const leftover of ['collections', 'content-assets.mjs', 'content-modules.mjs']) rmSync(join(tmp, leftover), { recursive: true, force: true });
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
 * Astro resolves the routes Starlight injects ('@astrojs/starlight/routes/…') from the site's root, so the
 * project's node_modules must hold convlens's dependencies: convlens installed in the project, as the README says.
 */
function checkDependencies(root: string): void {
  if (resolve(root) === PACKAGE_ROOT) return;
  // Node's module lookup: node_modules/@astrojs/starlight in the root or any folder above it.
  for (let dir = resolve(root); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules/@astrojs/starlight/package.json'))) return;
    if (dirname(dir) === dir) break;
  }
  throw new UsageError(
    `convlens is not installed in ${process.cwd()} (the site is built from the project's node_modules): ` +
      'run `npm install --save-dev convlens` here, then `npx convlens report`',
  );
}

/** One child process running the CLI, its lines prefixed; resolves to its exit code. */
function runShard(args: string[], prefix: string, children: ChildProcess[], jobs: number): Promise<number> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [dependencyFile('tsx', 'dist/cli.mjs'), join(PACKAGE_ROOT, 'scripts/cli.ts'), ...args], {
      // Each shard's engine takes the cores left to it (CONVLENS_THREADS=auto: cores / jobs XNNPACK threads)
      // unless the user chose a thread count.
      env: { ...process.env, CONVLENS_WORK_DIR: '', CONVLENS_JOBS: String(jobs), CONVLENS_THREADS: process.env.CONVLENS_THREADS || 'auto' },
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

/** Closing summary: one row per model (accuracy, seconds per stage, pages, assets, bytes). */
function printSummary(manifest: Manifest, info: BuildInfo, publicDir: string): void {
  for (const m of manifest.models) {
    const acc = m.evaluation ? `test accuracy ${(m.evaluation.testAccuracy * 100).toFixed(2)} %` : m.dataset.labeled === false ? `${m.dataset.testCount} photos, unlabeled` : 'untrained feature extractor';
    console.log(`report: ${m.title}: ${acc}, ${m.layers.length} layers, ${m.samples.length} samples`);
  }
  console.log('\nmodel                     accuracy   train s   eval s   visualize s   pages   assets      bytes');
  for (const m of manifest.models) {
    const t = info.models?.[m.slug] ?? { train: 0, evaluate: 0, visualize: 0 };
    const dir = join(publicDir, 'generated', m.slug);
    const files = existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((f) => /\.(png|webp|svg|npy)$/.test(f)) : [];
    const bytes = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    const pages = 1 + m.layers.length + m.samples.length + (m.evaluation ? 1 : 0);
    console.log(
      `${m.slug.slice(0, 25).padEnd(25)} ${(m.evaluation ? `${(m.evaluation.testAccuracy * 100).toFixed(2)} %` : '—').padStart(9)}` +
        ` ${t.train.toFixed(1).padStart(9)} ${t.evaluate.toFixed(1).padStart(8)} ${t.visualize.toFixed(1).padStart(13)}` +
        ` ${String(pages).padStart(7)} ${String(files.length).padStart(8)} ${String(bytes).padStart(10)}`,
    );
  }
}

/**
 * `npm run report`: run the pipeline (engine → data → train → evaluate → manifest), then build the site
 * into a temporary folder and swap it into `--out` (default dist/). A failed run exits non-zero and leaves
 * the previous site untouched.
 *
 * Options: --backend <node-gpu|node|wasm|cpu>, --out <dir>, --epochs <n> (default 5), --seed <n>, --no-cache,
 * --only <model,…> (slugs of the default report), --model <model.json|.h5|.keras> --data <image folder>
 * [--classes a,b,…] [--scale /255|[-1,1]] (explain your own model instead of the default report).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { selectBackend } from '../src/engine/backend.ts';
import { writeManifest } from '../src/manifest/write.ts';
import { MANIFEST_PATH, readManifest } from '../src/manifest/read.ts';
import { reportJson } from '../src/manifest/report-json.ts';
import { addCspToSite } from '../src/site/csp.ts';
import { defaultSpecs } from '../src/pipeline/default-report.ts';
import { loadedModelSpec } from '../src/pipeline/loaded-model.ts';
import { modelReport } from '../src/pipeline/model-report.ts';
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
      CONVLENS_MANIFEST: resolve(MANIFEST), CONVLENS_PUBLIC_DIR: resolve(PUBLIC_DIR),
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
 * CONVLENS_WORK_DIR (tests) in that folder, so a test run never replaces the developer's last report data.
 */
const WORK = process.env.CONVLENS_WORK_DIR ? resolve(process.env.CONVLENS_WORK_DIR) : undefined;
const PUBLIC_DIR = WORK ? join(WORK, 'public') : 'public';
const MANIFEST = WORK ? join(WORK, 'manifest.json') : MANIFEST_PATH;
const BUILD_INFO = WORK ? join(WORK, 'build-info.json') : 'content/generated/build-info.json';
if (WORK) {
  // The site's static files travel with the generated ones.
  mkdirSync(PUBLIC_DIR, { recursive: true });
  cpSync('public', PUBLIC_DIR, { recursive: true, filter: (src) => !src.includes('generated') });
}

/** The pipeline: engine → data → train/load → evaluate → visualize → manifest (+ build info). */
async function compute(): Promise<void> {
  const t0 = performance.now();
  const engine = await selectBackend({ cli: option('backend'), env: process.env.CONVLENS_BACKEND });
  console.log(engine.line);
  // Generated assets are rebuilt from scratch: stale images from an earlier run must not leak into the site.
  rmSync(join(PUBLIC_DIR, 'generated'), { recursive: true, force: true });
  const only = option('only')?.split(',');
  const seed = intOption('seed', 2);
  const modelPath = option('model');
  const specs = modelPath
    ? [await loadedModelSpec({ modelPath, dataDir: option('data') ?? fail('--model needs --data <image folder>'), classes: option('classes')?.split(','), scaling: option('scale') === '[-1,1]' ? '[-1,1]' : '/255', seed })]
    : defaultSpecs({ epochs: intOption('epochs', 5), seed, only });
  if (specs.length === 0) throw new Error(`--only ${only?.join(',')}: no such model (models: lenet5-fashion-mnist, random-cnn-shapes, mobilenetv2-shapes)`);
  const models = [];
  const timings: Record<string, { train: number; evaluate: number; visualize: number }> = {};
  for (const spec of specs) {
    models.push(await modelReport(spec, {
      backend: engine.id, publicDir: PUBLIC_DIR, noCache: process.argv.includes('--no-cache'), log: (line) => console.log(line), timings,
    }));
  }
  mkdirSync(dirname(MANIFEST), { recursive: true });
  const methods = ATTRIBUTION_METHODS.map(({ id, title, family, signed, reference }) => ({ id, title, family, signed, reference }));
  writeManifest({ version: 1, engine: { backend: engine.id, line: engine.line }, methods, models }, MANIFEST);
  writeFileSync(BUILD_INFO, `${JSON.stringify({
    engine: engine.line,
    computeSeconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    builtAt: new Date().toISOString(),
    node: process.version,
    attributionMilliseconds: Object.fromEntries(
      models.map((m) => [m.slug, Object.fromEntries(m.samples[0]?.attributions.map((a) => [a.method, Number(a.milliseconds.toFixed(3))]) ?? [])]),
    ),
  }, null, 2)}\n`);
  for (const m of models) {
    const acc = m.evaluation ? `test accuracy ${(m.evaluation.testAccuracy * 100).toFixed(2)} %` : 'untrained feature extractor';
    console.log(`report: ${m.title}: ${acc}, ${m.layers.length} layers, ${m.samples.length} samples`);
  }
  // Closing summary: one row per model.
  console.log('\nmodel                     accuracy   train s   eval s   visualize s   pages   assets      bytes');
  for (const m of models) {
    const t = timings[m.slug];
    const dir = join(PUBLIC_DIR, 'generated', m.slug);
    const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => /\.(png|webp|svg|npy)$/.test(f));
    const bytes = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    const pages = 1 + m.layers.length + (m.evaluation ? m.samples.length + 1 : 0);
    console.log(
      `${m.slug.slice(0, 25).padEnd(25)} ${(m.evaluation ? `${(m.evaluation.testAccuracy * 100).toFixed(2)} %` : '—').padStart(9)}` +
        ` ${t.train.toFixed(1).padStart(9)} ${t.evaluate.toFixed(1).padStart(8)} ${t.visualize.toFixed(1).padStart(13)}` +
        ` ${String(pages).padStart(7)} ${String(files.length).padStart(8)} ${String(bytes).padStart(10)}`,
    );
  }
  console.log(`report: compute ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** The site from the manifest and assets of the last compute, swapped atomically into --out. */
function site(): void {
  const t0 = performance.now();
  const out = resolve(option('out') ?? 'dist');
  const manifest = readManifest(MANIFEST);
  const extra: Record<string, string> = {};
  for (const model of manifest.models) extra[`models/${model.slug}/report.json`] = `${JSON.stringify(reportJson(model, manifest), null, 2)}\n`;
  if (existsSync(BUILD_INFO)) extra['build-info.json'] = readFileSync(BUILD_INFO, 'utf8');
  buildSite(out, extra);
  console.log(`report: site ${((performance.now() - t0) / 1000).toFixed(1)} s · ${out}`);
}

/** `report` (default) = compute + site; `compute` and `site` run one half (convlens CLI subcommands). */
async function main(): Promise<void> {
  const mode = ['compute', 'site', 'report'].includes(process.argv[2]) ? process.argv[2] : 'report';
  if (mode !== 'site') await compute();
  if (mode !== 'compute') site();
}

main().catch((err) => {
  console.error(`convlens report failed: ${(err as Error).message}`);
  if (process.env.CONVLENS_DEBUG) console.error((err as Error).stack);
  process.exit(1);
});

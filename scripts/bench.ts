/**
 * `npm run bench`: LeNet-5 on real Fashion-MNIST for every backend that loads here.
 * Training images/s at batch 64 and 256 (median of 3 blocks of ≥ 10,000 images after a warm-up), inference
 * images/s over the 10k test set, test accuracy after 3 epochs. Prints a table with ratios to the first
 * backend and writes bench/results.json. A benchmark, not a test: nothing here passes or fails.
 *
 * It also times explanations on LeNet-5: Grad-CAM (batched) and occlusion (4x4 patch, stride 2) per image.
 * A user's model: MobileNetV2 1.0 and VGG16 at 224x224 with random weights, the whole visualize step (every method
 * with faithfulness, every layer, activation maximization, randomization, class images) on photo-like inputs with the
 * default engine — seconds per view per image, the memory plan and the process's peak RSS, in results.json under
 * `userModels`, with each view's estimate (the cost model) beside the seconds it took. --skip-user-models leaves them out.
 * Passes (scripts/bench-passes.ts): forward and input-gradient ms per image of a Teachable-Machine-style model and
 * ResNet-18 at 224, against PyTorch interleaved (`passes` in results.json; --skip-passes leaves them out).
 * Convnets (scripts/bench-convnets.ts): the GAP CNN and MobileNetV2 α0.35 @64 training and inference, MobileNetV2
 * 1.0 @224 inference and Grad-CAM, against PyTorch in the same run when Debian's python3-torch is installed
 * (`convnets` in results.json; --profile adds per-kernel profiles; --skip-convnets leaves them out).
 * Options: --backends wasm,cpu (default: every backend that loads), --quick (smaller blocks, for a smoke run),
 * --skip-lenet.
 * The pure-JS cpu backend trains at ~17 images/s, so its blocks are cut to 256 images and its 3-epoch accuracy
 * (≈ 3 hours) is skipped unless --full is given; results.json says so in `note`.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BackendId, BACKEND_IDS, selectBackend } from '../src/engine/backend.ts';
import type { ImageArrays } from '../src/data/batches.ts';
import { makeBatch } from '../src/data/batches.ts';
import { locateFashionMnist, readMnistSplit } from '../src/data/idx.ts';
import { lenet5 } from '../src/models/lenet5.ts';
import { evaluate, fit } from '../src/train/fit.ts';
import { gradCam } from '../src/viz/methods/grad-cam.ts';
import { occlusion } from '../src/viz/methods/occlusion.ts';
import type { Dataset } from '../src/data/dataset.ts';
import { mobileNetV2 } from '../src/models/mobilenet-v2.ts';
import { vgg } from '../src/models/vgg.ts';
import { visualize } from '../src/pipeline/visualize.ts';
import type { ViewTimes } from '../src/pipeline/visualize-options.ts';
import { benchPasses, type PassResult } from './bench-passes.ts';
import { batchLimits, measureCost, memoryBudget } from '../src/viz/budget.ts';
import { benchConvnets, type ConvnetResult } from './bench-convnets.ts';

interface UserModelResult {
  model: string;
  images: number;
  gflops: number;
  batch: { forward: number; gradient: number };
  /** Seconds per image of each attribution method, without its deletion/insertion curves. */
  method_s_per_img: Record<string, number>;
  /** Seconds of each stage of the visualize step (attributions with faithfulness, layers, randomization, …). */
  stages_s: Record<string, number>;
  total_s: number;
  peak_rss_gib: number;
  /** Each view's seconds: the cost model's estimate (before running) and what it took. */
  views: ViewTimes;
  /** The progress bar's ETA when 5 % of the work was done, and the seconds the rest took. */
  eta_at_5pct_s?: { eta: number; actual: number };
}

/** The visualize step of a 224x224 model with random weights on `images` photo-like inputs (seeded noise + shapes). */
async function userModel(name: string, build: () => tf.LayersModel, images: number): Promise<UserModelResult> {
  const model = build();
  const [H, W, C] = model.inputs[0].shape.slice(1) as number[];
  const K = (model.outputs[0].shape[1] as number) ?? 1000;
  const pixels = new Uint8Array(images * H * W * C);
  let seed = 7;
  for (let i = 0; i < pixels.length; i++) pixels[i] = ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24) & 0xff;
  const data: Dataset = {
    name: 'photos', classes: Array.from({ length: K }, (_, k) => `class ${k}`), ids: Array.from({ length: images }, (_, i) => `photo-${i}.jpg`),
    images: pixels, labels: new Int32Array(images).fill(-1), count: images, shape: [H, W, C], numClasses: K, scale: 1 / 127.5, offset: -1, range: [-1, 1],
  };
  const cost = await measureCost(model);
  const memory = memoryBudget(cost);
  const limits = batchLimits(cost, memory);
  const stages: Record<string, number> = {};
  let views: ViewTimes = {};
  let eta: { eta: number; actual: number } | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'convlens-bench-'));
  const t0 = performance.now();
  try {
    const v = await visualize({
      model, slug: name, data, sampleIndices: Array.from({ length: images }, (_, i) => i), publicDir: dir, seed: 2, cost, limits, memory,
      onTimes: (t, at5) => {
        views = t;
        eta = at5;
      },
      log: (line) => {
        const m = /: (.*) in ([\d.]+) s$/.exec(line);
        if (m) stages[m[1]] = Number(m[2]);
      },
    });
    return {
      model: name, images, gflops: Number((cost.flops / 1e9).toFixed(2)), batch: limits,
      method_s_per_img: Object.fromEntries(v.samples[0].attributions.map((a) => [a.method, Number((a.milliseconds / 1000).toFixed(2))])),
      stages_s: stages, total_s: Number(((performance.now() - t0) / 1000).toFixed(1)),
      peak_rss_gib: Number((process.resourceUsage().maxRSS / 2 ** 20).toFixed(2)), views, eta_at_5pct_s: eta,
    };
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Result {
  backend: BackendId;
  train_img_per_s: { '64': number; '256': number };
  infer_img_per_s: number;
  test_acc_3ep: number | null;
  /** Grad-CAM on conv2d_1, batched over 256 test images, ms per image (median of 3). */
  gradcam_ms_per_img: number;
  /** Occlusion, 4x4 patch at stride 2: 169 occluded copies + the original per image, ms per image. */
  occlusion_ms_per_img: number;
  block_images: number;
  note?: string;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const quick = process.argv.includes('--quick');
const full = process.argv.includes('--full');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function load(split: 'train' | 'test'): ImageArrays {
  const s = readMnistSplit(locateFashionMnist(), split);
  return { images: s.images, labels: s.labels, count: s.count, shape: [s.height, s.width, 1], numClasses: 10 };
}

function trainRate(train: ImageArrays, batchSize: number, blockImages: number): number {
  const model = lenet5({ seed: 1 });
  fit(model, train, { epochs: 1, batchSize, seed: 1, maxImages: batchSize * 3 }); // warm-up
  const rates: number[] = [];
  for (let block = 0; block < 3; block++) {
    const images = Math.ceil(blockImages / batchSize) * batchSize;
    const t0 = performance.now();
    fit(model, train, { epochs: 1, batchSize, seed: 10 + block, maxImages: images });
    rates.push(images / ((performance.now() - t0) / 1000));
  }
  model.dispose();
  return median(rates);
}

function explainCosts(test: ImageArrays, slow: boolean): { gradcam: number; occlusion: number } {
  const model = lenet5({ seed: 1 });
  const n = slow ? 8 : 256;
  const { x, y } = makeBatch(test, Array.from({ length: n }, (_, i) => i));
  const targets = Array.from(test.labels.subarray(0, n));
  const timeIt = (f: () => void, reps = 3) => {
    f(); // warm-up
    const t: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      f();
      t.push(performance.now() - t0);
    }
    return median(t);
  };
  const gradcam = timeIt(() => {
    const r = gradCam.attribute({ model, x: x as tf.Tensor4D, targets, seed: 0 }, {} as never);
    r.maps.dataSync();
    tf.dispose([r.maps, r.lowRes!]);
  }) / n;
  const m = slow ? 2 : 16;
  const xo = tf.slice(x, [0, 0, 0, 0], [m, 28, 28, 1]) as tf.Tensor4D;
  const occ = timeIt(() => {
    const r = occlusion.attribute({ model, x: xo, targets: targets.slice(0, m), seed: 0 }, occlusion.params.parse({ patch: 4, stride: 2 }));
    tf.dispose([r.maps, r.lowRes!]);
  }) / m;
  tf.dispose([x, y, xo]);
  model.dispose();
  return { gradcam: Number(gradcam.toFixed(4)), occlusion: Number(occ.toFixed(3)) };
}

function inferRate(test: ImageArrays, batchSize = 1000): number {
  const model = lenet5({ seed: 1 });
  const batches = [];
  for (let s = 0; s < test.count; s += batchSize) {
    batches.push(makeBatch(test, Array.from({ length: Math.min(batchSize, test.count - s) }, (_, i) => s + i)));
  }
  const rates: number[] = [];
  for (let rep = 0; rep < 4; rep++) {
    const t0 = performance.now();
    for (const b of batches) {
      const p = model.predict(b.x, { batchSize }) as tf.Tensor;
      p.dataSync();
      p.dispose();
    }
    if (rep > 0) rates.push(test.count / ((performance.now() - t0) / 1000));
  }
  for (const b of batches) tf.dispose([b.x, b.y]);
  model.dispose();
  return median(rates);
}

/** LeNet-5 on Fashion-MNIST per backend: training and inference rates, 3-epoch accuracy, Grad-CAM and occlusion. */
async function benchLenet(requested: BackendId[], train: ImageArrays, test: ImageArrays): Promise<Result[]> {
  const results: Result[] = [];
  for (const id of requested) {
    let line: string;
    try {
      line = (await selectBackend({ cli: id })).line;
    } catch (err) {
      console.log(`skip ${id}: ${(err as Error).message}`);
      continue;
    }
    console.log(line);
    const slow = id === 'cpu' && !full;
    const blockImages = quick || slow ? 256 : 10_000;
    const r: Result = {
      backend: id,
      train_img_per_s: { '64': 0, '256': 0 },
      infer_img_per_s: 0,
      test_acc_3ep: null,
      gradcam_ms_per_img: 0,
      occlusion_ms_per_img: 0,
      block_images: blockImages,
    };
    r.train_img_per_s['256'] = Math.round(trainRate(train, 256, blockImages));
    r.train_img_per_s['64'] = Math.round(trainRate(train, 64, blockImages));
    r.infer_img_per_s = Math.round(inferRate(test));
    const costs = explainCosts(test, slow);
    r.gradcam_ms_per_img = costs.gradcam;
    r.occlusion_ms_per_img = costs.occlusion;
    if (slow) {
      r.note = 'cpu: 3 blocks of 256 images and no 3-epoch accuracy (≈ 3 h at this speed); run with --full for both';
    } else if (!quick) {
      const model = lenet5({ seed: 2 });
      fit(model, train, { epochs: 3, batchSize: 64, seed: 2 });
      r.test_acc_3ep = Number(evaluate(model, test).acc.toFixed(4));
      model.dispose();
    }
    console.log(JSON.stringify(r));
    results.push(r);
  }
  return results;
}

function printLenet(results: Result[]): void {
  if (results.length > 0) {
    const base = results[0];
    console.log('\nbackend   train@64  train@256  infer   acc(3ep)  gradcam ms/img  occlusion ms/img  train@256 / ' + base.backend);
    for (const r of results) {
      console.log(
        [
          r.backend.padEnd(9),
          String(r.train_img_per_s['64']).padStart(8),
          String(r.train_img_per_s['256']).padStart(10),
          String(r.infer_img_per_s).padStart(7),
          String(r.test_acc_3ep ?? '—').padStart(9),
          String(r.gradcam_ms_per_img).padStart(15),
          String(r.occlusion_ms_per_img).padStart(17),
          (r.train_img_per_s['256'] / base.train_img_per_s['256']).toFixed(3).padStart(12),
        ].join(' '),
      );
    }
  }
}

/** A user's model at 224: the visualize step of MobileNetV2 1.0 and VGG16 with random weights (default engine). */
async function benchUserModels(): Promise<UserModelResult[]> {
  const userModels: UserModelResult[] = [];
  await selectBackend({});
  console.log("\na user's model: the visualize step at 224x224, random weights (default engine)");
  for (const [name, build, images] of [
    ['mobilenetv2-1.0-224', () => mobileNetV2({ alpha: 1.0, seed: 3 }), quick ? 1 : 2],
    ['vgg16-224', () => vgg({ depth: 16, seed: 3 }), 1],
  ] as const) {
    const r = await userModel(name, build, images);
    userModels.push(r);
    console.log(JSON.stringify(r));
  }
  console.log('\nmodel                 GFLOPs  batch f/g  attributions s/img  layers s  randomization s  total s  peak RSS GiB');
  for (const r of userModels) {
    const stage = (re: RegExp) => Object.entries(r.stages_s).find(([k]) => re.test(k))?.[1] ?? 0;
    console.log([
      r.model.padEnd(21), String(r.gflops).padStart(6), `${r.batch.forward}/${r.batch.gradient}`.padStart(10),
      (stage(/attribution methods/) / r.images).toFixed(1).padStart(19), stage(/^activations/).toFixed(1).padStart(9),
      stage(/randomization/).toFixed(1).padStart(16), r.total_s.toFixed(1).padStart(8), r.peak_rss_gib.toFixed(2).padStart(13),
    ].join(' '));
  }
  console.log('\nestimate (cost model, default budget) → actual seconds per view');
  for (const r of userModels) console.log(`${r.model.padEnd(21)} ${Object.entries(r.views).map(([id, t]) => `${id} ${t.estimated} → ${t.actual}`).join(', ')}`);
  return userModels;
}

async function main(): Promise<void> {
  const requested = (arg('backends')?.split(',') ?? [...BACKEND_IDS]) as BackendId[];
  const train = load('train');
  const test = load('test');
  const results = process.argv.includes('--skip-lenet') ? [] : await benchLenet(requested, train, test);
  let convnets: { results: ConvnetResult[]; torch?: string } | undefined;
  if (!process.argv.includes('--skip-convnets')) {
    const engine = await selectBackend({});
    console.log(`\nconvnets: ${engine.line}`);
    convnets = await benchConvnets({ quick, profile: process.argv.includes('--profile') });
  }
  printLenet(results);
  let passes: PassResult[] | undefined;
  if (!process.argv.includes('--skip-passes')) {
    const engine = await selectBackend({});
    console.log(`\npasses of user-size models: ${engine.line}`);
    passes = await benchPasses({ quick });
  }
  const userModels = process.argv.includes('--skip-user-models') ? [] : await benchUserModels();
  mkdirSync('bench', { recursive: true });
  // A skipped section keeps its previous numbers.
  const previous = existsSync('bench/results.json') ? JSON.parse(readFileSync('bench/results.json', 'utf8')) : {};
  const today = new Date().toISOString().slice(0, 10);
  const ran = { lenet5: results.length > 0, convnets: convnets != null, passes: passes != null, userModels: userModels.length > 0 };
  const merged = {
    machine: machineInfo(),
    // The day each section was last measured (a skipped section keeps its numbers and its day).
    measured: Object.fromEntries(Object.entries(ran).map(([k, yes]) => [k, yes ? today : previous.measured?.[k] ?? 'before 2026-12-07'])),
    lenet5: results.length ? results : previous.lenet5,
    convnets: convnets ?? previous.convnets,
    passes: passes ?? previous.passes,
    userModels: userModels.length ? userModels : previous.userModels,
  };
  writeFileSync('bench/results.json', `${JSON.stringify(merged, null, 2)}\n`);
  console.log('\nwrote bench/results.json');
}

/** The machine the numbers come from (docs/speed.md names it beside the tables). */
function machineInfo() {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length, memory_gib: Math.round(os.totalmem() / 2 ** 30), node: process.version };
}

await main();

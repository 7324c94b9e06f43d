/**
 * `npm run bench`: LeNet-5 on real Fashion-MNIST for every backend that loads here.
 * Training images/s at batch 64 and 256 (median of 3 blocks of ≥ 10,000 images after a warm-up), inference
 * images/s over the 10k test set, test accuracy after 3 epochs. Prints a table with ratios to the first
 * backend and writes bench/results.json. A benchmark, not a test: nothing here passes or fails.
 *
 * It also times explanations on LeNet-5: Grad-CAM (batched) and occlusion (4x4 patch, stride 2) per image.
 * Options: --backends wasm,cpu (default: every backend that loads), --quick (smaller blocks, for a smoke run).
 * The pure-JS cpu backend trains at ~17 images/s, so its blocks are cut to 256 images and its 3-epoch accuracy
 * (≈ 3 hours) is skipped unless --full is given; results.json says so in `note`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { type BackendId, BACKEND_IDS, selectBackend } from '../src/engine/backend.ts';
import type { ImageArrays } from '../src/data/batches.ts';
import { makeBatch } from '../src/data/batches.ts';
import { locateFashionMnist, readMnistSplit } from '../src/data/idx.ts';
import { lenet5 } from '../src/models/lenet5.ts';
import { evaluate, fit } from '../src/train/fit.ts';
import { gradCam } from '../src/viz/methods/grad-cam.ts';
import { occlusion } from '../src/viz/methods/occlusion.ts';

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

async function main(): Promise<void> {
  const requested = (arg('backends')?.split(',') ?? [...BACKEND_IDS]) as BackendId[];
  const train = load('train');
  const test = load('test');
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
  if (results.length === 0) throw new Error('no backend could be benchmarked');
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
  mkdirSync('bench', { recursive: true });
  writeFileSync('bench/results.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log('\nwrote bench/results.json');
}

await main();

/**
 * Calibrates the cost model (src/pipeline/cost-model.ts): times forward passes and input-gradient passes, as the
 * report runs them (batch norm folded, one engine thread), of models of every shape users bring — LeNet-5 at 28,
 * ResNet20 at 32, the GAP CNN at 64, MobileNetV2 α0.35 at 64 and at 224 (Teachable Machine's base), MobileNetV2 1.0
 * at 224, ResNet-18 and VGG16 at 224 — at two batch sizes, then fits the coefficients (non-negative least squares on relative
 * error) and writes src/pipeline/cost-table.json. Run it on the reference machine (2 cores, nothing else running):
 *   CONVLENS_THREADS=1 npx tsx scripts/calibrate-cost.ts [--check]
 * `--check` prints each model's measured and modelled milliseconds against the table in the repository.
 * `--forward-ort` times forward passes on ONNX Runtime only (one intra-op thread) and writes `forwardOrt` alone;
 * otherwise forward passes are timed on the tfjs engine (CONVLENS_FORWARD=tfjs), as `forward`.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/engine/backend.ts';
import { forward } from '../src/engine/folded.ts';
import { gapCnn } from '../src/models/gap-cnn.ts';
import { lenet5 } from '../src/models/lenet5.ts';
import { mobileNetV2 } from '../src/models/mobilenet-v2.ts';
import { vgg } from '../src/models/vgg.ts';
import { COST_TABLE, type Coefficients, type CostTable, featureStepMs, modelWork, type PassKind, passMs, type Work } from '../src/pipeline/cost-model.ts';
import { targetScore } from '../src/viz/target.ts';
import { fourierMaximize } from '../src/viz/feature-visualization.ts';
import { resnet18, resnet20, teachableMobileNet } from '../test/fixtures/user-models.ts';
import { flattenModel } from '../src/models/flatten.ts';

const MODELS: Array<[string, () => tf.LayersModel, number[]]> = [
  ['LeNet-5 @28', () => lenet5({}), [1, 32]],
  ['ResNet20 @32', () => resnet20(), [1, 16]],
  ['GAP CNN @64', () => gapCnn({}), [1, 16]],
  ['MobileNetV2 α0.35 @64', () => mobileNetV2({ alpha: 0.35, inputShape: [64, 64, 3], head: 'transfer', numClasses: 5 }), [1, 16]],
  ['Teachable Machine (MobileNetV2 α0.35 @224)', () => flattenModel(teachableMobileNet(3)), [1, 8]],
  ['MobileNetV2 1.0 @224', () => mobileNetV2({}), [1, 4]],
  ['ResNet-18 @224', () => resnet18(), [1, 4]],
  ['VGG16 @224', () => vgg({ depth: 16 }), [1, 2]],
];

/** Median milliseconds of `reps` calls of one pass at `batch` (after one warm-up call). */
function time(model: tf.LayersModel, kind: PassKind, batch: number, reps: number, ort = false): number {
  process.env.CONVLENS_FORWARD = ort ? 'onnxruntime' : 'tfjs';
  const x = tf.randomUniform([batch, ...(model.inputs[0].shape.slice(1) as number[])], -1, 1, 'float32', 3);
  const run = () => tf.tidy(() => {
    if (kind === 'forward') (forward(model, x, { batchSize: batch }) as tf.Tensor).dataSync();
    else tf.grad((v: tf.Tensor) => targetScore(model, v, new Array<number>(batch).fill(0)))(x).dataSync();
  });
  // ONNX Runtime sizes its memory arena over the first runs at a batch size.
  for (let i = 0; i < (ort ? 3 : 1); i++) run();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    ms.push(performance.now() - t0);
  }
  x.dispose();
  return ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)];
}

interface Row { model: string; kind: PassKind; batch: number; work: Work; ms: number }

/**
 * Feature visualization's own milliseconds per step beyond the gradient pass to its layer, on `images` objectives
 * (channels of the model's first conv layer, whose pass is cheapest): median step time of 6 steps after 2, minus the
 * modelled pass with the fitted table.
 */
function featureStep(model: tf.LayersModel, images: number): { shape: [number, number, number]; images: number; ms: number; layer: string } {
  const layer = model.layers.find((l) => l.getClassName() === 'Conv2D')!.name;
  const objectives = Array.from({ length: images }, (_, c) => ({ kind: 'channel' as const, layer, channel: c }));
  const run = (steps: number) => {
    const t0 = performance.now();
    fourierMaximize(model, objectives, { steps, seed: 1 } as never).images.dispose();
    return performance.now() - t0;
  };
  run(2);
  const ms = (run(8) - run(2)) / 6;
  return { shape: model.inputs[0].shape.slice(1) as [number, number, number], images, ms, layer };
}

const KEYS = ['conv', 'wide', 'depthwise', 'dense', 'values', 'layer', 'call'] as const;
const features = (w: Work, batch: number) => [batch * w.conv, batch * w.wide, batch * w.depthwise, batch * w.dense, batch * w.values, w.layers, 1];

/** Solve A x = b (Gaussian elimination with partial pivoting). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    if (Math.abs(M[c][c]) < 1e-300) continue;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  return M.map((r, i) => (Math.abs(r[i]) < 1e-300 ? 0 : r[n] / r[i]));
}

/** Non-negative least squares on relative error: drop the most negative coefficient until none is negative. */
export function fit(rows: Array<{ x: number[]; y: number }>): number[] {
  const n = rows[0].x.length;
  const active = new Set(Array.from({ length: n }, (_, i) => i));
  for (;;) {
    const idx = [...active];
    // Scale each column to unit size so the normal equations stay well conditioned.
    const scale = idx.map((j) => Math.sqrt(rows.reduce((t, r) => t + (r.x[j] / r.y) ** 2, 0)) || 1);
    const A = idx.map((_, a) => idx.map((_, b) => rows.reduce((t, r) => t + (r.x[idx[a]] / r.y / scale[a]) * (r.x[idx[b]] / r.y / scale[b]), 0)));
    const rhs = idx.map((_, a) => rows.reduce((t, r) => t + r.x[idx[a]] / r.y / scale[a], 0));
    const sol = solve(A, rhs).map((v, a) => v / scale[a]);
    const worst = sol.reduce((w, v, a) => (v < sol[w] ? a : w), 0);
    if (sol[worst] >= 0 || idx.length === 1) {
      const out = new Array<number>(n).fill(0);
      idx.forEach((j, a) => (out[j] = Math.max(0, sol[a])));
      return out;
    }
    active.delete(idx[worst]);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  const ortOnly = process.argv.includes('--forward-ort');
  const backend = await selectBackend({ cli: 'wasm' });
  if (ortOnly) {
    const rows: Row[] = [];
    for (const [name, make, batches] of MODELS) {
      const model = make();
      const work = modelWork(model);
      for (const batch of [...batches, batches[1] * 2]) {
        const ms = time(model, 'forward', batch, 7, true);
        rows.push({ model: name, kind: 'forward', batch, work, ms });
        console.log(`${name}: ONNX Runtime forward batch ${batch}: ${ms.toFixed(2)} ms measured, ${passMs(work, 'forwardOrt', batch, { ...COST_TABLE, parallel: 1 }).toFixed(2)} in the table (alone)`);
      }
      model.dispose();
    }
    if (!check) {
      const x = fit(rows.map((r) => ({ x: features(r.work, r.batch), y: r.ms })));
      const forwardOrt = Object.fromEntries(KEYS.map((k, i) => [k, Number(x[i].toPrecision(4))])) as unknown as Coefficients;
      const table: CostTable = { ...COST_TABLE, forwardOrt };
      for (const r of rows) console.log(`${r.model} b${r.batch}: measured ${r.ms.toFixed(2)}, fitted ${passMs(r.work, 'forwardOrt', r.batch, { ...table, parallel: 1 }).toFixed(2)} ms (alone)`);
      writeFileSync(new URL('../src/pipeline/cost-table.json', import.meta.url), `${JSON.stringify(table, null, 2)}\n`);
      console.log('wrote forwardOrt in src/pipeline/cost-table.json');
    }
    process.exit(0);
  }
  const rows: Row[] = [];
  for (const [name, make, batches] of MODELS) {
    const model = make();
    const work = modelWork(model);
    for (const kind of ['forward', 'gradient'] as const) {
      for (const batch of batches) {
        const heavy = work.conv + work.depthwise > 1e9;
        const ms = time(model, kind, batch, heavy ? 3 : 7);
        rows.push({ model: name, kind, batch, work, ms });
        const modelled = passMs(work, kind, batch);
        console.log(`${name}: ${kind} batch ${batch}: ${ms.toFixed(1)} ms measured${check ? `, ${modelled.toFixed(1)} modelled (${((modelled / ms - 1) * 100).toFixed(0)} %)` : ''}`);
      }
    }
    model.dispose();
  }
  const steps: Array<ReturnType<typeof featureStep> & { work: Work }> = [];
  for (const [name, make] of [['ResNet20 @32', () => resnet20()], ['GAP CNN @64', () => gapCnn({})], ['Teachable Machine @224', () => flattenModel(teachableMobileNet(3))]] as const) {
    const model = make();
    for (const images of [1, 8]) {
      const f = featureStep(model, images);
      steps.push({ ...f, work: modelWork(model, f.layer) });
      console.log(`${name}: feature visualization step, ${images} images: ${f.ms.toFixed(1)} ms${check ? `, ${(passMs(modelWork(model, f.layer), 'gradient', images) + featureStepMs(f.shape, images)).toFixed(1)} modelled` : ''}`);
    }
    model.dispose();
  }
  if (!check) {
    const coefficients = (kind: PassKind): Coefficients => {
      const x = fit(rows.filter((r) => r.kind === kind).map((r) => ({ x: features(r.work, r.batch), y: r.ms })));
      return Object.fromEntries(KEYS.map((k, i) => [k, Number(x[i].toPrecision(4))])) as unknown as Coefficients;
    };
    const passes = { forward: coefficients('forward'), gradient: coefficients('gradient') };
    // Feature visualization's own work: the step time less the modelled gradient pass to its layer.
    const alone = { ...COST_TABLE, ...passes, parallel: 1 };
    const f = fit(steps.map((r) => {
      const [H, W, C] = r.shape;
      return { x: [r.images * H * W * (H + W) * C, r.images * H * W * C, 1], y: Math.max(0.1, r.ms - passMs(r.work, 'gradient', r.images, alone)) };
    }));
    const table: CostTable = {
      ...COST_TABLE, reference: `${backend.line.split(' — ')[0]}; 2-core x86-64 VM, one engine thread per report process`, ...passes,
      feature: { dft: Number(f[0].toPrecision(4)), pixel: Number(f[1].toPrecision(4)), step: Number(f[2].toPrecision(4)) },
    };
    for (const r of rows) console.log(`${r.model} ${r.kind} b${r.batch}: measured ${r.ms.toFixed(1)}, fitted ${passMs(r.work, r.kind, r.batch, { ...table, parallel: 1 }).toFixed(1)} ms (alone)`);
    writeFileSync(new URL('../src/pipeline/cost-table.json', import.meta.url), `${JSON.stringify(table, null, 2)}\n`);
    console.log('wrote src/pipeline/cost-table.json');
  } else {
    console.log(`table: ${COST_TABLE.reference}`);
  }
}

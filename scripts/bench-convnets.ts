/**
 * The convnets section of `npm run bench` (issue 14): the GAP CNN and MobileNetV2 α0.35 at 64x64 (training at batch
 * 32 through convlens's own training loop and Adam, inference at batch 32) and MobileNetV2 1.0 at 224x224
 * (inference at batch 32 and Grad-CAM per image at batch 8), random inputs, medians of 5 blocks after a warm-up.
 * Inference goes through `forward` (engine/folded.ts: batch norm folded into the convolutions), the path every
 * forward-only view of the report takes; PyTorch runs its eval-mode model as is, in blocks interleaved with
 * convlens's (bench/torch_reference.py --serve; `inferRates`), 7 pairs, the ratio the median of the pairs' ratios.
 * `--profile` adds a per-kernel profile of one training step of each small model. When Debian's python3-torch is
 * present, bench/torch_reference.py runs the same models in PyTorch (2 threads) in the same run — once before
 * convlens's measurements and once after, combined by geometric mean (`bracket`) — and the ratios convlens / PyTorch
 * are printed and kept in results.json.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { gapCnn } from '../src/models/gap-cnn.ts';
import { mobileNetV2 } from '../src/models/mobilenet-v2.ts';
import { forward } from '../src/engine/folded.ts';
import { fit } from '../src/train/fit.ts';
import { replicaThreads } from '../src/train/parallel.ts';
import { requestedThreads } from '../src/engine/threads.ts';
import { gradCam } from '../src/viz/methods/grad-cam.ts';

export interface KernelShare {
  kernel: string;
  ms: number;
  calls: number;
}

export interface ConvnetResult {
  model: string;
  params: number;
  /** Training through `fit` as a report trains: in `train_replicas` data-parallel replicas when there are cores for them. */
  train_img_per_s?: number;
  train_replicas?: number;
  /** Training in one engine on every thread (no replicas). */
  train_one_engine_img_per_s?: number;
  infer_img_per_s: number;
  gradcam_ms_per_img?: number;
  profile?: { kernel_calls: number; kernel_ms: number; step_ms: number; top: KernelShare[] };
  /** PyTorch's rates: the geometric mean of a run before and a run after convlens's (`runs`). */
  torch?: {
    train_img_per_s?: number;
    infer_img_per_s?: number;
    gradcam_ms_per_img?: number;
    /** Inference from blocks interleaved with convlens's (`inferRates`): its rate is their median and the ratio the median of the paired ratios. */
    infer_paired?: boolean;
    runs?: { train_img_per_s?: number; infer_img_per_s?: number; gradcam_ms_per_img?: number }[];
  };
  ratio?: { train?: number; infer?: number; gradcam?: number };
}

/** Timed blocks per measurement, on both sides. */
const BLOCKS = 5;
/** Paired inference blocks (convlens, then PyTorch). */
const INFER_BLOCKS = 7;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function randomImages(count: number, side: number, classes: number) {
  const images = new Uint8Array(count * side * side * 3);
  let s = 11;
  for (let i = 0; i < images.length; i++) images[i] = ((s = (s * 1103515245 + 12345) >>> 0) >>> 24) & 0xff;
  const labels = Int32Array.from({ length: count }, (_, i) => i % classes);
  return { images, labels, count, shape: [side, side, 3] as [number, number, number], numClasses: classes };
}

/**
 * Training rates at batch 32 through `fit`: with the data-parallel replicas `fit` gets in a report
 * (2 replicas, `training.replicas: 2`, each on its share of the threads) and with one engine on every thread, alternating
 * block by block (a drifting machine biases neither). Each block is a fit of three epochs timed on the last two
 * (replicas start their engines and warm up in the first); medians of the blocks.
 */
function trainRates(model: tf.LayersModel, steps: number): { replicas: number; parallel: number; oneEngine: number } {
  const data = randomImages(32 * steps, model.inputs[0].shape[1] as number, model.outputs[0].shape[1] as number);
  const replicas = requestedThreads() > 1 ? 2 : 1;
  const threads = replicaThreads(replicas);
  fit(model, data, { epochs: 1, batchSize: 32, seed: 1, maxImages: 96 }); // warm-up
  const one: number[] = [];
  const par: number[] = [];
  for (let block = 0; block < BLOCKS; block++) {
    const rate = (h: { imagesPerSecond: number }[]) => (h[1].imagesPerSecond + h[2].imagesPerSecond) / 2;
    one.push(rate(fit(model, data, { epochs: 3, batchSize: 32, seed: 2 + block })));
    if (replicas > 1) par.push(rate(fit(model, data, { epochs: 3, batchSize: 32, seed: 2 + block, workers: replicas, workerThreads: threads })));
  }
  return { replicas, parallel: median(replicas > 1 ? par : one), oneEngine: median(one) };
}

/**
 * Inference images/s at batch 32, `steps` batches per block — and, with a PyTorch server, PyTorch's block of the
 * same model right after each of convlens's, so both see the machine at the same moment: a shared VM's speed moves
 * by tens of percent within minutes, which moved the ratio of two separately timed runs more than anything either
 * engine did. The ratio is the median of the blocks' paired ratios.
 */
async function inferRates(model: tf.LayersModel, name: string, steps: number, torch?: TorchServer): Promise<{ convlens: number; torch?: number; ratio?: number }> {
  const side = model.inputs[0].shape[1] as number;
  const x = tf.randomUniform([32, side, side, 3], -1, 1, 'float32', 5);
  const block = () => {
    const t0 = performance.now();
    for (let k = 0; k < steps; k++) {
      const p = forward(model, x);
      p.dataSync();
      p.dispose();
    }
    return (32 * steps) / ((performance.now() - t0) / 1000);
  };
  block(); // warm-up, both sides
  if (torch) await torch.block(name, 1);
  const ours: number[] = [];
  const theirs: number[] = [];
  const ratios: number[] = [];
  for (let b = 0; b < INFER_BLOCKS; b++) {
    const a = block();
    ours.push(a);
    if (torch) {
      const t = await torch.block(name, steps);
      theirs.push(t);
      ratios.push(a / t);
    }
  }
  x.dispose();
  return torch ? { convlens: median(ours), torch: median(theirs), ratio: median(ratios) } : { convlens: median(ours) };
}

/** bench/torch_reference.py --serve: PyTorch inference blocks on request, one JSON line each way. */
export class TorchServer {
  private pending = '';
  private readonly lines: string[] = [];
  private wake?: () => void;
  private constructor(private readonly child: ChildProcessWithoutNullStreams, readonly version: string) {}

  static async start(): Promise<TorchServer | undefined> {
    const py = torchPython();
    if (!py) return undefined;
    const child = spawn(py, ['bench/torch_reference.py', '--threads', '2', '--serve']);
    const server = new TorchServer(child, '');
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      server.pending += chunk;
      let i: number;
      while ((i = server.pending.indexOf('\n')) >= 0) {
        server.lines.push(server.pending.slice(0, i));
        server.pending = server.pending.slice(i + 1);
      }
      server.wake?.();
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += String(c)));
    child.on('exit', () => server.wake?.());
    const ready = JSON.parse(await server.next(() => stderr)) as { torch: string };
    (server as { version: string }).version = ready.torch;
    return server;
  }

  private async next(stderr: () => string = () => ''): Promise<string> {
    while (this.lines.length === 0) {
      if (this.child.exitCode != null) throw new Error(`bench/torch_reference.py --serve stopped: ${stderr().slice(-500)}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.lines.shift()!;
  }

  /** One request of bench/torch_reference.py's serve(), its JSON answer. */
  async ask<T>(request: Record<string, unknown>): Promise<T> {
    this.child.stdin.write(`${JSON.stringify(request)}\n`);
    return JSON.parse(await this.next()) as T;
  }

  async block(model: string, steps: number): Promise<number> {
    this.child.stdin.write(`${JSON.stringify({ model, steps })}\n`);
    return (JSON.parse(await this.next()) as { rate: number }).rate;
  }

  stop(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

function gradcamMs(model: tf.LayersModel): number {
  const x = tf.randomUniform([8, 224, 224, 3], -1, 1, 'float32', 6) as tf.Tensor4D;
  const targets = Array.from({ length: 8 }, (_, i) => i);
  const once = () => {
    const r = gradCam.attribute({ model, x, targets, seed: 0 }, {} as never);
    r.maps.dataSync();
    tf.dispose([r.maps, r.lowRes!]);
  };
  once();
  const t: number[] = [];
  for (let block = 0; block < BLOCKS; block++) {
    const t0 = performance.now();
    once();
    t.push((performance.now() - t0) / 8);
  }
  x.dispose();
  return median(t);
}

async function profileStep(model: tf.LayersModel): Promise<ConvnetResult['profile']> {
  const data = randomImages(32, model.inputs[0].shape[1] as number, model.outputs[0].shape[1] as number);
  const t0 = performance.now();
  const info = await tf.profile(() => {
    fit(model, data, { epochs: 1, batchSize: 32, seed: 9 });
  });
  const step = performance.now() - t0;
  const agg = new Map<string, KernelShare>();
  let total = 0;
  for (const k of info.kernels) {
    const a = agg.get(k.name) ?? { kernel: k.name, ms: 0, calls: 0 };
    a.ms += k.kernelTimeMs as number;
    a.calls++;
    total += k.kernelTimeMs as number;
    agg.set(k.name, a);
  }
  const top = [...agg.values()].sort((a, b) => b.ms - a.ms).slice(0, 15).map((k) => ({ ...k, ms: Number(k.ms.toFixed(1)) }));
  return { kernel_calls: info.kernels.length, kernel_ms: Number(total.toFixed(0)), step_ms: Number(step.toFixed(0)), top };
}

/** A python that imports torch: Debian's python3 (with python3-torch) first, then whatever `python3` is. */
function torchPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (py.startsWith('/') && !existsSync(py)) continue;
    if (spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) return py;
  }
  return undefined;
}

function torchReference(quick: boolean): Record<string, Record<string, number>> | undefined {
  const py = torchPython();
  if (!py) return undefined;
  const run = spawnSync(py, ['bench/torch_reference.py', '--threads', '2', ...(quick ? ['--quick'] : [])], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (run.status !== 0) throw new Error(`bench/torch_reference.py failed: ${run.stderr.slice(-500)}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

/**
 * Per model and rate, the geometric mean of PyTorch's run before convlens's measurements and its run after them: the
 * two engines are measured one after the other, so a machine whose speed drifts during the run (a shared VM) would
 * otherwise bias the ratio towards whichever went first. Non-rate entries (versions, thread counts) from the first.
 */
export function bracket(before: Record<string, Record<string, number>>, after: Record<string, Record<string, number>>): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [model, a] of Object.entries(before)) {
    const b = after[model];
    if (typeof a !== 'object' || a == null || typeof b !== 'object' || b == null) {
      out[model] = a;
      continue;
    }
    out[model] = Object.fromEntries(Object.entries(a).map(([k, v]) => [k, typeof v === 'number' && typeof b[k] === 'number' ? Math.sqrt(v * b[k]) : v]));
  }
  return out;
}

export async function benchConvnets(opts: { quick: boolean; profile: boolean }): Promise<{ results: ConvnetResult[]; torch?: string }> {
  const steps = opts.quick ? 3 : 8;
  const inferSteps = opts.quick ? 3 : 24;
  const torchBefore = torchReference(opts.quick);
  const server = torchBefore ? await TorchServer.start() : undefined;
  const paired = new Map<string, { torch?: number; ratio?: number }>();
  const results: ConvnetResult[] = [];
  for (const [name, build] of [
    ['gap-cnn', () => gapCnn({ seed: 1 })],
    ['mobilenetv2-0.35-64', () => mobileNetV2({ alpha: 0.35, inputShape: [64, 64, 3], head: 'transfer', numClasses: 5, seed: 1 })],
  ] as const) {
    const model = build();
    const r: ConvnetResult = { model: name, params: model.countParams(), infer_img_per_s: 0 };
    const train = trainRates(model, 2 * steps);
    r.train_img_per_s = Number(train.parallel.toFixed(1));
    r.train_replicas = train.replicas;
    r.train_one_engine_img_per_s = Number(train.oneEngine.toFixed(1));
    const infer = await inferRates(model, name, inferSteps, server);
    r.infer_img_per_s = Number(infer.convlens.toFixed(1));
    paired.set(name, infer);
    if (opts.profile) r.profile = await profileStep(model);
    model.dispose();
    console.log(JSON.stringify(r));
    results.push(r);
  }
  const big = mobileNetV2({ alpha: 1.0, seed: 3 });
  const bigInfer = await inferRates(big, 'mobilenetv2-1.0-224', opts.quick ? 1 : 2, server);
  paired.set('mobilenetv2-1.0-224', bigInfer);
  server?.stop();
  const r: ConvnetResult = { model: 'mobilenetv2-1.0-224', params: big.countParams(), infer_img_per_s: Number(bigInfer.convlens.toFixed(2)) };
  r.gradcam_ms_per_img = Number(gradcamMs(big).toFixed(1));
  big.dispose();
  console.log(JSON.stringify(r));
  results.push(r);

  const torchAfter = torchBefore && torchReference(opts.quick);
  const torch = torchBefore && torchAfter ? bracket(torchBefore, torchAfter) : undefined;
  if (torch) {
    for (const res of results) {
      const t = torch[res.model];
      if (!t) continue;
      const runs = [torchBefore![res.model], torchAfter![res.model]];
      const p = paired.get(res.model);
      res.torch = {
        train_img_per_s: t.train_img_per_s, infer_img_per_s: p?.torch ?? t.infer_img_per_s, gradcam_ms_per_img: t.gradcam_ms_per_img,
        runs: runs.map((x) => ({ train_img_per_s: x.train_img_per_s, infer_img_per_s: x.infer_img_per_s, gradcam_ms_per_img: x.gradcam_ms_per_img })),
      };
      if (p?.torch) res.torch.infer_paired = true;
      const ratio = (a?: number, b?: number) => (a && b ? Number((a / b).toFixed(3)) : undefined);
      res.ratio = {
        train: ratio(res.train_img_per_s, t.train_img_per_s),
        infer: p?.ratio != null ? Number(p.ratio.toFixed(3)) : ratio(res.infer_img_per_s, t.infer_img_per_s),
        gradcam: ratio(t.gradcam_ms_per_img, res.gradcam_ms_per_img),
      };
    }
  }
  console.log(`\nconvnets (batch 32; ratio = convlens / PyTorch ${torch ? `${torch.torch}, ${torch.threads} threads; inference in ${INFER_BLOCKS} blocks interleaved with PyTorch's, the ratio the median of the pairs'` : 'not installed'})`);
  console.log('model                  train img/s  PyTorch  ratio   infer img/s  PyTorch  ratio   Grad-CAM ms/img  PyTorch');
  for (const x of results) {
    const f = (v: number | undefined, w: number) => (v == null ? '—' : String(v)).padStart(w);
    console.log([x.model.padEnd(21), f(x.train_img_per_s, 12), f(x.torch?.train_img_per_s && Number(x.torch.train_img_per_s.toFixed(1)), 8), f(x.ratio?.train, 6),
      f(x.infer_img_per_s, 13), f(x.torch?.infer_img_per_s && Number(x.torch.infer_img_per_s.toFixed(1)), 8), f(x.ratio?.infer, 6),
      f(x.gradcam_ms_per_img, 16), f(x.torch?.gradcam_ms_per_img && Number(x.torch.gradcam_ms_per_img.toFixed(1)), 8)].join(' '));
    if (x.train_replicas && x.train_replicas > 1) console.log(`  training in ${x.train_replicas} data-parallel replicas; one engine on every thread: ${x.train_one_engine_img_per_s} img/s`);
    if (x.profile) {
      console.log(`  one training step: ${x.profile.step_ms} ms, ${x.profile.kernel_calls} kernel calls, ${x.profile.kernel_ms} ms in kernels; top: ${x.profile.top.slice(0, 8).map((k) => `${k.kernel} ${k.ms} ms/${k.calls}`).join(', ')}`);
    }
  }
  return { results, torch: torch ? `${torch.torch} (${torch.threads} threads)` : undefined };
}

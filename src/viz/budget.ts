/**
 * What a model costs: its multiply-adds per image (counted from the layers, so deterministic), and the time and
 * bytes of one forward and one gradient pass, measured once per model at batch 1 and 2 (timed at 2, once warm). Batch sizes of every
 * batched computation (IG steps, SmoothGrad copies, occlusion and Score-CAM masked copies, deletion/insertion
 * steps, activations, activation maximization) come from those bytes and the memory the engine has free, not
 * from the input size: a 224x224 MobileNetV2 holds ~340 MB per image in a gradient pass, VGG16 ~1 GB fixed.
 */
import * as tf from '@tensorflow/tfjs';
import { targetScore } from './target.ts';
import type { BatchLimits } from './types.ts';
import { forward } from '../engine/folded.ts';

/**
 * The engine's addressable memory: the wasm backend's heap is a 32-bit wasm memory, at most 4 GiB, shared by
 * the weights and every live tensor. A batch that overflows it kills the process ("memory access out of
 * bounds"), so it is the hard limit; the cpu backend lives in the JS heap and gets the same cap.
 */
export const HEAP_LIMIT = 4 * 2 ** 30;

/** Bytes kept free of the plan: the allocator's fragmentation and the tensors a view holds between passes. */
const RESERVE = 640 * 2 ** 20;

export interface PassCost {
  /** Milliseconds per image (measured at batch 2). */
  msPerImage: number;
  /** Peak bytes one more image adds to the pass. */
  bytesPerImage: number;
  /** Peak bytes of the pass that do not grow with the batch (transposed dense kernels, workspaces). */
  fixedBytes: number;
}

export interface ModelCost {
  /** Forward multiply-adds ×2 per image, counted from the layers' shapes. */
  flops: number;
  /** Bytes of the model's weights. */
  weightBytes: number;
  forward: PassCost;
  gradient: PassCost;
}

const product = (s: ReadonlyArray<number | null>) => s.reduce<number>((a, b) => a * (b ?? 1), 1);

/** 2 × multiply-adds of one image's forward pass (conv, depthwise, separable, dense); other layers count their outputs. */
export function modelFlops(model: tf.LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    const out = layer.outputShape as (number | null)[];
    if (!Array.isArray(out) || Array.isArray(out[0])) continue;
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as { kernelSize?: number[] | number; depthMultiplier?: number };
    const k = Array.isArray(cfg.kernelSize) ? cfg.kernelSize : [cfg.kernelSize ?? 1, cfg.kernelSize ?? 1];
    const inShape = layer.inputSpec?.[0]?.shape ?? (layer.inboundNodes[0]?.inputShapes as (number | null)[][])?.[0];
    const cin = Array.isArray(inShape) ? (inShape[inShape.length - 1] as number) ?? 1 : 1;
    const positions = product(out.slice(1, -1));
    const cout = out[out.length - 1] ?? 1;
    if (cls === 'Conv2D') total += 2 * positions * k[0] * k[1] * cin * cout;
    else if (cls === 'DepthwiseConv2D') total += 2 * positions * k[0] * k[1] * cout;
    else if (cls === 'SeparableConv2D') total += 2 * positions * (k[0] * k[1] * cin + cin * cout);
    else if (cls === 'Dense') total += 2 * cin * product(out.slice(1));
    else total += product(out.slice(1));
  }
  return total;
}

/** Peak bytes above what was allocated before, and milliseconds, of `run`. */
async function measure(run: () => void): Promise<{ bytes: number; ms: number }> {
  const before = tf.memory().numBytes;
  const t0 = performance.now();
  const info = await tf.profile(run);
  return { bytes: Math.max(0, info.peakBytes - before), ms: performance.now() - t0 };
}

/**
 * One forward and one gradient pass at batch 1 and at batch 2 (the model's first passes also warm it up): the
 * difference is what an image adds, the rest is fixed. Models without a class output (feature extractors) get
 * the gradient of their output's sum.
 */
export async function measureCost(model: tf.LayersModel, classifier = true): Promise<ModelCost> {
  const shape = model.inputs[0].shape.slice(1) as number[];
  const weightBytes = model.weights.reduce((n, w) => n + product(w.shape) * 4, 0);
  const run = (kind: 'forward' | 'gradient', x: tf.Tensor) =>
    tf.tidy(() => {
      const n = x.shape[0];
      // On the tfjs engine even where ONNX Runtime runs forward passes: the plan bounds the batches the views build
      // on the tfjs heap, and ONNX Runtime's own activations (outside it) grow with the batch as tfjs's do.
      if (kind === 'forward') (forward(model, x, { batchSize: n, engine: 'tfjs' }) as tf.Tensor).dataSync();
      else {
        const score = (v: tf.Tensor) => (classifier ? targetScore(model, v, new Array<number>(n).fill(0)) : tf.sum(model.apply(v) as tf.Tensor));
        tf.grad((v: tf.Tensor) => score(v) as tf.Scalar)(x).dataSync();
      }
    });
  const at = async (kind: 'forward' | 'gradient', n: number) => {
    const x = tf.zeros([n, ...shape]);
    try {
      return await measure(() => run(kind, x));
    } finally {
      x.dispose();
    }
  };
  // Batch 1 of both passes first: they also warm the model up (XNNPACK packs the weights on first use, up to 3x
  // slower), so the batch-2 passes give the times.
  const one = { forward: await at('forward', 1), gradient: await at('gradient', 1) };
  const two = { forward: await at('forward', 2), gradient: await at('gradient', 2) };
  const pass = (kind: 'forward' | 'gradient'): PassCost => {
    // The per-image bytes are at least half the batch-1 peak: what a pass holds mostly grows with the batch.
    const bytesPerImage = Math.max(two[kind].bytes - one[kind].bytes, one[kind].bytes / 2, 1);
    return { msPerImage: two[kind].ms / 2, bytesPerImage, fixedBytes: Math.max(0, one[kind].bytes - bytesPerImage) };
  };
  return { flops: modelFlops(model), weightBytes, forward: pass('forward'), gradient: pass('gradient') };
}

/**
 * The bytes a batch may hold: a share of the heap left free by the live tensors (the weights among them) and by
 * the packed copy of the conv and dense weights XNNPACK keeps beside them (not a tensor, so tf.memory() does not
 * see it; uncounted, VGG16 runs out of heap in its randomization check), capped by `budgetBytes`
 * (config `memory`).
 */
export function memoryBudget(cost: Pick<ModelCost, 'weightBytes'>, budgetBytes?: number, liveBytes = tf.memory().numBytes): number {
  const free = HEAP_LIMIT - liveBytes - cost.weightBytes - RESERVE;
  return Math.max(0, Math.min(budgetBytes ?? Infinity, free * 0.75));
}

/** Images per pass within `budget` bytes; 0 when not even one image fits. */
export function batchLimits(cost: ModelCost, budget: number): BatchLimits {
  const fit = (p: PassCost) => Math.max(0, Math.floor((budget - p.fixedBytes) / p.bytesPerImage));
  return { forward: fit(cost.forward), gradient: fit(cost.gradient) };
}

/** "1.3 GiB", "340 MiB". */
export function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${Math.round(n / 2 ** 20)} MiB`;
}

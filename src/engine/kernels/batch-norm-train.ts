/**
 * Batch normalization in training as two kernels with a hand-written gradient, instead of tfjs's graph of small
 * ops (moments: mean, squared difference, mean; batchNorm; and their gradients: ~20 kernel calls per layer).
 *
 *   ConvlensBatchNormTrain      x [..., C], gamma [C], beta [C], movingMean [C], movingVariance [C]
 *                               → y, mean [C], variance [C] (population variance, as tfjs's moments), and the
 *                               moving statistics after Keras's update m − (m − value)·(1 − momentum) —
 *                               statistics in float64 over two passes, then one pass for y.
 *   ConvlensBatchNormTrainGrad  dy, x, gamma, mean, variance → dx, dgamma, dbeta — one pass for the sums Σdy and
 *                               Σdy·(x − μ) (float64), one for dx = (γσ⁻¹/N)(N·dy − Σdy − x̂·Σdy·x̂).
 *
 * The passes are SIMD kernels (simd/kernels.wat.ts) over channel-last rows. The gradient covers x, gamma and beta
 * through the batch statistics, as differentiating tfjs's composite does.
 */
import { registerGradient, type GradConfig, type KernelConfig, type NamedAttrMap, type Tensor, type TensorInfo } from '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs';
import { simdKernels, simdMemory } from '../simd/simd.ts';
import { heapF32, heapOffset, release, type KernelArgs, type WasmBackend } from './wasm-calls.ts';

export const BN_TRAIN = 'ConvlensBatchNormTrain';
export const BN_TRAIN_GRAD = 'ConvlensBatchNormTrainGrad';

/** A zeroed float64 scratch array of `n` values on the heap, as a float32 tensor of 2n values. */
function scratch64(backend: WasmBackend, n: number): TensorInfo {
  const t = backend.makeOutput([2 * n], 'float32');
  heapF32(backend, t).fill(0);
  if (heapOffset(backend, t) % 8 !== 0) throw new Error('convlens engine: unaligned float64 scratch buffer');
  return t;
}

const f64 = (backend: WasmBackend, t: TensorInfo, n: number) => new Float64Array(simdMemory().buffer, heapOffset(backend, t), n);

function rowsAndChannels(x: TensorInfo): [number, number] {
  const C = x.shape[x.shape.length - 1];
  return [x.shape.reduce((a, b) => a * b, 1) / C, C];
}

export function batchNormTrain({ inputs, attrs, backend }: KernelArgs): TensorInfo[] {
  const { x, gamma, beta, movingMean, movingVariance } = inputs;
  const epsilon = attrs.epsilon as number;
  const momentum = attrs.momentum as number;
  const [rows, C] = rowsAndChannels(x);
  const k = simdKernels();
  const y = backend.makeOutput(x.shape, 'float32');
  const mean = backend.makeOutput([C], 'float32');
  const variance = backend.makeOutput([C], 'float32');
  const newMean = backend.makeOutput([C], 'float32');
  const newVariance = backend.makeOutput([C], 'float32');
  const zeros = backend.makeOutput([C], 'float32');
  const scale = backend.makeOutput([C], 'float32');
  const acc = scratch64(backend, C);
  heapF32(backend, zeros).fill(0);
  const at = (t: TensorInfo) => heapOffset(backend, t);
  k.bn_sums(at(x), rows, C, at(zeros), at(acc), 0);
  heapF32(backend, mean).set(f64(backend, acc, C).map((s) => s / rows));
  f64(backend, acc, C).fill(0);
  k.bn_sums(at(x), rows, C, at(mean), at(acc), 1);
  const sq = f64(backend, acc, C);
  const v = heapF32(backend, variance);
  const g = heapF32(backend, gamma);
  const s = heapF32(backend, scale);
  for (let c = 0; c < C; c++) {
    v[c] = sq[c] / rows;
    s[c] = g[c] / Math.sqrt(v[c] + epsilon);
  }
  k.affine3(at(x), at(x), rows, C, at(zeros), at(scale), at(mean), at(beta), at(y));
  // Keras's moving averages, rounded to float32 at each step as tfjs's sub / mul / sub kernels do.
  const decay = Math.fround(1 - momentum);
  const [m, mm, mv, nm, nv] = [mean, movingMean, movingVariance, newMean, newVariance].map((t) => heapF32(backend, t));
  const v2 = heapF32(backend, variance);
  for (let c = 0; c < C; c++) {
    nm[c] = mm[c] - Math.fround(Math.fround(mm[c] - m[c]) * decay);
    nv[c] = mv[c] - Math.fround(Math.fround(mv[c] - v2[c]) * decay);
  }
  release(backend, zeros, scale, acc);
  return [y, mean, variance, newMean, newVariance];
}

export function batchNormTrainGrad({ inputs, attrs, backend }: KernelArgs): TensorInfo[] {
  const { dy, x, gamma, mean, variance } = inputs;
  const epsilon = attrs.epsilon as number;
  const [rows, C] = rowsAndChannels(x);
  const k = simdKernels();
  const dx = backend.makeOutput(x.shape, 'float32');
  const dgamma = backend.makeOutput([C], 'float32');
  const dbeta = backend.makeOutput([C], 'float32');
  const k1 = backend.makeOutput([C], 'float32');
  const k2 = backend.makeOutput([C], 'float32');
  const k0 = backend.makeOutput([C], 'float32');
  const accDy = scratch64(backend, C);
  const accDyX = scratch64(backend, C);
  const at = (t: TensorInfo) => heapOffset(backend, t);
  k.bn_grad_sums(at(dy), at(x), rows, C, at(mean), at(accDy), at(accDyX));
  const sDy = f64(backend, accDy, C);
  const sDyX = f64(backend, accDyX, C);
  const [g, v, dg, db, a1, a2, a0] = [gamma, variance, dgamma, dbeta, k1, k2, k0].map((t) => heapF32(backend, t));
  for (let c = 0; c < C; c++) {
    const inv = 1 / Math.sqrt(v[c] + epsilon);
    const a = g[c] * inv;
    db[c] = sDy[c];
    dg[c] = sDyX[c] * inv;
    a1[c] = a; // dx = a·dy − a·s²·(Σdy·(x−μ))/N · (x − μ) − a·Σdy/N
    a2[c] = (-a * inv * inv * sDyX[c]) / rows;
    a0[c] = (-a * sDy[c]) / rows;
  }
  k.affine3(at(dy), at(x), rows, C, at(k1), at(k2), at(mean), at(k0), at(dx));
  release(backend, k1, k2, k0, accDy, accDyX);
  return [dx, dgamma, dbeta];
}

export const batchNormTrainConfig: KernelConfig = { kernelName: BN_TRAIN, backendName: 'wasm', kernelFunc: batchNormTrain as never };
export const batchNormTrainGradConfig: KernelConfig = { kernelName: BN_TRAIN_GRAD, backendName: 'wasm', kernelFunc: batchNormTrainGrad as never };

/**
 * Saved: x, gamma (inputs) and mean, variance (outputs). Only y's gradient flows back: the statistics and moving
 * statistics outputs feed the moving-average variables, not the loss (as in Keras, where they are updates).
 */
export const batchNormTrainGradient: GradConfig = {
  kernelName: BN_TRAIN,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true, false, false],
  gradFunc: (dys, saved, attrs) => {
    const dy = (Array.isArray(dys) ? dys[0] : dys) as Tensor;
    const [x, gamma, mean, variance] = saved;
    const [dx, dgamma, dbeta] = tf.engine().runKernel(BN_TRAIN_GRAD, { dy, x, gamma, mean, variance }, attrs as NamedAttrMap) as Tensor[];
    return { x: () => dx, gamma: () => dgamma, beta: () => dbeta, movingMean: () => tf.zerosLike(mean), movingVariance: () => tf.zerosLike(variance) };
  },
};

let registered = false;
export function registerBatchNormTrainGradient(): void {
  if (!registered) registerGradient(batchNormTrainGradient);
  registered = true;
}

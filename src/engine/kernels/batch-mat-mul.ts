/**
 * BatchMatMul for wasm with transposes done explicitly. tfjs-backend-wasm's XNNPACK path is 8–10x slower
 * when transposeA / transposeB is set (measured on LeNet-5's dense layers), so transpose first and call the
 * original kernel with both flags false. Gradients of every dense layer hit this path. The transposes are
 * convlens's tiled SIMD-module kernel: tfjs's Transpose took 1.1 ms for LeNet-5's [400, 120] weights and 5.4 s for
 * VGG16's [25088, 4096] fc1 (the input gradient through it, dy · Wᵀ, in every gradient pass).
 * A · Bᵀ with few rows (a dense layer's input gradient for a few images, dy · Wᵀ) or a large B skips the transpose:
 * convlens's row-by-row dot products read B in place (VGG16's fc1 input gradient for 2 images: 2.4 s → 73 ms).
 * Shapes: a [..., M, K] (or [..., K, M] with transposeA), b [..., K, N] (or [..., N, K]) → [..., M, N].
 */
import { BatchMatMul, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { onAllThreads } from '../simd/pool.ts';
import { simdKernels } from '../simd/simd.ts';
import { callKernel, heapOffset, type KernelArgs, type WasmBackend, withTemps } from './wasm-calls.ts';

/** Swap the last two axes. */
function swapLast(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

/** x with its last two axes swapped (float32: convlens's tiled transpose; other types: tfjs's Transpose). */
function swapLastTwo(backend: WasmBackend, x: TensorInfo): TensorInfo {
  const rank = x.shape.length;
  if (x.dtype !== 'float32') return callKernel(backend, 'Transpose', { x }, { perm: swapLast(rank) });
  const R = x.shape[rank - 2];
  const C = x.shape[rank - 1];
  const out = backend.makeOutput([...x.shape.slice(0, -2), C, R], 'float32');
  const B = x.shape.slice(0, -2).reduce((a, b) => a * b, 1);
  if (B * R * C > 0) simdKernels().transpose(heapOffset(backend, x), heapOffset(backend, out), B, R, C);
  return out;
}

/** A · Bᵀ without a transpose when A has at most this many rows (B is read once per 4 rows of A)… */
export const GEMM_NT_ROWS = 8;
/** … or when B has this many elements (64 MB: transposing it costs more than reading it M / 4 times). */
export const GEMM_NT_LARGE = 1 << 24;

/** [batch, M, K] · [batch, N, K]ᵀ → [batch, M, N] by convlens's dot-product kernel, columns split over SIMD threads. */
function gemmNt(backend: WasmBackend, a: TensorInfo, b: TensorInfo, batch: number, M: number, K: number, N: number): TensorInfo {
  const out = backend.makeOutput([...a.shape.slice(0, -2), M, N], 'float32');
  if (batch * M * N === 0) return out;
  const k = simdKernels();
  for (let i = 0; i < batch; i++) {
    const args = [heapOffset(backend, a) + 4 * i * M * K, heapOffset(backend, b) + 4 * i * N * K, heapOffset(backend, out) + 4 * i * M * N, M, K, N];
    onAllThreads('gemm_nt', args, (tid, n) => k.gemm_nt(...(args as [number, number, number, number, number, number]), tid, n));
  }
  return out;
}

export function batchMatMul({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  if (!transposeA && !transposeB) return callKernel(backend, BatchMatMul, inputs, attrs);
  if (transposeB && !transposeA && a.dtype === 'float32' && b.dtype === 'float32') {
    const [M, K] = a.shape.slice(-2);
    const N = b.shape.at(-2)!;
    const batch = a.shape.slice(0, -2);
    const sameBatch = b.shape.length === a.shape.length && batch.every((d, i) => d === b.shape[i]); // no broadcasting
    if (sameBatch && (M <= GEMM_NT_ROWS || N * K >= GEMM_NT_LARGE)) return gemmNt(backend, a, b, batch.reduce((x, y) => x * y, 1), M, K, N);
  }
  return withTemps(backend, (temp) => {
    const aa = transposeA ? temp(swapLastTwo(backend, a)) : a;
    const bb = transposeB ? temp(swapLastTwo(backend, b)) : b;
    return callKernel(backend, BatchMatMul, { a: aa, b: bb }, { transposeA: false, transposeB: false });
  });
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: BatchMatMul,
  backendName: 'wasm',
  kernelFunc: batchMatMul as never,
};

/**
 * BatchMatMul for wasm with transposes done explicitly. tfjs-backend-wasm's XNNPACK path is 8–10x slower
 * when transposeA / transposeB is set (measured on LeNet-5's dense layers), so transpose first and call the
 * original kernel with both flags false. Gradients of every dense layer hit this path.
 * Shapes: a [..., M, K] (or [..., K, M] with transposeA), b [..., K, N] (or [..., N, K]) → [..., M, N].
 */
import { BatchMatMul, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { callKernel, type KernelArgs, withTemps } from './wasm-calls.ts';

/** Swap the last two axes. */
function swapLast(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

export function batchMatMul({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  if (!transposeA && !transposeB) return callKernel(backend, BatchMatMul, inputs, attrs);
  return withTemps(backend, (temp) => {
    const aa = transposeA ? temp(callKernel(backend, 'Transpose', { x: a }, { perm: swapLast(a.shape.length) })) : a;
    const bb = transposeB ? temp(callKernel(backend, 'Transpose', { x: b }, { perm: swapLast(b.shape.length) })) : b;
    return callKernel(backend, BatchMatMul, { a: aa, b: bb }, { transposeA: false, transposeB: false });
  });
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: BatchMatMul,
  backendName: 'wasm',
  kernelFunc: batchMatMul as never,
};

/**
 * FusedBatchNorm (batch normalization with given statistics: inference, and frozen layers in training) for wasm as
 * one SIMD pass (simd/kernels.wat.ts `bn_infer`): y = k · (x − mean) + β with k = γ / sqrt(σ² + ε) per channel,
 * computed in float64 on the C channels. tfjs's wasm kernel is a scalar loop: 9.3 of 33 ms of a GAP CNN forward
 * pass at batch 32 (1 thread). Parameters that are not one value per channel of the last axis go to tfjs's kernel.
 */
import { FusedBatchNorm, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { simdKernels } from '../simd/simd.ts';
import { callKernel, heapF32, heapOffset, type KernelArgs, withTemps } from './wasm-calls.ts';

const size = (t: TensorInfo) => t.shape.reduce((a, b) => a * b, 1);

export function fusedBatchNorm({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { x, mean, variance, offset, scale } = inputs;
  const { varianceEpsilon } = attrs as { varianceEpsilon: number };
  const C = x.shape[x.shape.length - 1] ?? 0;
  const params = [mean, variance, offset, scale].filter((t) => t != null);
  if (x.dtype !== 'float32' || C === 0 || size(x) === 0 || params.some((t) => size(t) !== C || t.dtype !== 'float32')) {
    return callKernel(backend, FusedBatchNorm, inputs, attrs);
  }
  return withTemps(backend, (temp) => {
    const k = temp(backend.makeOutput([2, C], 'float32')); // k, then k0
    const out = backend.makeOutput(x.shape, 'float32');
    const kv = heapF32(backend, k);
    const v = heapF32(backend, variance);
    const g = scale ? heapF32(backend, scale) : undefined;
    const b = offset ? heapF32(backend, offset) : undefined;
    for (let c = 0; c < C; c++) {
      kv[c] = (g ? g[c] : 1) / Math.sqrt(v[c] + varianceEpsilon);
      kv[C + c] = b ? b[c] : 0;
    }
    const at = (t: TensorInfo) => heapOffset(backend, t);
    simdKernels().bn_infer(at(x), size(x) / C, C, at(k), at(mean), at(k) + 4 * C, at(out));
    return out;
  });
}

export const fusedBatchNormConfig: KernelConfig = {
  kernelName: FusedBatchNorm,
  backendName: 'wasm',
  kernelFunc: fusedBatchNorm as never,
};

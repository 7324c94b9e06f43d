/**
 * MaxPoolGrad for wasm, one SIMD pass over the pooling windows directly on the wasm heap (simd/kernels.wat.ts).
 *
 * tfjs's wasm kernel walks every input pixel and re-scans all windows covering it; this walks each output
 * window once, finds its arg-max (the first maximum in row-major order, as tfjs's cpu backend does) for four
 * channels at a time and adds dy there: O(outputs × window) instead of O(inputs × window²).
 * Shapes: input [B, H, W, C], dy [B, OH, OW, C] → dx [B, H, W, C].
 */
import { backend_util, MaxPoolGrad, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { simdKernels } from '../simd/simd.ts';
import { heapOffset, type KernelArgs } from './wasm-calls.ts';

export function maxPoolGrad({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { dy, input } = inputs;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode,
  );
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sy, strideWidth: sx, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;

  const dx = backend.makeOutput(input.shape, 'float32');
  const at = (t: TensorInfo) => heapOffset(backend, t);
  simdKernels().max_pool_grad(at(input), at(dy), at(dx), B, H, W, C, OH, OW, fh, fw, sy, sx, top, left);
  return dx;
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as never,
};

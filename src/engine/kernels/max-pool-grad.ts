/**
 * MaxPoolGrad for wasm, one pass over the pooling windows directly on the wasm heap.
 *
 * tfjs's wasm kernel walks every input pixel and re-scans all windows covering it; this walks each output
 * window once, finds its arg-max (the first maximum in row-major order, as tfjs's cpu backend does) and adds
 * dy there: O(outputs × window) instead of O(inputs × window²).
 * Shapes: input [B, H, W, C], dy [B, OH, OW, C] → dx [B, H, W, C].
 */
import { backend_util, MaxPoolGrad, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { heapF32, type KernelArgs } from './wasm-calls.ts';

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
  const out = heapF32(backend, dx);
  out.fill(0);
  const xv = heapF32(backend, input);
  const dyv = heapF32(backend, dy);
  // Channels innermost: every read walks memory in order. best/at hold the running maximum per channel.
  const best = new Float32Array(C);
  const at = new Int32Array(C);
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      const y0 = oy * sy - top;
      const yStart = Math.max(0, y0);
      const yEnd = Math.min(H, y0 + fh);
      for (let ox = 0; ox < OW; ox++) {
        const x0 = ox * sx - left;
        const xStart = Math.max(0, x0);
        const xEnd = Math.min(W, x0 + fw);
        for (let c = 0; c < C; c++) {
          best[c] = Number.NEGATIVE_INFINITY;
          at[c] = -1;
        }
        for (let y = yStart; y < yEnd; y++) {
          for (let x = xStart; x < xEnd; x++) {
            const base = ((b * H + y) * W + x) * C;
            for (let c = 0; c < C; c++) {
              const v = xv[base + c];
              if (v > best[c]) {
                best[c] = v;
                at[c] = base + c;
              }
            }
          }
        }
        const dyBase = ((b * OH + oy) * OW + ox) * C;
        for (let c = 0; c < C; c++) {
          if (at[c] >= 0) out[at[c]] += dyv[dyBase + c];
        }
      }
    }
  }
  return dx;
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as never,
};

/**
 * Conv2DBackpropFilter for wasm (tfjs-backend-wasm has none): stride-1 3x3 filters by Winograd's F(2x2, 3x3) run
 * backwards, 1x1 stride-1 filters as one SIMD product xᵀ · dy, the rest as im2col + one XNNPACK matrix product.
 *
 * dW[i, j, ci, co] = Σ_{b, y, x} xpad[b, y·sy + i, x·sx + j, ci] · dy[b, y, x, co]
 *
 * Measured on the GAP CNN's layers (batch 32, 1 thread) against the previous composite (one convolution with dy as
 * a 64x64 filter): 3x3 64→64 at 8x8 7.2 → 5.0 ms, 32→64 4.5 → 2.6, 16→32 at 16x16 5.7 → 3.3, 8→16 at 32x32
 * 6.9 → 4.6; 3→8 at 64x64 7.9 → 8.7 (three channels leave the transposing im2col nothing to vectorise). 1x1
 * convolutions take the same path: their im2col is the transpose xᵀ, done 4x4 in registers.
 */
import { backend_util, Conv2DBackpropFilter, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { onAllThreads, poolThreads } from '../simd/pool.ts';
import { simdKernels } from '../simd/simd.ts';
import { callKernel, heapF32, heapOffset, type KernelArgs, withTemps } from './wasm-calls.ts';
import { winogradChunk } from './winograd-conv2d.ts';

export function conv2dBackpropFilter({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (dataFormat === 'NCHW') throw new Error('convlens wasm Conv2DBackpropFilter supports NHWC only');
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast',
  );
  const [fh, fw, ci, co] = filterShape;
  const { top, left } = info.padInfo;
  if (fh === 1 && fw === 1 && info.strideHeight === 1 && info.strideWidth === 1 && top === 0 && left === 0 &&
    ci % 4 === 0 && co % 8 === 0) {
    return pointwiseFilterGrad(backend, x, dy, filterShape);
  }
  // Channels padded to multiples of 4 (in) and 8 (out) for Winograd: worth it while its products stay ≤ 0.6 of
  // the direct sum's multiplies (16 per 2x2 tile against 36): every aligned layer, and e.g. 3 → 8 (an RGB input).
  const winograd = fh === 3 && fw === 3 && info.strideHeight === 1 && info.strideWidth === 1 &&
    16 * roundUp(ci, 4) * roundUp(co, 8) <= 0.6 * 36 * ci * co;
  return winograd ? winogradFilterGrad(backend, x, dy, filterShape, info) : im2colFilterGrad(backend, x, dy, filterShape, info);
}

const roundUp = (n: number, k: number) => Math.ceil(n / k) * k;

/**
 * Stride-1 3x3 filters by Winograd's F(2x2, 3x3) run backwards (simd/winograd.wat.ts): dW = Gᵀ [Σ_tiles
 * (Bᵀ x B) ⊗ (A dy Aᵀ)] G, 16 products [Ci, tiles] · [tiles, Co] with 2.25x fewer multiplies than im2col's one
 * product. Each thread of convlens's SIMD pool sums its share of the 16 points over every tile in order, so the
 * result is the same for any thread count.
 */
function winogradFilterGrad(
  backend: KernelArgs['backend'], x: TensorInfo, dy: TensorInfo, filterShape: number[], info: backend_util.Conv2DInfo,
): TensorInfo {
  const [B, H, W, ci] = x.shape;
  const co = filterShape[3];
  const [Ci, Co] = [roundUp(ci, 4), roundUp(co, 8)];
  const { outHeight: OH, outWidth: OW } = info;
  const { top, left } = info.padInfo;
  const T = B * Math.ceil(OH / 2) * Math.ceil(OW / 2);
  const chunk = winogradChunk(T, Ci, Co);
  const threads = poolThreads();
  const k = simdKernels();
  return withTemps(backend, (temp) => {
    const padChannels = (t: TensorInfo, to: number) => t.shape[3] === to ? t
      : temp(callKernel(backend, 'PadV2', { x: t }, { paddings: [[0, 0], [0, 0], [0, 0], [0, to - t.shape[3]]], constantValue: 0 }));
    const xp = padChannels(x, Ci);
    const dyp = padChannels(dy, Co);
    const dU = temp(backend.makeOutput([16, Ci, Co], 'float32'));
    const v = temp(backend.makeOutput([threads, 16, chunk, Ci], 'float32'));
    const wd = temp(backend.makeOutput([threads, 16, chunk, Co], 'float32'));
    const padded = Ci !== ci || Co !== co;
    const dW = backend.makeOutput([3, 3, Ci, Co], 'float32');
    if (padded) temp(dW);
    heapF32(backend, dU).fill(0);
    const [px, pdy, pv, pwd, pdu] = [xp, dyp, v, wd, dU].map((t) => heapOffset(backend, t));
    const args = [px, pdy, pv, pwd, pdu, B, H, W, Ci, Co, OH, OW, top, left, chunk];
    onAllThreads('winograd_filter_grad', args, (tid, n) => (k.winograd_filter_grad as (...a: number[]) => void)(...args, tid, n));
    k.wino_filter_grad(pdu, heapOffset(backend, dW), Ci * Co);
    return padded ? callKernel(backend, 'Slice', { x: dW }, { begin: [0, 0, 0, 0], size: filterShape }) : dW;
  });
}

/**
 * 1x1 stride-1 filters (MobileNet's pointwise convolutions): dW [Ci, Co] = xᵀ [Ci, N] · dy [N, Co] with N = B·H·W,
 * one SIMD product that reads x and dy where they lie (no transpose, no packing), its 4x8 blocks of dW shared out
 * over the SIMD threads. MobileNetV2 α0.35's 35 pointwise filter gradients per step at batch 32, 1 thread:
 * 27.3 → 11.8 ms (the im2col transpose and XNNPACK's packing of dy on every call are gone).
 */
function pointwiseFilterGrad(backend: KernelArgs['backend'], x: TensorInfo, dy: TensorInfo, filterShape: number[]): TensorInfo {
  const [B, H, W, Ci] = x.shape;
  const Co = filterShape[3];
  const dW = backend.makeOutput(filterShape, 'float32');
  heapF32(backend, dW).fill(0);
  const args = [heapOffset(backend, x), heapOffset(backend, dy), heapOffset(backend, dW), Ci, B * H * W, Co];
  const k = simdKernels();
  onAllThreads('gemm_tn', args, (tid, n) => (k.gemm_tn as (...a: number[]) => void)(...args, tid, n));
  return dW;
}

/** Floats in one im2col buffer (64 MB); larger batches are taken a few images at a time. */
export const im2colBudget = { floats: 1 << 24 };

/**
 * dW [fh·fw·Ci, Co] = colsᵀ [fh·fw·Ci, N] · dy [N, Co] with N = B·OH·OW and colsᵀ the transposed im2col of x (a
 * SIMD kernel): one matrix product with a long inner dimension, dy as XNNPACK's packed operand. XNNPACK packs that
 * operand anew on every call, which costs more than the SIMD transpose; so a 1x1 convolution that widens (Co > Ci,
 * MobileNet's expansions) packs x instead: dWᵀ [Co, Ci] = dyᵀ [Co, N] · x [N, Ci], then a small transpose. Batches
 * whose columns would not fit im2colBudget are summed chunk by chunk, in a fixed order.
 */
function im2colFilterGrad(
  backend: KernelArgs['backend'], x: TensorInfo, dy: TensorInfo, filterShape: number[], info: backend_util.Conv2DInfo,
): TensorInfo {
  const [B, H, W, Ci] = x.shape;
  const [fh, fw, , Co] = filterShape;
  const { strideHeight: sy, strideWidth: sx, dilationHeight: dh, dilationWidth: dw, outHeight: OH, outWidth: OW } = info;
  const { top, left } = info.padInfo;
  const K = fh * fw * Ci;
  const widening = fh === 1 && fw === 1 && sy === 1 && sx === 1 && top === 0 && left === 0 && Co > Ci;
  const chunk = Math.max(1, Math.min(B, Math.floor(im2colBudget.floats / (OH * OW * (widening ? Co : K)))));
  return withTemps(backend, (temp) => {
    // im2col_t's scratch: a table of 64 source addresses, then one pixel of zeros (what padding reads).
    const scratch = temp(backend.makeOutput([64 + Math.max(Ci, Co)], 'float32'));
    heapF32(backend, scratch).fill(0);
    const at = (t: TensorInfo) => heapOffset(backend, t);
    /** [rows, cols] at byte offset `from` → a new [1, cols, rows] tensor. */
    const transpose = (from: number, rows: number, cols: number) => {
      const out = temp(backend.makeOutput([1, cols, rows], 'float32'));
      simdKernels().im2col_t(from, at(out), at(scratch), 1, rows, 1, cols, rows, 1, 1, 1, 1, 1, 1, 1, 0, 0);
      return out;
    };
    let sum: TensorInfo | undefined;
    for (let b0 = 0; b0 < B; b0 += chunk) {
      const nb = Math.min(chunk, B - b0);
      const n = nb * OH * OW;
      let part: TensorInfo;
      if (widening) {
        const dyT = transpose(at(dy) + b0 * OH * OW * Co * 4, n, Co);
        const xPart = nb === B ? x : temp(callKernel(backend, 'Slice', { x }, { begin: [b0, 0, 0, 0], size: [nb, -1, -1, -1] }));
        const x2 = temp(callKernel(backend, 'Reshape', { x: xPart }, { shape: [1, n, Ci] }));
        part = temp(callKernel(backend, 'BatchMatMul', { a: dyT, b: x2 }, { transposeA: false, transposeB: false }));
      } else {
        const colsT = temp(backend.makeOutput([1, K, n], 'float32'));
        simdKernels().im2col_t(at(x) + b0 * H * W * Ci * 4, at(colsT), at(scratch), nb, H, W, Ci, OH, OW, fh, fw, sy, sx, dh, dw, top, left);
        const dyPart = nb === B ? dy : temp(callKernel(backend, 'Slice', { x: dy }, { begin: [b0, 0, 0, 0], size: [nb, -1, -1, -1] }));
        const dy2 = temp(callKernel(backend, 'Reshape', { x: dyPart }, { shape: [1, n, Co] }));
        part = temp(callKernel(backend, 'BatchMatMul', { a: colsT, b: dy2 }, { transposeA: false, transposeB: false }));
      }
      sum = sum ? temp(callKernel(backend, 'Add', { a: sum, b: part })) : part;
    }
    const dW = widening ? transpose(at(sum!), Co, Ci) : sum!;
    return callKernel(backend, 'Reshape', { x: dW }, { shape: filterShape });
  });
}

export const conv2dBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter as never,
};

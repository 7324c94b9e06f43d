/**
 * Conv2DBackpropFilter for wasm (tfjs-backend-wasm has none): stride-1 3x3 filters by Winograd's F(2x2, 3x3) run
 * backwards, 1x1 stride-1 filters as one SIMD product xᵀ · dy, layers with ≤ 8 input channels (an image's first
 * layer) by direct sums in registers (simd/filter-grad.wat.ts), the rest as im2col + one XNNPACK matrix product
 * (`filterGradPath` chooses).
 *
 * dW[i, j, ci, co] = Σ_{b, y, x} xpad[b, y·sy + i, x·sx + j, ci] · dy[b, y, x, co]
 *
 * Measured on the GAP CNN's layers (batch 32, 1 thread) against the previous composite (one convolution with dy as
 * a 64x64 filter): 3x3 64→64 at 8x8 7.2 → 5.0 ms, 32→64 4.5 → 2.6, 16→32 at 16x16 5.7 → 3.3, 8→16 at 32x32
 * 6.9 → 4.6; 3→8 at 64x64 7.9 → 8.7 (three channels leave the transposing im2col nothing to vectorise: now the
 * direct sums, 1.1–1.3x faster than Winograd there). 1x1
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
  switch (filterGradPath(x.shape[3], filterShape, info)) {
    case 'pointwise': return pointwiseFilterGrad(backend, x, dy, filterShape);
    case 'winograd': return winogradFilterGrad(backend, x, dy, filterShape, info);
    case 'direct': return directGrad(backend, x, dy, filterShape, info);
    default: return im2colFilterGrad(backend, x, dy, filterShape, info);
  }
}

/** Which of the paths above computes a filter gradient. */
export function filterGradPath(ci: number, filterShape: number[], info: backend_util.Conv2DInfo): 'pointwise' | 'winograd' | 'direct' | 'im2col' {
  const [fh, fw, , co] = filterShape;
  const { top, left } = info.padInfo;
  const stride1 = info.strideHeight === 1 && info.strideWidth === 1;
  if (fh === 1 && fw === 1 && stride1 && top === 0 && left === 0 && ci % 4 === 0 && co % 8 === 0) return 'pointwise';
  // Channels padded to multiples of 4 (in) and 8 (out) for Winograd: worth it while its products stay ≤ 0.6 of
  // the direct sum's multiplies (16 per 2x2 tile against 36): every aligned layer, and e.g. 3 → 8 (an RGB input).
  const winograd = fh === 3 && fw === 3 && stride1 && 16 * roundUp(ci, 4) * roundUp(co, 8) <= 0.6 * 36 * ci * co;
  const direct = ci <= directFilterGrad.maxChannels && info.outWidth > 0;
  // Winograd pads Ci to 4: with Ci = 3 (or 6) and ≤ 8 outputs the direct sums win (GAP CNN's 3 → 8 at 64x64:
  // 1.1–1.3x); with more outputs Winograd does (RGB → 64 at 224²: 2x).
  if (winograd && !(direct && ci % 4 !== 0 && co <= 8)) return 'winograd';
  return direct ? 'direct' : 'im2col';
}

/**
 * Layers with at most this many input channels take the direct kernel instead of im2col + XNNPACK. Measured per
 * call against it, alternating, batch 32, 1 thread: LeNet-5's 5x5 1 → 6 at 28x28 2.8x, 5x5 6 → 16 at 12x12 1.4x,
 * MobileNetV2's stride-2 3x3 3 → 16 at 64x64 2.0x, one 224² RGB image stride 2 → 32 1.3x, 3x3 stride 2 8 → 16
 * 1.1x, 5x5 8 → 16 1.3x; but 16 → 32 0.8–0.9x (every 8 outputs re-read x: a pass per 8 channels).
 */
export const directFilterGrad = { maxChannels: 8 };

/** The sizes a filter gradient works with: x [B, H, W, Ci], the filter's [fh, fw, ·, Co], strides, dilations, output, padding. */
function geometry(x: TensorInfo, filterShape: number[], info: backend_util.Conv2DInfo) {
  const [B, H, W, Ci] = x.shape;
  const [fh, fw, , Co] = filterShape;
  const { strideHeight: sy, strideWidth: sx, dilationHeight: dh, dilationWidth: dw, outHeight: OH, outWidth: OW } = info;
  return { B, H, W, Ci, fh, fw, Co, sy, sx, dh, dw, OH, OW, top: info.padInfo.top, left: info.padInfo.left };
}

/**
 * dW by simd/filter-grad.wat.ts: x padded so every tap lies inside, dy padded to a multiple of 8 channels, a table
 * of the taps' byte offsets, then blocks of ≤ 6 taps x 8 channels summed in registers, shared out over the SIMD
 * threads.
 */
function directGrad(
  backend: KernelArgs['backend'], x: TensorInfo, dy: TensorInfo, filterShape: number[], info: backend_util.Conv2DInfo,
): TensorInfo {
  const { B, H, W, Ci, fh, fw, Co, sy, sx, dh, dw, OH, OW, top, left } = geometry(x, filterShape, info);
  const Co8 = roundUp(Co, 8);
  const T = fh * fw * Ci;
  // Rows and columns the windows reach: padded below / right only as far as they do.
  const bottom = Math.max(0, (OH - 1) * sy + (fh - 1) * dh + 1 - top - H);
  const right = Math.max(0, (OW - 1) * sx + (fw - 1) * dw + 1 - left - W);
  const [Hp, Wp] = [H + top + bottom, W + left + right];
  // Blocks of equal size: 25 taps as 5 x 5, 27 as 5 x 6 (one tap repeated), never a block of one left over.
  const tb = Math.ceil(T / Math.ceil(T / 6));
  return withTemps(backend, (temp) => {
    const xp = top || left || bottom || right
      ? temp(callKernel(backend, 'PadV2', { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 }))
      : x;
    const dyp = Co8 === Co ? dy : temp(callKernel(backend, 'PadV2', { x: dy }, { paddings: [[0, 0], [0, 0], [0, 0], [0, Co8 - Co]], constantValue: 0 }));
    const taps = temp(backend.makeOutput([T], 'int32'));
    const table = backend.typedArrayFromHeap(taps) as Int32Array;
    for (let i = 0; i < fh; i++) for (let j = 0; j < fw; j++) for (let c = 0; c < Ci; c++) table[(i * fw + j) * Ci + c] = 4 * ((i * dh * Wp + j * dw) * Ci + c);
    const dW = temp(backend.makeOutput([T, Co8], 'float32')); // the Reshape below holds the returned reference
    const name = `filter_grad_direct${tb}` as const;
    const args = [heapOffset(backend, xp), heapOffset(backend, dyp), heapOffset(backend, dW), heapOffset(backend, taps), T, B, Hp, Wp, Ci, OH, OW, Co8, sy, sx];
    const k = simdKernels();
    onAllThreads(name, args, (tid, n) => k[name](...(args as [number, number, number, number, number, number, number, number, number, number, number, number, number, number]), tid, n));
    const out = Co8 === Co ? dW : temp(callKernel(backend, 'Slice', { x: dW }, { begin: [0, 0], size: [T, Co] }));
    return callKernel(backend, 'Reshape', { x: out }, { shape: filterShape });
  });
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
  const { B, H, W, Ci, fh, fw, Co, sy, sx, dh, dw, OH, OW, top, left } = geometry(x, filterShape, info);
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

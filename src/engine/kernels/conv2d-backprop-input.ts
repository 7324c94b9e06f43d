/**
 * Conv2DBackpropInput for wasm as one convolution (tfjs's wasm kernel is a naive loop): Winograd's for stride-1 3x3
 * filters with enough channels (winograd-conv2d.ts), XNNPACK's otherwise; strided ones by col2im (stridedInputGrad).
 *
 * dx[b, h, w, ci] = Σ_{i, j, co} dy[b, y, x, co] · W[i, j, ci, co]   where h + top = y·sy + i, w + left = x·sx + j
 *
 * Insert sy−1 / sx−1 zeros between dy's rows / columns, pad by (fh−1−top, fw−1−left), and correlate with W
 * flipped in space and transposed to [fh, fw, Co, Ci]: a stride-1 'valid' convolution whose output is dx. With
 * stride 1 there is nothing to insert, and the convolution pads dy itself.
 * Padding larger than the filter (only reachable with explicit padding) falls back to tfjs's kernel.
 */
import { backend_util, Conv2DBackpropInput, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { onAllThreads } from '../simd/pool.ts';
import { simdKernels } from '../simd/simd.ts';
import { callKernel, dilateAndPad, heapF32, heapOffset, type KernelArgs, withTemps } from './wasm-calls.ts';
import { conv2d } from './winograd-conv2d.ts';

export function conv2dBackpropInput({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { dy, filter } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    inputShape: [number, number, number, number];
  };
  const info = backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false,
    'channelsLast',
  );
  const { filterHeight: fh, filterWidth: fw, strideHeight: sy, strideWidth: sx } = info;
  const { top, left } = info.padInfo;
  if (dataFormat === 'NCHW' || top > fh - 1 || left > fw - 1) {
    return callKernel(backend, Conv2DBackpropInput, inputs, attrs); // tfjs's own (slow, general) kernel
  }
  if (fh === 1 && fw === 1 && sy === 1 && sx === 1 && top === 0 && left === 0) {
    return pointwiseInputGrad(backend, dy, filter, inputShape);
  }
  const [, H, W] = inputShape;
  if (sy > 1 || sx > 1) return stridedInputGrad(backend, dy, filter, inputShape, info);
  return withTemps(backend, (temp) => {
    const [, , Ci, Co] = filter.shape;
    const wT = temp(backend.makeOutput([fh, fw, Co, Ci], 'float32')); // flipped in space, transposed
    simdKernels().flip_transpose(heapOffset(backend, filter), heapOffset(backend, wT), fh * fw, Ci, Co);
    const conv = (x: TensorInfo, pad: unknown) =>
      conv2d({ backend, inputs: { x, filter: wT }, attrs: {
        strides: [1, 1],
        pad,
        dataFormat: 'NHWC',
        dilations: [1, 1],
        dimRoundingMode: undefined,
      } as never });
    // Stride 1: nothing to insert; the convolution pads dy itself (no padded copy) to give exactly H x W outputs.
    const [, OH, OW] = dy.shape;
    const [padTop, padLeft] = [fh - 1 - top, fw - 1 - left];
    const [padBottom, padRight] = [H + fh - 1 - OH - padTop, W + fw - 1 - OW - padLeft];
    if (sy === 1 && sx === 1 && padBottom >= 0 && padRight >= 0) {
      return conv(dy, [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]]);
    }
    // Rows of the zero-inserted, padded dy: the convolution must produce exactly H rows.
    const dyPad = temp(dilateAndPad(backend, dy, [sy, sx], padTop, padLeft, H + fh - 1, W + fw - 1));
    return conv(dyPad, 'valid');
  });
}

/**
 * Strided convolutions (stems, downsampling blocks) by col2im: cols [B·OH·OW, fh·fw·Ci] = dy [B·OH·OW, Co] · Wᵀ, one
 * XNNPACK product, then each column added into dx at its tap (dx[b, y·sy + i − top, x·sx + j − left, ci] +=
 * cols[(b, y, x), (i, j, ci)]). The zero-inserted convolution multiplies sy·sx times as many zeros as values, and
 * with an RGB input its 3 output channels leave the SIMD lanes idle: ResNet-18's 7x7/2 stem input gradient at 224 is
 * 75 → 9 ms per image (1 thread).
 */
function stridedInputGrad(
  backend: KernelArgs['backend'], dy: TensorInfo, filter: TensorInfo, inputShape: number[], info: backend_util.Conv2DInfo,
): TensorInfo {
  const [B, H, W, Ci] = inputShape;
  const [, OH, OW, Co] = dy.shape;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sy, strideWidth: sx } = info;
  const { top, left } = info.padInfo;
  const K = fh * fw * Ci;
  return withTemps(backend, (temp) => {
    const N = B * OH * OW;
    const w2 = temp(callKernel(backend, 'Reshape', { x: filter }, { shape: [1, K, Co] }));
    const wT = temp(callKernel(backend, 'Transpose', { x: w2 }, { perm: [0, 2, 1] }));
    let cols: TensorInfo;
    if (K % 8 === 0) {
      // convlens's SIMD product, rows shared out over the SIMD threads.
      cols = temp(backend.makeOutput([N, K], 'float32'));
      const k = simdKernels();
      const args = [heapOffset(backend, dy), heapOffset(backend, wT), heapOffset(backend, cols), N, Co, K];
      onAllThreads('gemm_rows', args, (tid, n) => (k.gemm_rows as (...a: number[]) => void)(...args, tid, n));
    } else {
      // XNNPACK's product (tfjs's BatchMatMul with transposeB takes a slow general loop, hence the transpose above).
      const dy2 = temp(callKernel(backend, 'Reshape', { x: dy }, { shape: [1, N, Co] }));
      cols = temp(callKernel(backend, 'BatchMatMul', { a: dy2, b: wT }, { transposeA: false, transposeB: false }));
    }
    const dx = backend.makeOutput(inputShape, 'float32');
    const c = heapF32(backend, cols);
    const out = heapF32(backend, dx);
    out.fill(0);
    let r = 0;
    for (let b = 0; b < B; b++) {
      for (let y = 0; y < OH; y++) {
        for (let x = 0; x < OW; x++, r++) {
          let k = r * K;
          for (let i = 0; i < fh; i++) {
            const h = y * sy + i - top;
            if (h < 0 || h >= H) {
              k += fw * Ci;
              continue;
            }
            for (let j = 0; j < fw; j++, k += Ci) {
              const w = x * sx + j - left;
              if (w < 0 || w >= W) continue;
              const o = ((b * H + h) * W + w) * Ci;
              for (let ci = 0; ci < Ci; ci++) out[o + ci] += c[k + ci];
            }
          }
        }
      }
    }
    return dx;
  });
}

/**
 * 1x1 stride-1 convolutions: dx [N, Ci] = dy [N, Co] · Wᵀ [Co, Ci] with N = B·H·W: convlens's SIMD product when Ci
 * is a multiple of 8 (MobileNetV2 α0.35's 34 per step, batch 32, 1 thread:
 * 22.5 → 6.5 ms; XNNPACK packed the freshly transposed Wᵀ on every call), else XNNPACK's.
 */
function pointwiseInputGrad(
  backend: KernelArgs['backend'], dy: TensorInfo, filter: TensorInfo, inputShape: number[],
): TensorInfo {
  const [B, H, W, Ci] = inputShape;
  const Co = dy.shape[3];
  if (Ci % 8 === 0) {
    // One SIMD product with rows shared out over the SIMD threads; Wᵀ is a small transpose (no packing).
    return withTemps(backend, (temp) => {
      const wT = temp(backend.makeOutput([Co, Ci], 'float32'));
      const k = simdKernels();
      k.flip_transpose(heapOffset(backend, filter), heapOffset(backend, wT), 1, Ci, Co);
      const dx = backend.makeOutput(inputShape, 'float32');
      const args = [heapOffset(backend, dy), heapOffset(backend, wT), heapOffset(backend, dx), B * H * W, Co, Ci];
      onAllThreads('gemm_rows', args, (tid, n) => (k.gemm_rows as (...a: number[]) => void)(...args, tid, n));
      return dx;
    });
  }
  return withTemps(backend, (temp) => {
    const dy2 = temp(callKernel(backend, 'Reshape', { x: dy }, { shape: [1, B * H * W, Co] }));
    const w2 = temp(callKernel(backend, 'Reshape', { x: filter }, { shape: [1, Ci, Co] }));
    const wT = temp(callKernel(backend, 'Transpose', { x: w2 }, { perm: [0, 2, 1] }));
    const dx = temp(callKernel(backend, 'BatchMatMul', { a: dy2, b: wT }, { transposeA: false, transposeB: false }));
    return callKernel(backend, 'Reshape', { x: dx }, { shape: inputShape });
  });
}

export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInput as never,
};

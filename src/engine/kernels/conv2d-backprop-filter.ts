/**
 * Conv2DBackpropFilter for wasm (tfjs-backend-wasm has none), as one XNNPACK convolution.
 *
 * dW[i, j, ci, co] = Σ_{b, y, x} xpad[b, y·sy + i, x·sx + j, ci] · dy[b, y, x, co]
 *
 * Read the batch axis as the channel axis: with X' = xᵀ [Ci, H, W, B] as a batch of Ci images with B
 * channels and F' = dy as a filter [OH, OW, B, Co] dilated by the forward stride, a stride-1 convolution
 * gives out[ci, i, j, co] = dW[i, j, ci, co]; a final transpose puts it back to [fh, fw, Ci, Co].
 */
import { backend_util, Conv2DBackpropFilter, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { callKernel, type KernelArgs, withTemps } from './wasm-calls.ts';

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
  const { filterHeight: fh, filterWidth: fw, strideHeight: sy, strideWidth: sx, outHeight: oh, outWidth: ow } = info;
  const { top, left } = info.padInfo;
  const [, H, W] = x.shape;
  // Pad so that exactly the rows/columns the forward pass read are present; extra ones are cropped below.
  const bottom = Math.max(0, (oh - 1) * sy + fh - H - top);
  const right = Math.max(0, (ow - 1) * sx + fw - W - left);

  if (fh === 1 && fw === 1 && sy === 1 && sx === 1 && top === 0 && left === 0) {
    return pointwiseFilterGrad(backend, x, dy, filterShape);
  }
  return withTemps(backend, (temp) => {
    const xT = temp(callKernel(backend, 'Transpose', { x }, { perm: [3, 1, 2, 0] })); // [Ci, H, W, B]
    const dyT = temp(callKernel(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] })); // [OH, OW, B, Co]
    let out = temp(
      callKernel(backend, 'Conv2D', { x: xT, filter: dyT }, {
        strides: [1, 1],
        pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
        dataFormat: 'NHWC',
        dilations: [sy, sx],
        dimRoundingMode: undefined,
      } as never),
    ); // [Ci, ≥fh, ≥fw, Co]
    if (out.shape[1] !== fh || out.shape[2] !== fw) {
      out = temp(callKernel(backend, 'Slice', { x: out }, { begin: [0, 0, 0, 0], size: [-1, fh, fw, -1] }));
    }
    return callKernel(backend, 'Transpose', { x: out }, { perm: [1, 2, 0, 3] }); // [fh, fw, Ci, Co]
  });
}

/**
 * 1x1 stride-1 convolutions (MobileNet's expand and project layers) are matrix products:
 * dW [Ci, Co] = xᵀ [Ci, N] · dy [N, Co] with N = B·H·W.
 */
function pointwiseFilterGrad(backend: KernelArgs['backend'], x: TensorInfo, dy: TensorInfo, filterShape: number[]): TensorInfo {
  const [B, H, W, Ci] = x.shape;
  const Co = dy.shape[3];
  return withTemps(backend, (temp) => {
    const x2 = temp(callKernel(backend, 'Reshape', { x }, { shape: [1, B * H * W, Ci] }));
    const xT = temp(callKernel(backend, 'Transpose', { x: x2 }, { perm: [0, 2, 1] }));
    const dy2 = temp(callKernel(backend, 'Reshape', { x: dy }, { shape: [1, B * H * W, Co] }));
    const dW = temp(callKernel(backend, 'BatchMatMul', { a: xT, b: dy2 }, { transposeA: false, transposeB: false }));
    return callKernel(backend, 'Reshape', { x: dW }, { shape: filterShape });
  });
}

export const conv2dBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter as never,
};

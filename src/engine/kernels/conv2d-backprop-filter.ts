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

export const conv2dBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter as never,
};

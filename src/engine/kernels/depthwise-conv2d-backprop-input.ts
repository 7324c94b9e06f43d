/**
 * DepthwiseConv2dNativeBackpropInput for wasm (missing in tfjs-backend-wasm), as one XNNPACK depthwise conv.
 *
 * With channel multiplier M, dy has C·M channels and
 * dx[b, h, w, c] = Σ_{i, j, m} dy[b, y, x, c·M + m] · W[i, j, c, m]   where h + top = y·sy + i·dy_, w + left = x·sx + j·dx_
 *
 * Zero-insert dy by the stride, pad by (effective filter − 1 − pad) (with stride 1 the convolution pads, no copy),
 * and run a stride-1 depthwise convolution
 * (dilated like the forward op) with W flipped in space and reshaped to [fh, fw, C·M, 1]; for M > 1 the M
 * partial results of each input channel are summed.
 */
import {
  backend_util, DepthwiseConv2dNativeBackpropInput, type KernelConfig, type TensorInfo,
} from '@tensorflow/tfjs';
import { callKernel, dilateAndPad, type KernelArgs, withTemps } from './wasm-calls.ts';

export function depthwiseConv2dBackpropInput({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { dy, filter } = inputs;
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as {
    strides: [number, number] | number;
    dilations: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    inputShape: [number, number, number, number];
  };
  const [fh, fw, C, M] = filter.shape;
  const info = backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, true,
  );
  const { strideHeight: sy, strideWidth: sx, dilationHeight: dh, dilationWidth: dw } = info;
  const { effectiveFilterHeight: eh, effectiveFilterWidth: ew } = info;
  const { top, left } = info.padInfo;
  if (top > eh - 1 || left > ew - 1) {
    throw new Error(
      `convlens wasm DepthwiseConv2dNativeBackpropInput: padding (${top}, ${left}) larger than the filter ` +
        `(${eh}x${ew}) is not supported; use 'same' or 'valid' padding`,
    );
  }
  const [B, H, W] = inputShape;
  const [, OH, OW] = dy.shape;
  const [padTop, padLeft] = [eh - 1 - top, ew - 1 - left];
  const [padBottom, padRight] = [H + eh - 1 - OH - padTop, W + ew - 1 - OW - padLeft];
  return withTemps(backend, (temp) => {
    // Stride 1: nothing to insert; the convolution pads dy itself (no padded copy) to give exactly H x W outputs.
    const direct = sy === 1 && sx === 1 && padBottom >= 0 && padRight >= 0;
    const dyPad = direct ? dy : temp(dilateAndPad(backend, dy, [sy, sx], padTop, padLeft, H + eh - 1, W + ew - 1));
    const flipped = temp(callKernel(backend, 'Reverse', { x: filter }, { dims: [0, 1] }));
    const wFlat = temp(callKernel(backend, 'Reshape', { x: flipped }, { shape: [fh, fw, C * M, 1] }));
    const out = callKernel(backend, 'DepthwiseConv2dNative', { x: dyPad, filter: wFlat }, {
      strides: [1, 1],
      dilations: [dh, dw],
      pad: direct ? [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]] : 'valid',
      dimRoundingMode: undefined,
    } as never); // [B, H, W, C·M]
    if (M === 1) return out;
    temp(out);
    const split = temp(callKernel(backend, 'Reshape', { x: out }, { shape: [B, H, W, C, M] }));
    return callKernel(backend, 'Sum', { x: split }, { axis: [4], keepDims: false });
  });
}

export const depthwiseConv2dBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dBackpropInput as never,
};

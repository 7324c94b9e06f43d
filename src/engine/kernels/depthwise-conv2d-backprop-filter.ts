/**
 * DepthwiseConv2dNativeBackpropFilter for wasm (missing in tfjs-backend-wasm).
 *
 * dW[i, j, c, m] = Σ_{b, y, x} xpad[b, y·sy + i·dh, x·sx + j·dw, c] · dy[b, y, x, c·M + m]
 *
 * Channel multiplier 1 (MobileNet's): one SIMD pass (simd/kernels.wat.ts `dw_filter_grad`), 44.7 → 5.0 ms per
 * MobileNetV2 α0.35 training step against the composite below. Other multipliers, as one XNNPACK depthwise conv:
 * fold the batch into the channels: X' = xpad as [1, H', W', B·C] and F' = dy as a filter [OH, OW, B·C, M].
 * A depthwise convolution of X' with F' — stride = the forward dilation, dilation = the forward stride —
 * gives out[0, i, j, (b·C + c)·M + m]; summing over b yields dW.
 */
import {
  backend_util, DepthwiseConv2dNativeBackpropFilter, type KernelConfig, type TensorInfo,
} from '@tensorflow/tfjs';
import { simdKernels } from '../simd/simd.ts';
import { callKernel, heapOffset, type KernelArgs, withTemps } from './wasm-calls.ts';

export function depthwiseConv2dBackpropFilter({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { x, dy } = inputs;
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: [number, number] | number;
    dilations: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  const [fh, fw, C, M] = filterShape;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, dilations, pad, dimRoundingMode, true,
  );
  const { strideHeight: sy, strideWidth: sx, dilationHeight: dh, dilationWidth: dw } = info;
  const { outHeight: oh, outWidth: ow, effectiveFilterHeight: eh, effectiveFilterWidth: ew } = info;
  if ((sy > 1 || sx > 1) && (dh > 1 || dw > 1)) {
    throw new Error('convlens wasm DepthwiseConv2dNativeBackpropFilter: strides and dilations cannot both exceed 1');
  }
  const { top, left } = info.padInfo;
  const [B, H, W] = x.shape;
  if (M === 1) {
    const dW = backend.makeOutput(filterShape, 'float32');
    const at = (t: TensorInfo) => heapOffset(backend, t);
    simdKernels().dw_filter_grad(at(x), at(dy), at(dW), B, H, W, C, oh, ow, fh, fw, sy, sx, dh, dw, top, left);
    return dW;
  }
  const bottom = Math.max(0, (oh - 1) * sy + eh - H - top);
  const right = Math.max(0, (ow - 1) * sx + ew - W - left);
  return withTemps(backend, (temp) => {
    const xT = temp(callKernel(backend, 'Transpose', { x }, { perm: [1, 2, 0, 3] })); // [H, W, B, C]
    const xFolded = temp(callKernel(backend, 'Reshape', { x: xT }, { shape: [1, H, W, B * C] }));
    const dyT = temp(callKernel(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] })); // [OH, OW, B, C·M]
    const dyFilter = temp(callKernel(backend, 'Reshape', { x: dyT }, { shape: [oh, ow, B * C, M] }));
    let out = temp(
      callKernel(backend, 'DepthwiseConv2dNative', { x: xFolded, filter: dyFilter }, {
        strides: [dh, dw],
        dilations: [sy, sx],
        pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
        dimRoundingMode: undefined,
      } as never),
    ); // [1, ≥fh, ≥fw, B·C·M]
    if (out.shape[1] !== fh || out.shape[2] !== fw) {
      out = temp(callKernel(backend, 'Slice', { x: out }, { begin: [0, 0, 0, 0], size: [1, fh, fw, -1] }));
    }
    const perBatch = temp(callKernel(backend, 'Reshape', { x: out }, { shape: [fh, fw, B, C * M] }));
    const summed = temp(callKernel(backend, 'Sum', { x: perBatch }, { axis: [2], keepDims: false }));
    return callKernel(backend, 'Reshape', { x: summed }, { shape: [fh, fw, C, M] });
  });
}

export const depthwiseConv2dBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dBackpropFilter as never,
};

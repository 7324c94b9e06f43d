/** Sum for wasm: reductions over leading or middle axes on the heap (see reduce-leading.ts); others use tfjs's kernel. */
import { Sum, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { isReducibleBlock, normalizeAxes, reduceLeading } from './reduce-leading.ts';
import { callKernel, type KernelArgs } from './wasm-calls.ts';

export function sum({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { x } = inputs;
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  const axes = normalizeAxes(axis, x.shape.length);
  if (x.dtype !== 'float32' || !isReducibleBlock(axes, x.shape.length)) return callKernel(backend, Sum, inputs, attrs);
  return reduceLeading(backend, x, axes, keepDims, false);
}

export const sumConfig: KernelConfig = { kernelName: Sum, backendName: 'wasm', kernelFunc: sum as never };

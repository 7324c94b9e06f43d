/** Mean for wasm: reductions over leading or middle axes on the heap (see reduce-leading.ts); others use tfjs's kernel. */
import { Mean, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { isReducibleBlock, normalizeAxes, reduceLeading } from './reduce-leading.ts';
import { callKernel, type KernelArgs } from './wasm-calls.ts';

export function mean({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { x } = inputs;
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  const axes = normalizeAxes(axis, x.shape.length);
  if (x.dtype !== 'float32' || !isReducibleBlock(axes, x.shape.length)) return callKernel(backend, Mean, inputs, attrs);
  return reduceLeading(backend, x, axes, keepDims, true);
}

export const meanConfig: KernelConfig = { kernelName: Mean, backendName: 'wasm', kernelFunc: mean as never };

/**
 * Identity for wasm without a copy: share the buffer and count the reference, as tfjs's cpu backend does.
 * tfjs's wasm Identity copies every time; autodiff and the optimizers call it thousands of times per step.
 * Safe because no wasm kernel writes into its inputs.
 */
import { Identity, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { callKernel, type KernelArgs } from './wasm-calls.ts';

export function identity({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { x } = inputs;
  if (x.dtype === 'string') return callKernel(backend, Identity, inputs, attrs);
  (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig: KernelConfig = { kernelName: Identity, backendName: 'wasm', kernelFunc: identity as never };

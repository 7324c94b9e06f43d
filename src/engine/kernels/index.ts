/**
 * convlens's wasm kernels, registered in one place. Missing gradient kernels are added; slow ones are
 * replaced, and the replaced tfjs kernel stays reachable for the composites (wasm-calls.ts).
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs';
import { adamConfig } from './adam.ts';
import { fusedBatchNormConfig } from './batch-norm-infer.ts';
import { batchNormTrainConfig, batchNormTrainGradConfig, registerBatchNormTrainGradient } from './batch-norm-train.ts';
import { patchBatchNormalization } from '../batch-norm.ts';
import { patchConv2D } from '../conv-layer.ts';
import { batchMatMulConfig } from './batch-mat-mul.ts';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.ts';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.ts';
import { depthwiseConv2dBackpropFilterConfig } from './depthwise-conv2d-backprop-filter.ts';
import { depthwiseConv2dBackpropInputConfig } from './depthwise-conv2d-backprop-input.ts';
import { gatherV2Config } from './gather.ts';
import { identityConfig } from './identity.ts';
import { maskGradConfig, registerMaskGradients } from './mask-grad.ts';
import { maxPoolGradConfig } from './max-pool-grad.ts';
import { meanConfig } from './mean.ts';
import { sliceConfig } from './slice.ts';
import { sumConfig } from './sum.ts';
import { tileConfig } from './tile.ts';
import { conv2dConfig, convPoolConfig, fusedConv2dConfig } from './winograd-conv2d.ts';
import { rememberOriginal } from './wasm-calls.ts';

export const wasmKernels: readonly KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  depthwiseConv2dBackpropFilterConfig,
  depthwiseConv2dBackpropInputConfig,
  maxPoolGradConfig,
  batchMatMulConfig,
  tileConfig,
  sumConfig,
  meanConfig,
  identityConfig,
  sliceConfig,
  maskGradConfig,
  adamConfig,
  batchNormTrainConfig,
  batchNormTrainGradConfig,
  fusedBatchNormConfig,
  gatherV2Config,
  conv2dConfig,
  fusedConv2dConfig,
  convPoolConfig,
];

let registered = false;

/** Register convlens's wasm kernels (idempotent). Call after importing @tensorflow/tfjs-backend-wasm. */
export function registerWasmKernels(): void {
  if (registered) return;
  for (const config of wasmKernels) {
    const existing = getKernel(config.kernelName, 'wasm');
    if (existing != null) {
      rememberOriginal(existing);
      unregisterKernel(config.kernelName, 'wasm');
    }
    // Keep the original's setup (it binds the wasm function the original calls).
    registerKernel({ ...config, setupFunc: existing?.setupFunc });
  }
  registerMaskGradients();
  registerBatchNormTrainGradient();
  patchBatchNormalization();
  patchConv2D();
  registered = true;
}

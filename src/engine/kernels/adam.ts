/**
 * One Adam step of one variable in one SIMD pass (simd/kernels.wat.ts): inputs x, g, m, v → outputs x', m', v'.
 * tfjs's AdamOptimizer spends 14 kernel calls (and their temporaries) per variable; a MobileNetV2 has ~160
 * trainable variables. Attributes: lr, beta1, beta2, epsilon and the bias corrections c1 = 1 − beta1^t,
 * c2 = 1 − beta2^t.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { simdKernels } from '../simd/simd.ts';
import { heapOffset, type KernelArgs } from './wasm-calls.ts';

export const ADAM = 'ConvlensAdam';

export interface AdamAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  c1: number;
  c2: number;
}

export function adamStep({ inputs, attrs, backend }: KernelArgs): TensorInfo[] {
  const { x, g, m, v } = inputs;
  const a = attrs as unknown as AdamAttrs;
  const outs = [x, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
  const n = x.shape.reduce((p, q) => p * q, 1);
  const at = (t: TensorInfo) => heapOffset(backend, t);
  simdKernels().adam(at(x), at(g), at(m), at(v), at(outs[0]), at(outs[1]), at(outs[2]), n, a.lr, a.beta1, a.beta2, a.epsilon, a.c1, a.c2);
  return outs;
}

export const adamConfig: KernelConfig = { kernelName: ADAM, backendName: 'wasm', kernelFunc: adamStep as never };

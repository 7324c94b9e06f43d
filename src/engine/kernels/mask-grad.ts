/**
 * The gradient of ReLU, ReLU6 and clip in one pass: dx = dy where lo (<|≤) x (<|≤) hi, else 0.
 * tfjs builds it from small ops — Relu: step, cast, multiply (3 passes); ClipByValue (Keras's ReLU(max_value=6)
 * is relu then clip): greaterEqual, lessEqual, logicalAnd, zerosLike, select (5 passes, 4 temporaries) — about
 * a sixth of a MobileNetV2 training step on wasm. Same results as tfjs's formulas, including at the bounds
 * (Relu: x > 0; Relu6: 0 < x ≤ 6; ClipByValue: min ≤ x ≤ max), signed zeros and NaN (Relu and Relu6 multiply dy
 * by the mask, so NaN inputs give NaN as step(NaN) does; ClipByValue selects, so they give +0).
 *
 * One WebAssembly SIMD pass (simd/kernels.wat.ts). The gradients are registered for every backend but use the one-pass kernel only where it is registered
 * (wasm); elsewhere they run tfjs's own formula, so the cpu backend stays the reference.
 */
import * as tf from '@tensorflow/tfjs';
import { getGradient, getKernel, registerGradient, type GradConfig, type KernelConfig, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs';
import { simdKernels } from '../simd/simd.ts';
import { heapOffset, type KernelArgs } from './wasm-calls.ts';

export const MASK_GRAD = 'ConvlensMaskGrad';

export interface MaskGradAttrs {
  lo: number;
  hi: number;
  /** lo < x (true) or lo ≤ x (false). */
  loOpen: boolean;
  /**
   * dy · mask (Relu, Relu6: −0 for negative dy, NaN for a NaN input) rather than select(mask, dy, +0) (ClipByValue).
   */
  multiply: boolean;
}

export function maskGrad({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { dy, x } = inputs;
  const { lo, hi, loOpen, multiply } = attrs as unknown as MaskGradAttrs;
  const out = backend.makeOutput(dy.shape, 'float32');
  const n = dy.shape.reduce((a, b) => a * b, 1);
  simdKernels().mask_grad(heapOffset(backend, dy), heapOffset(backend, x), heapOffset(backend, out), n, lo, hi, loOpen ? 1 : 0, multiply ? 1 : 0);
  return out;
}

export const maskGradConfig: KernelConfig = { kernelName: MASK_GRAD, backendName: 'wasm', kernelFunc: maskGrad as never };

function fused(dy: tf.Tensor, x: tf.Tensor, attrs: MaskGradAttrs): tf.Tensor {
  return tf.engine().runKernel(MASK_GRAD, { dy, x }, attrs as unknown as NamedAttrMap) as tf.Tensor;
}

const hasKernel = () => getKernel(MASK_GRAD, tf.getBackend()) != null;

/** One-pass versions of the three gradients, each falling back to `original` where the kernel is missing. */
function fusedGradient(original: GradConfig, attrsOf: (attrs: NamedAttrMap) => MaskGradAttrs): GradConfig {
  return {
    kernelName: original.kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      if (!hasKernel() || (dy as tf.Tensor).dtype !== 'float32' || saved[0].dtype !== 'float32') return original.gradFunc(dy, saved, attrs);
      const [x] = saved;
      return { x: () => fused(dy as tf.Tensor, x, attrsOf(attrs)) };
    },
  };
}

const RULES: Record<string, (attrs: NamedAttrMap) => MaskGradAttrs> = {
  Relu: () => ({ lo: 0, hi: Infinity, loOpen: true, multiply: true }),
  Relu6: () => ({ lo: 0, hi: 6, loOpen: true, multiply: true }),
  ClipByValue: (a) => ({ lo: a.clipValueMin as number, hi: a.clipValueMax as number, loOpen: false, multiply: false }),
};

let registered = false;

/** Replace the Relu, Relu6 and ClipByValue gradients (idempotent; tfjs's originals are kept for the fallback). */
export function registerMaskGradients(): void {
  if (registered) return;
  for (const [name, rule] of Object.entries(RULES)) {
    const original = getGradient(name);
    if (original == null) throw new Error(`convlens engine: tfjs has no gradient for ${name} to replace`);
    registerGradient(fusedGradient(original, rule));
  }
  registered = true;
}

import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/engine/backend.ts';

/** Make `id` the active backend (loading wasm and convlens's kernels on first use). */
export async function useBackend(id: 'wasm' | 'cpu'): Promise<void> {
  if (tf.findBackend(id) == null || (id === 'wasm' && tf.getKernel('Conv2DBackpropFilter', 'wasm') == null)) {
    await selectBackend({ cli: id });
  }
  await tf.setBackend(id);
}

/** Run `f` on the cpu backend and on wasm; return both results as plain arrays. */
export async function onBoth(f: () => tf.Tensor): Promise<{ cpu: Float32Array; wasm: Float32Array; shape: number[] }> {
  await useBackend('cpu');
  const a = tf.tidy(f);
  const cpu = (await a.data()) as Float32Array;
  const shape = a.shape;
  a.dispose();
  await useBackend('wasm');
  const b = tf.tidy(f);
  const wasm = (await b.data()) as Float32Array;
  if (b.shape.join() !== shape.join()) throw new Error(`shape mismatch: cpu [${shape}] vs wasm [${b.shape}]`);
  b.dispose();
  return { cpu, wasm, shape };
}

/** max |a − b| / max |b|: the error of `a` relative to the reference `b`'s scale. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** tfjs's own `model.predict` on the cpu backend (unfused layers, channels last), then back to wasm. */
export async function predictOnCpu(model: tf.LayersModel, x: tf.Tensor): Promise<Float32Array> {
  await useBackend('cpu');
  const p = model.predict(x) as tf.Tensor;
  const out = (await p.data()) as Float32Array;
  p.dispose();
  await useBackend('wasm');
  return out;
}

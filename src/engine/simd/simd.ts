/**
 * Load convlens's SIMD kernels (kernels.wat.ts) onto tfjs-backend-wasm's memory: assembled by wabt when the wasm
 * engine loads (~40 ms), instantiated with the backend's own WebAssembly.Memory as their memory, so the kernels
 * take tensors' heap offsets and never copy. `simdKernels()` is what the kernels call.
 */
import wabtInit from 'wabt';
import { FILTER_GRAD_TAPS } from './filter-grad.wat.ts';
import { kernelsWat } from './kernels.wat.ts';
import { startPool } from './pool.ts';

export interface SimdKernels {
  mask_grad(dy: number, x: number, out: number, n: number, lo: number, hi: number, loOpen: number, multiply: number): void;
  adam(x: number, g: number, m: number, v: number, xo: number, mo: number, vo: number, n: number,
    lr: number, b1: number, b2: number, eps: number, c1: number, c2: number): void;
  bn_sums(x: number, rows: number, C: number, center: number, acc: number, square: number): void;
  bn_grad_sums(dy: number, x: number, rows: number, C: number, mean: number, accDy: number, accDyX: number): void;
  affine3(a: number, b: number, rows: number, C: number, k1: number, k2: number, m: number, k0: number, out: number): void;
  bn_infer(x: number, rows: number, C: number, k: number, m: number, k0: number, out: number): void;
  im2col_t(x: number, out: number, scratch: number, B: number, H: number, W: number, C: number, OH: number, OW: number,
    fh: number, fw: number, sy: number, sx: number, dh: number, dw: number, top: number, left: number): void;
  max_pool_grad(x: number, dy: number, dx: number, B: number, H: number, W: number, C: number, OH: number, OW: number,
    fh: number, fw: number, sy: number, sx: number, top: number, left: number): void;
  dw_filter_grad(x: number, dy: number, out: number, B: number, H: number, W: number, C: number, OH: number, OW: number,
    fh: number, fw: number, sy: number, sx: number, dh: number, dw: number, top: number, left: number): void;
  dilate_pad(x: number, out: number, B: number, H: number, W: number, C: number,
    sy: number, sx: number, padTop: number, padLeft: number, outH: number, outW: number): void;
  wino_filter(g: number, u: number, CiCo: number): void;
  wino_input(x: number, V: number, B: number, H: number, W: number, C: number, tH: number, tW: number,
    top: number, left: number, t0: number, t1: number): void;
  wino_output(M: number, out: number, bias: number, act: number, B: number, OH: number, OW: number, Co: number,
    tH: number, tW: number, t0: number, t1: number): void;
  gemm(a: number, b: number, c: number, M: number, K: number, N: number, r0: number, r1: number, points: number): void;
  winograd(x: number, u: number, V: number, M: number, out: number, bias: number, act: number, B: number, H: number,
    W: number, Ci: number, Co: number, OH: number, OW: number, top: number, left: number, chunk: number,
    counter: number, tid: number, threads: number): void;
  wino4_filter(g: number, u: number, CiCo: number): void;
  winograd4(x: number, u: number, V: number, M: number, out: number, bias: number, act: number, B: number, H: number,
    W: number, Ci: number, Co: number, OH: number, OW: number, top: number, left: number, chunk: number,
    counter: number, tid: number, threads: number): void;
  winograd_pool(x: number, u: number, V: number, M: number, out: number, bias: number, act: number, B: number, H: number,
    W: number, Ci: number, Co: number, OH: number, OW: number, top: number, left: number, chunk: number,
    counter: number, tid: number, threads: number): void;
  winograd4_pool(x: number, u: number, V: number, M: number, out: number, bias: number, act: number, B: number, H: number,
    W: number, Ci: number, Co: number, OH: number, OW: number, top: number, left: number, chunk: number,
    counter: number, tid: number, threads: number): void;
  winograd_filter_grad(x: number, dy: number, V: number, Wd: number, dU: number, B: number, H: number, W: number,
    Ci: number, Co: number, OH: number, OW: number, top: number, left: number, chunk: number, tid: number, threads: number): void;
  wino_filter_grad(dU: number, dg: number, CiCo: number): void;
  flip_transpose(g: number, out: number, taps: number, Ci: number, Co: number): void;
  transpose(src: number, dst: number, B: number, R: number, C: number): void;
  gemm_nt(a: number, b: number, c: number, M: number, K: number, N: number, tid: number, threads: number): void;
  gemm_tn(a: number, b: number, c: number, M: number, K: number, N: number, tid: number, threads: number): void;
  gemm_rows(a: number, b: number, c: number, M: number, K: number, N: number, tid: number, threads: number): void;
  road_sor(out: number, holes: number, start: number, nbo: number, nbw: number, wsum: number, n: number, C: number,
    iterations: number, omega: number, threshold: number): number;
  /** filter-grad.wat.ts, one per block of 1–6 taps. */
  [direct: `filter_grad_direct${number}`]: (x: number, dy: number, out: number, taps: number, T: number, B: number, Hp: number, Wp: number,
    Ci: number, OH: number, OW: number, Co8: number, sy: number, sx: number, tid: number, threads: number) => void;
}

/** Kernels that run on every SIMD thread at once (pool.ts); each takes (…, tid, threads) last. */
const THREADED: (keyof SimdKernels)[] = ['winograd', 'winograd4', 'winograd_pool', 'winograd4_pool', 'winograd_filter_grad', 'gemm_tn', 'gemm_rows', 'gemm_nt',
  ...FILTER_GRAD_TAPS.map((tb) => `filter_grad_direct${tb}` as const)];

let loaded: { memory: WebAssembly.Memory; kernels: SimdKernels } | undefined;

/**
 * Assemble and instantiate the kernels on `memory` (once per memory). With a shared memory and `threads` > 1,
 * start `threads − 1` worker threads running them too (pool.ts).
 */
export async function loadSimdKernels(memory: WebAssembly.Memory, threads = 1): Promise<void> {
  if (loaded?.memory === memory) return;
  const wabt = await wabtInit();
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const features = { simd: true, threads: shared, bulk_memory: true };
  const parsed = wabt.parseWat('convlens-kernels.wat', kernelsWat(shared), features);
  try {
    parsed.resolveNames();
    (parsed.validate as (f: typeof features) => void)(features); // wabt.js validates with the features it is given
    const { buffer } = parsed.toBinary({});
    const module = new WebAssembly.Module(new Uint8Array(buffer));
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    loaded = { memory, kernels: instance.exports as unknown as SimdKernels };
    if (shared) startPool(module, memory, threads, THREADED);
  } finally {
    parsed.destroy();
  }
}

/** The wasm memory the kernels run on (for float64 views of scratch buffers). */
export function simdMemory(): WebAssembly.Memory {
  if (!loaded) throw new Error('convlens engine: the SIMD kernels are not loaded (selectBackend loads them with the wasm backend)');
  return loaded.memory;
}

/** Whether the kernels are loaded (the wasm engine is running). */
export function hasSimdKernels(): boolean {
  return loaded != null;
}

export function simdKernels(): SimdKernels {
  if (!loaded) throw new Error('convlens engine: the SIMD kernels are not loaded (selectBackend loads them with the wasm backend)');
  return loaded.kernels;
}

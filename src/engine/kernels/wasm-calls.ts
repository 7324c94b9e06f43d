/**
 * Helpers for composite wasm kernels: call another registered wasm kernel directly
 * (no engine round-trip, no tape), read and write tensors on the wasm heap, and
 * free intermediates. This is how tfjs's own webgl/wasm backends build kernels from
 * kernels; it keeps composites out of the autodiff tape and out of tensor counts.
 */
import { getKernel, type KernelConfig, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs';
import { simdKernels } from '../simd/simd.ts';

/** The subset of tfjs-backend-wasm's BackendWasm that composites use. */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32' | 'int32' | 'bool'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  attrs: NamedAttrMap;
  backend: WasmBackend;
}

/** Kernels replaced by convlens keep their original implementation here, keyed by name. */
const originals = new Map<string, KernelConfig>();

export function rememberOriginal(config: KernelConfig): void {
  if (!originals.has(config.kernelName)) originals.set(config.kernelName, config);
}

/** Run the wasm kernel `name` (the tfjs original when convlens replaced it). */
export function callKernel(
  backend: WasmBackend,
  name: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const config = originals.get(name) ?? getKernel(name, 'wasm');
  if (config == null) throw new Error(`convlens engine: wasm kernel ${name} is not registered`);
  return config.kernelFunc({ inputs, backend: backend as never, attrs }) as TensorInfo;
}

/** Free intermediate tensors created by composite kernels. */
export function release(backend: WasmBackend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** A float32 view of a tensor on the wasm heap. Re-take views after any allocation (the heap may grow). */
export function heapF32(backend: WasmBackend, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** A tensor's byte offset in the wasm memory (what the SIMD kernels take as a pointer). */
export function heapOffset(backend: WasmBackend, info: TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (data == null) throw new Error('convlens engine: tensor data is not on the wasm heap');
  return data.memoryOffset;
}

/** Run `f` on a list of intermediates and always release them, also when `f` throws. */
export function withTemps<T>(backend: WasmBackend, f: (keep: (t: TensorInfo) => TensorInfo) => T): T {
  const temps: TensorInfo[] = [];
  try {
    return f((t) => {
      temps.push(t);
      return t;
    });
  } finally {
    release(backend, ...temps);
  }
}

/**
 * Zero-insert and pad an NHWC tensor on the heap:
 * out[b, padTop + y*sy, padLeft + x*sx, c] = x[b, y, x, c], zeros elsewhere.
 * Used by the backprop-input composites (transposed convolution as a plain convolution).
 * Shapes: x [B, H, W, C] → out [B, outH, outW, C]. Rows or columns that fall outside the output are dropped.
 */
export function dilateAndPad(
  backend: WasmBackend,
  x: TensorInfo,
  strides: [number, number],
  padTop: number,
  padLeft: number,
  outH: number,
  outW: number,
): TensorInfo {
  const [B, H, W, C] = x.shape;
  const out = backend.makeOutput([B, outH, outW, C], 'float32');
  simdKernels().dilate_pad(heapOffset(backend, x), heapOffset(backend, out), B, H, W, C, strides[0], strides[1], padTop, padLeft, outH, outW);
  return out;
}

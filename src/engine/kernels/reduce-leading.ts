/**
 * Sums over the leading axes of a row-major tensor, directly on the wasm heap: x viewed as [rows, C] → [C].
 * BatchNorm reduces [B, H, W, C] over (B, H, W) in its forward statistics and in every gradient; tfjs's wasm
 * Sum / Mean transpose the reduced axes to the end first, which made them the top cost of MobileNetV2 training.
 * Accumulates in float64, so the result is at least as accurate as the float32 kernels it replaces.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { heapF32, type WasmBackend } from './wasm-calls.ts';

/** The reduced axes as a sorted list, negative axes resolved. */
export function normalizeAxes(axis: number | number[] | undefined, rank: number): number[] {
  const list = axis == null ? [...Array(rank).keys()] : Array.isArray(axis) ? axis : [axis];
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
}

/** True when `axes` is exactly 0..k−1 (a prefix), so the kept axes are contiguous in memory. */
export function isLeadingPrefix(axes: number[]): boolean {
  return axes.length > 0 && axes.every((a, i) => a === i);
}

/** Sum (scale 1) or mean (scale 1/rows) over the leading `axes` of a float32 tensor. */
export function reduceLeading(
  backend: WasmBackend,
  x: TensorInfo,
  axes: number[],
  keepDims: boolean,
  mean: boolean,
): TensorInfo {
  const k = axes.length;
  const rows = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
  const cols = x.shape.slice(k).reduce((a, b) => a * b, 1);
  const outShape = keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  const out = backend.makeOutput(outShape, 'float32');
  const o = heapF32(backend, out);
  const v = heapF32(backend, x);
  const acc = new Float64Array(cols);
  // Four rows per pass: a quarter of the accumulator loads and stores.
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const p = r * cols;
    for (let c = 0; c < cols; c++) {
      acc[c] += v[p + c] + v[p + cols + c] + v[p + 2 * cols + c] + v[p + 3 * cols + c];
    }
  }
  for (; r < rows; r++) {
    const p = r * cols;
    for (let c = 0; c < cols; c++) acc[c] += v[p + c];
  }
  const scale = mean ? 1 / rows : 1;
  for (let c = 0; c < cols; c++) o[c] = acc[c] * scale;
  return out;
}

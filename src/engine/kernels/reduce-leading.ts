/**
 * Sums over a block of consecutive axes of a row-major tensor, directly on the wasm heap: x viewed as
 * [outer, rows, C] → [outer, C]. BatchNorm reduces [B, H, W, C] over (B, H, W) (outer 1) in its forward statistics
 * and in every gradient; global average pooling over (H, W) (outer B). tfjs's wasm Sum / Mean transpose the reduced
 * axes to the end first, which made them the top cost of MobileNetV2 training and 3 % of a GAP CNN's forward pass.
 * Accumulates in float64, so the result is at least as accurate as the float32 kernels it replaces.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { heapF32, type WasmBackend } from './wasm-calls.ts';

/** The reduced axes as a sorted list, negative axes resolved. */
export function normalizeAxes(axis: number | number[] | undefined, rank: number): number[] {
  const list = axis == null ? [...Array(rank).keys()] : Array.isArray(axis) ? axis : [axis];
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
}

/**
 * True when `axes` (sorted) are consecutive and either a prefix or end before the last axis: x is then
 * [outer, rows, C] with C > 1 kept values per row (a reduction over trailing axes reads contiguously in tfjs's own
 * kernel already).
 */
export function isReducibleBlock(axes: number[], rank: number): boolean {
  if (axes.length === 0 || !axes.every((a, i) => a === axes[0] + i)) return false;
  return axes[0] === 0 || axes[axes.length - 1] < rank - 1;
}

/** Sum (scale 1) or mean (scale 1/rows) over the consecutive `axes` (isReducibleBlock) of a float32 tensor. */
export function reduceLeading(
  backend: WasmBackend,
  x: TensorInfo,
  axes: number[],
  keepDims: boolean,
  mean: boolean,
): TensorInfo {
  const first = axes[0];
  const last = axes[axes.length - 1];
  const size = (from: number, to: number) => x.shape.slice(from, to).reduce((a, b) => a * b, 1);
  const outer = size(0, first);
  const rows = size(first, last + 1);
  const cols = size(last + 1, x.shape.length);
  const reduced = new Set(axes);
  const outShape = keepDims ? x.shape.map((d, i) => (reduced.has(i) ? 1 : d)) : x.shape.filter((_, i) => !reduced.has(i));
  const out = backend.makeOutput(outShape, 'float32');
  const o = heapF32(backend, out);
  const v = heapF32(backend, x);
  const acc = new Float64Array(cols);
  const scale = mean ? 1 / rows : 1;
  for (let b = 0; b < outer; b++) {
    acc.fill(0);
    const base = b * rows * cols;
    // Four rows per pass: a quarter of the accumulator loads and stores.
    let r = 0;
    for (; r + 4 <= rows; r += 4) {
      const p = base + r * cols;
      for (let c = 0; c < cols; c++) {
        acc[c] += v[p + c] + v[p + cols + c] + v[p + 2 * cols + c] + v[p + 3 * cols + c];
      }
    }
    for (; r < rows; r++) {
      const p = base + r * cols;
      for (let c = 0; c < cols; c++) acc[c] += v[p + c];
    }
    for (let c = 0; c < cols; c++) o[b * cols + c] = acc[c] * scale;
  }
  return out;
}

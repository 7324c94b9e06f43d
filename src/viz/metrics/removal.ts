/**
 * What the removal curves share — deletion/insertion (faithfulness.ts) and ROAD (road.ts): the order in which pixels
 * go (by decreasing attribution), the blurred image removed pixels become, and the area under a curve.
 */

/** Area under ys over xs (default: evenly spaced on [0, 1]) by the trapezoid rule. */
export function trapezoid(ys: number[], xs?: number[]): number {
  if (ys.length < 2) return ys[0] ?? 0;
  let area = 0;
  for (let i = 1; i < ys.length; i++) {
    const dx = xs ? xs[i] - xs[i - 1] : 1 / (ys.length - 1);
    area += ((ys[i - 1] + ys[i]) / 2) * dx;
  }
  return area;
}

/** Pixel order by decreasing attribution (ties by position, so the order is deterministic). */
export function pixelOrder(map: ArrayLike<number>): Int32Array {
  const idx = Int32Array.from({ length: map.length }, (_, i) => i);
  return idx.sort((a, b) => map[b] - map[a] || a - b);
}

/** The blur's standard deviation for an H x W image: a sixteenth of the shorter side (4 px at 64, 14 at 224). */
export function blurSigma(H: number, W: number): number {
  return Math.max(1, Math.min(H, W) / 16);
}

/** A Gaussian blur of an [H, W, C] image (separable, truncated at 3σ, edges held), in float64. */
export function blurImage(pixels: ArrayLike<number>, H: number, W: number, C: number, sigma = blurSigma(H, W)): Float32Array {
  const r = Math.ceil(3 * sigma);
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const norm = k.reduce((s, v) => s + v, 0);
  const kernel = k.map((v) => v / norm);
  const rows = new Float64Array(H * W * C);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let i = -r; i <= r; i++) s += kernel[i + r] * pixels[(y * W + Math.min(W - 1, Math.max(0, x + i))) * C + c];
        rows[(y * W + x) * C + c] = s;
      }
    }
  }
  const out = new Float32Array(H * W * C);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let i = -r; i <= r; i++) s += kernel[i + r] * rows[(Math.min(H - 1, Math.max(0, y + i)) * W + x) * C + c];
        out[(y * W + x) * C + c] = s;
      }
    }
  }
  return out;
}

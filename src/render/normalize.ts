/**
 * The one normalisation and colormap contract of convlens (documented on the methods page):
 *
 * - Magnitude maps (saliency, guided backprop, CAMs, occlusion drops ≥ 0, activations): v / q, where q is the
 *   99.5th percentile of the map (so one hot pixel does not wash out the rest), clipped to [0, 1], shown with a
 *   sequential colormap (viridis for activations and gradients, turbo for CAM overlays). 0 is the lowest colour.
 * - Signed maps (gradient × input, Integrated Gradients, occlusion): v / q with q the 99.5th percentile of |v|,
 *   clipped to [−1, 1], shown with a diverging colormap (RdBu reversed: red = pushes the class up, blue = down,
 *   white = 0).
 * - Every image records its scale (the q that 1.0 stands for) so a legend can label the colour bar in the
 *   method's own units. Maps that are all zero stay all zero (q = 0 is treated as 1).
 */
export interface Normalized {
  /** Values in [0, 1] (magnitude) or [−1, 1] (signed). */
  values: Float32Array;
  /** The raw value that 1.0 stands for. */
  scale: number;
  signed: boolean;
}

/** The p-th percentile (0–100) of |values|, linear interpolation between order statistics. */
export function absPercentile(values: ArrayLike<number>, p: number): number {
  const a = Float64Array.from(values, Math.abs).sort();
  if (a.length === 0) return 0;
  const pos = (p / 100) * (a.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(a.length - 1, lo + 1);
  return a[lo] + (a[hi] - a[lo]) * (pos - lo);
}

export function normalizeMap(values: ArrayLike<number>, signed: boolean, percentile = 99.5): Normalized {
  const q = absPercentile(values, percentile);
  const scale = q > 0 ? q : 1;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] / scale;
    out[i] = signed ? Math.max(-1, Math.min(1, v)) : Math.max(0, Math.min(1, v));
  }
  return { values: out, scale: q, signed };
}

/**
 * The activation display of CNN Explainer: (x − mean) / std · 64 + 128, clipped to [0, 255], per channel; a constant
 * channel (std 0) becomes mid-grey 128. Returns bytes.
 */
export function standardizeChannel(values: ArrayLike<number>): Uint8Array {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i];
  mean /= values.length || 1;
  let v2 = 0;
  for (let i = 0; i < values.length; i++) v2 += (values[i] - mean) ** 2;
  const std = Math.sqrt(v2 / (values.length || 1));
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const z = std > 0 ? ((values[i] - mean) / std) * 64 + 128 : 128;
    out[i] = Math.max(0, Math.min(255, Math.round(z)));
  }
  return out;
}

/** Min–max to [0, 1]; a constant input maps to 0. */
export function minMax(values: ArrayLike<number>): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  const span = hi - lo;
  return Float32Array.from(values, (v) => (span > 0 ? (v - lo) / span : 0));
}

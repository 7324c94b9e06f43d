/**
 * Receptive field, jump and start of every layer with respect to the input (Araujo et al. 2019, "Computing
 * Receptive Fields of Convolutional Neural Networks", Eq. 1–3; Dumoulin & Visin 2016):
 *   j_out = j_in · s,   r_out = r_in + (k_eff − 1) · j_in,   start_out = start_in + ((k_eff − 1)/2 − p) · j_in,
 * with k_eff = d·(k − 1) + 1 for dilation d and p the left/top padding. `start` is the centre of the first
 * output unit's field in input pixels. Layers that do not move pixels (activations, BN, add) pass values through;
 * at a merge the largest field wins. Global pooling, flatten and dense see the whole input.
 */
import type * as tf from '@tensorflow/tfjs';

export interface FieldInfo {
  /** Receptive field size (pixels), rows and columns. */
  rf: [number, number];
  /** Distance in input pixels between adjacent units (the cumulative stride). */
  jump: [number, number];
  /** Centre of the first unit's field, in input pixel coordinates. */
  start: [number, number];
  /** True after a global pool / flatten / dense: the unit sees the whole input. */
  global: boolean;
}

type Pair = [number, number];
const pair = (v: unknown, fallback: number): Pair => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : v == null ? [fallback, fallback] : [Number(v), Number(v)]);

/** Left/top padding of a window op ('same' follows TensorFlow: total = max(k_eff − s, 0) for divisible sizes). */
function padBefore(kind: string, kEff: number, stride: number, inSize: number): number {
  if (kind !== 'same') return 0;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kEff - inSize, 0);
  return Math.floor(total / 2);
}

export function receptiveFields(model: tf.LayersModel): Map<string, FieldInfo> {
  const fields = new Map<string, FieldInfo>();
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    const node = layer.inboundNodes[0];
    const parents = (node?.inboundLayers ?? []) as tf.layers.Layer[];
    const inputs = parents.map((p) => fields.get(p.name)).filter((f): f is FieldInfo => f != null);
    let base: FieldInfo = inputs.length
      ? inputs.reduce((a, b) => (b.rf[0] * b.rf[1] > a.rf[0] * a.rf[1] ? b : a))
      : { rf: [1, 1], jump: [1, 1], start: [0.5, 0.5], global: false };
    if (base.global || ['Flatten', 'Dense', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D'].includes(cls)) {
      fields.set(layer.name, { ...base, global: true });
      continue;
    }
    const inShape = (parents[0]?.outputShape ?? layer.batchInputShape) as (number | null)[] | undefined;
    let k: Pair | undefined;
    let s: Pair = [1, 1];
    let d: Pair = [1, 1];
    let padding = 'valid';
    let explicitPad: Pair | undefined;
    if (['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose'].includes(cls)) {
      k = pair(cfg.kernel_size ?? cfg.kernelSize, 1);
      s = pair(cfg.strides, 1);
      d = pair(cfg.dilation_rate ?? cfg.dilationRate, 1);
      padding = String(cfg.padding ?? 'valid');
    } else if (['MaxPooling2D', 'AveragePooling2D'].includes(cls)) {
      k = pair(cfg.pool_size ?? cfg.poolSize, 2);
      s = pair(cfg.strides ?? cfg.pool_size ?? cfg.poolSize, 2);
      padding = String(cfg.padding ?? 'valid');
    } else if (cls === 'ZeroPadding2D') {
      const p = cfg.padding as number | number[] | number[][];
      const top = Array.isArray(p) ? (Array.isArray(p[0]) ? (p as number[][])[0][0] : (p as number[])[0]) : p;
      const left = Array.isArray(p) ? (Array.isArray(p[1]) ? (p as number[][])[1][0] : (p as number[])[1] ?? (p as number[])[0]) : p;
      explicitPad = [Number(top), Number(left)];
      k = [1, 1];
    }
    if (k) {
      const kEff: Pair = [d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1];
      const inHW: Pair = [Number(inShape?.[1] ?? 0), Number(inShape?.[2] ?? 0)];
      const pad: Pair = explicitPad ?? [padBefore(padding, kEff[0], s[0], inHW[0]), padBefore(padding, kEff[1], s[1], inHW[1])];
      base = {
        rf: [base.rf[0] + (kEff[0] - 1) * base.jump[0], base.rf[1] + (kEff[1] - 1) * base.jump[1]],
        jump: [base.jump[0] * s[0], base.jump[1] * s[1]],
        start: [
          base.start[0] + ((kEff[0] - 1) / 2 - pad[0]) * base.jump[0],
          base.start[1] + ((kEff[1] - 1) / 2 - pad[1]) * base.jump[1],
        ],
        global: false,
      };
    }
    fields.set(layer.name, base);
  }
  return fields;
}

/** Colormaps from d3-scale-chromatic, sampled into 256-entry lookup tables. */
import { interpolateRdBu, interpolateTurbo, interpolateViridis, interpolateGreys } from 'd3-scale-chromatic';

export type ColormapName = 'viridis' | 'turbo' | 'rdbu' | 'greys';

const INTERPOLATORS: Record<ColormapName, (t: number) => string> = {
  viridis: interpolateViridis,
  turbo: interpolateTurbo,
  // Reversed so that positive (pushes the class up) is red and negative is blue.
  rdbu: (t) => interpolateRdBu(1 - t),
  greys: (t) => interpolateGreys(1 - t),
};

function parse(css: string): [number, number, number] {
  const hex = css.match(/^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i);
  if (hex) return [parseInt(hex[1], 16), parseInt(hex[2], 16), parseInt(hex[3], 16)];
  const rgb = css.match(/^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  throw new Error(`unexpected colour '${css}'`);
}

const tables = new Map<ColormapName, Uint8Array>();

/** 256 RGB entries. */
export function lut(name: ColormapName): Uint8Array {
  let t = tables.get(name);
  if (!t) {
    t = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) t.set(parse(INTERPOLATORS[name](i / 255)), i * 3);
    tables.set(name, t);
  }
  return t;
}

/** Values in [0, 1] (or [−1, 1] with `signed`) → RGB bytes. */
export function colorize(values: ArrayLike<number>, name: ColormapName, signed = false): Uint8Array {
  const table = lut(name);
  const out = new Uint8Array(values.length * 3);
  for (let i = 0; i < values.length; i++) {
    const t = signed ? (values[i] + 1) / 2 : values[i];
    const k = Math.max(0, Math.min(255, Math.round(t * 255))) * 3;
    out[i * 3] = table[k];
    out[i * 3 + 1] = table[k + 1];
    out[i * 3 + 2] = table[k + 2];
  }
  return out;
}

/** CSS colour stops for a legend (SVG gradient). */
export function stops(name: ColormapName, count = 11): string[] {
  const table = lut(name);
  return Array.from({ length: count }, (_, i) => {
    const k = Math.round((i / (count - 1)) * 255) * 3;
    return `rgb(${table[k]},${table[k + 1]},${table[k + 2]})`;
  });
}

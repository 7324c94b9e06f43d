/**
 * A synthetic "shapes" data set generated from a seed: RGB images of a few shape classes at random position,
 * scale, rotation and colour on textured or cluttered backgrounds, with each sample's ground-truth object mask
 * (used later to score explanations: pointing game, energy inside the mask).
 *
 * With `shortcut: true` the background colour predicts the class in the training split only (a "cheating"
 * signal): a model that learns it fails on the shortcut-free test split, and its explanations point at the
 * background.
 */
import { mulberry32 } from './batches.ts';
import { type Dataset, scaling } from './dataset.ts';

export const SHAPE_CLASSES = ['circle', 'square', 'triangle', 'star', 'hexagon'] as const;
export type ShapeClass = (typeof SHAPE_CLASSES)[number];

export interface ShapesOptions {
  count: number;
  seed: number;
  size?: number;
  classes?: readonly ShapeClass[];
  /** Background colour = f(class): a shortcut present in this split only when true. */
  shortcut?: boolean;
  /** Share of samples with cluttered (distractor) rather than textured backgrounds. */
  clutter?: number;
}

/** Ids are `shapes-<seed>-<index>`; masks are always present. */
export interface ShapesDataset extends Dataset {
  masks: Uint8Array;
}

type Point = [number, number];

/** Unit-radius outline of each polygonal class, centred at the origin. */
function outline(kind: ShapeClass): Point[] {
  const regular = (n: number, phase: number): Point[] =>
    Array.from({ length: n }, (_, i) => {
      const a = phase + (2 * Math.PI * i) / n;
      return [Math.cos(a), Math.sin(a)];
    });
  switch (kind) {
    case 'square':
      return regular(4, Math.PI / 4);
    case 'triangle':
      return regular(3, -Math.PI / 2);
    case 'hexagon':
      return regular(6, 0);
    case 'star':
      return Array.from({ length: 10 }, (_, i) => {
        const a = -Math.PI / 2 + (Math.PI * i) / 5;
        const r = i % 2 === 0 ? 1 : 0.42;
        return [r * Math.cos(a), r * Math.sin(a)];
      });
    default:
      return [];
  }
}

/**
 * Where the horizontal line at height y crosses the polygon's edges (the even-odd rule's crossings): a point (x, y)
 * is inside when an odd number of them lie to its right (x < crossing). Computed once per line of samples.
 */
function crossings(y: number, poly: Point[]): number[] {
  const out: number[] = [];
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y) out.push(((xj - xi) * (y - yi)) / (yj - yi) + xi);
  }
  return out;
}

function hsl(h: number, s: number, l: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    return 255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)));
  };
  return [f(0), f(8), f(4)];
}

interface Painting {
  images: Uint8Array;
  masks: Uint8Array;
  /** The image's first pixel (index into masks; images hold 3 bytes per pixel). */
  offset: number;
  size: number;
  rand: () => number;
  base: [number, number, number];
  fill: [number, number, number];
  /** [kx, ky, phase, period] per low-frequency wave of the background. */
  waves: number[][];
  distractors: Array<{ x0: number; y0: number; x1: number; y1: number; w: number; col: [number, number, number] }>;
  circle: boolean;
  poly: Point[];
  cx: number;
  cy: number;
  radius: number;
}

/**
 * Each wave sin(u(x) + v(y)), u = 2π·kx·x / (0.4·period), v = 2π·ky·y / (0.4·period) + phase, by the angle sum
 * sin u cos v + cos u sin v from per-column and per-row tables: 2·size sines per wave instead of size² (the bytes
 * match the direct sum but for a rare rounding at .5). Wave w's entries start at w·size.
 */
function waveTables(waves: Painting['waves'], size: number) {
  const nw = waves.length;
  const su = new Float64Array(nw * size);
  const cu = new Float64Array(nw * size);
  const sv = new Float64Array(nw * size);
  const cv = new Float64Array(nw * size);
  for (let w = 0; w < nw; w++) {
    const [kx, ky, phase, period] = waves[w];
    for (let i = 0; i < size; i++) {
      const u = (2 * Math.PI * kx * i) / (period * 0.4);
      const v = (2 * Math.PI * ky * i) / (period * 0.4) + phase;
      su[w * size + i] = Math.sin(u);
      cu[w * size + i] = Math.cos(u);
      sv[w * size + i] = Math.sin(v);
      cv[w * size + i] = Math.cos(v);
    }
  }
  return { su, cu, sv, cv };
}

/**
 * One image's pixels and mask: the textured background (waves and pixel noise, one rand() per pixel in row order),
 * the distractor strokes, and the object blended by its coverage of SS x SS sub-pixel samples. The waves come from
 * per-row and per-column sine tables (waveTables) and the crossings sit in typed arrays.
 */
function paint(o: Painting): void {
  const { images, masks, offset, size, rand, distractors, circle, cx, cy, radius } = o;
  const [br, bg, bb] = o.base;
  const [fr, fg, fb] = o.fill;
  const SS = 3; // supersampling per axis for anti-aliased edges
  const nw = o.waves.length;
  const { su, cu, sv, cv } = waveTables(o.waves, size);
  const r2 = radius * radius;
  // Sub-pixel sample i of row y lies on the line y + (i + 0.5) / SS: its edge crossings, once per row.
  const lineLen = new Int32Array(SS);
  const lines = new Float64Array(SS * Math.max(1, o.poly.length));
  for (let y = 0; y < size; y++) {
    if (!circle) {
      for (let i = 0; i < SS; i++) {
        const c = crossings(y + (i + 0.5) / SS, o.poly);
        lineLen[i] = c.length;
        lines.set(c, i * o.poly.length);
      }
    }
    const nearRow = Math.abs(y + 0.5 - cy) <= radius + 1;
    for (let x = 0; x < size; x++) {
      let r = br;
      let g = bg;
      let b = bb;
      for (let w = 0; w < nw; w++) {
        const t = (su[w * size + x] * cv[w * size + y] + cu[w * size + x] * sv[w * size + y]) * 7;
        r += t;
        g += t * 0.8;
        b += t * 0.6;
      }
      const noise = (rand() - 0.5) * 12;
      r += noise;
      g += noise;
      b += noise;
      for (let k = 0; k < distractors.length; k++) {
        const d = distractors[k];
        // Distance from the pixel to the segment.
        const vx = d.x1 - d.x0;
        const vy = d.y1 - d.y0;
        const t = Math.max(0, Math.min(1, ((x - d.x0) * vx + (y - d.y0) * vy) / (vx * vx + vy * vy || 1)));
        const dist = Math.hypot(x - d.x0 - t * vx, y - d.y0 - t * vy);
        if (dist < d.w) {
          r = d.col[0];
          g = d.col[1];
          b = d.col[2];
        }
      }
      let cover = 0;
      if (nearRow && Math.abs(x + 0.5 - cx) <= radius + 1) {
        for (let i = 0; i < SS; i++) {
          const sy = y + (i + 0.5) / SS;
          for (let j = 0; j < SS; j++) {
            const sx = x + (j + 0.5) / SS;
            let inside = false;
            if (circle) inside = (sx - cx) ** 2 + (sy - cy) ** 2 <= r2;
            else {
              // The even-odd rule: inside when an odd number of crossings lie to the right.
              const from = i * o.poly.length;
              for (let k = from; k < from + lineLen[i]; k++) if (sx < lines[k]) inside = !inside;
            }
            if (inside) cover++;
          }
        }
      }
      const a = cover / (SS * SS);
      const p = offset + y * size + x;
      images[3 * p] = Math.max(0, Math.min(255, Math.round(r * (1 - a) + fr * a)));
      images[3 * p + 1] = Math.max(0, Math.min(255, Math.round(g * (1 - a) + fg * a)));
      images[3 * p + 2] = Math.max(0, Math.min(255, Math.round(b * (1 - a) + fb * a)));
      masks[p] = a >= 0.5 ? 1 : 0;
    }
  }
}

export function generateShapes(opts: ShapesOptions): ShapesDataset {
  const size = opts.size ?? 64;
  const classes = opts.classes ?? SHAPE_CLASSES;
  const clutter = opts.clutter ?? 0.5;
  const rand = mulberry32(opts.seed);
  const n = opts.count;
  const images = new Uint8Array(n * size * size * 3);
  const masks = new Uint8Array(n * size * size);
  const labels = new Int32Array(n);
  const ids: string[] = [];
  for (let s = 0; s < n; s++) {
    const label = s % classes.length; // balanced
    labels[s] = label;
    ids.push(`shapes-${opts.seed}-${s}`);
    const kind = classes[label];
    // Background: a base colour (class-coded under the shortcut) with low-frequency texture and pixel noise.
    const bgHue = opts.shortcut ? (label / classes.length + 0.03 * (rand() - 0.5) + 1) % 1 : rand();
    // Under the shortcut the whole background colour (not only its hue) is fixed by the class.
    const sat = 0.25 + 0.3 * rand();
    const light = 0.35 + 0.3 * rand();
    const [br, bg, bb] = opts.shortcut ? hsl(bgHue, 0.55, 0.5) : hsl(bgHue, sat, light);
    const waves = Array.from({ length: 3 }, () => [rand() * 0.4, rand() * 0.4, rand() * 2 * Math.PI, 12 + 18 * rand()]);
    const cluttered = rand() < clutter;
    const distractors = cluttered
      ? Array.from({ length: 2 + Math.floor(rand() * 3) }, () => ({
          x0: rand() * size, y0: rand() * size, x1: rand() * size, y1: rand() * size,
          w: 0.6 + rand() * 0.8, col: hsl(rand(), 0.5, 0.3 + 0.4 * rand()),
        }))
      : [];
    // The object: radius 22–42 % of the image, fully inside it, random rotation and a colour far from the bg.
    const radius = size * (0.22 + 0.2 * rand());
    const cx = radius + rand() * (size - 2 * radius);
    const cy = radius + rand() * (size - 2 * radius);
    const rot = rand() * 2 * Math.PI;
    const [fr, fg, fb] = hsl((bgHue + 0.35 + 0.3 * rand()) % 1, 0.65 + 0.3 * rand(), 0.45 + 0.2 * rand());
    const poly = outline(kind).map(([px, py]): Point => {
      const c = Math.cos(rot);
      const sn = Math.sin(rot);
      return [cx + radius * (px * c - py * sn), cy + radius * (px * sn + py * c)];
    });
    paint({ images, masks, offset: s * size * size, size, rand, base: [br, bg, bb], fill: [fr, fg, fb], waves, distractors, circle: kind === 'circle', poly, cx, cy, radius });
  }
  return {
    name: `shapes-${opts.seed}${opts.shortcut ? '-shortcut' : ''}`,
    images, labels, count: n, shape: [size, size, 3], numClasses: classes.length, classes: [...classes], ids, masks,
    ...scaling('/255'),
  };
}

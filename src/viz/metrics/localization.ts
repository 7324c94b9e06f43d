/**
 * Localisation against ground-truth object masks (the synthetic shapes know where the object is):
 * - pointing game (Zhang et al. 2016, "Top-down Neural Attention by Excitation Backprop", Sec. 5.1): a hit when
 *   the map's maximum lies on the object, or within `tolerance` pixels of it. When several pixels share the
 *   maximum (a CAM unit held constant beyond the outermost receptive-field centres, a flat occlusion patch, an
 *   all-zero map), the point is the tied pixel nearest the ties' centroid, not the first in reading order
 *   (which would favour the top-left corner);
 * - energy inside the mask (Wang et al. 2020, Score-CAM, Sec. 4.3): Σ_{mask} max(a, 0) / Σ max(a, 0).
 */
export interface Localization {
  hit: boolean;
  energyInside: number;
}

/** The pointing game's tolerance in pixels: 2 on a 64-pixel-wide image (Zhang et al.'s 15 px on ~500 px). */
export function pointingTolerance(width: number): number {
  return Math.round(width / 32);
}

export function localization(map: ArrayLike<number>, mask: ArrayLike<number>, width: number, tolerance = 0): Localization {
  const { y: by, x: bx } = peak(map, width);
  let hit = false;
  const height = map.length / width;
  for (let y = Math.max(0, by - tolerance); y <= Math.min(height - 1, by + tolerance) && !hit; y++) {
    for (let x = Math.max(0, bx - tolerance); x <= Math.min(width - 1, bx + tolerance) && !hit; x++) {
      if ((y - by) ** 2 + (x - bx) ** 2 <= tolerance ** 2 && mask[y * width + x]) hit = true;
    }
  }
  let inside = 0;
  let total = 0;
  for (let i = 0; i < map.length; i++) {
    const v = Math.max(0, map[i]);
    total += v;
    if (mask[i]) inside += v;
  }
  return { hit, energyInside: total > 0 ? inside / total : 0 };
}

/** The map's maximum; among ties, the tied pixel nearest their centroid (the first such in reading order). */
export function peak(map: ArrayLike<number>, width: number): { y: number; x: number } {
  let max = -Infinity;
  for (let i = 0; i < map.length; i++) if (map[i] > max) max = map[i];
  let n = 0;
  let sy = 0;
  let sx = 0;
  for (let i = 0; i < map.length; i++) {
    if (map[i] === max) {
      n++;
      sy += Math.floor(i / width);
      sx += i % width;
    }
  }
  const cy = sy / n;
  const cx = sx / n;
  let best = -1;
  let bestD = Infinity;
  for (let i = 0; i < map.length; i++) {
    if (map[i] !== max) continue;
    const d = (Math.floor(i / width) - cy) ** 2 + ((i % width) - cx) ** 2;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return { y: Math.floor(best / width), x: best % width };
}

/** Pointing game and energy of one method over many test images (not only the report's samples). */
export interface LocalizationScore {
  /** Share of images whose map's peak lies on the object (within the tolerance). */
  pointing: number;
  /** Mean share of positive attribution inside the object mask. */
  energy: number;
  /** The same two over the correctly classified images only. */
  pointingCorrect: number;
  energyCorrect: number;
  images: number;
  correct: number;
}

export interface LocalizationBenchmark {
  /** Test images scored (the first `images` of the test set). */
  images: number;
  /** Pixels of tolerance for a hit (image width / 32). */
  tolerance: number;
  /** Mean share of the image the objects cover: what a uniform map scores on energy, a random point on pointing. */
  objectArea: number;
  /** Model accuracy over those images. */
  accuracy: number;
  methods: Record<string, LocalizationScore>;
}

/**
 * Every method on the first `count` masked test images, explaining the predicted class, in chunks of `chunk`
 * images. `attribute` returns [n, H·W] maps (magnitude for unsigned methods, as the report draws them).
 */
export function localizationBenchmark(opts: {
  masks: Uint8Array;
  labels: ArrayLike<number>;
  width: number;
  height: number;
  count: number;
  chunk: number;
  methods: string[];
  /** Maps and predicted classes for images [start, start + n). */
  attribute: (method: string, start: number, n: number) => { maps: Float32Array; predicted: number[] };
  onMethod?: (method: string) => void;
}): LocalizationBenchmark {
  const { masks, labels, width: W, height: H, count, chunk } = opts;
  const tolerance = pointingTolerance(W);
  let area = 0;
  for (let i = 0; i < count * H * W; i++) area += masks[i];
  const methods: Record<string, LocalizationScore> = {};
  let accuracy = 0;
  for (const id of opts.methods) {
    let hits = 0, energy = 0, hitsC = 0, energyC = 0, correct = 0;
    for (let start = 0; start < count; start += chunk) {
      const n = Math.min(chunk, count - start);
      const { maps, predicted } = opts.attribute(id, start, n);
      for (let i = 0; i < n; i++) {
        const k = start + i;
        const loc = localization(maps.subarray(i * H * W, (i + 1) * H * W), masks.subarray(k * H * W, (k + 1) * H * W), W, tolerance);
        hits += +loc.hit;
        energy += loc.energyInside;
        if (predicted[i] === labels[k]) {
          correct++;
          hitsC += +loc.hit;
          energyC += loc.energyInside;
        }
      }
    }
    accuracy = correct / count;
    methods[id] = {
      pointing: hits / count, energy: energy / count,
      pointingCorrect: correct ? hitsC / correct : 0, energyCorrect: correct ? energyC / correct : 0,
      images: count, correct,
    };
    opts.onMethod?.(id);
  }
  return { images: count, tolerance, objectArea: area / (count * H * W), accuracy, methods };
}

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

/**
 * Localisation against ground-truth object masks (the synthetic shapes know where the object is):
 * - pointing game (Zhang et al. 2016, "Top-down Neural Attention by Excitation Backprop", Sec. 5.1): a hit when
 *   the map's maximum lies on the object, or within `tolerance` pixels of it;
 * - energy inside the mask (Wang et al. 2020, Score-CAM, Sec. 4.3): Σ_{mask} max(a, 0) / Σ max(a, 0).
 */
export interface Localization {
  hit: boolean;
  energyInside: number;
}

export function localization(map: ArrayLike<number>, mask: ArrayLike<number>, width: number, tolerance = 0): Localization {
  let best = 0;
  for (let i = 1; i < map.length; i++) if (map[i] > map[best]) best = i;
  const by = Math.floor(best / width);
  const bx = best % width;
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

import { describe, expect, it } from 'vitest';
import { localization, peak } from '../../src/viz/metrics/localization.ts';

describe('pointing game and energy inside the mask', () => {
  // 3x3, object = centre pixel.
  const mask = [0, 0, 0, 0, 1, 0, 0, 0, 0];
  it('hits when the peak is on the object', () => {
    expect(localization([0, 0, 0, 0, 5, 1, 0, 0, 0], mask, 3)).toEqual({ hit: true, energyInside: 5 / 6 });
  });
  it('misses beside it, unless within the tolerance', () => {
    expect(localization([0, 0, 0, 0, 1, 5, 0, 0, 0], mask, 3).hit).toBe(false);
    expect(localization([0, 0, 0, 0, 1, 5, 0, 0, 0], mask, 3, 1).hit).toBe(true);
    expect(localization([9, 0, 0, 0, 1, 0, 0, 0, 0], mask, 3, 1).hit).toBe(false); // diagonal: √2 > 1
  });
  it('negative attribution does not count as energy', () => {
    expect(localization([-10, 0, 0, 0, 2, 0, 0, 0, 2], mask, 3).energyInside).toBe(0.5);
    expect(localization([0, 0, 0, 0, 0, 0, 0, 0, 0], mask, 3).energyInside).toBe(0);
  });
});

describe('the pointing game\'s peak among ties', () => {
  it('is the tied pixel nearest the centroid of the ties, not the first in reading order', () => {
    // 5x5 with a flat 3x3 maximum in the top-left corner: centroid (1, 1).
    const map = new Array(25).fill(0);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) map[y * 5 + x] = 2;
    expect(peak(map, 5)).toEqual({ y: 1, x: 1 });
    const centre = new Array(25).fill(0);
    centre[12] = 1;
    expect(localization(map, centre, 5).hit).toBe(false);
    const atCentroid = new Array(25).fill(0);
    atCentroid[6] = 1;
    expect(localization(map, atCentroid, 5).hit).toBe(true); // reading order would have pointed at (0, 0)
  });
  it('an L-shaped tie whose centroid is not tied picks the nearest tied pixel', () => {
    // Ties at (0,0), (0,2), (2,0): centroid (2/3, 2/3) is nearest (0,0).
    const map = [3, 0, 3, 0, 0, 0, 3, 0, 0];
    expect(peak(map, 3)).toEqual({ y: 0, x: 0 });
    expect(peak([0, 0, 0, 0, 0, 7, 0, 0, 0], 3)).toEqual({ y: 1, x: 2 });
  });
});

import { describe, expect, it } from 'vitest';
import { localization } from '../../src/viz/metrics/localization.ts';

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

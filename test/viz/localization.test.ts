import { describe, expect, it } from 'vitest';
import { localization, localizationBenchmark, peak } from '../../src/viz/metrics/localization.ts';

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

describe('localization benchmark over test images', () => {
  it('scores every method in chunks, with the correct-only split and the object-area baseline', () => {
    // Three 2x2 images; the object is pixel 0 in each (area 1/4). Labels 0, 1, 0.
    const masks = new Uint8Array([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    const maps: Record<string, number[][]> = {
      good: [[4, 0, 0, 0], [3, 1, 0, 0], [1, 1, 1, 1]], // ties in image 3: centroid (0.5, 0.5) → nearest tied pixel (0, 0)
      bad: [[0, 5, 0, 0], [0, 0, 2, 0], [1, 0, 0, 3]],
    };
    const calls: string[] = [];
    const r = localizationBenchmark({
      masks, labels: [0, 1, 0], width: 2, height: 2, count: 3, chunk: 2, methods: ['good', 'bad'],
      attribute: (id, start, n) => {
        calls.push(`${id}:${start}+${n}`);
        return { maps: Float32Array.from(maps[id].slice(start, start + n).flat()), predicted: [0, 0, 0].slice(start, start + n) };
      },
    });
    expect(calls).toEqual(['good:0+2', 'good:2+1', 'bad:0+2', 'bad:2+1']);
    expect(r.objectArea).toBe(0.25);
    expect(r.accuracy).toBeCloseTo(2 / 3, 12);
    expect(r.tolerance).toBe(0);
    expect(r.methods.good.pointing).toBe(1);
    expect(r.methods.good.energy).toBeCloseTo((1 + 0.75 + 0.25) / 3, 12);
    expect(r.methods.good.pointingCorrect).toBe(1);
    expect(r.methods.good.energyCorrect).toBeCloseTo((1 + 0.25) / 2, 12);
    expect(r.methods.bad).toMatchObject({ pointing: 0, images: 3, correct: 2 });
    expect(r.methods.bad.energy).toBeCloseTo(0.25 / 3, 12);
  });
});

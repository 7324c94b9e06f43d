import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { colorize, lut } from '../../src/render/colormap.ts';
import { cropResized, encode, grid, overlay, type Raster, resizeNearest, toBytes } from '../../src/render/image.ts';
import { absPercentile, minMax, normalizeMap, standardizeChannel } from '../../src/render/normalize.ts';
import { npyBytes } from '../../src/render/npy.ts';

describe('normalisation contract', () => {
  it('percentile scaling, clipping and signs', () => {
    expect(absPercentile([0, 1, 2, 3, 4], 50)).toBe(2);
    expect(absPercentile([0, 10], 99.5)).toBeCloseTo(9.95, 10);
    const mag = normalizeMap([0, 1, 2, 3, 400], false, 75);
    expect([mag.scale, ...mag.values]).toEqual([3, 0, 1 / 3, 2 / 3, 1, 1].map((v) => Math.fround(v)).map((v, i) => (i === 0 ? 3 : v)));
    const signed = normalizeMap([-4, -2, 0, 2, 4], true, 100);
    expect(Array.from(signed.values)).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(Array.from(normalizeMap([0, 0], false).values)).toEqual([0, 0]);
  });

  it('per-channel standardisation and min–max', () => {
    // mean 2, std 1 ⇒ (x − 2)·64 + 128 = 64, 128, 192; a constant channel is mid-grey.
    expect(Array.from(standardizeChannel([1, 2, 3, 2, 2, 1, 3, 2].slice(0, 3)))).toEqual([50, 128, 206]);
    expect(Array.from(standardizeChannel([5, 5, 5]))).toEqual([128, 128, 128]);
    expect(Array.from(minMax([2, 4, 3]))).toEqual([0, 1, 0.5]);
  });
});

describe('colormaps', () => {
  it('end points of viridis, turbo and the diverging map', () => {
    expect(Array.from(lut('viridis').subarray(0, 3))).toEqual([68, 1, 84]); // #440154
    expect(Array.from(lut('viridis').subarray(765, 768))).toEqual([253, 231, 37]); // #fde725
    const rdbu = colorize([-1, 0, 1], 'rdbu', true);
    expect(rdbu[0]).toBeLessThan(rdbu[2]); // −1 is blue
    expect(rdbu[6]).toBeGreaterThan(rdbu[8]); // +1 is red
    expect(Math.min(rdbu[3], rdbu[4], rdbu[5])).toBeGreaterThan(230); // 0 is near white
  });
});

describe('npy', () => {
  it('writes the documented v1.0 layout', () => {
    const b = npyBytes(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    expect(Array.from(b.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const headerLen = b[8] | (b[9] << 8);
    expect((10 + headerLen) % 64).toBe(0);
    const header = new TextDecoder().decode(b.subarray(10, 10 + headerLen));
    expect(header.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    expect(header.endsWith('\n')).toBe(true);
    expect(Array.from(new Float32Array(b.slice(10 + headerLen).buffer))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new TextDecoder().decode(npyBytes(new Uint8Array(3), [3]).subarray(10, 74))).toContain("'shape': (3,)");
    expect(() => npyBytes(new Float32Array(5), [2, 3])).toThrow(/holds 6 values, data has 5/);
  });
});

/** Compare with a committed golden PNG; on failure write `<name>-changed.png` beside it for a person to look at. */
async function expectGolden(png: Buffer, name: string, tolerance = 2): Promise<void> {
  const path = join('test/fixtures/golden', `${name}.png`);
  if (!existsSync(path)) throw new Error(`${path}: golden image missing`);
  const [want, got] = await Promise.all([path, png].map((p) => sharp(p).raw().toBuffer({ resolveWithObject: true })));
  const same = want.info.width === got.info.width && want.info.height === got.info.height;
  let maxDiff = 0;
  if (same) for (let i = 0; i < want.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want.data[i] - got.data[i]));
  if (!same || maxDiff > tolerance) {
    writeFileSync(path.replace(/\.png$/, '-changed.png'), png);
    throw new Error(`${name}: differs from the golden image (max channel difference ${same ? maxDiff : 'size'}); see ${name}-changed.png`);
  }
}

describe('images', () => {
  it('a Grad-CAM style overlay matches its golden image', async () => {
    // A 16x16 grey gradient image with a Gaussian blob "CAM" at (10, 5), turbo, α = 0.5, shown 4x.
    const W = 16;
    const image = { data: toBytes(Array.from({ length: W * W }, (_, i) => (i % W) / (W - 1)), [0, 1]), width: W, height: W, channels: 1 as const };
    const cam = Array.from({ length: W * W }, (_, i) => Math.exp(-(((i % W) - 10) ** 2 + (Math.floor(i / W) - 5) ** 2) / 12));
    const heat = colorize(normalizeMap(cam, false).values, 'turbo');
    const tile = overlay(image, heat, 0.5);
    const png = await encode(grid([tile, { ...tile, data: heat }], 2, 1), 'png', 4);
    await expectGolden(png, 'overlay-turbo');
  });

  it('encoding is deterministic', async () => {
    const r = { data: Uint8Array.from({ length: 48 }, (_, i) => i * 5), width: 4, height: 4, channels: 3 as const };
    expect((await encode(r, 'png', 2)).equals(await encode(r, 'png', 2))).toBe(true);
    expect((await encode(r, 'webp')).equals(await encode(r, 'webp'))).toBe(true);
  });
});

describe('cropResized', () => {
  /** The two steps written out: cut [y0, y1) x [x0, x1) (fill outside the image), then sample pixel centres. */
  function reference(r: Raster, [y0, x0, y1, x1]: [number, number, number, number], width: number, height: number, fill: number): Uint8Array {
    const w = x1 - x0;
    const h = y1 - y0;
    const c = r.channels;
    const cut = new Uint8Array(w * h * c).fill(fill);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const sy = y0 + y;
      const sx = x0 + x;
      if (sy >= 0 && sx >= 0 && sy < r.height && sx < r.width) for (let k = 0; k < c; k++) cut[(y * w + x) * c + k] = r.data[(sy * r.width + sx) * c + k];
    }
    const out = new Uint8Array(width * height * c);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
      const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / height));
      const sx = Math.min(w - 1, Math.floor(((x + 0.5) * w) / width));
      for (let k = 0; k < c; k++) out[(y * width + x) * c + k] = cut[(sy * w + sx) * c + k];
    }
    return out;
  }

  it('is the crop (grey outside the image) resized by nearest neighbour, for boxes inside, across and beyond the edges', () => {
    const r: Raster = { data: Uint8Array.from({ length: 13 * 11 * 3 }, (_, i) => (i * 37) % 251), width: 13, height: 11, channels: 3 };
    const boxes: Array<[number, number, number, number]> = [[2, 3, 7, 9], [-4, -5, 6, 8], [5, 6, 19, 22], [-10, -10, 30, 30], [0, 0, 11, 13], [4, 4, 5, 5]];
    for (const box of boxes) {
      for (const [width, height] of [[8, 8], [20, 17], [1, 1], [box[3] - box[1], box[2] - box[0]]]) {
        expect(cropResized(r, box, width, height, 128).data).toEqual(reference(r, box, width, height, 128));
      }
    }
    const gray: Raster = { data: Uint8Array.from({ length: 6 * 5 }, (_, i) => i * 8), width: 6, height: 5, channels: 1 };
    expect(cropResized(gray, [-2, 1, 4, 9], 7, 9, 0).data).toEqual(reference(gray, [-2, 1, 4, 9], 7, 9, 0));
  });

  it('resizeNearest returns a raster of the asked size as it is', () => {
    const r: Raster = { data: new Uint8Array(4 * 3 * 3).fill(9), width: 4, height: 3, channels: 3 };
    expect(resizeNearest(r, 4, 3)).toBe(r);
    expect(resizeNearest(r, 8, 6).data.length).toBe(8 * 6 * 3);
  });
});

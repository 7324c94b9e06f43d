import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodeBmp } from 'bmp-ts';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, loadImageFolder } from '../../src/data/folder.ts';
import { declaredPng } from '../helpers/images.ts';

/** A w x h RGB image filled with one colour, encoded by sharp in `format`. */
function solid(w: number, h: number, rgb: [number, number, number], format: 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff') {
  return sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })[format]().toBuffer();
}

async function fixture(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'convlens-folder-'));
  mkdirSync(join(root, 'red'));
  mkdirSync(join(root, 'blue'));
  writeFileSync(join(root, 'red', 'a.png'), await solid(10, 8, [255, 0, 0], 'png'));
  writeFileSync(join(root, 'red', 'b.jpg'), await solid(16, 16, [255, 0, 0], 'jpeg'));
  writeFileSync(join(root, 'red', 'c.webp'), await solid(7, 9, [255, 0, 0], 'webp'));
  writeFileSync(join(root, 'blue', 'd.gif'), await solid(5, 5, [0, 0, 255], 'gif'));
  writeFileSync(join(root, 'blue', 'e.tiff'), await solid(12, 6, [0, 0, 255], 'tiff'));
  // 4x2 BMP, blue, from bmp-ts (ABGR byte order).
  const px = Buffer.alloc(4 * 2 * 4);
  for (let i = 0; i < 8; i++) px.set([255, 255, 0, 0], i * 4);
  writeFileSync(join(root, 'blue', 'f.bmp'), encodeBmp({ data: px, width: 4, height: 2, bitPP: 24 }).data);
  writeFileSync(join(root, 'blue', 'notes.txt'), 'ignored: not an image extension');
  return root;
}

describe('image folders', () => {
  it('reads class sub-folders (sorted) in every format, resized, RGB or grayscale', async () => {
    const root = await fixture();
    const rgb = await loadImageFolder({ dir: root, imageSize: [4, 4], channels: 3 });
    expect(rgb.classes).toEqual(['blue', 'red']);
    expect(rgb.ids).toEqual(['blue/d.gif', 'blue/e.tiff', 'blue/f.bmp', 'red/a.png', 'red/b.jpg', 'red/c.webp']);
    expect(Array.from(rgb.labels)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(rgb.shape).toEqual([4, 4, 3]);
    for (let i = 0; i < rgb.count; i++) {
      const [r, , b] = rgb.images.subarray(i * 48, i * 48 + 3);
      // Lossy formats move colours a little; the dominant channel must match the class.
      if (rgb.labels[i] === 0) expect(b - r, rgb.ids[i]).toBeGreaterThan(200);
      else expect(r - b, rgb.ids[i]).toBeGreaterThan(200);
    }
    const grey = await loadImageFolder({ dir: root, imageSize: [3, 5], channels: 1 });
    expect(grey.shape).toEqual([3, 5, 1]);
    expect(grey.images.length).toBe(6 * 15);
    // ITU-R 601 luma (PIL's convert('L')): pure red → 76, pure blue → 29.
    expect(grey.images[3 * 15]).toBe(76);
    expect(grey.images[0]).toBe(29);
  });

  it('a flat folder is an unlabeled set', async () => {
    const root = mkdtempSync(join(tmpdir(), 'convlens-flat-'));
    writeFileSync(join(root, 'x.png'), await solid(3, 3, [0, 255, 0], 'png'));
    const d = await loadImageFolder({ dir: root, imageSize: [2, 2], channels: 3 });
    expect([d.labeled, d.count, Array.from(d.labels)]).toEqual([false, 1, [-1]]);
  });

  it('lists every unreadable file in one error, or skips them on request', async () => {
    const root = await fixture();
    writeFileSync(join(root, 'red', 'corrupt.jpg'), Buffer.from([0xff, 0xd8, 0xff, 1, 2, 3, 4, 5]));
    writeFileSync(join(root, 'red', 'empty.png'), Buffer.alloc(0));
    writeFileSync(join(root, 'blue', 'text.png'), 'this is not a png');
    writeFileSync(join(root, 'blue', 'huge.png'), declaredPng(20000, 20000));
    const load = (skipInvalid: boolean, warn?: (m: string) => void) =>
      loadImageFolder({ dir: root, imageSize: [4, 4], channels: 3, skipInvalid, warn });
    const err = await load(false).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^4 files in .* could not be read as images:/);
    expect(msg).toContain(`${join(root, 'red', 'empty.png')}: empty file (0 bytes)`);
    expect(msg).toContain(`${join(root, 'red', 'corrupt.jpg')}: cannot be read as an image`);
    expect(msg).toContain(`${join(root, 'blue', 'text.png')}: cannot be read as an image (Input buffer contains unsupported image format)`);
    expect(msg).toContain(`${join(root, 'blue', 'huge.png')}: declares 20000x20000 pixels, over the limit of 64000000; downscale it`);
    expect(msg).toContain('skipInvalid');
    const warnings: string[] = [];
    const d = await load(true, (m) => warnings.push(m));
    expect(d.count).toBe(6);
    expect(warnings).toHaveLength(4);
  });

  it('refuses empty class folders and missing folders, naming them', async () => {
    const root = await fixture();
    mkdirSync(join(root, 'green'));
    await expect(loadImageFolder({ dir: root, imageSize: [4, 4], channels: 3 })).rejects.toThrow(`class folder without images (.jpg .jpeg .png .webp .gif .bmp .tif .tiff .avif): ${join(root, 'green')}`);
    await expect(loadImageFolder({ dir: join(root, 'nope'), imageSize: [4, 4], channels: 3 })).rejects.toThrow(/nope: cannot read the image folder \(ENOENT\)/);
  });

  it('a BMP declaring 20000x20000 pixels is refused before decoding', async () => {
    const root = mkdtempSync(join(tmpdir(), 'convlens-bmp-'));
    const header = Buffer.alloc(54);
    header.write('BM', 0, 'latin1');
    header.writeInt32LE(20000, 18);
    header.writeInt32LE(20000, 22);
    writeFileSync(join(root, 'big.bmp'), header);
    await expect(decodeImage(join(root, 'big.bmp'), [4, 4], 3)).rejects.toThrow(/declares 20000x20000 pixels, over the limit/);
  });
});

import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEBIAN_FASHION_MNIST } from '../../src/data/idx.ts';
import * as tf from '@tensorflow/tfjs';
import { makeBatch } from '../../src/data/batches.ts';
import { fashionMnist, inputBytes, scaling, splitDataset } from '../../src/data/dataset.ts';
import { generateShapes } from '../../src/data/shapes.ts';

describe('datasets', () => {
  it('shapes: seeded, balanced, with masks inside the image and ids', () => {
    const a = generateShapes({ count: 20, seed: 3, size: 32 });
    const b = generateShapes({ count: 20, seed: 3, size: 32 });
    expect(Buffer.from(a.images).equals(Buffer.from(b.images))).toBe(true);
    expect(Buffer.from(generateShapes({ count: 20, seed: 4, size: 32 }).images).equals(Buffer.from(a.images))).toBe(false);
    expect(a.ids[7]).toBe('shapes-3-7');
    expect(Array.from(a.labels).slice(0, 6)).toEqual([0, 1, 2, 3, 4, 0]);
    for (let i = 0; i < a.count; i++) {
      const area = a.masks.subarray(i * 1024, (i + 1) * 1024).reduce((s, v) => s + v, 0);
      // radius 22–42 % of the side: a square's area is 2r², a star's ~0.6 r² — never empty, never the whole image.
      expect(area).toBeGreaterThan(20);
      expect(area).toBeLessThan(700);
    }
    expect([a.range, a.scale]).toEqual([[0, 1], 1 / 255]);
  });

  it('the shortcut colours the background by class (and only with the option)', () => {
    /** Mean corner-pixel distance within class 0 divided by the distance between classes 0 and 1. */
    const ratio = (shortcut: boolean) => {
      const d = generateShapes({ count: 60, seed: 1, size: 24, shortcut, clutter: 0 });
      const corner = (i: number) => Array.from(d.images.subarray(i * 24 * 24 * 3, i * 24 * 24 * 3 + 3));
      const dist = (i: number, j: number) => corner(i).reduce((s, v, k) => s + Math.abs(v - corner(j)[k]), 0);
      const c0 = [...Array(12).keys()].map((k) => 5 * k);
      const c1 = c0.map((k) => k + 1);
      const mean = (pairs: number[][]) => pairs.reduce((s, [i, j]) => s + dist(i, j), 0) / pairs.length;
      const within = mean(c0.flatMap((i) => c0.filter((j) => j > i).map((j) => [i, j])));
      const between = mean(c0.flatMap((i) => c1.map((j) => [i, j])));
      return within / between;
    };
    expect(ratio(true)).toBeLessThan(0.45); // measured 0.29

    expect(ratio(false)).toBeGreaterThan(0.8); // measured 1.00
  });

  it('splits are seeded and keep ids and masks with their images', () => {
    const d = generateShapes({ count: 30, seed: 2, size: 16 });
    const s1 = splitDataset(d, 0.2, 9);
    const s2 = splitDataset(d, 0.2, 9);
    expect(s1.validation.ids).toEqual(s2.validation.ids);
    expect([s1.train.count, s1.validation.count]).toEqual([24, 6]);
    expect(new Set([...s1.train.ids, ...s1.validation.ids]).size).toBe(30);
    const id = s1.validation.ids[2];
    const k = d.ids.indexOf(id);
    expect(Buffer.from(s1.validation.masks!.subarray(2 * 256, 3 * 256)).equals(Buffer.from(d.masks.subarray(k * 256, (k + 1) * 256)))).toBe(true);
    expect(s1.validation.labels[2]).toBe(d.labels[k]);
    expect(splitDataset(d, 0.2, 10).validation.ids).not.toEqual(s1.validation.ids);
    expect(() => splitDataset(d, 30, 1)).toThrow(/leaves no training/);
  });

  it('scalings map bytes to their declared range', () => {
    for (const kind of ['/255', '[-1,1]'] as const) {
      const s = scaling(kind) as { scale: number; offset: number; range: [number, number] };
      expect([0 * s.scale + s.offset, 255 * s.scale + s.offset].map((v) => Number(v.toFixed(12)))).toEqual(s.range);
    }
  });

  it("caffe and torch follow Keras's preprocess_input on a hand-worked pixel, and display bytes invert them", () => {
    // RGB (10, 20, 30). caffe: BGR minus means → (30 − 103.939, 20 − 116.779, 10 − 123.68).
    // torch: (v / 255 − mean) / std per RGB channel.
    const data = { images: Uint8Array.from([10, 20, 30]), labels: Int32Array.from([0]), count: 1, shape: [1, 1, 3] as [number, number, number], numClasses: 2 };
    const caffe = scaling('caffe');
    const xc = makeBatch({ ...data, bgr: caffe.bgr }, [0], caffe.scale, caffe.offset);
    expect(Array.from(xc.x.dataSync()).map((v) => Number(v.toFixed(3)))).toEqual([-73.939, -96.779, -113.68]);
    const torch = scaling('torch');
    const xt = makeBatch(data, [0], torch.scale, torch.offset);
    const want = [10, 20, 30].map((v, c) => (v / 255 - [0.485, 0.456, 0.406][c]) / [0.229, 0.224, 0.225][c]);
    Array.from(xt.x.dataSync()).forEach((v, c) => expect(v).toBeCloseTo(want[c], 5));
    expect(Array.from(inputBytes(xc.x.dataSync(), caffe, 3))).toEqual([10, 20, 30]);
    expect(Array.from(inputBytes(xt.x.dataSync(), torch, 3))).toEqual([10, 20, 30]);
    tf.dispose([xc.x, xc.y, xt.x, xt.y]);
  });

  it.runIf(existsSync(DEBIAN_FASHION_MNIST))('Fashion-MNIST ids are stable and classes named', () => {
    const t = fashionMnist('test');
    expect([t.ids[0], t.ids[9999], t.classes[9], t.count]).toEqual(['fashion-mnist/test/0', 'fashion-mnist/test/9999', 'Ankle boot', 10000]);
  });
});

/** Data preview: a grid of the first n training images (seed 000 shows 15), labels listed beside it by the site. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.ts';
import type { Asset } from '../manifest/schema.ts';
import { encode, grid, upscaleFor } from '../render/image.ts';

export async function dataPreview(data: Dataset, n: number, publicDir: string, slug: string): Promise<Asset> {
  const [H, W, C] = data.shape;
  const size = H * W * C;
  const count = Math.min(n, data.count);
  const tiles = Array.from({ length: count }, (_, i) => ({
    data: data.images.subarray(i * size, (i + 1) * size),
    width: W,
    height: H,
    channels: C as 1 | 3,
  }));
  const r = grid(tiles, Math.min(count, 5), 2, 255);
  const scale = Math.max(2, upscaleFor(W, H, 96));
  const url = `/generated/${slug}/data-preview.png`;
  mkdirSync(join(publicDir, 'generated', slug), { recursive: true });
  writeFileSync(join(publicDir, url), await encode(r, 'png', scale));
  const labels = Array.from({ length: count }, (_, i) => data.classes[data.labels[i]]).join(', ');
  return { src: url, width: r.width * scale, height: r.height * scale, alt: `${count} training images of ${data.name}: ${labels}` };
}

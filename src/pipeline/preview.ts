/** Data preview: a grid of the first n images (15, as CNN Explainer's data view), labels listed beside it by the site. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.ts';
import type { Asset } from '../manifest/schema.ts';
import { lineChart } from '../render/charts.ts';
import { encode, grid, upscaleFor } from '../render/image.ts';

export async function dataPreview(data: Dataset, n: number, publicDir: string, slug: string, what = 'training images'): Promise<Asset> {
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
  const labels = Array.from({ length: count }, (_, i) => data.classes[data.labels[i]] ?? 'unlabeled').join(', ');
  return { src: url, width: r.width * scale, height: r.height * scale, alt: `${count} ${what} of ${data.name}: ${labels}` };
}

/** Learning curves: loss and accuracy, training vs validation, as SVG files. */
export function learningCharts(
  history: Array<{ epoch: number; loss: number; acc: number; val_loss?: number; val_acc?: number }>,
  publicDir: string,
  slug: string,
): Asset[] {
  const dir = join(publicDir, 'generated', slug);
  mkdirSync(dir, { recursive: true });
  const series = (key: 'loss' | 'acc' | 'val_loss' | 'val_acc', name: string) => ({
    name,
    points: history.filter((h) => h[key] != null).map((h) => ({ x: h.epoch, y: h[key] as number })),
  });
  const charts = [
    { file: 'loss', title: 'Loss per epoch', y: 'cross-entropy', s: [series('loss', 'training'), series('val_loss', 'validation')] },
    { file: 'accuracy', title: 'Accuracy per epoch', y: 'accuracy', s: [series('acc', 'training'), series('val_acc', 'validation')] },
  ];
  return charts.map((c) => {
    writeFileSync(join(dir, `${c.file}.svg`), lineChart(c.s.filter((x) => x.points.length), { title: c.title, yLabel: c.y }));
    return { src: `/generated/${slug}/${c.file}.svg`, width: 560, height: 260, alt: `${c.title}: ${c.s.map((x) => `${x.name} ${x.points.map((p) => p.y.toFixed(3)).join(', ')}`).join('; ')}` };
  });
}

/** Images of the most confident mistakes per confusion-matrix cell. */
export async function mistakeGallery(
  cells: Array<{ true: number; predicted: number; samples: Array<{ index: number; probability: number }> }>,
  data: Dataset,
  publicDir: string,
  slug: string,
): Promise<Array<{ true: number; predicted: number; samples: Array<{ id: string; probability: number; image: Asset }> }>> {
  const [H, W, C] = data.shape;
  const size = H * W * C;
  const dir = join(publicDir, 'generated', slug, 'mistakes');
  mkdirSync(dir, { recursive: true });
  const scale = upscaleFor(W, H, 96);
  const out = [];
  for (const cell of cells) {
    const samples = [];
    for (const s of cell.samples) {
      const file = `${s.index}.webp`;
      const raster = { data: data.images.subarray(s.index * size, (s.index + 1) * size), width: W, height: H, channels: C as 1 | 3 };
      writeFileSync(join(dir, file), await encode(raster, 'webp', scale));
      samples.push({
        id: data.ids[s.index],
        probability: s.probability,
        image: { src: `/generated/${slug}/mistakes/${file}`, width: W * scale, height: H * scale, alt: `${data.ids[s.index]}: a ${data.classes[cell.true]} predicted as ${data.classes[cell.predicted]} (${(s.probability * 100).toFixed(1)} %)` },
      });
    }
    out.push({ true: cell.true, predicted: cell.predicted, samples });
  }
  return out;
}

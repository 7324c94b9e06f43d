/**
 * The dataset-examples view: for every channel of every conv layer (the first `channels` of wider layers), the
 * test images that excite it most and least (src/viz/dataset-examples.ts), drawn as one picture per channel with
 * four rows of k tiles —
 *   1. the patch under the maximising unit (its receptive field; what lies outside the image is grey),
 *   2. the same images whole, the patch marked,
 *   3. the images with the highest mean activation, the maximising unit marked,
 *   4. the images with the lowest mean activation —
 * and the numbers in report.json (`datasetExamples` per layer view).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../../data/dataset.ts';
import type { LayerView } from '../../manifest/schema.ts';
import { uniqueSlugs } from '../../manifest/slug.ts';
import { cropResized, drawBox, grid, type Raster, resizeNearest, asRgb } from '../../render/image.ts';
import { datasetExamples, type Example, unitBox } from '../../viz/dataset-examples.ts';
import { receptiveFields } from '../../viz/receptive-field.ts';
import type { AssetWriter } from '../assets.ts';
import type { View } from './types.ts';
import { channelsOf } from './util.ts';

export interface ExamplesViewInput {
  model: tf.LayersModel;
  data: Dataset;
  out: AssetWriter;
  /** Conv layers to scan, with their page slugs. */
  layers: Array<{ name: string; slug: string }>;
  /** Channels per layer at most. */
  channels: number;
  /** Test images scanned (the first ones of the test set). */
  images: number;
  k: number;
  /** Images per forward pass. */
  batch: number;
}

/** The tile side for an H x W input: at least 48 pixels (small inputs upscaled), at most 64 (large ones reduced). */
export function tileSide(H: number, W: number): number {
  return Math.max(48, Math.min(64, Math.max(H, W)));
}

/**
 * Channels per layer that get dataset examples by default: all of them, unless the model's conv layers have more
 * than 4,000 channels in all (MobileNetV2: ~10,000), where each layer keeps its first 64 — one picture per channel
 * has to be encoded and published.
 */
export function defaultExampleChannels(channelsPerLayer: number[]): number {
  return channelsPerLayer.reduce((t, c) => t + c, 0) > 4000 ? 64 : Infinity;
}

export function datasetExamplesOf(v: ExamplesViewInput): Map<string, NonNullable<LayerView['datasetExamples']>> {
  const { model, data, out } = v;
  const [H, W, C] = data.shape;
  const fields = receptiveFields(model);
  const indices = Array.from({ length: Math.min(v.images, data.count) }, (_, i) => i);
  const found = datasetExamples(model, data, { layers: v.layers.map((l) => ({ name: l.name, channels: v.channels })), indices, k: v.k, batch: v.batch });
  const T = tileSide(H, W);
  const image = (i: number): Raster => asRgb({ data: data.images.subarray(i * H * W * C, (i + 1) * H * W * C), width: W, height: H, channels: C as 1 | 3 });
  const result = new Map<string, NonNullable<LayerView['datasetExamples']>>();
  for (const layer of found) {
    const slug = v.layers.find((l) => l.name === layer.layer)!.slug;
    const field = fields.get(layer.layer);
    const place = field && !field.global ? field : { rf: [H, W] as [number, number], jump: [0, 0] as [number, number], start: [H / 2, W / 2] as [number, number] };
    const boxOf = (e: Example, clip = true) => unitBox(e.unit, place, H, W, clip);
    const blank: Raster = { data: new Uint8Array(T * T * 3).fill(255), width: T, height: T, channels: 3 };
    const row = (tiles: Raster[]) => [...tiles, ...Array<Raster>(Math.max(0, v.k - tiles.length)).fill(blank)];
    const scaled = (r: Raster) => resizeNearest(r, T, T);
    const entry = (e: Example, box = true) => ({ id: data.ids[e.index], value: e.value, ...(box ? { box: boxOf(e) } : {}) });
    const channels = layer.channels.map((ch) => {
      const tiles = [
        ...row(ch.max.map((e) => cropResized(image(e.index), boxOf(e, false), T, T))),
        ...row(ch.max.map((e) => scaled(drawBox(image(e.index), boxOf(e))))),
        ...row(ch.mean.map((e) => scaled(drawBox(image(e.index), boxOf(e))))),
        ...row(ch.least.map((e) => scaled(image(e.index)))),
      ];
      return {
        channel: ch.channel,
        image: out.image(`layers/${slug}/examples-${ch.channel}`, grid(tiles, v.k, 2),  `${layer.layer} channel ${ch.channel}: the patches of the ${ch.max.length} test images that excite it most, the same images with the patch marked, the images with the highest mean activation, and those with the lowest`, 'jpg'),
        max: ch.max.map((e) => entry(e)),
        mean: ch.mean.map((e) => entry(e)),
        least: ch.least.map((e) => entry(e, false)),
      };
    });
    result.set(layer.layer, { images: indices.length, k: v.k, field: field && !field.global ? field.rf : [H, W], channels });
  }
  return result;
}

export const datasetExamplesView: View = {
  id: 'dataset-examples',
  scope: 'model',
  section: 'models/<model>/layers/<layer>/#channels (the dataset-examples column, #dataset-examples)',
  enabled: (plan) => plan.exampleImages > 0,
  cost: (plan) => {
    const model = plan.opts.model;
    const cap = plan.opts.datasetExamples?.maxChannels ?? defaultExampleChannels(plan.exampleLayers.map((name) => channelsOf(model, name)));
    const channels = plan.exampleLayers.reduce((t, name) => t + Math.min(cap, channelsOf(model, name)), 0);
    // Each scanned image's activations of the kept channels, searched for every channel's peak and mean.
    const scanned = plan.exampleLayers.reduce((t, name) => {
      const shape = model.getLayer(name).outputShape as number[];
      return t + shape[1] * shape[2] * Math.min(cap, shape[3]);
    }, 0);
    const per = plan.costTable.exampleChannel;
    return { forward: 0, capture: plan.exampleImages, gradient: 0, ms: per ? channels * (per.base + per.inputValue * (plan.shape.values ?? 0)) + plan.exampleImages * scanned * per.scanValue : 0 };
  },
  run(ctx) {
    const { plan, model } = ctx;
    const slugOf = new Map(uniqueSlugs(model.layers.map((l) => l.name)).map((sl, i) => [model.layers[i].name, sl]));
    const examples = datasetExamplesOf({
      model, data: ctx.data, out: ctx.out, layers: plan.exampleLayers.map((name) => ({ name, slug: slugOf.get(name)! })),
      channels: plan.opts.datasetExamples?.maxChannels ?? defaultExampleChannels(plan.exampleLayers.map((name) => channelsOf(model, name))),
      images: plan.exampleImages, k: plan.opts.datasetExamples?.k ?? 5, batch: Math.max(1, ctx.limits?.gradient ?? 64),
    });
    for (const view of ctx.result.layerViews) {
      const e = examples.get(view.layer);
      if (e) view.datasetExamples = e;
    }
    ctx.tick('dataset examples', ctx.unit(datasetExamplesView.cost(plan, { sampleCount: 0, layerCount: 0 })));
    ctx.stage(`dataset examples of ${examples.size} conv layers over ${plan.exampleImages} test images`);
  },
};
